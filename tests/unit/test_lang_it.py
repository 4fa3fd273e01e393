"""Italian (it) notifications: every event reads as Italian, in the Lei form, to customers and colleagues.

The checks are lang_checks_fr_it.py's, shared with French; this file holds
the Italian words they look for, the Lei/tu register and the Italian tables.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar

from maild.outbound import i18n
from tests.unit.lang_checks_fr_it import FrenchItalianChecks

LANG = "it"


class TestItalian(FrenchItalianChecks):
    LANG = LANG
    KEY_PHRASES: ClassVar[dict[str, str]] = {
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
    GREETING = "Gentile Alice,"
    CLOSING = "Cordiali saluti,"
    SUMMARY = ("Caso: 00001042", "Gravità: 3 (Alta)", "Stato: Nuovo")
    ROUTING_HIDDEN = ("Team:", "Assegnatario:")
    ROUTING_SHOWN = ("Team: Tier 2", "Assegnatario: dave@vendor.example")
    REASON_LABEL = "Motivo"
    PRIMARY_CONTACT = "Contatto principale: alice@acme.example"
    NEXT_RESPONSE = ("al Suo ultimo messaggio entro il tempo di risposta previsto", "prima risposta")
    DATES = (
        (datetime(2026, 11, 21, 12, 5, tzinfo=UTC), "21/11/2026 alle ore 12:05 UTC"),
        (datetime(2027, 3, 5, 9, 7, tzinfo=UTC), "05/03/2027 alle ore 09:07 UTC"),
        ("2026-12-31T23:59:00+02:00", "31/12/2026 alle ore 21:59 UTC"),
    )
    OPENED_DUE = "Prima risposta entro il 21/11/2026 alle ore 14:00 UTC"
    ROUND_TRIP = (
        "Schermata di accesso: errore «500» all’apertura, più volte",
        "Niccolò Lorè",
        "Assistenza Società Più",
    )

    def assert_register(self, text: str) -> None:
        """Lei, Sua and the formal imperative, never tu, tuo or rispondi."""
        assert any(word in text for word in ("Lei", "Sua ", "Suo ", "Sue ", "La preghiamo", "risponda"))
        assert not any(
            word in f" {text.lower()}" for word in (" tu ", " tuo ", " tua ", " rispondi ", " ti ")
        )


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
