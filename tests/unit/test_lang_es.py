"""Spanish (es) notifications: every event reads as Spanish support staff would write it (SPEC §12).

Neutral international Spanish, usted towards customers. The checks are
lang_checks_es_pt.py's, shared with Brazilian Portuguese; this file holds
the Spanish words they look for and the Spanish tables.
"""

from __future__ import annotations

import re
from typing import ClassVar

from maild.outbound import i18n
from tests.unit.lang_checks_es_pt import SpanishPortugueseChecks

LANG = "es"


class TestSpanish(SpanishPortugueseChecks):
    LANG = LANG
    PHRASES: ClassVar[dict[str, tuple[str, str]]] = {
        "case_opened": ("Hemos abierto un caso para su solicitud", "ha abierto un caso nuevo"),
        "comment_added": (
            "ha añadido un comentario al caso 00001042",
            "ha añadido un comentario al caso 00001042",
        ),
        "status_changed": (
            "ha cambiado de Nuevo a En espera del cliente",
            "ha cambiado de Nuevo a En espera",
        ),
        "severity_changed": (
            "ha cambiado de 3 (Alta) a 1 (Crítica)",
            "ha cambiado de 3 (Alta) a 1 (Crítica)",
        ),
        "escalated": ("se ha escalado a nuestra gerencia de soporte", "se ha escalado al nivel 2"),
        "closed": ("El caso 00001042 se ha cerrado.", "El caso 00001042 se ha cerrado."),
        "reopened": (
            "se ha reabierto tras una respuesta de Bob",
            "se ha reabierto tras una respuesta de Bob",
        ),
        "rejected": ("Su mensaje no se ha añadido al caso 00001042", "Esta es una respuesta automática."),
        "escalate_refused": ("solo los contactos designados", "solo los contactos designados"),
        "escalate_too_early": ("Gracias por su solicitud de escalado", "a partir del 21/11/2026 12:00 UTC"),
        "helpdesk": ("Esta es una respuesta automática de Example Support.", "respuesta automática"),
        "waiting_reminder": ("Le recordamos amablemente", "estamos a la espera de su respuesta"),
        "auto_closed": (
            "ya que no hemos recibido respuesta de su parte",
            "el cliente no ha respondido desde",
        ),
        "assigned": ("", "se ha asignado a Dave <dave@vendor.example>."),
        "moved": ("", "ha sido trasladado del equipo Tier 1 al equipo Tier 2"),
        "note_added": ("", "ha añadido una nota interna al caso 00001042"),
        "commands_applied": ("", "Sus comandos para el caso 00001042:"),
        "held": ("", "Se ha retenido un mensaje para el caso 00001042"),
        "deadline_warning": ("", "La siguiente respuesta al caso 00001042 (Acme) vence el"),
    }
    INFORMAL = re.compile(r"\b(?:tu|tú|te|ti|puedes|contigo|responde|escríbenos)\b", re.IGNORECASE)
    GREETING = "Estimado/a Alice:\n"
    UNNAMED_GREETING = "Hola:\n"
    CLOSING = "Un cordial saludo."
    NO_COURTESY = ("Estimado/a", "Un cordial saludo")
    COURTESIES = (
        ("comment_added", "Para añadir información, responda a este correo."),
        ("comment_added", "añádalos en Cc al responder"),
    )
    OPENED_TEXT = (
        "Primera respuesta antes del: 21/11/2026 14:00 UTC",
        "Gravedad: 3 (Alta)",
        "Estado: Nuevo",
        "Impacto en el negocio: Nobody can log in",
        "ID de organización: 00D123",
        "la gravedad indicada («Sev 9») no es válida",
    )
    OPENED_HTML = "&laquo;Sev 9&raquo;"
    DEADLINES = (
        ("first_response", "primera respuesta", "siguiente respuesta"),
        ("next_response", "siguiente respuesta", "primera respuesta"),
    )
    DEADLINE_TEXT = (
        "conteste a este correo sin #note o use maild case reply",
        "Las notas internas (#note, maild case note) no cuentan como respuesta.",
    )
    WILL_CLOSE = ("se cerrará", "automáticamente")
    ROUTING = ("Equipo: Tier 2\n", "Responsable: dave@vendor.example\n", "Tema: Login\n")
    ROUTING_LABELS = ("Equipo:", "Tema:")
    COMMAND_SENTENCES: ClassVar[dict[str, str]] = {
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
    NOT_APPLIED = "Los comandos marcados con ✗ no se aplicaron; los demás sí."
    COMMENT_PREFIX = "Mire:"
    BOLD = "negrita"
    ROUND_TRIP_NAME = "José Núñez Peña"
    ACCENTS = "áéíóúñ«"


def test_reasons_and_names_come_from_the_spanish_table() -> None:
    assert i18n.severity_name(1, LANG) == "Crítica" and i18n.status_name("closed", LANG) == "Cerrado"
    assert i18n.role_name("owner", LANG) == "Responsable del caso"
    assert "siguiente respuesta" in i18n.escalation_reason_text("next_response", LANG)
    assert "primera respuesta" in i18n.escalation_reason_text("deadline", LANG)
    for command in ("#note", "#assign", "#team", "#severity", "#waiting"):
        assert command in i18n.rejection_reason_text("agent_command", LANG)
    assert i18n.helpdesk_message(None, LANG).startswith("Póngase en contacto")
