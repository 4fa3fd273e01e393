"""Italian (it) notifications: every event reads as Italian, in the Lei form, to customers and colleagues.

A language is data (maild/locales/it.toml and templates/it/), so what can go
wrong is a sentence left in English, a label that falls back to English, a
date in the wrong order, or markup that is not escaped. Each test renders
the real shipped templates through a strict Composer, and the round trip
goes through the real message builder and the real inbound parser, so an
accent mangled anywhere on the way (encoded words, quoted-printable,
charset) fails here.
"""

from __future__ import annotations

import html as entities
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from maild.inbound.parse import parse_message
from maild.outbound import i18n
from maild.outbound.compose import EVENTS, Composer, sample_context
from tests.unit.test_compose import OPENED, TAG, full_context
from tests.unit.test_message import build

LANG = "it"
CONTACT_ROLES = ("primary_contact", "collaborator")
STAFF_ROLES = ("agent", "manager", "owner", "team")
SCRIPT = '<script>alert("x")</script>'
ESCAPED = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"

# Phrases of templates/en that no Italian notification may contain. None of
# them occurs in the test data (which stays English on purpose: it is what
# customers wrote), and test_the_english_markers_are_real proves each one
# is really written by the English templates.
ENGLISH_MARKERS = (
    "Dear ",
    "Hello,",
    "Case 00001042",
    "case 00001042",
    "Subject:",
    "Severity:",
    "Status:",
    "Owner:",
    "Reason:",
    "Primary contact",
    "reply to this email",
    "Reply to this email",
    "has been",
    " was ",
    "Thank you",
    "We are sorry",
    "support engineer",
    "Attachments:",
    "Internal note",
    "automatic reply",
    "Deadline passed",
    "due by",
    "new request",
    "Your commands",
    "not applied",
    "Waiting for your reply",
    "Closed automatically",
    "Escalated (level",
    "Assigned to",
    "Moved to team",
    "Message held",
    "Critical",
    "(High)",
    "In progress",
    "Waiting on customer",
)

# One sentence each event must say to a customer (or, for the staff-only
# events, to a colleague), in Italian.
KEY_PHRASES = {
    "case_opened": "La ringraziamo per averci contattato",
    "comment_added": "ha aggiunto un commento al caso 00001042",
    "status_changed": "Lo stato del caso 00001042 è passato da «Nuovo» a «In attesa del cliente»",
    "severity_changed": "La gravità del caso 00001042 è passata da 3 (Alta) a 1 (Critica)",
    "escalated": "Abbiamo ricevuto la Sua richiesta di escalation",
    "closed": "Il caso 00001042 è stato chiuso.",
    "reopened": "Il caso 00001042 è stato riaperto in seguito a una risposta di Bob",
    "rejected": "Il Suo messaggio non è stato aggiunto al caso 00001042.",
    "escalate_too_early": "a partire dal 21/11/2026 alle ore 12:00 UTC",
    "escalate_refused": "solo i referenti designati della Sua organizzazione",
    "helpdesk": "Questa è una risposta automatica di Example Support.",
    "held": "Per scartarlo (resta registrato come scartato)",
    "assigned": "Il caso 00001042 è ora assegnato a Dave <dave@vendor.example>.",
    "moved": "è stato spostato dal team Tier 1 al team Tier 2 da erin@vendor.example.",
    "note_added": "NOTA INTERNA: non inviata al cliente.",
    "commands_applied": "Non esiste un team chiamato «nowhere». Team disponibili: Tier 1, Tier 2.",
    "deadline_warning": "La prossima risposta al caso 00001042 (Acme) è dovuta entro il 21/11/2026",
    "waiting_reminder": "Se non riceveremo Sue notizie entro il 29/11/2026 alle ore 10:00 UTC",
    "auto_closed": "è stato chiuso automaticamente, poiché non abbiamo ricevuto Sue notizie",
}
STAFF_ONLY = {"held", "assigned", "moved", "note_added", "commands_applied", "deadline_warning"}
_TAG = re.compile(r"<[^>]*>")


def context(role: str, **event: Any) -> dict[str, Any]:
    """The full context of test_compose, with the texts maild itself would write in Italian.

    The rejection reason and the help-desk text come from maild's tables in
    the recipient's language, never from the test's English stand-ins.
    """
    ctx = full_context(LANG, role, **event)
    ctx["event"]["reason_text"] = i18n.rejection_reason_text("not_participant", LANG)
    ctx["event"]["helpdesk_message"] = ""
    return ctx


