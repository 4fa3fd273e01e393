"""Russian (ru) notifications: Russian throughout, the polite «Вы» capitalised, a clean round trip.

Russian business mail capitalises the polite «Вы» (and «Вас», «Ваш», …);
a lowercase «вы» reads as careless to a customer. No English sentence may
remain, dates follow DD.MM.YYYY, customer text stays escaped in HTML, and
what maild renders is what the reader's mail client reads back.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from maild.inbound.parse import parse_message
from maild.outbound import i18n
from maild.outbound.compose import EVENTS, Composer, Rendered
from tests.unit.test_compose import OPENED, TAG, full_context
from tests.unit.test_message import build

LANG = "ru"
ROLES = ("primary_contact", "owner")
# Sentences and labels of templates/en; none may leak into a Russian notice.
ENGLISH = (
    "Dear ",
    "Hello,",
    " has been ",
    "Reply to this email",
    "reply to this email",
    "Thank you",
    "Subject: ",
    "Severity: ",
    "Status: ",
    "Reason: ",
    "Attachments:",
    "Deadline passed",
    "We are sorry",
    "If you ",
    "Please reply",
    "please contact",
    "the customer",
    "Primary contact",
    "This is an automatic reply",
)
# The polite pronoun in lowercase, as a whole word (a plain alternation: linear).
LOWERCASE_YOU = re.compile(r"\b(?:вы|вас|вам|вами|ваш|ваша|ваше|ваши|вашего|вашей|вашему|вашим|ваших|вашу)\b")
SCRIPT = '<script>alert("x")</script>'
ESCAPED = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"


@pytest.fixture(scope="module")
def strict() -> Composer:
    return Composer([], strict=True)


def render(composer: Composer, event: str, role: str, **more: Any) -> Rendered:
    return composer.render(event, LANG, full_context(LANG, role, **more))


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("event", EVENTS)
def test_every_event_is_russian_with_a_capital_you(strict: Composer, event: str, role: str) -> None:
    out = render(strict, event, role)
    for part in (out.subject, out.text, out.html):
        leaked = [phrase for phrase in ENGLISH if phrase in part]
        assert not leaked, (event, role, leaked)
        assert not LOWERCASE_YOU.search(part), (event, role, LOWERCASE_YOU.findall(part))
    assert re.search("[а-яё]", out.text) and '<html lang="ru">' in out.html
    if event not in ("helpdesk", "held"):
        assert out.subject.startswith(TAG)


def test_the_check_for_a_lowercase_you_can_fail() -> None:
    assert LOWERCASE_YOU.search("Спасибо, что написали нам; ваш запрос принят.")
    assert not LOWERCASE_YOU.search("Спасибо, что написали нам; Ваш запрос принят. Вывод: вызов.")


@pytest.mark.parametrize(
    "event", [e for e in EVENTS if e not in ("helpdesk", "held", "rejected", "escalate_refused")]
)
def test_case_events_use_russian_labels(strict: Composer, event: str) -> None:
    out = render(strict, event, "owner")
    for label in (
        "Обращение: 00001042",
        "Тема: Login page returns 500",
        "Важность: 3 (Высокая)",
        "Команда: Tier 2",
    ):
        assert label in out.text, (event, label)


def test_contacts_are_greeted_and_addressed_politely(strict: Composer) -> None:
    contact = render(strict, "comment_added", "primary_contact")
    assert contact.text.startswith("Здравствуйте, Alice!\n")
    assert "Новый комментарий к обращению № 00001042 от Bob (Участник):" in contact.text
    assert "в копии (Cc) Вашего ответа" in contact.text and "log.txt (2,0 КБ)" in contact.text
    status = render(strict, "status_changed", "primary_contact")
    assert "изменён с «Новое» на «Ожидает ответа клиента»" in status.text
    assert "нам нужна информация от Вас" in status.text
    note = render(strict, "note_added", "owner")
    assert note.text.startswith("ВНУТРЕННЯЯ ЗАМЕТКА: клиенту не отправляется.\n")
    assert "начните его с #note" in note.text and "<code>#note</code>" in note.html


def test_dates_are_day_month_year(strict: Composer) -> None:
    out = render(strict, "case_opened", "primary_contact")
    assert i18n.format_datetime(OPENED, LANG) == "21.11.2026 10:00 UTC"
    assert "Первый ответ до: 21.11.2026 14:00 UTC" in out.text
    assert "21.11.2026 14:00 UTC" in out.html
    assert "2026-11-21" not in out.text
    closed = render(strict, "closed", "primary_contact")
    assert "до 05.12.2026 10:00 UTC" in closed.text  # day and month keep two digits


def test_deadline_warning_and_reminder_say_when(strict: Composer) -> None:
    warning = render(strict, "deadline_warning", "owner")
    assert (
        "Следующий ответ по обращению № 00001042 (Acme) нужно дать до 21.11.2026 12:00 UTC." in warning.text
    )
    assert "maild case reply" in warning.text and "ответом не считаются" in warning.text
    first = render(strict, "deadline_warning", "owner", deadline="first_response")
    assert "Первый ответ по обращению" in first.text and "Первый ответ до" in first.subject
    reminder = render(strict, "waiting_reminder", "primary_contact")
    expected = (
        "Если мы не получим от Вас ответа до 29.11.2026 10:00 UTC, обращение будет закрыто автоматически."
    )
    assert expected in reminder.text


def test_command_results_are_russian(strict: Composer) -> None:
    out = render(strict, "commands_applied", "agent")
    assert "✓ #assign me — Ответственный за обращение: dave@vendor.example." in out.text
    assert (
        "✗ #team nowhere — Команды с названием «nowhere» не существует. Команды: Tier 1, Tier 2." in out.text
    )
    assert "Команды, отмеченные ✗, не выполнены" in out.text


@pytest.mark.parametrize("event", ["comment_added", "case_opened", "note_added"])
def test_html_escapes_customer_markup(strict: Composer, event: str) -> None:
    ctx = full_context(LANG, "owner")
    ctx["case"]["subject"] = SCRIPT
    ctx["comment"]["body"] = SCRIPT
    out = strict.render(event, LANG, ctx)
    assert SCRIPT not in out.html and ESCAPED in out.html
    assert SCRIPT in out.text  # the text part keeps what the customer wrote


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("event", ["case_opened", "comment_added", "escalated", "auto_closed", "assigned"])
def test_round_trip_through_the_real_message_builder(strict: Composer, event: str, role: str) -> None:
    out = render(strict, event, role)
    mail = parse_message(build(out, to_name="Иван Петров"))
    assert not mail.defects
    assert mail.subject == out.subject
    assert mail.text.replace("\r\n", "\n").rstrip("\n") == out.text.rstrip("\n")
    assert mail.html is not None
    assert mail.html.replace("\r\n", "\n").rstrip("\n") == out.html.rstrip("\n")
    assert mail.to[0].name == "Иван Петров"
