"""German (de, Sie): every notification reads as German to customers and colleagues (SPEC §12).

The shared compose tests prove each language renders strictly; these read
what a German recipient gets: no English sentence left behind, the polite
Sie (never du), German dates, the German command results and deadline
words, customer-facing routing kept internal, HTML escaped, and the bytes
maild sends parse back to the very same UTF-8 text.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from maild.inbound.parse import parse_message
from maild.outbound import i18n
from maild.outbound.compose import EVENTS, Composer, Rendered, sample_context
from tests.unit.test_compose import OPENED, ROLES, TAG, full_context
from tests.unit.test_compose_team_events import RESULTS, results
from tests.unit.test_message import build, parse

LANG = "de"
CONTACT_ROLES = ("primary_contact", "collaborator", "other")
STAFF_ROLES = ("agent", "manager", "owner", "team")
SCRIPT = '<script>alert("x")</script>'
ESCAPED = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"

# Sentences and labels of templates/en that must never reach a German reader.
ENGLISH = (
    "Dear ",
    "Hello,",
    "Thank you",
    "reply to this email",
    "Reply to this email",
    "Severity",
    "Subject:",
    "has been",
    "Reason:",
    "Owner:",
    "Initial response",
    "initial response",
    "Support engineer",
    "support engineer",
    "Internal note",
    "Attachments:",
    "automatic reply",
    "was moved",
    "is due",
    "Primary contact",
    "Deadline passed",
    "Your commands",
    "Waiting on customer",
)

# What each event says in German (text part, full context, the primary contact / an agent).
CONTACT_PHRASES = {
    "case_opened": "vielen Dank für Ihre Anfrage. Wir haben dazu einen Fall für Sie eröffnet.",
    "comment_added": "Bob (Beteiligter) hat dem Fall 00001042 einen Kommentar hinzugefügt:",
    "status_changed": "Der Status des Falls 00001042 wurde von Neu auf Warten auf Kundenrückmeldung geändert",
    "escalated": "Der Fall 00001042 wurde an unser Support-Management eskaliert (Stufe 2).",
    "closed": "Der Fall 00001042 wurde geschlossen.",
    "reopened": "Der Fall 00001042 wurde wieder geöffnet, nachdem Bob geantwortet hat.",
    "helpdesk": "Dies ist eine automatische Antwort von Example Support.",
    "rejected": "Ihre Nachricht wurde dem Fall 00001042 nicht hinzugefügt.",
    "escalate_too_early": "vielen Dank für Ihre Eskalationsanfrage zum Fall 00001042.",
    "escalate_refused": "Ihre Eskalationsanfrage zum Fall 00001042 konnten wir leider nicht annehmen",
    "severity_changed": "Der Schweregrad des Falls 00001042 wurde von 3 (Hoch) auf 1 (Kritisch) geändert.",
    "held": "Eine Nachricht zum Fall 00001042 wurde zurückgehalten",
    "assigned": "Der Fall 00001042 ist jetzt Dave <dave@vendor.example> zugewiesen.",
    "moved": "Der Fall 00001042 wurde vom Team Tier 1 in das Team Tier 2 verschoben (durch erin@vendor",
    "note_added": "INTERNE NOTIZ: wird nicht an den Kunden gesendet.",
    "commands_applied": "Ihre Befehle für den Fall 00001042:",
    "deadline_warning": "Die nächste Antwort zum Fall 00001042 (Acme) ist fällig bis 21.11.2026 12:00 UTC.",
    "waiting_reminder": "wir möchten Sie freundlich daran erinnern, dass wir seit 22.11.2026 10:00 UTC",
    "auto_closed": "Der Fall 00001042 wurde automatisch geschlossen, da wir seit 22.11.2026 10:00 UTC",
}
STAFF_PHRASES = {
    "case_opened": "alice@acme.example (Acme) hat einen neuen Fall eröffnet.",
    "escalated": "Der Fall 00001042 (Acme) wurde auf Stufe 2 eskaliert.",
    "auto_closed": "Der Kunde hat seit 22.11.2026 10:00 UTC nicht geantwortet.",
    "reopened": "Der Fall 00001042 wurde wieder geöffnet",
}
# What each command result reads in German (by position in RESULTS).
COMMAND_WORDS = (
    "Der Fall ist jetzt dave@vendor.example zugewiesen.",
    "Der Fall wurde in das Team Tier 2 verschoben.",
    "Der Schweregrad ist jetzt 2 (Dringend).",
    "Der Status ist jetzt „Warten auf Kundenrückmeldung“.",
    "Der Fall ist geschlossen.",
    "als interne Notiz gespeichert; der Kunde hat sie nicht erhalten",
    "Keine Änderung nötig: Es ist bereits „Tier 1“ eingestellt.",
    "eve@acme.example ist kein Support-Mitarbeiter.",
    "Es gibt kein Team namens „Nowhere“. Teams: Tier 1, Tier 2.",
    "„9“ ist kein Schweregrad; verwenden Sie eine Zahl von 1 bis 4.",
    "Nur Support-Mitarbeiter können diesen Befehl verwenden.",
    "Sie dürfen diesen Fall nicht schließen.",
    "über ihre Manager, nicht mit #escalate",
    "Nach diesem Befehl muss etwas folgen, z. B. #assign me",
    "Keine Änderung nötig: Es ist bereits „Geschlossen“ eingestellt.",
    "frobnicated",
)
INFORMAL = re.compile(r"\b(?:du|dich|dir|dein|deine|deinen|deinem|deiner|euch|euer|eure)\b", re.IGNORECASE)
NO_GREETING = ("helpdesk", "held", "assigned", "moved", "note_added", "commands_applied", "deadline_warning")
DATE = re.compile(r"\b\d{2}\.\d{2}\.\d{4} \d{2}:\d{2} UTC\b")


@pytest.fixture(scope="module")
def strict() -> Composer:
    return Composer([], strict=True)


def render(composer: Composer, event: str, role: str, **event_values: Any) -> Rendered:
    ctx = full_context(LANG, role, **event_values)
    if role in STAFF_ROLES:
        ctx["recipient"]["email"] = "dave@vendor.example"
    return composer.render(event, LANG, ctx)


def test_the_table_speaks_german() -> None:
    assert i18n.severity_name(1, LANG) == "Kritisch" and i18n.severity_name(4, LANG) == "Mittel"
    assert i18n.status_name("waiting_on_customer", LANG) == "Warten auf Kundenrückmeldung"
    assert i18n.format_filesize(1, LANG) == "1 Byte" and i18n.format_filesize(5, LANG) == "5 Bytes"


def test_dates_are_german_day_month_year_with_leading_zeros() -> None:
    assert i18n.format_datetime(datetime(2026, 3, 5, 9, 7, tzinfo=UTC), LANG) == "05.03.2026 09:07 UTC"
    assert i18n.format_datetime("2026-11-21T12:05:00Z", LANG) == "21.11.2026 12:05 UTC"


@pytest.mark.parametrize("event", EVENTS)
@pytest.mark.parametrize("role", ROLES)
def test_no_english_sentence_is_left(strict: Composer, event: str, role: str) -> None:
    out = render(strict, event, role)
    for part in (out.subject, out.text, out.html):
        for phrase in ENGLISH:
            assert phrase not in part, (event, role, phrase)
        assert "2026-11-2" not in part, (event, role)  # dates only in the German form
    assert '<html lang="de">' in out.html


@pytest.mark.parametrize("event", EVENTS)
def test_each_event_says_its_message_in_german(strict: Composer, event: str) -> None:
    out = render(strict, event, "primary_contact", due_at=OPENED + timedelta(hours=2))
    assert CONTACT_PHRASES[event] in out.text, event
    if event in STAFF_PHRASES:
        staff = render(strict, event, "agent")
        assert STAFF_PHRASES[event] in staff.text, event


@pytest.mark.parametrize("event", EVENTS)
@pytest.mark.parametrize("role", CONTACT_ROLES)
def test_customers_are_addressed_with_sie_and_greeted(strict: Composer, event: str, role: str) -> None:
    out = render(strict, event, role)
    for part in (out.subject, out.text, out.html):
        assert not INFORMAL.search(part), (event, role, INFORMAL.search(part))
    if event not in NO_GREETING:
        assert out.text.startswith("Guten Tag Alice,\n\n"), event
        assert "Mit freundlichen Grüßen" in out.text and "<p>Mit freundlichen Grüßen</p>" in out.html


@pytest.mark.parametrize("event", EVENTS)
@pytest.mark.parametrize("role", STAFF_ROLES)
def test_colleagues_get_no_customer_closing(strict: Composer, event: str, role: str) -> None:
    out = render(strict, event, role)
    assert "Mit freundlichen Grüßen" not in out.text and "Mit freundlichen Grüßen" not in out.html
    assert not INFORMAL.search(out.text)


@pytest.mark.parametrize(
    ("event", "moments"),
    [
        ("case_opened", ("first_response_due_at",)),
        ("waiting_reminder", ("waiting_since", "closes_at")),
        ("closed", ("reopen_until",)),
        ("escalate_too_early", ("possible_at",)),
        ("deadline_warning", ("due_at",)),
        ("auto_closed", ("waiting_since", "reopen_until")),
    ],
)
def test_dates_in_notices_are_german(strict: Composer, event: str, moments: tuple[str, ...]) -> None:
    role = "owner" if event == "deadline_warning" else "primary_contact"
    ctx = full_context(LANG, role)
    out = strict.render(event, LANG, ctx)
    for key in moments:
        value = ctx["case"].get(key) or ctx["event"][key]
        when = i18n.format_datetime(value, LANG)
        assert DATE.fullmatch(when) and when in out.text and when in out.html, (event, key)


@pytest.mark.parametrize(("deadline", "kind"), [("first_response", "Erste"), ("next_response", "Nächste")])
def test_deadline_warning_names_the_deadline_in_german(strict: Composer, deadline: str, kind: str) -> None:
    due = OPENED + timedelta(hours=6, minutes=30)
    out = render(strict, "deadline_warning", "owner", deadline=deadline, due_at=due)
    assert out.subject == f"{TAG} {kind} Antwort fällig bis 21.11.2026 16:30 UTC: Login page returns 500"
    assert f"Die {kind.lower() if kind == 'Erste' else 'nächste'} Antwort zum Fall 00001042" in out.text
    assert "Interne Notizen (#note, maild case note) zählen nicht als Antwort." in out.text


def test_every_command_result_reads_german(strict: Composer) -> None:
    out = render(strict, "commands_applied", "agent", results=results())
    lines = out.text.splitlines()
    for (line, ok, _code, _detail, _en, _ja), words in zip(RESULTS, COMMAND_WORDS, strict=True):
        mark = "✓" if ok else "✗"
        assert any(t.startswith(f"{mark} {line} — ") and words in t for t in lines), (line, words)
    assert "Mit ✗ markierte Befehle wurden nicht ausgeführt, alle anderen schon." in out.text


@pytest.mark.parametrize("event", ["case_opened", "comment_added", "status_changed", "closed"])
def test_routing_stays_internal_in_german(strict: Composer, event: str) -> None:
    labels = ("Team: Tier 2\n", "Verantwortlich: dave@vendor.example\n", "Thema: Login\n")
    for role in CONTACT_ROLES:
        text = render(strict, event, role).text
        assert not any(label in text for label in labels), (event, role)
    for role in STAFF_ROLES:
        text = render(strict, event, role).text
        assert all(label in text for label in labels), (event, role)


@pytest.mark.parametrize("event", EVENTS)
def test_html_is_escaped_and_text_kept(strict: Composer, event: str) -> None:
    ctx = full_context(LANG, "agent", owner_name=SCRIPT, new_team=SCRIPT, sender=SCRIPT)
    ctx["case"]["subject"] = SCRIPT
    ctx["case"]["account"] = SCRIPT
    ctx["comment"]["body"] = f"Schauen Sie: {SCRIPT} & <b>fett</b>"
    out = strict.render(event, LANG, ctx)
    assert "<script>" not in out.html and "&amp;lt;" not in out.html, event
    if event in ("comment_added", "note_added"):
        assert "Schauen Sie: " + ESCAPED + " &amp; &lt;b&gt;fett&lt;/b&gt;" in out.html
        assert f"Schauen Sie: {SCRIPT} & <b>fett</b>" in out.text


@pytest.mark.parametrize("event", EVENTS)
@pytest.mark.parametrize("role", ["primary_contact", "agent"])
def test_round_trip_through_the_parser_keeps_the_text(strict: Composer, event: str, role: str) -> None:
    out = strict.render(event, LANG, sample_context(language=LANG, role=role))
    data = build(out, to_name="Jürgen Größmann")
    charsets = {part.get_content_charset() for part in parse(data).walk() if not part.is_multipart()}
    assert charsets == {"utf-8"}, charsets
    mail = parse_message(data)
    assert not mail.defects, mail.defects
    assert mail.subject == out.subject
    assert mail.text == out.text
    assert not mail.text.isascii() or event == "helpdesk", event  # the umlauts survived as text