def sample(role: str) -> dict[str, Any]:
    ctx = sample_context(language=LANG, role=role)
    ctx["event"]["reason_text"] = i18n.rejection_reason_text("not_participant", LANG)
    ctx["event"]["helpdesk_message"] = ""
    return ctx


def flat(text: str) -> str:
    """Text compared without case, guillemets or spacing: HTML sets some words in bold instead."""
    return " ".join(text.replace("«", " ").replace("»", " ").lower().split()).replace(" .", ".")


def words(html: str) -> str:
    """What a reader of the HTML part sees: tags dropped, entities read, spaces collapsed."""
    return " ".join(entities.unescape(_TAG.sub("", html)).split())


@pytest.fixture(scope="module")
def strict() -> Composer:
    return Composer([], strict=True)


def everything(strict: Composer, event: str, role: str) -> tuple[str, str, str]:
    out = strict.render(event, LANG, context(role))
    return out.subject, out.text, out.html


def test_the_english_markers_are_real(strict: Composer) -> None:
    """Each marker is written by the English templates, so its absence below means something."""
    english = ""
    for event in EVENTS:
        for role in (*CONTACT_ROLES, *STAFF_ROLES):
            nameless = full_context("en", role, reason="deadline", commented=True)
            nameless["recipient"]["name"] = ""
            for ctx in (full_context("en", role), nameless, sample_context(role=role)):
                out = strict.render(event, "en", ctx)
                english += out.subject + out.text + out.html
    assert [m for m in ENGLISH_MARKERS if m not in english] == []


@pytest.mark.parametrize("event", EVENTS)
@pytest.mark.parametrize("role", [*CONTACT_ROLES, *STAFF_ROLES])
def test_no_english_sentence_is_left(strict: Composer, event: str, role: str) -> None:
    nameless = context(role, reason="deadline", commented=True)
    nameless["recipient"]["name"] = ""
    for ctx in (context(role), nameless, sample(role)):
        out = strict.render(event, LANG, ctx)
        for part in (out.subject, out.text, out.html):
            left = [marker for marker in ENGLISH_MARKERS if marker in part]
            assert left == [], f"{event} to {role}: {left}"
        assert f'lang="{LANG}"' in out.html


@pytest.mark.parametrize("event", EVENTS)
def test_each_event_says_its_key_phrase(strict: Composer, event: str) -> None:
    role = "owner" if event in STAFF_ONLY else "primary_contact"
    _, text, html = everything(strict, event, role)
    assert KEY_PHRASES[event] in text
    # The HTML part says the same words, with its own markup around them.
    assert flat(KEY_PHRASES[event]) in flat(words(html))


@pytest.mark.parametrize("event", [e for e in EVENTS if e not in STAFF_ONLY and e != "helpdesk"])
def test_customers_are_addressed_with_lei_and_an_italian_greeting(strict: Composer, event: str) -> None:
    _, text, html = everything(strict, event, "primary_contact")
    assert text.startswith("Gentile Alice,\n") and "<p>Gentile Alice,</p>" in html
    assert "\nCordiali saluti,\n\n-- \nExample Support\n" in text and "<p>Cordiali saluti,</p>" in html
    assert any(word in text for word in ("Lei", "Sua ", "Suo ", "Sue ", "La preghiamo", "risponda"))
    assert not any(word in f" {text.lower()}" for word in (" tu ", " tuo ", " tua ", " rispondi ", " ti "))
    if event not in ("rejected", "escalate_refused"):  # as in English, these two carry no summary
        assert "Caso: 00001042" in text and "Gravità: 3 (Alta)" in text and "Stato: Nuovo" in text
    assert "Team:" not in text and "Assegnatario:" not in text  # routing stays internal


@pytest.mark.parametrize("event", sorted(STAFF_ONLY))
def test_colleagues_get_no_customer_courtesies(strict: Composer, event: str) -> None:
    _, text, html = everything(strict, event, "owner")
    for part in (text, html):
        assert "Gentile" not in part and "Cordiali saluti" not in part and "Cc" not in part
    if event != "held":
        assert "Team: Tier 2" in text and "Assegnatario: dave@vendor.example" in text


