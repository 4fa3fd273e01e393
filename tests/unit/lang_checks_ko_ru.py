"""The checks Korean and Russian share: every event in the language, its labels, dates, escaping, round trip.

A customer who asked for Korean or Russian must not meet an English sentence
halfway through a notice, nor a register that reads as careless (each
language says how in assert_register). Dates follow the language's order,
customer text stays escaped in HTML, and what maild renders is what the
customer's mail client reads back. A subclass in test_lang_<code>.py gives
the words.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from maild.inbound.parse import parse_message
from maild.outbound import i18n
from maild.outbound.compose import EVENTS, Composer, Rendered
from tests.unit.lang_checks import ESCAPED, SCRIPT, StrictComposer
from tests.unit.test_compose import OPENED, TAG, full_context
from tests.unit.test_message import build

ROLES = ("primary_contact", "owner")
# Sentences and labels of templates/en; none may leak into a Korean or Russian notice.
ENGLISH = (
    "Dear ",
    "Hello,",
    " has been ",
    "Reply to this email",
    "reply to this email",
    "Thank you",
    "Subject: ",
    "Severity: ",
    "Status: ",
    "Reason: ",
    "Attachments:",
    "Deadline passed",
    "We are sorry",
    "If you ",
    "Please reply",
    "please contact",
    "the customer",
    "Primary contact",
    "This is an automatic reply",
)


class KoreanRussianChecks(StrictComposer):
    """The shared checks; the subclass's attributes are the language's own words."""

    LANG: ClassVar[str]
    LABELS: ClassVar[tuple[str, ...]]  # the case summary lines a colleague reads
    GREETING: ClassVar[str]  # how comment_added to Alice starts
    CONTACT_LINES: ClassVar[tuple[tuple[str, str], ...]]  # (event, what the primary contact reads)
    NOTE: ClassVar[tuple[str, str]]  # (how an internal note starts, how to keep a reply internal)
    OPENED_WRITTEN: ClassVar[str]  # OPENED as the language writes it
    DATE_LINES: ClassVar[tuple[tuple[str, str], ...]]  # (event, a line with a date the contact reads)
    DUE_HTML: ClassVar[str]  # the first-response deadline in case_opened's HTML
    WARNING: ClassVar[tuple[str, str]]  # (the next-response deadline, notes do not count)
    FIRST_RESPONSE: ClassVar[tuple[str, str]]  # (in the text, in the subject) of a first-response warning
    REMINDER: ClassVar[str]  # the waiting reminder says when the case closes
    COMMANDS: ClassVar[tuple[str, ...]]  # command results and the legend
    ROUND_TRIP_NAME: ClassVar[str]

    def assert_register(self, out: Rendered, event: str, role: str) -> None:
        """The notice is in the language, in the register a customer expects."""
        raise NotImplementedError

    def render(self, composer: Composer, event: str, role: str, **more: Any) -> Rendered:
        return composer.render(event, self.LANG, full_context(self.LANG, role, **more))

    @pytest.mark.parametrize("role", ROLES)
    @pytest.mark.parametrize("event", EVENTS)
    def test_every_event_is_in_the_language_and_polite(self, strict: Composer, event: str, role: str) -> None:
        out = self.render(strict, event, role)
        for part in (out.subject, out.text, out.html):
            leaked = [phrase for phrase in ENGLISH if phrase in part]
            assert not leaked, (event, role, leaked)
        self.assert_register(out, event, role)
        assert f'<html lang="{self.LANG}">' in out.html
        if event not in ("helpdesk", "held"):
            assert out.subject.startswith(TAG)

    @pytest.mark.parametrize(
        "event", [e for e in EVENTS if e not in ("helpdesk", "held", "rejected", "escalate_refused")]
    )
    def test_case_events_use_the_languages_labels(self, strict: Composer, event: str) -> None:
        out = self.render(strict, event, "owner")
        for label in self.LABELS:
            assert label in out.text, (event, label)

    def test_contacts_are_greeted_formally_and_staff_are_told_how_to_keep_notes_internal(
        self, strict: Composer
    ) -> None:
        contact = self.render(strict, "comment_added", "primary_contact")
        assert contact.text.startswith(self.GREETING)
        for event, line in self.CONTACT_LINES:
            assert line in self.render(strict, event, "primary_contact").text, (event, line)
        start, keep_internal = self.NOTE
        note = self.render(strict, "note_added", "owner")
        assert note.text.startswith(start)
        assert keep_internal in note.text and "<code>#note</code>" in note.html

    def test_dates_are_in_the_languages_order(self, strict: Composer) -> None:
        out = self.render(strict, "case_opened", "primary_contact")
        assert i18n.format_datetime(OPENED, self.LANG) == self.OPENED_WRITTEN
        assert self.DUE_HTML in out.html
        assert "2026-11-21" not in out.text
        for event, line in self.DATE_LINES:
            assert line in self.render(strict, event, "primary_contact").text, (event, line)

    def test_deadline_warning_and_reminder_say_when(self, strict: Composer) -> None:
        due, not_counted = self.WARNING
        warning = self.render(strict, "deadline_warning", "owner")
        assert due in warning.text
        assert "maild case reply" in warning.text and not_counted in warning.text
        in_text, in_subject = self.FIRST_RESPONSE
        first = self.render(strict, "deadline_warning", "owner", deadline="first_response")
        assert in_text in first.text and in_subject in first.subject
        reminder = self.render(strict, "waiting_reminder", "primary_contact")
        assert self.REMINDER in reminder.text

    def test_command_results_are_in_the_language(self, strict: Composer) -> None:
        out = self.render(strict, "commands_applied", "agent")
        for line in self.COMMANDS:
            assert line in out.text, line

    @pytest.mark.parametrize("event", ["comment_added", "case_opened", "note_added"])
    def test_html_escapes_customer_markup(self, strict: Composer, event: str) -> None:
        ctx = full_context(self.LANG, "owner")
        ctx["case"]["subject"] = SCRIPT
        ctx["comment"]["body"] = SCRIPT
        out = strict.render(event, self.LANG, ctx)
        assert SCRIPT not in out.html and ESCAPED in out.html
        assert SCRIPT in out.text  # the text part keeps what the customer wrote

    @pytest.mark.parametrize("role", ROLES)
    @pytest.mark.parametrize(
        "event", ["case_opened", "comment_added", "escalated", "auto_closed", "assigned"]
    )
    def test_round_trip_through_the_real_message_builder(
        self, strict: Composer, event: str, role: str
    ) -> None:
        out = self.render(strict, event, role)
        mail = parse_message(build(out, to_name=self.ROUND_TRIP_NAME))
        assert not mail.defects
        assert mail.subject == out.subject
        assert mail.text.replace("\r\n", "\n").rstrip("\n") == out.text.rstrip("\n")
        assert mail.html is not None
        assert mail.html.replace("\r\n", "\n").rstrip("\n") == out.html.rstrip("\n")
        assert mail.to[0].name == self.ROUND_TRIP_NAME
