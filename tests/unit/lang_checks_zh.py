"""The checks both Chinese languages share: no English left, the polite 您, key phrases, escaping, round trip.

A template copied from English and half translated would still pass the
strict render of test_compose; these checks read what a customer or a
colleague actually gets: no English sentence left, no word of the other
Chinese, the polite 您, the 年月日 date, escaped HTML, and the same text
after the message has been built and parsed back. A subclass in
test_lang_zh_<region>.py gives the words, and the other Chinese's words
that must not appear (zh-TW's list of mainland words is its own check).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

import pytest

from maild.inbound.parse import parse_message
from maild.outbound.compose import EVENTS, Composer, sample_context
from tests.unit.lang_checks import ESCAPED, SCRIPT, StrictComposer
from tests.unit.test_compose import OPENED, TAG, full_context
from tests.unit.test_message import build

CONTACT, STAFF = "primary_contact", "agent"

# Sentences and labels of templates/en; none of them may survive translation.
ENGLISH = (
    "Dear ",
    "Hello,",
    "Case 0",
    "has been",
    "eply to this email",
    "To add information",
    "Subject:",
    "Severity:",
    "Status:",
    "Reason:",
    "Attachments:",
    "Thank you",
    "automatic reply",
    "Primary contact",
    "support engineer",
    "Internal note",
    "Your commands",
    "deadline",
)
STAFF_ONLY = ("deadline_warning", "note_added", "assigned", "moved", "held", "commands_applied")


def han(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


class ChineseChecks(StrictComposer):
    """The shared checks; the subclass's attributes are the language's own words."""

    LANG: ClassVar[str]
    NOT_OURS: ClassVar[tuple[str, ...]]  # words of the other Chinese that a reader here would notice
    GREETING: ClassVar[str]  # "Alice，您好！"
    OPENED_TEXT: ClassVar[tuple[str, ...]]  # what case_opened tells the contact
    ROUTING: ClassVar[tuple[str, ...]]  # routing labels that stay internal
    UNNAMED_CLOSED: ClassVar[str]  # how closed starts for a recipient without a name
    CONTACT_PHRASES: ClassVar[tuple[tuple[str, str], ...]]  # (event, what the contact reads)
    STAFF_PHRASES: ClassVar[tuple[tuple[str, str], ...]]  # (event, what a colleague reads)
    NOTE_FOOTER: ClassVar[
        tuple[str, str, str]
    ]  # (how a note starts, replying reaches the customer, use #note)
    ROUND_TRIP_NAME: ClassVar[str]
    ROUND_TRIP: ClassVar[tuple[str, str]]  # (a subject, a comment of two lines)

    @pytest.mark.parametrize("event", EVENTS)
    @pytest.mark.parametrize("role", [CONTACT, STAFF])
    def test_no_english_left(self, strict: Composer, event: str, role: str) -> None:
        ctx: dict[str, Any] = full_context(self.LANG, role)
        if event == "helpdesk":
            ctx["case"] = None
            ctx["event"]["helpdesk_message"] = ""
        out = strict.render(event, self.LANG, ctx)
        for part in (out.subject, out.text, out.html):
            for words in (*ENGLISH, *self.NOT_OURS):
                assert words not in part, (event, role, words)
        assert han(out.text), out.text
        assert f'lang="{self.LANG}"' in out.html

    def test_contact_reads_polite_chinese(self, strict: Composer) -> None:
        out = strict.render("case_opened", self.LANG, full_context(self.LANG, CONTACT, severity_note=None))
        assert out.text.startswith(f"{self.GREETING}\n")
        for line in self.OPENED_TEXT:
            assert line in out.text, line
        assert "2026年11月21日 14:00 (UTC)" in out.html and f"<p>{self.GREETING}</p>" in out.html
        for secret in (*self.ROUTING, "Tier 2"):
            assert secret not in out.text  # routing stays internal

    def test_nameless_recipient_is_greeted_politely(self, strict: Composer) -> None:
        ctx = full_context(self.LANG, CONTACT)
        ctx["recipient"]["name"] = ""
        assert strict.render("closed", self.LANG, ctx).text.startswith(self.UNNAMED_CLOSED)

    @pytest.mark.parametrize("case", range(7))
    def test_contact_key_phrases(self, strict: Composer, case: int) -> None:
        event, phrase = self.CONTACT_PHRASES[case]
        out = strict.render(event, self.LANG, full_context(self.LANG, CONTACT))
        assert phrase in out.text
        assert out.subject.startswith(TAG)

    @pytest.mark.parametrize("case", range(9))
    def test_staff_key_phrases(self, strict: Composer, case: int) -> None:
        event, phrase = self.STAFF_PHRASES[case]
        out = strict.render(event, self.LANG, full_context(self.LANG, STAFF))
        assert phrase in out.text
        if event in STAFF_ONLY:
            assert "您好" not in out.text  # colleagues get the facts, without the customer's greeting

    def test_staff_footer_tells_how_to_keep_a_reply_internal(self, strict: Composer) -> None:
        start, reaches_customer, use_note = self.NOTE_FOOTER
        out = strict.render("note_added", self.LANG, full_context(self.LANG, "owner"))
        assert out.text.startswith(start)
        assert reaches_customer in out.text
        assert use_note in out.text and "<code>#note</code>" in out.html

    @pytest.mark.parametrize("event", EVENTS)
    def test_html_is_escaped(self, strict: Composer, event: str) -> None:
        ctx = full_context(
            self.LANG, STAFF, owner_name=SCRIPT, new_team=SCRIPT, excerpt=SCRIPT, reason_text=SCRIPT
        )
        ctx["case"]["subject"] = SCRIPT
        ctx["case"]["account"] = SCRIPT
        ctx["comment"]["body"] = SCRIPT
        ctx["event"]["helpdesk_message"] = SCRIPT
        out = strict.render(event, self.LANG, ctx)
        assert "<script>" not in out.html and "&amp;lt;" not in out.html, event
        assert (SCRIPT in out.text) == (ESCAPED in out.html), event  # every value shown is escaped once

    @pytest.mark.parametrize("event", EVENTS)
    @pytest.mark.parametrize("role", [CONTACT, STAFF])
    def test_round_trip_through_the_parser(self, strict: Composer, event: str, role: str) -> None:
        rendered = strict.render(event, self.LANG, sample_context(language=self.LANG, role=role))
        mail = parse_message(build(rendered, to_name=self.ROUND_TRIP_NAME))
        assert not mail.defects
        assert mail.subject == rendered.subject
        assert mail.text == rendered.text
        assert mail.html == rendered.html
        assert han(mail.text)

    def test_round_trip_keeps_a_chinese_subject_and_body(self, strict: Composer) -> None:
        subject, body = self.ROUND_TRIP
        ctx = full_context(self.LANG, CONTACT, due_at=OPENED + timedelta(hours=2))
        ctx["case"]["subject"] = subject
        ctx["comment"]["body"] = body
        rendered = strict.render("comment_added", self.LANG, ctx)
        mail = parse_message(build(rendered))
        assert mail.subject == f"{TAG} {subject}"
        assert body in mail.text and mail.text == rendered.text
