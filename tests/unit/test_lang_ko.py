"""Korean (ko) notifications: every event reads as Korean, formally, and survives the mail round trip.

A customer who asked for Korean must not meet an English sentence halfway
through a notice, nor the casual 해요체: support writes to customers in the
formal 합니다체. Dates follow the Korean order, customer text stays escaped in
HTML, and what maild renders is what the customer's mail client reads back.
"""

from __future__ import annotations

from typing import Any

import pytest

from maild.inbound.parse import parse_message
from maild.outbound import i18n
from maild.outbound.compose import EVENTS, Composer, Rendered
from tests.unit.test_compose import OPENED, TAG, full_context
from tests.unit.test_message import build

LANG = "ko"
ROLES = ("primary_contact", "owner")
# Sentences and labels of templates/en; none may leak into a Korean notice.
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
SCRIPT = '<script>alert("x")</script>'
ESCAPED = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"


@pytest.fixture(scope="module")
def strict() -> Composer:
    return Composer([], strict=True)


def render(composer: Composer, event: str, role: str, **more: Any) -> Rendered:
    return composer.render(event, LANG, full_context(LANG, role, **more))


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("event", EVENTS)
def test_every_event_is_korean_and_formal(strict: Composer, event: str, role: str) -> None:
    out = render(strict, event, role)
    for part in (out.subject, out.text, out.html):
        leaked = [phrase for phrase in ENGLISH if phrase in part]
        assert not leaked, (event, role, leaked)
    assert "니다" in out.text and "니다" in out.html  # 합니다체 throughout
    assert "요." not in out.text and "세요" not in out.text  # no 해요체
    assert '<html lang="ko">' in out.html
    if event != "helpdesk" and event != "held":
        assert out.subject.startswith(TAG)


@pytest.mark.parametrize(
    "event", [e for e in EVENTS if e not in ("helpdesk", "held", "rejected", "escalate_refused")]
)
def test_case_events_use_korean_labels(strict: Composer, event: str) -> None:
    out = render(strict, event, "owner")
    for label in ("케이스: 00001042", "제목: Login page returns 500", "심각도: 3 (높음)", "팀: Tier 2"):
        assert label in out.text, (event, label)


def test_contacts_are_greeted_formally_and_staff_are_told_how_to_keep_notes_internal(
    strict: Composer,
) -> None:
    contact = render(strict, "comment_added", "primary_contact")
    assert contact.text.startswith("Alice 님, 안녕하십니까.\n")
    assert "Bob (공동 참여자) 님이 00001042번 케이스에 코멘트를 추가했습니다." in contact.text
    assert "참조(Cc)" in contact.text and "log.txt (2.0 KB)" in contact.text
    note = render(strict, "note_added", "owner")
    assert note.text.startswith("[내부 메모] 고객에게는 전송되지 않았습니다.\n")
    assert "#note로 시작하십시오" in note.text and "<code>#note</code>" in note.html


def test_dates_are_in_korean_order(strict: Composer) -> None:
    out = render(strict, "case_opened", "primary_contact")
    assert i18n.format_datetime(OPENED, LANG) == "2026년 11월 21일 10:00 (UTC)"
    assert "최초 응답 기한: 2026년 11월 21일 14:00 (UTC)" in out.text
    assert "2026년 11월 21일 14:00 (UTC)" in out.html
    assert "2026-11-21" not in out.text


def test_deadline_warning_and_reminder_say_when(strict: Composer) -> None:
    warning = render(strict, "deadline_warning", "owner")
    assert "다음 응답 기한은 2026년 11월 21일 12:00 (UTC)까지입니다." in warning.text
    assert "maild case reply" in warning.text and "응답으로 인정되지 않습니다" in warning.text
    first = render(strict, "deadline_warning", "owner", deadline="first_response")
    assert "최초 응답 기한은" in first.text and "최초 응답" in first.subject
    reminder = render(strict, "waiting_reminder", "primary_contact")
    assert "2026년 11월 29일 10:00 (UTC)까지 회신이 없으시면 케이스가 자동으로 종료됩니다." in reminder.text


def test_command_results_are_korean(strict: Composer) -> None:
    out = render(strict, "commands_applied", "agent")
    assert "✓ #assign me — 케이스 담당자가 지정되었습니다: dave@vendor.example." in out.text
    assert '✗ #team nowhere — 이름이 "nowhere"인 팀이 없습니다. 팀 목록: Tier 1, Tier 2.' in out.text
    assert "✗ 표시된 명령은 적용되지 않았으며" in out.text


@pytest.mark.parametrize("event", ["comment_added", "case_opened", "note_added"])
def test_html_escapes_customer_markup(strict: Composer, event: str) -> None:
    ctx = full_context(LANG, "owner")
    ctx["case"]["subject"] = SCRIPT
    ctx["comment"]["body"] = SCRIPT
    out = strict.render(event, LANG, ctx)
    assert SCRIPT not in out.html and ESCAPED in out.html
    assert SCRIPT in out.text  # the text part keeps what the customer wrote


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("event", ["case_opened", "comment_added", "escalated", "auto_closed", "assigned"])
def test_round_trip_through_the_real_message_builder(strict: Composer, event: str, role: str) -> None:
    out = render(strict, event, role)
    mail = parse_message(build(out, to_name="김민준"))
    assert not mail.defects
    assert mail.subject == out.subject
    assert mail.text.replace("\r\n", "\n").rstrip("\n") == out.text.rstrip("\n")
    assert mail.html is not None
    assert mail.html.replace("\r\n", "\n").rstrip("\n") == out.html.rstrip("\n")
    assert mail.to[0].name == "김민준"
