"""Brazilian Portuguese (pt-BR) notifications: every event reads as a Brazilian support team writes it.

SPEC §12. Você towards customers, polite ("por favor", "Atenciosamente").
The checks are lang_checks_es_pt.py's, shared with Spanish; this file holds
the Portuguese words they look for and the Portuguese tables.
"""

from __future__ import annotations

import re
from typing import ClassVar

from maild.outbound import i18n
from tests.unit.lang_checks_es_pt import SpanishPortugueseChecks

LANG = "pt-BR"


class TestBrazilianPortuguese(SpanishPortugueseChecks):
    LANG = LANG
    ENGLISH_ALLOWED = ("Status:",)  # "Status:" is the Brazilian word too.
    PHRASES: ClassVar[dict[str, tuple[str, str]]] = {
        "case_opened": (
            "Abrimos um caso para a sua solicitação",
            "Um novo caso foi aberto por alice@acme.example",
        ),
        "comment_added": (
            "adicionou um comentário ao caso 00001042",
            "adicionou um comentário ao caso 00001042",
        ),
        "status_changed": (
            "mudou de Novo para Aguardando o cliente",
            "mudou de Novo para Aguardando o cliente",
        ),
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
    # Tu/teu and vós are not how a Brazilian company writes to a customer;
    # "o senhor" is too stiff for support.
    INFORMAL = re.compile(r"\b(?:tu|teu|tua|contigo|vós|vosso|senhor|senhora)\b", re.IGNORECASE)
    GREETING = "Olá, Alice,\n"
    UNNAMED_GREETING = "Olá,\n"
    CLOSING = "Atenciosamente,"
    NO_COURTESY = ("Olá", "Atenciosamente")
    COURTESIES = (
        ("comment_added", "Para acrescentar informações, responda a este e-mail."),
        ("comment_added", "coloque-os em Cc na sua resposta"),
        ("waiting_reminder", "por favor, avise-nos"),
        ("auto_closed", "Se você ainda precisar de ajuda"),
    )
    OPENED_TEXT = (
        "Primeira resposta até: 21/11/2026 14:00 UTC",
        "Severidade: 3 (Alta)",
        "Status: Novo",
        "Impacto no negócio: Nobody can log in",
        "ID da organização: 00D123",
        "a severidade informada (“Sev 9”) não é válida",
    )
    OPENED_HTML = "&ldquo;Sev 9&rdquo;"
    DEADLINES = (
        ("first_response", "primeira resposta", "próxima resposta"),
        ("next_response", "próxima resposta", "primeira resposta"),
    )
    DEADLINE_TEXT = (
        "responda a este e-mail sem #note ou use maild case reply",
        "Notas internas (#note, maild case note) não contam como resposta.",
    )
    WILL_CLOSE = ("será fechado", "automaticamente")
    ROUTING = ("Equipe: Tier 2\n", "Responsável: dave@vendor.example\n", "Tópico: Login\n")
    ROUTING_LABELS = ("Equipe:", "Tópico:")
    COMMAND_SENTENCES: ClassVar[dict[str, str]] = {
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
    NOT_APPLIED = "Os comandos marcados com ✗ não foram aplicados; os demais foram."
    COMMENT_PREFIX = "Veja:"
    BOLD = "negrito"
    ROUND_TRIP_NAME = "João Conceição"
    ACCENTS = "ãçáéíóúêô"


def test_reasons_and_names_come_from_the_portuguese_table() -> None:
    assert i18n.severity_name(4, LANG) == "Média" and i18n.status_name("closed", LANG) == "Fechado"
    assert i18n.role_name("owner", LANG) == "Responsável pelo caso"
    assert "próxima resposta" in i18n.escalation_reason_text("next_response", LANG)
    assert "primeira resposta" in i18n.escalation_reason_text("deadline", LANG)
    for command in ("#note", "#assign", "#team", "#severity", "#waiting"):
        assert command in i18n.rejection_reason_text("agent_command", LANG)
    assert i18n.helpdesk_message(None, LANG).startswith("Entre em contato")
