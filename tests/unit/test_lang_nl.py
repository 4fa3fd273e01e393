"""Dutch (nl, formal u): every notification reads as Dutch to customers and colleagues (SPEC §12).

The shared compose tests prove each language renders strictly; these read
what a Dutch recipient gets: no English sentence left behind, the formal
u (never je or jij), Dutch dates, the Dutch command results and deadline
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

LANG = "nl"
CONTACT_ROLES = ("primary_contact", "collaborator", "other")
STAFF_ROLES = ("agent", "manager", "owner", "team")
SCRIPT = '<script>alert("x")</script>'
ESCAPED = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"

# Sentences and labels of templates/en that must never reach a Dutch reader.
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

# What each event says in Dutch (text part, full context, the primary contact / an agent).
CONTACT_PHRASES = {
    "case_opened": "Hartelijk dank voor uw bericht. We hebben een melding voor uw aanvraag aangemaakt.",
    "comment_added": "Bob (Betrokkene) heeft een opmerking toegevoegd aan melding 00001042:",
    "status_changed": "De status van melding 00001042 is gewijzigd van Nieuw naar Wacht op reactie klant.",
    "escalated": "Melding 00001042 is geëscaleerd naar ons supportmanagement (niveau 2).",
    "closed": "Melding 00001042 is gesloten.",
    "reopened": "Melding 00001042 is heropend na een antwoord van Bob.",
    "helpdesk": "Dit is een automatisch antwoord van Example Support.",
    "rejected": "Uw bericht is niet toegevoegd aan melding 00001042.",
    "escalate_too_early": "Hartelijk dank voor uw escalatieverzoek voor melding 00001042.",
    "escalate_refused": "Helaas kunnen we het escalatieverzoek voor melding 00001042 niet accepteren",
    "severity_changed": "De ernst van melding 00001042 is gewijzigd van 3 (Hoog) naar 1 (Kritiek).",
    "held": "Een bericht voor melding 00001042 is tegengehouden",
    "assigned": "Melding 00001042 is nu toegewezen aan Dave <dave@vendor.example>.",
    "moved": "Melding 00001042 is van team Tier 1 naar team Tier 2 verplaatst door erin@vendor.example.",
    "note_added": "INTERNE NOTITIE: niet naar de klant verzonden.",
    "commands_applied": "Uw opdrachten voor melding 00001042:",
    "deadline_warning": "De volgende reactie op melding 00001042 (Acme) moet uiterlijk 21-11-2026 12:00 UTC",
    "waiting_reminder": "Graag herinneren we u eraan dat we sinds 22-11-2026 10:00 UTC wachten op uw",
    "auto_closed": "Melding 00001042 is automatisch gesloten, omdat we sinds 22-11-2026 10:00 UTC niets meer",
}
STAFF_PHRASES = {
    "case_opened": "alice@acme.example (Acme) heeft een nieuwe melding aangemaakt.",
    "escalated": "Melding 00001042 (Acme) is geëscaleerd naar niveau 2.",
    "auto_closed": "de klant heeft sinds 22-11-2026 10:00 UTC niet gereageerd.",
    "reopened": "Melding 00001042 is heropend",
}
# What each command result reads in Dutch (by position in RESULTS).
COMMAND_WORDS = (
    "De melding is nu toegewezen aan dave@vendor.example.",
    "De melding is verplaatst naar team Tier 2.",
    "De ernst is nu 2 (Urgent).",
    "De status is nu 'Wacht op reactie klant'.",
    "De melding is gesloten.",
    "opgeslagen als interne notitie; de klant heeft het niet ontvangen",
    "Niets te wijzigen: dit staat al op 'Tier 1'.",
    "eve@acme.example is geen supportmedewerker.",
    "Er bestaat geen team met de naam 'Nowhere'. Teams: Tier 1, Tier 2.",
    "'9' is geen geldige ernst; gebruik een getal van 1 tot en met 4.",
    "Alleen supportmedewerkers kunnen deze opdracht gebruiken.",
    "U mag deze melding niet sluiten.",
    "via hun manager, niet met #escalate",
    "Na deze opdracht moet iets volgen, bijvoorbeeld #assign me",
    "Niets te wijzigen: dit staat al op 'Gesloten'.",
    "frobnicated",
)
INFORMAL = re.compile(r"\b(?:du|dich|dir|dein|deine|deinen|deinem|deiner|euch|euer|eure)\b", re.IGNORECASE)
NO_GREETING = ("helpdesk", "held", "assigned", "moved", "note_added", "commands_applied", "deadline_warning")
DATE = re.compile(r"\b\d{2}-\d{2}-\d{4} \d{2}:\d{2} UTC\b")


@pytest.fixture(scope="module")
def strict() -> Composer:
    return Composer([], strict=True)


def render(composer: Composer, event: str, role: str, **event_values: Any) -> Rendered:
    ctx = full_context(LANG, role, **event_values)
    if role in STAFF_ROLES:
        ctx["recipient"]["email"] = "dave@vendor.example"
    return composer.render(event, LANG, ctx)


def test_the_table_speaks_dutch() -> None:
    assert i18n.severity_name(1, LANG) == "Kritiek" and i18n.severity_name(4, LANG) == "Gemiddeld"
    assert i18n.status_name("waiting_on_customer", LANG) == "Wacht op reactie klant"
    assert i18n.format_filesize(1, LANG) == "1 byte" and i18n.format_filesize(5, LANG) == "5 bytes"


def test_dates_are_dutch_day_month_year_with_leading_zeros() -> None:
    assert i18n.format_datetime(datetime(2026, 3, 5, 9, 7, tzinfo=UTC), LANG) == "05-03-2026 09:07 UTC"
    assert i18n.format_datetime("2026-11-21T12:05:00Z", LANG) == "21-11-2026 12:05 UTC"


@pytest.mark.parametrize("event", EVENTS)
@pytest.mark.parametrize("role", ROLES)
def test_no_english_sentence_is_left(strict: Composer, event: str, role: str) -> None:
    out = render(strict, event, role)
    for part in (out.subject, out.text, out.html):
        for phrase in ENGLISH:
            assert phrase not in part, (event, role, phrase)
        assert "2026-11-2" not in part, (event, role)  # dates only in the Dutch form
    assert '<html lang="nl">' in out.html


@pytest.mark.parametrize("event", EVENTS)
def test_each_event_says_its_message_in_dutch(strict: Composer, event: str) -> None:
    out = render(strict, event, "primary_contact", due_at=OPENED + timedelta(hours=2))
    assert CONTACT_PHRASES[event] in out.text, event
    if event in STAFF_PHRASES:
        staff = render(strict, event, "agent")
        assert STAFF_PHRASES[event] in staff.text, event


@pytest.mark.parametrize("event", EVENTS)
@pytest.mark.parametrize("role", CONTACT_ROLES)
def test_customers_are_addressed_with_u_and_greeted(strict: Composer, event: str, role: str) -> None:
    out = render(strict, event, role)
    for part in (out.subject, out.text, out.html):
        assert not INFORMAL.search(part), (event, role, INFORMAL.search(part))
    if event not in NO_GREETING:
        assert out.text.startswith("Geachte Alice,\n\n"), event
        assert "Met vriendelijke groet," in out.text and "<p>Met vriendelijke groet,</p>" in out.html


@pytest.mark.parametrize("event", EVENTS)
@pytest.mark.parametrize("role", STAFF_ROLES)
def test_colleagues_get_no_customer_closing(strict: Composer, event: str, role: str) -> None:
    out = render(strict, event, role)
    assert "Met vriendelijke groet" not in out.text and "Met vriendelijke groet" not in out.html
    assert "Geachte" not in out.text
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
def test_dates_in_notices_are_dutch(strict: Composer, event: str, moments: tuple[str, ...]) -> None:
    role = "owner" if event == "deadline_warning" else "primary_contact"
    ctx = full_context(LANG, role)
    out = strict.render(event, LANG, ctx)
    for key in moments:
        value = ctx["case"].get(key) or ctx["event"][key]
        when = i18n.format_datetime(value, LANG)
        assert DATE.fullmatch(when) and when in out.text and when in out.html, (event, key)


@pytest.mark.parametrize(("deadline", "kind"), [("first_response", "Eerste"), ("next_response", "Volgende")])
def test_deadline_warning_names_the_deadline_in_dutch(strict: Composer, deadline: str, kind: str) -> None:
    due = OPENED + timedelta(hours=6, minutes=30)
    out = render(strict, "deadline_warning", "owner", deadline=deadline, due_at=due)
    assert out.subject == f"{TAG} {kind} reactie uiterlijk 21-11-2026 16:30 UTC: Login page returns 500"
    assert f"De {kind.lower()} reactie op melding 00001042" in out.text
    assert "Interne notities (#note, maild case note) tellen niet als reactie." in out.text


def test_every_command_result_reads_dutch(strict: Composer) -> None:
    out = render(strict, "commands_applied", "agent", results=results())
    lines = out.text.splitlines()
    for (line, ok, _code, _detail, _en, _ja), words in zip(RESULTS, COMMAND_WORDS, strict=True):
        mark = "✓" if ok else "✗"
        assert any(t.startswith(f"{mark} {line} — ") and words in t for t in lines), (line, words)
    assert "Opdrachten gemarkeerd met ✗ zijn niet uitgevoerd; de overige wel." in out.text


@pytest.mark.parametrize("event", ["case_opened", "comment_added", "status_changed", "closed"])
def test_routing_stays_internal_in_dutch(strict: Composer, event: str) -> None:
    labels = ("Team: Tier 2\n", "Behandelaar: dave@vendor.example\n", "Thema: Login\n")
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
    ctx["comment"]["body"] = f"Kijk: {SCRIPT} & <b>vet</b>"
    out = strict.render(event, LANG, ctx)
    assert "<script>" not in out.html and "&amp;lt;" not in out.html, event
    if event in ("comment_added", "note_added"):
        assert "Kijk: " + ESCAPED + " &amp; &lt;b&gt;vet&lt;/b&gt;" in out.html
        assert f"Kijk: {SCRIPT} & <b>vet</b>" in out.text


@pytest.mark.parametrize("event", EVENTS)
@pytest.mark.parametrize("role", ["primary_contact", "agent"])
def test_round_trip_through_the_parser_keeps_the_text(strict: Composer, event: str, role: str) -> None:
    out = strict.render(event, LANG, sample_context(language=LANG, role=role))
    data = build(out, to_name="Eliëtte van Zoeterwoude-Ĳsselmeer")
    charsets = {part.get_content_charset() for part in parse(data).walk() if not part.is_multipart()}
    assert charsets == {"utf-8"}, charsets
    mail = parse_message(data)
    assert not mail.defects, mail.defects
    assert mail.subject == out.subject
    assert mail.text == out.text
