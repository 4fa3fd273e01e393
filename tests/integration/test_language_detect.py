"""Someone with no language of their own is answered in the language they wrote in (SPEC §12).

Real Dovecot in, the real SMTP sink out: non-contacts get the help-desk
reply in the language of their message (by its text, its script, its
charset), an unclear one in the default language; a contact's own language
always wins; a designated contact without a language gets the acknowledgement
of a new case, and the case its language, from the message.
"""

from __future__ import annotations

from typing import Any

import pytest

from maild.outbound.i18n import DEFAULT_HELPDESK
from tests.integration.env import AGENT, ALICE, DAVE, MaildEnv, message, text_of

# The configured help-desk text is one language; without it each language's own default is sent.
NO_HELPDESK_TEXT = {"support.helpdesk_message": ""}

KENJI = "kenji@acme.example"  # a contact, not designated, whose language is ja

WRITERS = [
    (
        "marie@ailleurs.example",
        "Problème d'impression",
        "Bonjour, l'imprimante du troisième étage ne fonctionne plus depuis ce matin. "
        "Pouvez-vous nous aider ? Merci, cordialement",
        "utf-8",
        "fr",
    ),
    (
        "minji@dareun.example",
        "프린터 문제",
        "안녕하세요, 3층 프린터가 오늘 아침부터 작동하지 않습니다. 확인 부탁드립니다.",
        "euc-kr",
        "ko",
    ),
    (
        "meiling@biede.example",
        "印表機問題",
        "您好，三樓的印表機從今天早上開始無法列印，請幫忙處理，謝謝。",
        "big5",
        "zh-TW",
    ),
    ("someone@unclear.example", "OK", "12345 / 550 5.7.1", "utf-8", "en"),
    (
        KENJI,
        "Printer",
        "Hello, the printer is broken again. Could you please have a look? Thanks",
        "utf-8",
        "ja",
    ),
]


def _said(note: Any) -> str:
    return " ".join(text_of(note.msg).split())


@pytest.mark.maild_config(NO_HELPDESK_TEXT)
def test_helpdesk_reply_in_the_language_of_the_message(env: MaildEnv, imap_box: Any, smtp_sink: Any) -> None:
    env.ok("contact", "add", KENJI, "--account", "Acme", "--name", "Kenji", "--language", "ja")
    imap_box.append_many(
        [message(sender, subject, body, charset=charset) for sender, subject, body, charset, _ in WRITERS]
    )
    env.run_once()
    assert env.cases() == []
    sent = smtp_sink.messages()
    for sender, _subject, _body, _charset, expected in WRITERS:
        replies = [m for m in sent if sender in m.rcpt_tos]
        assert len(replies) == 1, (sender, len(replies))
        text = _said(replies[0])
        assert DEFAULT_HELPDESK[expected] in text, (sender, expected, text)
        others = {code: words for code, words in DEFAULT_HELPDESK.items() if code != expected}
        assert not [code for code, words in others.items() if words in text], (sender, text)
    outcomes = [row.event for row in env.outbox()]
    assert outcomes.count("helpdesk") == len(WRITERS)


def _case_language(env: MaildEnv) -> list[str]:
    from sqlalchemy import select

    from maild.store.db import Database
    from maild.store.models import Case

    db = Database(str(env.config["database"]["url"]))
    try:
        with db.reader() as s:
            return list(s.scalars(select(Case.language).order_by(Case.id)))
    finally:
        db.dispose()


GERMAN = (
    "Guten Tag, seit heute Morgen können wir keine Rechnungen mehr drucken. "
    "Bitte prüfen Sie das Problem. Danke und freundliche Grüße"
)


def test_new_case_from_a_contact_without_a_language(env: MaildEnv, imap_box: Any, smtp_sink: Any) -> None:
    """Dave has no language: German in, German out. Alice's record says en: German in, English out."""
    imap_box.append_many([message(DAVE, "Drucker funktioniert nicht", GERMAN)])
    env.run_once()
    imap_box.append_many([message(ALICE, "Drucker funktioniert nicht", GERMAN)])
    env.run_once()
    assert len(env.cases()) == 2
    assert _case_language(env) == ["de", "en"]
    to_dave = [m for m in smtp_sink.messages() if DAVE in m.rcpt_tos]
    to_alice = [m for m in smtp_sink.messages() if ALICE in m.rcpt_tos]
    assert len(to_dave) == 1 and len(to_alice) == 1
    assert "vielen Dank für Ihre Anfrage. Wir haben dazu einen Fall für Sie eröffnet." in _said(to_dave[0])
    assert "Thank you for contacting us. We have opened a case for your request." in _said(to_alice[0])
    # Later notifications follow the case's language too, not only the acknowledgement.
    dave_case = next(c for c in env.cases() if c["primary_contact"] == DAVE)
    smtp_sink.clear()
    env.ok(
        "case", "reply", dave_case["number"], "--as", AGENT, "--body", "Bitte senden Sie uns das Protokoll."
    )
    env.run_once()
    later = [m for m in smtp_sink.messages() if DAVE in m.rcpt_tos]
    assert len(later) == 1 and "einen Kommentar hinzugefügt" in _said(later[0])
