"""Brazilian Portuguese (pt-BR) notifications: every event reads as a Brazilian support team writes it.

SPEC §12. Você towards customers, polite ("por favor", "Atenciosamente"). The shared
tests (test_compose*.py) prove every language renders strictly; these prove
that what pt-BR renders is Portuguese: no English sentence left behind, the
key phrases of each event, dd/mm/aaaa dates, escaped HTML, and a message
that survives maild's own composer and parser byte for byte.
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

LANG = "pt-BR"
CONTACT, STAFF = "primary_contact", "manager"
STAFF_ONLY = ("assigned", "moved", "note_added", "commands_applied", "held", "deadline_warning")
TAGS = re.compile(r"<[^<>]*>")  # our own HTML only, never a mail: no backtracking either way
# Tu/teu and vós are not how a Brazilian company writes to a customer; "o senhor" is too stiff for support.
INFORMAL = re.compile(r"\b(?:tu|teu|tua|contigo|vós|vosso|senhor|senhora)\b", re.IGNORECASE)
SCRIPT = '<script>alert("x")</script>'
ESCAPED = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"

# Sentences and labels of templates/en that must never reach a Brazilian reader.
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
    # "Status:" is the Brazilian word too.
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

# One phrase per event that only a correct Portuguese rendering contains: (contact's copy, staff's copy).
PHRASES: dict[str, tuple[str, str]] = {
    "case_opened": (
        "Abrimos um caso para a sua solicitação",
        "Um novo caso foi aberto por alice@acme.example",
    ),
    "comment_added": ("adicionou um comentário ao caso 00001042", "adicionou um comentário ao caso 00001042"),
    "status_changed": ("mudou de Novo para Aguardando o cliente", "mudou de Novo para Aguardando o cliente"),
    "severity_changed": ("mudou de 3 (Alta) para 1 (Crítica)", "mudou de 3 (Alta) para 1 (Crítica)"),
    "escalated": ("foi escalado para a nossa gerência de suporte", "foi escalado para o nível 2"),
    "closed": ("O caso 00001042 foi fechado.", "O caso 00001042 foi fechado."),
    "reopened": ("foi reaberto após uma resposta de Bob", "foi reaberto após uma resposta de Bob"),
    "rejected": ("Sua mensagem não foi adicionada ao caso 00001042", "Esta é uma resposta automática."),
    "escalate_refused": ("somente os contatos designados", "somente os contatos designados"),
    "escalate_too_early": (
        "Obrigado pela sua solicitação de escalonamento",
        "a partir de 21/11/2026 12:00 UTC",
    ),
    "helpdesk": ("Esta é uma resposta automática de Example Support.", "resposta automática"),
    "waiting_reminder": (
        "Este é um lembrete de que estamos aguardando a sua resposta",
        "aguardando a sua resposta",
    ),
    "auto_closed": ("pois não recebemos retorno seu", "o cliente não responde desde"),
    "assigned": ("", "agora está atribuído a Dave <dave@vendor.example>."),
    "moved": ("", "foi transferido da equipe Tier 1 para a equipe Tier 2"),
    "note_added": ("", "adicionou uma nota interna ao caso 00001042"),
    "commands_applied": ("", "Seus comandos para o caso 00001042:"),
    "held": ("", "Uma mensagem para o caso 00001042 foi retida"),
    "deadline_warning": ("", "A próxima resposta ao caso 00001042 (Acme) vence em"),
}


def context(role: str, **event: Any) -> dict[str, Any]:
    """The full context, with the texts maild itself supplies given in Portuguese, as notify.py does."""
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
        assert 'lang="pt-BR"' in out.html


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


def test_customers_are_addressed_as_voce(strict: Composer) -> None:
    for event in sorted(set(EVENTS) - set(STAFF_ONLY) - {"helpdesk"}):
        out = strict.render(event, LANG, context(CONTACT))
        assert out.text.startswith("Olá, Alice,\n"), event
        assert "Atenciosamente," in out.text and "Atenciosamente," in out.html, event
        assert not INFORMAL.search(out.text), (event, INFORMAL.search(out.text))
    footer = strict.render("comment_added", LANG, context(CONTACT)).text
    assert "Para acrescentar informações, responda a este e-mail." in footer
    assert "coloque-os em Cc na sua resposta" in footer
    reminder = strict.render("waiting_reminder", LANG, context(CONTACT)).text
    assert "por favor, avise-nos" in reminder
    assert "Se você ainda precisar de ajuda" in strict.render("auto_closed", LANG, context(CONTACT)).text
    unnamed = context("collaborator")
    unnamed["recipient"]["name"] = ""
    assert strict.render("closed", LANG, unnamed).text.startswith("Olá,\n")


@pytest.mark.parametrize("event", STAFF_ONLY)
def test_colleagues_get_no_customer_greeting_or_closing(strict: Composer, event: str) -> None:
    for role in ("owner", "team"):
        out = strict.render(event, LANG, context(role))
        for part in (out.text, out.html):
            assert "Olá" not in part and "Atenciosamente" not in part and "Cc" not in part
            assert "#note" in part or event == "held"


def test_dates_are_day_month_year_in_utc() -> None:
    assert i18n.format_datetime(datetime(2026, 3, 5, 9, 7, tzinfo=UTC), LANG) == "05/03/2026 09:07 UTC"
    assert i18n.format_datetime("2026-11-21T23:59:00+09:00", LANG) == "21/11/2026 14:59 UTC"
    assert i18n.format_filesize(1, LANG) == "1 byte" and i18n.format_filesize(5, LANG) == "5 bytes"


def test_case_opened_shows_deadline_and_portuguese_labels(strict: Composer) -> None:
    out = strict.render("case_opened", LANG, context(CONTACT, severity_note="Sev 9"))
    assert "Primeira resposta até: 21/11/2026 14:00 UTC" in out.text
    assert "Severidade: 3 (Alta)" in out.text and "Status: Novo" in out.text
    assert "Impacto no negócio: Nobody can log in" in out.text
    assert "ID da organização: 00D123" in out.text
    assert "a severidade informada (“Sev 9”) não é válida" in out.text
    assert "&ldquo;Sev 9&rdquo;" in out.html


@pytest.mark.parametrize(("deadline", "kind", "other"), [
    ("first_response", "primeira resposta", "próxima resposta"),
    ("next_response", "próxima resposta", "primeira resposta"),
])  # fmt: skip
def test_deadline_warning_says_which_deadline_and_that_a_note_does_not_count(
    strict: Composer, deadline: str, kind: str, other: str
) -> None:
    due = OPENED + timedelta(hours=6, minutes=30)
    out = strict.render("deadline_warning", LANG, context("owner", deadline=deadline, due_at=due))
    for part in (out.subject, out.text, out.html):
        assert "21/11/2026 16:30 UTC" in part
        assert kind in part.lower() and other not in part.lower()
    assert "responda a este e-mail sem #note ou use maild case reply" in out.text
    assert "Notas internas (#note, maild case note) não contam como resposta." in out.text
    assert "<code>maild case reply</code>" in out.html


def test_waiting_reminder_threatens_no_close_when_none_is_due(strict: Composer) -> None:
    since, closes = OPENED + timedelta(days=2), OPENED + timedelta(days=9)
    due = strict.render("waiting_reminder", LANG, context(CONTACT, waiting_since=since, closes_at=closes))
    assert "será fechado" in due.text and i18n.format_datetime(closes, LANG) in due.html
    off = strict.render("waiting_reminder", LANG, context(CONTACT, waiting_since=since, closes_at=None))
    for part in (off.text, off.html):
        assert "automaticamente" not in part and i18n.format_datetime(closes, LANG) not in part
        assert i18n.format_datetime(since, LANG) in part


def test_summary_shows_routing_to_staff_only(strict: Composer) -> None:
    staff = strict.render("comment_added", LANG, context("team")).text
    for line in ("Equipe: Tier 2\n", "Responsável: dave@vendor.example\n", "Tópico: Login\n"):
        assert line in staff
    contact = strict.render("comment_added", LANG, context(CONTACT)).text
    assert "Tier 2" not in contact and "Equipe:" not in contact and "Tópico:" not in contact


def test_commands_applied_explains_every_code(strict: Composer) -> None:
    codes = {
        "assigned": "O caso agora está atribuído a dave@vendor.example.",
        "moved": "O caso foi transferido para a equipe Tier 2.",
        "severity_changed": "A severidade agora é 2 (Urgente).",
        "waiting": "O status agora é “Aguardando o cliente”.",
        "closed": "O caso foi fechado.",
        "noted": "Sua resposta foi salva como nota interna",
        "not_an_agent": "não é engenheiro de suporte",
        "unknown_team": "Não existe nenhuma equipe chamada “nowhere”. Equipes: Tier 1, Tier 2.",
        "bad_severity": "não é uma severidade válida; use um número de 1 a 4",
        "agent_command": "Somente engenheiros de suporte podem usar este comando.",
        "close_not_allowed": "Você não tem permissão para fechar este caso.",
        "escalate_refused": "não com #escalate",
        "missing_argument": "Este comando precisa de um complemento",
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
    assert "Os comandos marcados com ✗ não foram aplicados; os demais foram." in out.text


def test_html_is_escaped_and_text_is_verbatim(strict: Composer) -> None:
    for event in ("comment_added", "note_added", "auto_closed", "moved", "assigned"):
        ctx = context("team", new_team=SCRIPT, owner_name=SCRIPT, closed_by=SCRIPT)
        ctx["comment"]["body"] = f"Veja: {SCRIPT} & <b>negrito</b>"
        ctx["case"]["subject"] = SCRIPT
        ctx["case"]["account"] = SCRIPT
        out = strict.render(event, LANG, ctx)
        assert "<script>" not in out.html and ESCAPED in out.html, event
        assert "&amp;lt;" not in out.html, event
        assert SCRIPT in out.text and SCRIPT in out.subject, event


def test_reasons_and_names_come_from_the_portuguese_table() -> None:
    assert i18n.severity_name(4, LANG) == "Média" and i18n.status_name("closed", LANG) == "Fechado"
    assert i18n.role_name("owner", LANG) == "Responsável pelo caso"
    assert "próxima resposta" in i18n.escalation_reason_text("next_response", LANG)
    assert "primeira resposta" in i18n.escalation_reason_text("deadline", LANG)
    for command in ("#note", "#assign", "#team", "#severity", "#waiting"):
        assert command in i18n.rejection_reason_text("agent_command", LANG)
    assert i18n.helpdesk_message(None, LANG).startswith("Entre em contato")


@pytest.mark.parametrize("event", EVENTS)
def test_round_trip_through_maild_composer_and_parser(strict: Composer, event: str) -> None:
    role = roles_of(event)[0]
    out: Rendered = strict.render(event, LANG, context(role))
    data = build(out, to_name="João Conceição")
    mail = parse_message(data)
    assert not mail.defects
    assert mail.subject == out.subject
    assert mail.text == out.text
    assert mail.html == out.html
    assert any(ch in mail.text for ch in "ãçáéíóúêô") or event == "commands_applied"
