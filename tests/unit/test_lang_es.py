"""Spanish (es) notifications: every event reads as Spanish support staff would write it (SPEC §12).

Neutral international Spanish, usted towards customers. The shared tests
(test_compose*.py) prove every language renders strictly; these prove that
what es renders is Spanish: no English sentence left behind, the key
phrases of each event, dd/mm/yyyy dates, escaped HTML, and a message that
survives maild's own composer and parser byte for byte.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from maild.inbound.parse import parse_message
from maild.outbound import i18n
from maild.outbound.compose import EVENTS, Composer, Rendered
from tests.unit.test_compose import OPENED, TAG, full_context
from tests.unit.test_message import build

LANG = "es"
CONTACT, STAFF = "primary_contact", "manager"
STAFF_ONLY = ("assigned", "moved", "note_added", "commands_applied", "held", "deadline_warning")
TAGS = re.compile(r"<[^<>]*>")  # our own HTML only, never a mail: no backtracking either way
INFORMAL = re.compile(r"\b(?:tu|tú|te|ti|puedes|contigo|responde|escríbenos)\b", re.IGNORECASE)
SCRIPT = '<script>alert("x")</script>'
ESCAPED = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"

# Sentences and labels of templates/en that must never reach a Spanish reader.
ENGLISH = (
    "Dear ",
    "Hello,",
    "Reply to this email",
    "reply to this email",
    "Case 00001042",
    "has been",
    "was closed",
    "Thank you",
    "We are sorry",
    "Subject:",
    "Severity:",
    "Status:",
    "Owner:",
    "Team:",
    "Topic:",
    "Primary contact",
    "Reason:",
    "Deadline passed",
    "Assigned by",
    "Internal note",
    "INTERNAL NOTE",
    "Attachments:",
    "Details provided",
    "Your commands",
    "not applied",
    "automatic reply",
    "friendly reminder",
    "is due by",
    "initial response",
    "next response",
    "added a comment",
    "Cc them",
    "support engineer",
)

# One phrase per event that only a correct Spanish rendering contains: (contact's copy, staff's copy).
PHRASES: dict[str, tuple[str, str]] = {
    "case_opened": ("Hemos abierto un caso para su solicitud", "ha abierto un caso nuevo"),
    "comment_added": (
        "ha añadido un comentario al caso 00001042",
        "ha añadido un comentario al caso 00001042",
    ),
    "status_changed": ("ha cambiado de Nuevo a En espera del cliente", "ha cambiado de Nuevo a En espera"),
    "severity_changed": ("ha cambiado de 3 (Alta) a 1 (Crítica)", "ha cambiado de 3 (Alta) a 1 (Crítica)"),
    "escalated": ("se ha escalado a nuestra gerencia de soporte", "se ha escalado al nivel 2"),
    "closed": ("El caso 00001042 se ha cerrado.", "El caso 00001042 se ha cerrado."),
    "reopened": ("se ha reabierto tras una respuesta de Bob", "se ha reabierto tras una respuesta de Bob"),
    "rejected": ("Su mensaje no se ha añadido al caso 00001042", "Esta es una respuesta automática."),
    "escalate_refused": ("solo los contactos designados", "solo los contactos designados"),
    "escalate_too_early": ("Gracias por su solicitud de escalado", "a partir del 21/11/2026 12:00 UTC"),
    "helpdesk": ("Esta es una respuesta automática de Example Support.", "respuesta automática"),
    "waiting_reminder": ("Le recordamos amablemente", "estamos a la espera de su respuesta"),
    "auto_closed": ("ya que no hemos recibido respuesta de su parte", "el cliente no ha respondido desde"),
    "assigned": ("", "se ha asignado a Dave <dave@vendor.example>."),
    "moved": ("", "ha sido trasladado del equipo Tier 1 al equipo Tier 2"),
    "note_added": ("", "ha añadido una nota interna al caso 00001042"),
    "commands_applied": ("", "Sus comandos para el caso 00001042:"),
    "held": ("", "Se ha retenido un mensaje para el caso 00001042"),
    "deadline_warning": ("", "La siguiente respuesta al caso 00001042 (Acme) vence el"),
}


def context(role: str, **event: Any) -> dict[str, Any]:
    """The full context, with the texts maild itself supplies given in Spanish, as notify.py does."""
    values: dict[str, Any] = {
        "reason_text": i18n.rejection_reason_text("unknown_case", LANG),
        "helpdesk_message": "",
        "reason": "customer_request",
    }
    values.update(event)
    ctx = full_context(LANG, role, **values)
    ctx["comment"]["role"] = "collaborator"
    return ctx


@pytest.fixture(scope="module")
def strict() -> Composer:
    return Composer([], strict=True)


def roles_of(event: str) -> tuple[str, ...]:
    return (STAFF,) if event in STAFF_ONLY else (CONTACT, STAFF)


@pytest.mark.parametrize("event", EVENTS)
def test_no_english_sentence_is_left(strict: Composer, event: str) -> None:
    for role in roles_of(event):
        out = strict.render(event, LANG, context(role))
        for part in (out.subject, out.text, out.html):
            for marker in ENGLISH:
                assert marker not in part, (event, role, marker)
        assert 'lang="es"' in out.html


@pytest.mark.parametrize("event", EVENTS)
def test_each_event_says_its_key_phrase(strict: Composer, event: str) -> None:
    contact, staff = PHRASES[event]
    for role, phrase in ((CONTACT, contact), (STAFF, staff)):
        if not phrase:
            continue
        out = strict.render(event, LANG, context(role))
        assert phrase in out.text, (event, role)
        html_phrase = phrase.replace("<", "&lt;").replace(">", "&gt;")
        assert html_phrase in TAGS.sub("", out.html), (event, role)
        if event != "helpdesk":
            assert out.subject.startswith(TAG)


def test_customers_are_addressed_as_usted(strict: Composer) -> None:
    for event in sorted(set(EVENTS) - set(STAFF_ONLY) - {"helpdesk"}):
        out = strict.render(event, LANG, context(CONTACT))
        assert out.text.startswith("Estimado/a Alice:\n"), event
        assert "Un cordial saludo." in out.text and "Un cordial saludo." in out.html, event
        assert not INFORMAL.search(out.text), (event, INFORMAL.search(out.text))
    footer = strict.render("comment_added", LANG, context(CONTACT)).text
    assert "Para añadir información, responda a este correo." in footer
    assert "añádalos en Cc al responder" in footer
    unnamed = context("collaborator")
    unnamed["recipient"]["name"] = ""
    assert strict.render("closed", LANG, unnamed).text.startswith("Hola:\n")


@pytest.mark.parametrize("event", STAFF_ONLY)
def test_colleagues_get_no_customer_greeting_or_closing(strict: Composer, event: str) -> None:
    for role in ("owner", "team"):
        out = strict.render(event, LANG, context(role))
        for part in (out.text, out.html):
            assert "Estimado/a" not in part and "Un cordial saludo" not in part and "Cc" not in part
            assert "#note" in part or event == "held"


def test_dates_are_day_month_year_in_utc() -> None:
    assert i18n.format_datetime(datetime(2026, 3, 5, 9, 7, tzinfo=UTC), LANG) == "05/03/2026 09:07 UTC"
    assert i18n.format_datetime("2026-11-21T23:59:00+09:00", LANG) == "21/11/2026 14:59 UTC"
    assert i18n.format_filesize(1, LANG) == "1 byte" and i18n.format_filesize(5, LANG) == "5 bytes"


def test_case_opened_shows_deadline_and_spanish_labels(strict: Composer) -> None:
    out = strict.render("case_opened", LANG, context(CONTACT, severity_note="Sev 9"))
    assert "Primera respuesta antes del: 21/11/2026 14:00 UTC" in out.text
    assert "Gravedad: 3 (Alta)" in out.text and "Estado: Nuevo" in out.text
    assert "Impacto en el negocio: Nobody can log in" in out.text
    assert "ID de organización: 00D123" in out.text
    assert "la gravedad indicada («Sev 9») no es válida" in out.text
    assert "&laquo;Sev 9&raquo;" in out.html


@pytest.mark.parametrize(("deadline", "kind", "other"), [
    ("first_response", "primera respuesta", "siguiente respuesta"),
    ("next_response", "siguiente respuesta", "primera respuesta"),
])  # fmt: skip
def test_deadline_warning_says_which_deadline_and_that_a_note_does_not_count(
    strict: Composer, deadline: str, kind: str, other: str
) -> None:
    due = OPENED + timedelta(hours=6, minutes=30)
    out = strict.render("deadline_warning", LANG, context("owner", deadline=deadline, due_at=due))
    for part in (out.subject, out.text, out.html):
        assert "21/11/2026 16:30 UTC" in part
        assert kind in part.lower() and other not in part.lower()
    assert "conteste a este correo sin #note o use maild case reply" in out.text
    assert "Las notas internas (#note, maild case note) no cuentan como respuesta." in out.text
    assert "<code>maild case reply</code>" in out.html


def test_waiting_reminder_threatens_no_close_when_none_is_due(strict: Composer) -> None:
    since, closes = OPENED + timedelta(days=2), OPENED + timedelta(days=9)
    due = strict.render("waiting_reminder", LANG, context(CONTACT, waiting_since=since, closes_at=closes))
    assert "se cerrará" in due.text and i18n.format_datetime(closes, LANG) in due.html
    off = strict.render("waiting_reminder", LANG, context(CONTACT, waiting_since=since, closes_at=None))
    for part in (off.text, off.html):
        assert "automáticamente" not in part and i18n.format_datetime(closes, LANG) not in part
        assert i18n.format_datetime(since, LANG) in part


def test_summary_shows_routing_to_staff_only(strict: Composer) -> None:
    staff = strict.render("comment_added", LANG, context("team")).text
    for line in ("Equipo: Tier 2\n", "Responsable: dave@vendor.example\n", "Tema: Login\n"):
        assert line in staff
    contact = strict.render("comment_added", LANG, context(CONTACT)).text
    assert "Tier 2" not in contact and "Equipo:" not in contact and "Tema:" not in contact


def test_commands_applied_explains_every_code(strict: Composer) -> None:
    codes = {
        "assigned": "El caso está ahora asignado a dave@vendor.example.",
        "moved": "El caso pasó al equipo Tier 2.",
        "severity_changed": "La gravedad es ahora 2 (Urgente).",
        "waiting": "El estado es ahora «En espera del cliente».",
        "closed": "El caso está cerrado.",
        "noted": "Su respuesta se guardó como nota interna",
        "not_an_agent": "no es ingeniero de soporte",
        "unknown_team": "No existe ningún equipo llamado «nowhere». Equipos: Tier 1, Tier 2.",
        "bad_severity": "no es una gravedad válida; indique un número del 1 al 4",
        "agent_command": "Solo los ingenieros de soporte pueden usar este comando.",
        "close_not_allowed": "No puede cerrar este caso.",
        "escalate_refused": "no con #escalate",
        "missing_argument": "Este comando necesita un argumento",
    }
    details = {"assigned": "dave@vendor.example", "moved": "Tier 2", "severity_changed": "2",
               "unknown_team": "nowhere", "not_an_agent": "x@y.example", "bad_severity": "9"}  # fmt: skip
    results = [
        {"line": f"#{code}", "ok": code in details and code != "unknown_team", "code": code,
         "detail": details.get(code, "")}
        for code in codes
    ]  # fmt: skip
    out = strict.render("commands_applied", LANG, context("agent", results=results))
    for sentence in codes.values():
        assert sentence in out.text and sentence in out.html, sentence
    assert "Los comandos marcados con ✗ no se aplicaron; los demás sí." in out.text


def test_html_is_escaped_and_text_is_verbatim(strict: Composer) -> None:
    for event in ("comment_added", "note_added", "auto_closed", "moved", "assigned"):
        ctx = context("team", new_team=SCRIPT, owner_name=SCRIPT, closed_by=SCRIPT)
        ctx["comment"]["body"] = f"Mire: {SCRIPT} & <b>negrita</b>"
        ctx["case"]["subject"] = SCRIPT
        ctx["case"]["account"] = SCRIPT
        out = strict.render(event, LANG, ctx)
        assert "<script>" not in out.html and ESCAPED in out.html, event
        assert "&amp;lt;" not in out.html, event
        assert SCRIPT in out.text and SCRIPT in out.subject, event


def test_reasons_and_names_come_from_the_spanish_table() -> None:
    assert i18n.severity_name(1, LANG) == "Crítica" and i18n.status_name("closed", LANG) == "Cerrado"
    assert i18n.role_name("owner", LANG) == "Responsable del caso"
    assert "siguiente respuesta" in i18n.escalation_reason_text("next_response", LANG)
    assert "primera respuesta" in i18n.escalation_reason_text("deadline", LANG)
    for command in ("#note", "#assign", "#team", "#severity", "#waiting"):
        assert command in i18n.rejection_reason_text("agent_command", LANG)
    assert i18n.helpdesk_message(None, LANG).startswith("Póngase en contacto")


@pytest.mark.parametrize("event", EVENTS)
def test_round_trip_through_maild_composer_and_parser(strict: Composer, event: str) -> None:
    role = roles_of(event)[0]
    out: Rendered = strict.render(event, LANG, context(role))
    data = build(out, to_name="José Núñez Peña")
    mail = parse_message(data)
    assert not mail.defects
    assert mail.subject == out.subject
    assert mail.text == out.text
    assert mail.html == out.html
    assert any(ch in mail.text for ch in "áéíóúñ«") or event == "commands_applied"
