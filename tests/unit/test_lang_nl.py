"""Dutch (nl, formal u): every notification reads as Dutch to customers and colleagues (SPEC §12).

The checks are lang_checks_de_nl.py's, shared with German; this file holds
the Dutch words they look for, the u-never-je register and the Dutch
tables.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import ClassVar

from maild.outbound import i18n
from tests.unit.lang_checks_de_nl import GermanDutchChecks

LANG = "nl"


class TestDutch(GermanDutchChecks):
    LANG = LANG
    CONTACT_PHRASES: ClassVar[dict[str, str]] = {
        "case_opened": "Hartelijk dank voor uw bericht. We hebben een melding voor uw aanvraag aangemaakt.",
        "comment_added": "Bob (Betrokkene) heeft een opmerking toegevoegd aan melding 00001042:",
        "status_changed": (
            "De status van melding 00001042 is gewijzigd van Nieuw naar Wacht op reactie klant."
        ),
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
        "deadline_warning": (
            "De volgende reactie op melding 00001042 (Acme) moet uiterlijk 21-11-2026 12:00 UTC"
        ),
        "waiting_reminder": "Graag herinneren we u eraan dat we sinds 22-11-2026 10:00 UTC wachten op uw",
        "auto_closed": (
            "Melding 00001042 is automatisch gesloten, omdat we sinds 22-11-2026 10:00 UTC niets meer"
        ),
    }
    STAFF_PHRASES: ClassVar[dict[str, str]] = {
        "case_opened": "alice@acme.example (Acme) heeft een nieuwe melding aangemaakt.",
        "escalated": "Melding 00001042 (Acme) is geëscaleerd naar niveau 2.",
        "auto_closed": "de klant heeft sinds 22-11-2026 10:00 UTC niet gereageerd.",
        "reopened": "Melding 00001042 is heropend",
    }
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
    NOT_APPLIED = "Opdrachten gemarkeerd met ✗ zijn niet uitgevoerd; de overige wel."
    # Je, jij, jou and jouw are the familiar Dutch forms; the German ones stay from the first version.
    INFORMAL = re.compile(
        r"\b(?:je|jij|jou|jouw|jullie|du|dich|dir|dein|deine|deinen|deinem|deiner|euch|euer|eure)\b",
        re.IGNORECASE,
    )
    DATE = re.compile(r"\b\d{2}-\d{2}-\d{4} \d{2}:\d{2} UTC\b")
    GREETING = "Geachte Alice,\n\n"
    CLOSING = "Met vriendelijke groet,"
    CLOSING_HTML = "<p>Met vriendelijke groet,</p>"
    NOT_TO_COLLEAGUES = ("Geachte",)
    DEADLINES = (
        (
            "first_response",
            "Eerste reactie uiterlijk 21-11-2026 16:30 UTC: Login page returns 500",
            "De eerste reactie op melding 00001042",
        ),
        (
            "next_response",
            "Volgende reactie uiterlijk 21-11-2026 16:30 UTC: Login page returns 500",
            "De volgende reactie op melding 00001042",
        ),
    )
    NOTE_DOES_NOT_COUNT = "Interne notities (#note, maild case note) tellen niet als reactie."
    ROUTING = ("Team: Tier 2\n", "Behandelaar: dave@vendor.example\n", "Thema: Login\n")
    COMMENT = ("Kijk:", "vet")
    ROUND_TRIP_NAME = "Eliëtte van Zoeterwoude-Ĳsselmeer"
    NON_ASCII_TEXT = False


def test_the_table_speaks_dutch() -> None:
    assert i18n.severity_name(1, LANG) == "Kritiek" and i18n.severity_name(4, LANG) == "Gemiddeld"
    assert i18n.status_name("waiting_on_customer", LANG) == "Wacht op reactie klant"
    assert i18n.format_filesize(1, LANG) == "1 byte" and i18n.format_filesize(5, LANG) == "5 bytes"


def test_dates_are_dutch_day_month_year_with_leading_zeros() -> None:
    assert i18n.format_datetime(datetime(2026, 3, 5, 9, 7, tzinfo=UTC), LANG) == "05-03-2026 09:07 UTC"
    assert i18n.format_datetime("2026-11-21T12:05:00Z", LANG) == "21-11-2026 12:05 UTC"
