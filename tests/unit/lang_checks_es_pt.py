"""The checks Spanish and Brazilian Portuguese share (SPEC §12): no English left, key phrases, dates, HTML.

The shared tests (test_compose*.py) prove every language renders strictly;
these prove that what es or pt-BR renders is that language: no English
sentence left behind, the key phrases of each event, dd/mm/yyyy dates,
escaped HTML, and a message that survives maild's own composer and parser
byte for byte. A subclass in test_lang_<code>.py gives the phrases.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest

from maild.inbound.parse import parse_message
from maild.outbound import i18n
from maild.outbound.compose import EVENTS, Composer, Rendered
from tests.unit.lang_checks import ESCAPED, SCRIPT, StrictComposer, untagged
from tests.unit.test_compose import OPENED, TAG, full_context
from tests.unit.test_message import build

CONTACT, STAFF = "primary_contact", "manager"
STAFF_ONLY = ("assigned", "moved", "note_added", "commands_applied", "held", "deadline_warning")

# Sentences and labels of templates/en that must never reach a Spanish or Brazilian reader.
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
COMMAND_DETAILS = {"assigned": "dave@vendor.example", "moved": "Tier 2", "severity_changed": "2",
                   "unknown_team": "nowhere", "not_an_agent": "x@y.example", "bad_severity": "9"}  # fmt: skip


def roles_of(event: str) -> tuple[str, ...]:
    return (STAFF,) if event in STAFF_ONLY else (CONTACT, STAFF)


class SpanishPortugueseChecks(StrictComposer):
    """The shared checks; the subclass's attributes are the language's own words."""

    LANG: ClassVar[str]
    ENGLISH_ALLOWED: ClassVar[tuple[str, ...]] = ()  # English labels that are the language's own word too
    # One phrase per event that only a correct rendering contains: (contact's copy, staff's copy).
    PHRASES: ClassVar[dict[str, tuple[str, str]]]
    INFORMAL: ClassVar[re.Pattern[str]]  # the familiar register no customer may read
    GREETING: ClassVar[str]  # how the text part to Alice starts
    UNNAMED_GREETING: ClassVar[str]  # how it starts when the recipient has no name
    CLOSING: ClassVar[str]
    NO_COURTESY: ClassVar[tuple[str, ...]]  # greeting and closing words no colleague reads
    COURTESIES: ClassVar[tuple[tuple[str, str], ...]]  # (event, sentence a contact reads in it)
    OPENED_TEXT: ClassVar[tuple[str, ...]]  # the case_opened text lines, with severity_note="Sev 9"
    OPENED_HTML: ClassVar[str]  # the invalid severity quoted in the HTML part
    DEADLINES: ClassVar[tuple[tuple[str, str, str], ...]]  # (deadline, its words, the other one's words)
    DEADLINE_TEXT: ClassVar[tuple[str, ...]]  # how to answer, and that a note does not count
    WILL_CLOSE: ClassVar[tuple[str, str]]  # (the reminder says the case will close, the word "automatically")
    ROUTING: ClassVar[tuple[str, ...]]  # the routing lines staff read
    ROUTING_LABELS: ClassVar[tuple[str, ...]]  # labels of those lines no contact reads
    COMMAND_SENTENCES: ClassVar[dict[str, str]]  # every command result code and what it says
    NOT_APPLIED: ClassVar[str]  # the legend under the command results
    COMMENT_PREFIX: ClassVar[str]  # "Mire:", a comment that mixes markup into the language
    BOLD: ClassVar[str]  # "negrita"
    ROUND_TRIP_NAME: ClassVar[str]
    ACCENTS: ClassVar[str]  # at least one of these survives the round trip

    def context(self, role: str, **event: Any) -> dict[str, Any]:
        """The full context, with the texts maild itself supplies given in the language, as notify.py does."""
        values: dict[str, Any] = {
            "reason_text": i18n.rejection_reason_text("unknown_case", self.LANG),
            "helpdesk_message": "",
            "reason": "customer_request",
        }
        values.update(event)
        ctx = full_context(self.LANG, role, **values)
        ctx["comment"]["role"] = "collaborator"
        return ctx

    @pytest.mark.parametrize("event", EVENTS)
    def test_no_english_sentence_is_left(self, strict: Composer, event: str) -> None:
        english = [marker for marker in ENGLISH if marker not in self.ENGLISH_ALLOWED]
        for role in roles_of(event):
            out = strict.render(event, self.LANG, self.context(role))
            for part in (out.subject, out.text, out.html):
                for marker in english:
                    assert marker not in part, (event, role, marker)
            assert f'lang="{self.LANG}"' in out.html

    @pytest.mark.parametrize("event", EVENTS)
    def test_each_event_says_its_key_phrase(self, strict: Composer, event: str) -> None:
        contact, staff = self.PHRASES[event]
        for role, phrase in ((CONTACT, contact), (STAFF, staff)):
            if not phrase:
                continue
            out = strict.render(event, self.LANG, self.context(role))
            assert phrase in out.text, (event, role)
            html_phrase = phrase.replace("<", "&lt;").replace(">", "&gt;")
            assert html_phrase in untagged(out.html), (event, role)
            if event != "helpdesk":
                assert out.subject.startswith(TAG)

    def test_customers_are_addressed_politely(self, strict: Composer) -> None:
        for event in sorted(set(EVENTS) - set(STAFF_ONLY) - {"helpdesk"}):
            out = strict.render(event, self.LANG, self.context(CONTACT))
            assert out.text.startswith(self.GREETING), event
            assert self.CLOSING in out.text and self.CLOSING in out.html, event
            assert not self.INFORMAL.search(out.text), (event, self.INFORMAL.search(out.text))
        for name, sentence in self.COURTESIES:
            assert sentence in strict.render(name, self.LANG, self.context(CONTACT)).text
        unnamed = self.context("collaborator")
        unnamed["recipient"]["name"] = ""
        assert strict.render("closed", self.LANG, unnamed).text.startswith(self.UNNAMED_GREETING)

    @pytest.mark.parametrize("event", STAFF_ONLY)
    def test_colleagues_get_no_customer_greeting_or_closing(self, strict: Composer, event: str) -> None:
        for role in ("owner", "team"):
            out = strict.render(event, self.LANG, self.context(role))
            for part in (out.text, out.html):
                assert not any(word in part for word in (*self.NO_COURTESY, "Cc")), (event, role)
                assert "#note" in part or event == "held"

    def test_dates_are_day_month_year_in_utc(self) -> None:
        assert (
            i18n.format_datetime(datetime(2026, 3, 5, 9, 7, tzinfo=UTC), self.LANG) == "05/03/2026 09:07 UTC"
        )
        assert i18n.format_datetime("2026-11-21T23:59:00+09:00", self.LANG) == "21/11/2026 14:59 UTC"
        assert (
            i18n.format_filesize(1, self.LANG) == "1 byte" and i18n.format_filesize(5, self.LANG) == "5 bytes"
        )

    def test_case_opened_shows_deadline_and_labels(self, strict: Composer) -> None:
        out = strict.render("case_opened", self.LANG, self.context(CONTACT, severity_note="Sev 9"))
        for line in self.OPENED_TEXT:
            assert line in out.text, line
        assert self.OPENED_HTML in out.html

    @pytest.mark.parametrize("case", range(2))
    def test_deadline_warning_says_which_deadline_and_that_a_note_does_not_count(
        self, strict: Composer, case: int
    ) -> None:
        deadline, kind, other = self.DEADLINES[case]
        due = OPENED + timedelta(hours=6, minutes=30)
        out = strict.render(
            "deadline_warning", self.LANG, self.context("owner", deadline=deadline, due_at=due)
        )
        for part in (out.subject, out.text, out.html):
            assert "21/11/2026 16:30 UTC" in part
            assert kind in part.lower() and other not in part.lower()
        for sentence in self.DEADLINE_TEXT:
            assert sentence in out.text, sentence
        assert "<code>maild case reply</code>" in out.html

    def test_waiting_reminder_threatens_no_close_when_none_is_due(self, strict: Composer) -> None:
        will_close, automatically = self.WILL_CLOSE
        since, closes = OPENED + timedelta(days=2), OPENED + timedelta(days=9)
        ctx = self.context(CONTACT, waiting_since=since, closes_at=closes)
        due = strict.render("waiting_reminder", self.LANG, ctx)
        assert will_close in due.text and i18n.format_datetime(closes, self.LANG) in due.html
        ctx = self.context(CONTACT, waiting_since=since, closes_at=None)
        off = strict.render("waiting_reminder", self.LANG, ctx)
        for part in (off.text, off.html):
            assert automatically not in part and i18n.format_datetime(closes, self.LANG) not in part
            assert i18n.format_datetime(since, self.LANG) in part

    def test_summary_shows_routing_to_staff_only(self, strict: Composer) -> None:
        staff = strict.render("comment_added", self.LANG, self.context("team")).text
        for line in self.ROUTING:
            assert line in staff
        contact = strict.render("comment_added", self.LANG, self.context(CONTACT)).text
        assert not any(label in contact for label in ("Tier 2", *self.ROUTING_LABELS))

    def test_commands_applied_explains_every_code(self, strict: Composer) -> None:
        results = [
            {"line": f"#{code}", "ok": code in COMMAND_DETAILS and code != "unknown_team", "code": code,
             "detail": COMMAND_DETAILS.get(code, "")}
            for code in self.COMMAND_SENTENCES
        ]  # fmt: skip
        out = strict.render("commands_applied", self.LANG, self.context("agent", results=results))
        for sentence in self.COMMAND_SENTENCES.values():
            assert sentence in out.text and sentence in out.html, sentence
        assert self.NOT_APPLIED in out.text

    def test_html_is_escaped_and_text_is_verbatim(self, strict: Composer) -> None:
        for event in ("comment_added", "note_added", "auto_closed", "moved", "assigned"):
            ctx = self.context("team", new_team=SCRIPT, owner_name=SCRIPT, closed_by=SCRIPT)
            ctx["comment"]["body"] = f"{self.COMMENT_PREFIX} {SCRIPT} & <b>{self.BOLD}</b>"
            ctx["case"]["subject"] = SCRIPT
            ctx["case"]["account"] = SCRIPT
            out = strict.render(event, self.LANG, ctx)
            assert "<script>" not in out.html and ESCAPED in out.html, event
            assert "&amp;lt;" not in out.html, event
            assert SCRIPT in out.text and SCRIPT in out.subject, event

    @pytest.mark.parametrize("event", EVENTS)
    def test_round_trip_through_maild_composer_and_parser(self, strict: Composer, event: str) -> None:
        role = roles_of(event)[0]
        out: Rendered = strict.render(event, self.LANG, self.context(role))
        data = build(out, to_name=self.ROUND_TRIP_NAME)
        mail = parse_message(data)
        assert not mail.defects
        assert mail.subject == out.subject
        assert mail.text == out.text
        assert mail.html == out.html
        assert any(ch in mail.text for ch in self.ACCENTS) or event == "commands_applied"
