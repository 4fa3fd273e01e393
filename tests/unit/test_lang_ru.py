"""Russian (ru) notifications: Russian throughout, the polite «Вы» capitalised, a clean round trip.

Russian business mail capitalises the polite «Вы» (and «Вас», «Ваш», …);
a lowercase «вы» reads as careless to a customer. The checks are
lang_checks_ko_ru.py's, shared with Korean; this file holds the Russian
words they look for and the capital-Вы check.
"""

from __future__ import annotations

import re

from maild.outbound.compose import Rendered
from tests.unit.lang_checks_ko_ru import KoreanRussianChecks

# The polite pronoun in lowercase, as a whole word (a plain alternation: linear).
LOWERCASE_YOU = re.compile(r"\b(?:вы|вас|вам|вами|ваш|ваша|ваше|ваши|вашего|вашей|вашему|вашим|ваших|вашу)\b")


class TestRussian(KoreanRussianChecks):
    LANG = "ru"
    LABELS = (
        "Обращение: 00001042",
        "Тема: Login page returns 500",
        "Важность: 3 (Высокая)",
        "Команда: Tier 2",
    )
    GREETING = "Здравствуйте, Alice!\n"
    CONTACT_LINES = (
        ("comment_added", "Новый комментарий к обращению № 00001042 от Bob (Участник):"),
        ("comment_added", "в копии (Cc) Вашего ответа"),
        ("comment_added", "log.txt (2,0 КБ)"),
        ("status_changed", "изменён с «Новое» на «Ожидает ответа клиента»"),
        ("status_changed", "нам нужна информация от Вас"),
    )
    NOTE = ("ВНУТРЕННЯЯ ЗАМЕТКА: клиенту не отправляется.\n", "начните его с #note")
    OPENED_WRITTEN = "21.11.2026 10:00 UTC"
    DATE_LINES = (
        ("case_opened", "Первый ответ до: 21.11.2026 14:00 UTC"),
        ("closed", "до 05.12.2026 10:00 UTC"),  # day and month keep two digits
    )
    DUE_HTML = "21.11.2026 14:00 UTC"
    WARNING = (
        "Следующий ответ по обращению № 00001042 (Acme) нужно дать до 21.11.2026 12:00 UTC.",
        "ответом не считаются",
    )
    FIRST_RESPONSE = ("Первый ответ по обращению", "Первый ответ до")
    REMINDER = (
        "Если мы не получим от Вас ответа до 29.11.2026 10:00 UTC, обращение будет закрыто автоматически."
    )
    COMMANDS = (
        "✓ #assign me — Ответственный за обращение: dave@vendor.example.",
        "✗ #team nowhere — Команды с названием «nowhere» не существует. Команды: Tier 1, Tier 2.",
        "Команды, отмеченные ✗, не выполнены",
    )
    ROUND_TRIP_NAME = "Иван Петров"

    def assert_register(self, out: Rendered, event: str, role: str) -> None:
        """Cyrillic text, and the polite pronoun never in lowercase."""
        for part in (out.subject, out.text, out.html):
            assert not LOWERCASE_YOU.search(part), (event, role, LOWERCASE_YOU.findall(part))
        assert re.search("[а-яё]", out.text)


def test_the_check_for_a_lowercase_you_can_fail() -> None:
    assert LOWERCASE_YOU.search("Спасибо, что написали нам; ваш запрос принят.")
    assert not LOWERCASE_YOU.search("Спасибо, что написали нам; Ваш запрос принят. Вывод: вызов.")
