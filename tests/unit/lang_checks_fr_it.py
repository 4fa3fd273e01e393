"""The checks French and Italian share: every event to every role, key phrases, courtesy, dates, escaping.

A language is data (maild/locales/<code>.toml and templates/<code>/), so
what can go wrong is a sentence left in English, a label that falls back to
English, a date in the wrong order, or markup that is not escaped. Each
test renders the real shipped templates through a strict Composer, and the
round trip goes through the real message builder and the real inbound
parser, so an accent mangled anywhere on the way (encoded words,
quoted-printable, charset) fails here. A subclass in test_lang_<code>.py
gives the phrases as class attributes and says how its register reads.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, ClassVar

import pytest

from maild.inbound.parse import parse_message
from maild.outbound import i18n
from maild.outbound.compose import EVENTS, Composer, sample_context
from tests.unit.lang_checks import ESCAPED, SCRIPT, StrictComposer, words
from tests.unit.test_compose import OPENED, TAG, full_context
from tests.unit.test_message import build

CONTACT_ROLES = ("primary_contact", "collaborator")
STAFF_ROLES = ("agent", "manager", "owner", "team")

# Phrases of templates/en that no French or Italian notification may contain.
# None of them occurs in the test data (which stays English on purpose: it is
# what customers wrote), and test_the_english_markers_are_real proves each
# one is really written by the English templates.
ENGLISH_MARKERS = (
    "Dear ",
    "Hello,",
    "Case 00001042",
    "case 00001042",
    "Subject:",
    "Severity:",
    "Status:",
    "Owner:",
    "Reason:",
    "Primary contact",
    "reply to this email",
    "Reply to this email",
    "has been",
    " was ",
    "Thank you",
    "We are sorry",
    "support engineer",
    "Attachments:",
    "Internal note",
    "automatic reply",
    "Deadline passed",
    "due by",
    "new request",
    "Your commands",
    "not applied",
    "Waiting for your reply",
    "Closed automatically",
    "Escalated (level",
    "Assigned to",
    "Moved to team",
    "Message held",
    "Critical",
    "(High)",
    "In progress",
    "Waiting on customer",
)
STAFF_ONLY = {"held", "assigned", "moved", "note_added", "commands_applied", "deadline_warning"}


def flat(text: str) -> str:
    """Text compared without case, guillemets or spacing: HTML sets some words in bold instead."""
    return " ".join(text.replace("«", " ").replace("»", " ").lower().split()).replace(" .", ".")


class FrenchItalianChecks(StrictComposer):
    """The shared checks; the subclass's attributes are the language's own words."""

    LANG: ClassVar[str]
    # One sentence each event must say to a customer (or, for the staff-only events, to a colleague).
    KEY_PHRASES: ClassVar[dict[str, str]]
    GREETING: ClassVar[str]  # "Bonjour Alice,"
    CLOSING: ClassVar[str]  # "Cordialement,"
    SUMMARY: ClassVar[tuple[str, ...]]  # the case summary lines a customer reads
    ROUTING_HIDDEN: ClassVar[tuple[str, ...]]  # labels that must not reach a customer
    ROUTING_SHOWN: ClassVar[tuple[str, ...]]  # the routing lines a colleague reads
    REASON_LABEL: ClassVar[str]  # "Motif"
    PRIMARY_CONTACT: ClassVar[str]  # "Contact principal: alice@acme.example"
    NEXT_RESPONSE: ClassVar[tuple[str, str]]  # (what the contact reads, the first-response words not there)
    DATES: ClassVar[tuple[tuple[datetime | str, str], ...]]  # three moments and how they are written
    OPENED_DUE: ClassVar[str]  # the first-response line of case_opened
    ROUND_TRIP: ClassVar[tuple[str, str, str]]  # (subject, recipient name, sender name) full of accents

    def assert_register(self, text: str) -> None:
        """The polite form is used and the familiar one never is."""
        raise NotImplementedError

    def context(self, role: str, **event: Any) -> dict[str, Any]:
        """The full context of test_compose, with the texts maild itself would write in the language.

        The rejection reason and the help-desk text come from maild's tables in
        the recipient's language, never from the test's English stand-ins.
        """
        ctx = full_context(self.LANG, role, **event)
        ctx["event"]["reason_text"] = i18n.rejection_reason_text("not_participant", self.LANG)
        ctx["event"]["helpdesk_message"] = ""
        return ctx

    def sample(self, role: str) -> dict[str, Any]:
        ctx = sample_context(language=self.LANG, role=role)
        ctx["event"]["reason_text"] = i18n.rejection_reason_text("not_participant", self.LANG)
        ctx["event"]["helpdesk_message"] = ""
        return ctx

    def everything(self, strict: Composer, event: str, role: str) -> tuple[str, str, str]:
        out = strict.render(event, self.LANG, self.context(role))
        return out.subject, out.text, out.html

    def test_the_english_markers_are_real(self, strict: Composer) -> None:
        """Each marker is written by the English templates, so its absence below means something."""
        english = ""
        for event in EVENTS:
            for role in (*CONTACT_ROLES, *STAFF_ROLES):
                nameless = full_context("en", role, reason="deadline", commented=True)
                nameless["recipient"]["name"] = ""
                for ctx in (full_context("en", role), nameless, sample_context(role=role)):
                    out = strict.render(event, "en", ctx)
                    english += out.subject + out.text + out.html
        assert [m for m in ENGLISH_MARKERS if m not in english] == []

    @pytest.mark.parametrize("event", EVENTS)
    @pytest.mark.parametrize("role", [*CONTACT_ROLES, *STAFF_ROLES])
    def test_no_english_sentence_is_left(self, strict: Composer, event: str, role: str) -> None:
        nameless = self.context(role, reason="deadline", commented=True)
        nameless["recipient"]["name"] = ""
        for ctx in (self.context(role), nameless, self.sample(role)):
            out = strict.render(event, self.LANG, ctx)
            for part in (out.subject, out.text, out.html):
                left = [marker for marker in ENGLISH_MARKERS if marker in part]
                assert left == [], f"{event} to {role}: {left}"
            assert f'lang="{self.LANG}"' in out.html

    @pytest.mark.parametrize("event", EVENTS)
    def test_each_event_says_its_key_phrase(self, strict: Composer, event: str) -> None:
        role = "owner" if event in STAFF_ONLY else "primary_contact"
        _, text, html = self.everything(strict, event, role)
        assert self.KEY_PHRASES[event] in text
        # The HTML part says the same words, with its own markup around them.
        assert flat(self.KEY_PHRASES[event]) in flat(words(html))

    @pytest.mark.parametrize("event", [e for e in EVENTS if e not in STAFF_ONLY and e != "helpdesk"])
    def test_customers_are_addressed_politely_and_greeted(self, strict: Composer, event: str) -> None:
        _, text, html = self.everything(strict, event, "primary_contact")
        assert text.startswith(f"{self.GREETING}\n") and f"<p>{self.GREETING}</p>" in html
        assert f"\n{self.CLOSING}\n\n-- \nExample Support\n" in text and f"<p>{self.CLOSING}</p>" in html
        self.assert_register(text)
        if event not in ("rejected", "escalate_refused"):  # as in English, these two carry no summary
            assert all(line in text for line in self.SUMMARY), event
        assert not any(label in text for label in self.ROUTING_HIDDEN)  # routing stays internal

    @pytest.mark.parametrize("event", sorted(STAFF_ONLY))
    def test_colleagues_get_no_customer_courtesies(self, strict: Composer, event: str) -> None:
        _, text, html = self.everything(strict, event, "owner")
        greeting = self.GREETING.split()[0]
        for part in (text, html):
            assert greeting not in part and self.CLOSING.rstrip(",") not in part and "Cc" not in part
        if event != "held":
            assert all(line in text for line in self.ROUTING_SHOWN)

    def test_staff_escalation_names_the_reason(self, strict: Composer) -> None:
        for reason in ("deadline", "next_response", "customer_request"):
            out = strict.render("escalated", self.LANG, self.context("manager", reason=reason))
            why = i18n.escalation_reason_text(reason, self.LANG)
            assert f"{self.REASON_LABEL}: {why}" in out.text and why in words(out.html)
            assert self.PRIMARY_CONTACT in out.text
        contact = strict.render(
            "escalated", self.LANG, self.context("primary_contact", reason="next_response")
        )
        said, not_said = self.NEXT_RESPONSE
        assert said in contact.text
        assert not_said not in contact.text

    @pytest.mark.parametrize("case", range(3))
    def test_dates_are_day_month_year_in_utc(self, case: int) -> None:
        moment, written = self.DATES[case]
        assert i18n.format_datetime(moment, self.LANG) == written

    def test_the_date_in_a_notification_is_the_languages(self, strict: Composer) -> None:
        _, text, html = self.everything(strict, "case_opened", "primary_contact")
        due = OPENED + timedelta(hours=4)
        assert self.OPENED_DUE in text
        assert i18n.format_datetime(due, self.LANG) in html and "2026-11-21" not in text + html

    @pytest.mark.parametrize(
        ("event", "role"),
        [
            ("comment_added", "primary_contact"),
            ("note_added", "agent"),
            ("auto_closed", "team"),
            ("deadline_warning", "owner"),
            ("escalated", "manager"),
            ("held", "team"),
            ("commands_applied", "agent"),
        ],
    )
    def test_html_is_escaped_and_text_verbatim(self, strict: Composer, event: str, role: str) -> None:
        ctx = self.context(role, closed_by=SCRIPT, sender=SCRIPT, excerpt=SCRIPT)
        ctx["case"]["subject"] = SCRIPT
        ctx["case"]["account"] = SCRIPT
        ctx["comment"]["body"] = SCRIPT
        ctx["event"]["results"] = [{"line": SCRIPT, "ok": False, "code": "unknown_team", "detail": SCRIPT}]
        out = strict.render(event, self.LANG, ctx)
        assert "<script>" not in out.html and ESCAPED in out.html
        assert "&amp;lt;" not in out.html  # escaped once, not twice
        assert SCRIPT in out.text
        assert (SCRIPT in out.subject) == (event != "held")  # held names the inbound message, not the case

    @pytest.mark.parametrize("event", EVENTS)
    @pytest.mark.parametrize("role", ["primary_contact", "owner"])
    def test_round_trip_through_the_real_builder_and_parser(
        self, strict: Composer, event: str, role: str
    ) -> None:
        subject, name, sender = self.ROUND_TRIP
        ctx = self.context(role)
        ctx["case"]["subject"] = subject
        ctx["recipient"]["name"] = name
        out = strict.render(event, self.LANG, ctx)
        data = build(out, to_name=name, from_name=sender)
        mail = parse_message(data)
        assert mail.subject == out.subject
        assert mail.text == out.text
        assert mail.html == out.html
        assert [a.name for a in mail.to] == [name]
        assert mail.from_addr is not None and mail.from_addr.name == sender
        if event != "helpdesk":
            assert mail.subject.startswith(TAG)
