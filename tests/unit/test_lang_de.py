"""German (de, Sie): every notification reads as German to customers and colleagues (SPEC §12).

The checks are lang_checks_de_nl.py's, shared with Dutch; this file holds
the German words they look for, the Sie-never-du register and the German
tables.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import ClassVar

from maild.outbound import i18n
from tests.unit.lang_checks_de_nl import GermanDutchChecks

LANG = "de"


class TestGerman(GermanDutchChecks):
    LANG = LANG
    CONTACT_PHRASES: ClassVar[dict[str, str]] = {
        "case_opened": "vielen Dank für Ihre Anfrage. Wir haben dazu einen Fall für Sie eröffnet.",
        "comment_added": "Bob (Beteiligter) hat dem Fall 00001042 einen Kommentar hinzugefügt:",
        "status_changed": (
            "Der Status des Falls 00001042 wurde von Neu auf Warten auf Kundenrückmeldung geändert"
        ),
        "escalated": "Der Fall 00001042 wurde an unser Support-Management eskaliert (Stufe 2).",
        "closed": "Der Fall 00001042 wurde geschlossen.",
        "reopened": "Der Fall 00001042 wurde wieder geöffnet, nachdem Bob geantwortet hat.",
        "helpdesk": "Dies ist eine automatische Antwort von Example Support.",
        "rejected": "Ihre Nachricht wurde dem Fall 00001042 nicht hinzugefügt.",
        "escalate_too_early": "vielen Dank für Ihre Eskalationsanfrage zum Fall 00001042.",
        "escalate_refused": "Ihre Eskalationsanfrage zum Fall 00001042 konnten wir leider nicht annehmen",
        "severity_changed": (
            "Der Schweregrad des Falls 00001042 wurde von 3 (Hoch) auf 1 (Kritisch) geändert."
        ),
        "held": "Eine Nachricht zum Fall 00001042 wurde zurückgehalten",
        "assigned": "Der Fall 00001042 ist jetzt Dave <dave@vendor.example> zugewiesen.",
        "moved": "Der Fall 00001042 wurde vom Team Tier 1 in das Team Tier 2 verschoben (durch erin@vendor",
        "note_added": "INTERNE NOTIZ: wird nicht an den Kunden gesendet.",
        "commands_applied": "Ihre Befehle für den Fall 00001042:",
        "deadline_warning": (
            "Die nächste Antwort zum Fall 00001042 (Acme) ist fällig bis 21.11.2026 12:00 UTC."
        ),
        "waiting_reminder": "wir möchten Sie freundlich daran erinnern, dass wir seit 22.11.2026 10:00 UTC",
        "auto_closed": "Der Fall 00001042 wurde automatisch geschlossen, da wir seit 22.11.2026 10:00 UTC",
    }
    STAFF_PHRASES: ClassVar[dict[str, str]] = {
        "case_opened": "alice@acme.example (Acme) hat einen neuen Fall eröffnet.",
        "escalated": "Der Fall 00001042 (Acme) wurde auf Stufe 2 eskaliert.",
        "auto_closed": "Der Kunde hat seit 22.11.2026 10:00 UTC nicht geantwortet.",
        "reopened": "Der Fall 00001042 wurde wieder geöffnet",
    }
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
    NOT_APPLIED = "Mit ✗ markierte Befehle wurden nicht ausgeführt, alle anderen schon."
    INFORMAL = re.compile(
        r"\b(?:du|dich|dir|dein|deine|deinen|deinem|deiner|euch|euer|eure)\b", re.IGNORECASE
    )
    DATE = re.compile(r"\b\d{2}\.\d{2}\.\d{4} \d{2}:\d{2} UTC\b")
    GREETING = "Guten Tag Alice,\n\n"
    CLOSING = "Mit freundlichen Grüßen"
    CLOSING_HTML = "<p>Mit freundlichen Grüßen</p>"
    NOT_TO_COLLEAGUES = ()
    DEADLINES = (
        (
            "first_response",
            "Erste Antwort fällig bis 21.11.2026 16:30 UTC: Login page returns 500",
            "Die erste Antwort zum Fall 00001042",
        ),
        (
            "next_response",
            "Nächste Antwort fällig bis 21.11.2026 16:30 UTC: Login page returns 500",
            "Die nächste Antwort zum Fall 00001042",
        ),
    )
    NOTE_DOES_NOT_COUNT = "Interne Notizen (#note, maild case note) zählen nicht als Antwort."
    ROUTING = ("Team: Tier 2\n", "Verantwortlich: dave@vendor.example\n", "Thema: Login\n")
    COMMENT = ("Schauen Sie:", "fett")
    ROUND_TRIP_NAME = "Jürgen Größmann"
    NON_ASCII_TEXT = True  # the umlauts survive as text


def test_the_table_speaks_german() -> None:
    assert i18n.severity_name(1, LANG) == "Kritisch" and i18n.severity_name(4, LANG) == "Mittel"
    assert i18n.status_name("waiting_on_customer", LANG) == "Warten auf Kundenrückmeldung"
    assert i18n.format_filesize(1, LANG) == "1 Byte" and i18n.format_filesize(5, LANG) == "5 Bytes"


def test_dates_are_german_day_month_year_with_leading_zeros() -> None:
    assert i18n.format_datetime(datetime(2026, 3, 5, 9, 7, tzinfo=UTC), LANG) == "05.03.2026 09:07 UTC"
    assert i18n.format_datetime("2026-11-21T12:05:00Z", LANG) == "21.11.2026 12:05 UTC"