def test_staff_escalation_names_the_italian_reason(strict: Composer) -> None:
    for reason in ("deadline", "next_response", "customer_request"):
        out = strict.render("escalated", LANG, context("manager", reason=reason))
        why = i18n.escalation_reason_text(reason, LANG)
        assert f"Motivo: {why}" in out.text and why in words(out.html)
        assert "Contatto principale: alice@acme.example" in out.text
    contact = strict.render("escalated", LANG, context("primary_contact", reason="next_response"))
    assert "al Suo ultimo messaggio entro il tempo di risposta previsto" in contact.text
    assert "prima risposta" not in contact.text


def test_the_tables_speak_italian() -> None:
    assert i18n.severity_name(1, LANG) == "Critica" and i18n.severity_name(4, LANG) == "Media"
    assert i18n.status_name("waiting_on_customer", LANG) == "In attesa del cliente"
    assert i18n.status_name("closed", LANG) == "Chiuso"
    assert i18n.field_label("business_impact", LANG) == "Impatto sull’attività"
    assert i18n.role_name("agent", LANG) == "Tecnico dell’assistenza"
    assert i18n.rejection_reason_text("unknown_case", LANG).startswith("Non abbiamo trovato")
    assert i18n.helpdesk_message(None, LANG).startswith("La preghiamo di contattare")
    assert i18n.format_filesize(1, LANG) == "1 byte" and i18n.format_filesize(512, LANG) == "512 byte"
    assert i18n.pick_language("it-CH", "en") == LANG and i18n.pick_language("IT_it.UTF-8", "ja") == LANG


@pytest.mark.parametrize(
    ("moment", "written"),
    [
        (datetime(2026, 11, 21, 12, 5, tzinfo=UTC), "21/11/2026 alle ore 12:05 UTC"),
        (datetime(2027, 3, 5, 9, 7, tzinfo=UTC), "05/03/2027 alle ore 09:07 UTC"),
        ("2026-12-31T23:59:00+02:00", "31/12/2026 alle ore 21:59 UTC"),
    ],
)
def test_dates_are_day_month_year_in_utc(moment: Any, written: str) -> None:
    assert i18n.format_datetime(moment, LANG) == written


def test_the_date_in_a_notification_is_italian(strict: Composer) -> None:
    _, text, html = everything(strict, "case_opened", "primary_contact")
    due = OPENED + timedelta(hours=4)
    assert "Prima risposta entro il 21/11/2026 alle ore 14:00 UTC" in text
    assert i18n.format_datetime(due, LANG) in html and "2026-11-21" not in text + html


@pytest.mark.parametrize(
    ("event", "role"),
    [
        ("comment_added", "primary_contact"),
        ("note_added", "agent"),
        ("auto_closed", "team"),
        ("deadline_warning", "owner"),
        ("escalated", "manager"),
        ("held", "team"),
        ("commands_applied", "agent"),
    ],
)
def test_html_is_escaped_and_text_verbatim(strict: Composer, event: str, role: str) -> None:
    ctx = context(role, closed_by=SCRIPT, sender=SCRIPT, excerpt=SCRIPT)
    ctx["case"]["subject"] = SCRIPT
    ctx["case"]["account"] = SCRIPT
    ctx["comment"]["body"] = SCRIPT
    ctx["event"]["results"] = [{"line": SCRIPT, "ok": False, "code": "unknown_team", "detail": SCRIPT}]
    out = strict.render(event, LANG, ctx)
    assert "<script>" not in out.html and ESCAPED in out.html
    assert "&amp;lt;" not in out.html  # escaped once, not twice
    assert SCRIPT in out.text
    assert (SCRIPT in out.subject) == (event != "held")  # held names the inbound message, not the case


@pytest.mark.parametrize("event", EVENTS)
@pytest.mark.parametrize("role", ["primary_contact", "owner"])
def test_round_trip_through_the_real_builder_and_parser(strict: Composer, event: str, role: str) -> None:
    ctx = context(role)
    ctx["case"]["subject"] = "Schermata di accesso: errore «500» all’apertura, più volte"
    ctx["recipient"]["name"] = "Niccolò Lorè"
    out = strict.render(event, LANG, ctx)
    data = build(out, to_name="Niccolò Lorè", from_name="Assistenza Società Più")
    mail = parse_message(data)
    assert mail.subject == out.subject
    assert mail.text == out.text
    assert mail.html == out.html
    assert [a.name for a in mail.to] == ["Niccolò Lorè"]
    assert mail.from_addr is not None and mail.from_addr.name == "Assistenza Società Più"
    if event != "helpdesk":
        assert mail.subject.startswith(TAG)
