"""The checks German and Dutch share (SPEC §12): no English, the polite form, dates, commands, escaping.

The shared compose tests prove each language renders strictly; these read
what a German or Dutch recipient gets: no English sentence left behind, the
polite Sie or u (never du, je or jij), the language's dates, its command
results and deadline words, customer-facing routing kept internal, HTML
escaped, and the bytes maild sends parse back to the very same UTF-8 text.
A subclass in test_lang_<code>.py gives the words.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, ClassVar

import pytest

from maild.inbound.parse import parse_message
from maild.outbound import i18n
from maild.outbound.compose import EVENTS, Composer, Rendered, sample_context
from tests.unit.lang_checks import ESCAPED, SCRIPT, StrictComposer
from tests.unit.test_compose import OPENED, ROLES, TAG, full_context
from tests.unit.test_compose_team_events import RESULTS, results
from tests.unit.test_message import build, parse

CONTACT_ROLES = ("primary_contact", "collaborator", "other")
STAFF_ROLES = ("agent", "manager", "owner", "team")

# Sentences and labels of templates/en that must never reach a German or Dutch reader.
ENGLISH = (
    "Dear ",
    "Hello,",
    "Thank you",
    "reply to this email",
    "Reply to this email",
    "Severity",
    "Subject:",
    "has been",
    "Reason:",
    "Owner:",
    "Initial response",
    "initial response",
    "Support engineer",
    "support engineer",
    "Internal note",
    "Attachments:",
    "automatic reply",
    "was moved",
    "is due",
    "Primary contact",
    "Deadline passed",
    "Your commands",
    "Waiting on customer",
)
NO_GREETING = ("helpdesk", "held", "assigned", "moved", "note_added", "commands_applied", "deadline_warning")


class GermanDutchChecks(StrictComposer):
    """The shared checks; the subclass's attributes are the language's own words."""

    LANG: ClassVar[str]
    # What each event says (text part, full context, the primary contact / an agent).
    CONTACT_PHRASES: ClassVar[dict[str, str]]
    STAFF_PHRASES: ClassVar[dict[str, str]]
    COMMAND_WORDS: ClassVar[tuple[str, ...]]  # what each command result reads (by position in RESULTS)
    NOT_APPLIED: ClassVar[str]  # the legend under the command results
    INFORMAL: ClassVar[re.Pattern[str]]
    DATE: ClassVar[re.Pattern[str]]  # the whole of a formatted moment
    GREETING: ClassVar[str]  # how the text part to Alice starts
    CLOSING: ClassVar[str]
    CLOSING_HTML: ClassVar[str]
    NOT_TO_COLLEAGUES: ClassVar[tuple[str, ...]]  # customer courtesies besides the closing, absent for staff
    DEADLINES: ClassVar[tuple[tuple[str, str, str], ...]]  # (deadline, subject after the tag, text phrase)
    NOTE_DOES_NOT_COUNT: ClassVar[str]
    ROUTING: ClassVar[tuple[str, ...]]  # the summary's routing lines
    COMMENT: ClassVar[tuple[str, str]]  # (a comment's words before the markup, a bold word)
    ROUND_TRIP_NAME: ClassVar[str]
    NON_ASCII_TEXT: ClassVar[bool]  # every text but the help desk's carries the language's own letters

    def render(self, composer: Composer, event: str, role: str, **event_values: Any) -> Rendered:
        ctx = full_context(self.LANG, role, **event_values)
        if role in STAFF_ROLES:
            ctx["recipient"]["email"] = "dave@vendor.example"
        return composer.render(event, self.LANG, ctx)

    @pytest.mark.parametrize("event", EVENTS)
    @pytest.mark.parametrize("role", ROLES)
    def test_no_english_sentence_is_left(self, strict: Composer, event: str, role: str) -> None:
        out = self.render(strict, event, role)
        for part in (out.subject, out.text, out.html):
            for phrase in ENGLISH:
                assert phrase not in part, (event, role, phrase)
            assert "2026-11-2" not in part, (event, role)  # dates only in the language's form
        assert f'<html lang="{self.LANG}">' in out.html

    @pytest.mark.parametrize("event", EVENTS)
    def test_each_event_says_its_message(self, strict: Composer, event: str) -> None:
        out = self.render(strict, event, "primary_contact", due_at=OPENED + timedelta(hours=2))
        assert self.CONTACT_PHRASES[event] in out.text, event
        if event in self.STAFF_PHRASES:
            staff = self.render(strict, event, "agent")
            assert self.STAFF_PHRASES[event] in staff.text, event

    @pytest.mark.parametrize("event", EVENTS)
    @pytest.mark.parametrize("role", CONTACT_ROLES)
    def test_customers_are_addressed_politely_and_greeted(
        self, strict: Composer, event: str, role: str
    ) -> None:
        out = self.render(strict, event, role)
        for part in (out.subject, out.text, out.html):
            assert not self.INFORMAL.search(part), (event, role, self.INFORMAL.search(part))
        if event not in NO_GREETING:
            assert out.text.startswith(self.GREETING), event
            assert self.CLOSING in out.text and self.CLOSING_HTML in out.html

    @pytest.mark.parametrize("event", EVENTS)
    @pytest.mark.parametrize("role", STAFF_ROLES)
    def test_colleagues_get_no_customer_closing(self, strict: Composer, event: str, role: str) -> None:
        out = self.render(strict, event, role)
        closing = self.CLOSING.rstrip(",")
        assert closing not in out.text and closing not in out.html
        assert not any(word in out.text for word in self.NOT_TO_COLLEAGUES)
        assert not self.INFORMAL.search(out.text)

    @pytest.mark.parametrize(
        ("event", "moments"),
        [
            ("case_opened", ("first_response_due_at",)),
            ("waiting_reminder", ("waiting_since", "closes_at")),
            ("closed", ("reopen_until",)),
            ("escalate_too_early", ("possible_at",)),
            ("deadline_warning", ("due_at",)),
            ("auto_closed", ("waiting_since", "reopen_until")),
        ],
    )
    def test_dates_in_notices_are_the_languages(
        self, strict: Composer, event: str, moments: tuple[str, ...]
    ) -> None:
        role = "owner" if event == "deadline_warning" else "primary_contact"
        ctx = full_context(self.LANG, role)
        out = strict.render(event, self.LANG, ctx)
        for key in moments:
            value = ctx["case"].get(key) or ctx["event"][key]
            when = i18n.format_datetime(value, self.LANG)
            assert self.DATE.fullmatch(when) and when in out.text and when in out.html, (event, key)

    @pytest.mark.parametrize("case", range(2))
    def test_deadline_warning_names_the_deadline(self, strict: Composer, case: int) -> None:
        deadline, subject, phrase = self.DEADLINES[case]
        due = OPENED + timedelta(hours=6, minutes=30)
        out = self.render(strict, "deadline_warning", "owner", deadline=deadline, due_at=due)
        assert out.subject == f"{TAG} {subject}"
        assert phrase in out.text
        assert self.NOTE_DOES_NOT_COUNT in out.text

    def test_every_command_result_reads_in_the_language(self, strict: Composer) -> None:
        out = self.render(strict, "commands_applied", "agent", results=results())
        lines = out.text.splitlines()
        for (line, ok, _code, _detail, _en, _ja), words in zip(RESULTS, self.COMMAND_WORDS, strict=True):
            mark = "✓" if ok else "✗"
            assert any(t.startswith(f"{mark} {line} — ") and words in t for t in lines), (line, words)
        assert self.NOT_APPLIED in out.text

    @pytest.mark.parametrize("event", ["case_opened", "comment_added", "status_changed", "closed"])
    def test_routing_stays_internal(self, strict: Composer, event: str) -> None:
        for role in CONTACT_ROLES:
            text = self.render(strict, event, role).text
            assert not any(label in text for label in self.ROUTING), (event, role)
        for role in STAFF_ROLES:
            text = self.render(strict, event, role).text
            assert all(label in text for label in self.ROUTING), (event, role)

    @pytest.mark.parametrize("event", EVENTS)
    def test_html_is_escaped_and_text_kept(self, strict: Composer, event: str) -> None:
        before, bold = self.COMMENT
        ctx = full_context(self.LANG, "agent", owner_name=SCRIPT, new_team=SCRIPT, sender=SCRIPT)
        ctx["case"]["subject"] = SCRIPT
        ctx["case"]["account"] = SCRIPT
        ctx["comment"]["body"] = f"{before} {SCRIPT} & <b>{bold}</b>"
        out = strict.render(event, self.LANG, ctx)
        assert "<script>" not in out.html and "&amp;lt;" not in out.html, event
        if event in ("comment_added", "note_added"):
            assert f"{before} {ESCAPED} &amp; &lt;b&gt;{bold}&lt;/b&gt;" in out.html
            assert f"{before} {SCRIPT} & <b>{bold}</b>" in out.text

    @pytest.mark.parametrize("event", EVENTS)
    @pytest.mark.parametrize("role", ["primary_contact", "agent"])
    def test_round_trip_through_the_parser_keeps_the_text(
        self, strict: Composer, event: str, role: str
    ) -> None:
        out = strict.render(event, self.LANG, sample_context(language=self.LANG, role=role))
        data = build(out, to_name=self.ROUND_TRIP_NAME)
        charsets = {part.get_content_charset() for part in parse(data).walk() if not part.is_multipart()}
        assert charsets == {"utf-8"}, charsets
        mail = parse_message(data)
        assert not mail.defects, mail.defects
        assert mail.subject == out.subject
        assert mail.text == out.text
        if self.NON_ASCII_TEXT:
            assert not mail.text.isascii() or event == "helpdesk", event  # the letters survived as text
