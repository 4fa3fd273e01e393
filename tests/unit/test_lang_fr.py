"""French (fr) notifications: every event reads as French, vous to customers, plainly to colleagues.

The checks are lang_checks_fr_it.py's, shared with Italian; this file holds
the French words they look for, the vous/tu register and the French tables.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar

from maild.outbound import i18n
from tests.unit.lang_checks_fr_it import FrenchItalianChecks

LANG = "fr"


class TestFrench(FrenchItalianChecks):
    LANG = LANG
    KEY_PHRASES: ClassVar[dict[str, str]] = {
        "case_opened": "Nous vous remercions de nous avoir contactés",
        "comment_added": "a ajouté un commentaire au dossier 00001042",
        "status_changed": "Le statut du dossier 00001042 est passé de « Nouveau » à « En attente du client »",
        "severity_changed": "La gravité du dossier 00001042 est passée de 3 (Élevée) à 1 (Critique)",
        "escalated": "Nous avons bien reçu votre demande d’escalade",
        "closed": "Le dossier 00001042 a été clôturé.",
        "reopened": "Le dossier 00001042 a été rouvert suite à une réponse de Bob",
        "rejected": "Votre message n’a pas été ajouté au dossier 00001042.",
        "escalate_too_early": "à partir du 21/11/2026 à 12:00 UTC",
        "escalate_refused": "seuls les contacts désignés de votre organisation",
        "helpdesk": "Ceci est une réponse automatique de Example Support.",
        "held": "Pour l’écarter (il reste enregistré comme écarté)",
        "assigned": "Le dossier 00001042 est désormais attribué à Dave <dave@vendor.example>.",
        "moved": "a été transféré de l’équipe Tier 1 à l’équipe Tier 2 par erin@vendor.example.",
        "note_added": "NOTE INTERNE: non envoyée au client.",
        "commands_applied": "Aucune équipe ne s’appelle « nowhere ». Équipes: Tier 1, Tier 2.",
        "deadline_warning": (
            "La prochaine réponse au dossier 00001042 (Acme) est attendue avant le 21/11/2026"
        ),
        "waiting_reminder": "Sans nouvelles de votre part d’ici le 29/11/2026 à 10:00 UTC",
        "auto_closed": "a été clôturé automatiquement, car nous n’avons pas reçu de réponse de votre part",
    }
    GREETING = "Bonjour Alice,"
    CLOSING = "Cordialement,"
    SUMMARY = ("Dossier: 00001042", "Gravité: 3 (Élevée)", "Statut: Nouveau")
    ROUTING_HIDDEN = ("Équipe", "Responsable:")
    ROUTING_SHOWN = ("Équipe: Tier 2", "Responsable: dave@vendor.example")
    REASON_LABEL = "Motif"
    PRIMARY_CONTACT = "Contact principal: alice@acme.example"
    NEXT_RESPONSE = ("votre dernier message dans le délai de réponse prévu", "délai de réponse initiale")
    DATES = (
        (datetime(2026, 11, 21, 12, 5, tzinfo=UTC), "21/11/2026 à 12:05 UTC"),
        (datetime(2027, 3, 5, 9, 7, tzinfo=UTC), "05/03/2027 à 09:07 UTC"),
        ("2026-12-31T23:59:00+02:00", "31/12/2026 à 21:59 UTC"),
    )
    OPENED_DUE = "Réponse initiale attendue au plus tard le 21/11/2026 à 14:00 UTC"
    ROUND_TRIP = (
        "Écran de connexion : erreur « 500 » à l’ouverture",
        "Élodie Crémieux",
        "Support Société Générale",
    )

    def assert_register(self, text: str) -> None:
        """Vous and votre, never tu, ton or ta."""
        assert "vous" in text.lower() or "votre" in text.lower()
        assert " tu " not in text and " ton " not in text and " ta " not in text


def test_the_tables_speak_french() -> None:
    assert i18n.severity_name(1, LANG) == "Critique" and i18n.severity_name(4, LANG) == "Moyenne"
    assert i18n.status_name("waiting_on_customer", LANG) == "En attente du client"
    assert i18n.status_name("closed", LANG) == "Clôturé"
    assert i18n.field_label("business_impact", LANG) == "Impact métier"
    assert i18n.role_name("agent", LANG) == "Ingénieur support"
    assert i18n.rejection_reason_text("unknown_case", LANG).startswith("Nous n’avons pas trouvé")
    assert i18n.helpdesk_message(None, LANG).startswith("Merci de contacter")
    assert i18n.format_filesize(1, LANG) == "1 octet" and i18n.format_filesize(512, LANG) == "512 octets"
    assert i18n.pick_language("fr-CA", "en") == LANG and i18n.pick_language("FR_fr.UTF-8", "ja") == LANG
