"""Notifications of SPEC §11: the deadline warning, the waiting reminder, the automatic close.

Each goes to a narrower audience than most events (the warning to the
owner or the team only, the reminder to the primary contact only), so the
tests render each for the roles it is sent to and read what a person must
learn from it: which deadline and when, when the case closes by itself,
and how to carry on. The escalation of a missed next response must not
apologise for the initial response.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from maild.outbound import i18n
from maild.outbound.compose import Composer
from tests.unit.test_compose import OPENED, TAG, full_context

STAFF_ROLES = ("owner", "team")
CONTACT_ROLES = ("primary_contact", "collaborator")
DUE = OPENED + timedelta(hours=6, minutes=30)
SINCE = OPENED + timedelta(days=2)
CLOSES = OPENED + timedelta(days=9)
REOPEN = OPENED + timedelta(days=23)
SCRIPT = '<script>alert("x")</script>'
ESCAPED = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"

KIND_WORDS = {
    ("en", "first_response"): "initial response",
    ("en", "next_response"): "next response",
    ("ja", "first_response"): "初回回答",
    ("ja", "next_response"): "次回回答",
}

# The languages whose exact phrases these tests know; every language renders strictly in
# test_compose.py and says its own phrases in tests/unit/test_lang_<code>.py.
PHRASED = ("en", "ja")


def when(moment: Any, language: str) -> str:
    return i18n.format_datetime(moment, language)


def staff_context(language: str, role: str, **event: Any) -> dict[str, Any]:
    """The owner's or the team's copy: notify.py sends them with no name, in the default language."""
    ctx = full_context(language, role, **event)
    email = "dave@vendor.example" if role == "owner" else "tier2@vendor.example"
    ctx["recipient"] = {"email": email, "name": "", "language": language, "role": role}
    ctx["comment"] = None
    return ctx


def contact_context(language: str, role: str = "primary_contact", **event: Any) -> dict[str, Any]:
    ctx = full_context(language, role, **event)
    ctx["comment"] = None
    ctx["case"]["status"] = "waiting_on_customer"
    return ctx


@pytest.fixture(scope="module")
def strict() -> Composer:
    return Composer([], strict=True)


def assert_no_customer_wording(text: str, html: str) -> None:
    for part in (text, html):
        assert "Cc" not in part  # the customer's how-to-reply footer
        assert "Dear" not in part and "お世話になっております" not in part
        assert "よろしくお願いいたします" not in part


# ---------------------------------------------------------------------------- deadline_warning


@pytest.mark.parametrize("language", PHRASED)
@pytest.mark.parametrize("role", STAFF_ROLES)
@pytest.mark.parametrize("deadline", ["first_response", "next_response"])
def test_deadline_warning_says_which_deadline_and_when(
    strict: Composer, language: str, role: str, deadline: str
) -> None:
    out = strict.render(
        "deadline_warning", language, staff_context(language, role, deadline=deadline, due_at=DUE)
    )
    due = when(DUE, language)
    assert out.subject.startswith(TAG) and due in out.subject
    assert due in out.text and due in out.html
    kind = KIND_WORDS[(language, deadline)]
    other = KIND_WORDS[(language, "next_response" if deadline == "first_response" else "first_response")]
    for part in (out.subject, out.text, out.html):
        assert kind in part.lower(), part
        assert other not in part.lower(), part
    assert due == ("2026-11-21 16:30 UTC" if language == "en" else "2026年11月21日 16:30 (UTC)")


@pytest.mark.parametrize("language", PHRASED)
@pytest.mark.parametrize("role", STAFF_ROLES)
def test_deadline_warning_says_a_reply_meets_it_and_a_note_does_not(
    strict: Composer, language: str, role: str
) -> None:
    out = strict.render("deadline_warning", language, staff_context(language, role, due_at=DUE))
    if language == "en":
        meets, note = (
            "reply to this email without #note",
            "Internal notes (#note, maild case note) do not count",
        )
        note_html = "do not count as a response"
    else:
        meets, note = "「#note」を付けずに返信", "社内メモ（#note、maild case note）は回答として扱われません"
        note_html = "は回答として扱われません"
    assert meets in out.text and note in out.text and note_html in out.html
    assert "maild case reply" in out.text and "maild case reply" in out.html
    assert_no_customer_wording(out.text, out.html)
    # Colleagues see the routing and whom to answer.
    assert "Tier 2" in out.text and "alice@acme.example" in out.text and "Acme" in out.text
    assert "alice@acme.example" in out.html


# ---------------------------------------------------------------------------- waiting_reminder


@pytest.mark.parametrize("language", PHRASED)
def test_waiting_reminder_says_since_when_and_when_it_closes(strict: Composer, language: str) -> None:
    ctx = contact_context(language, waiting_since=SINCE, closes_at=CLOSES)
    out = strict.render("waiting_reminder", language, ctx)
    assert out.subject.startswith(TAG) and "Login page returns 500" in out.subject
    for part in (out.text, out.html):
        assert when(SINCE, language) in part and when(CLOSES, language) in part
    if language == "en":
        closes = f"If we do not hear from you by {when(CLOSES, 'en')}, the case will be closed automatically."
    else:
        closes = f"{when(CLOSES, 'ja')} までにご返信がない場合、本ケースは自動的にクローズされます"
    assert closes in out.text and closes in out.html


@pytest.mark.parametrize("language", PHRASED)
def test_waiting_reminder_without_automatic_close_does_not_threaten_one(
    strict: Composer, language: str
) -> None:
    out = strict.render(
        "waiting_reminder", language, contact_context(language, waiting_since=SINCE, closes_at=None)
    )
    assert when(SINCE, language) in out.text
    for part in (out.text, out.html):
        assert "automatically" not in part and "自動" not in part
        assert when(CLOSES, language) not in part


@pytest.mark.parametrize("language", PHRASED)
def test_waiting_reminder_asks_for_a_reply_like_other_contact_notices(
    strict: Composer, language: str
) -> None:
    out = strict.render("waiting_reminder", language, contact_context(language, waiting_since=SINCE))
    if language == "en":
        assert out.text.startswith("Dear Alice,\n")
        assert "reply to this email" in out.text and "added to the case" in out.text
        summary, footer = "Subject: Login page returns 500", "Cc them on your reply"
    else:
        assert out.text.startswith("Alice 様\n")
        assert "お世話になっております" in out.text and "今後ともよろしくお願いいたします" in out.text
        assert "ご返信" in out.text and "ケースに追加され" in out.text
        summary, footer = "件名: Login page returns 500", "Cc に追加してください"
    assert summary in out.text and footer in out.text
    assert "Login page returns 500" in out.html and "Cc" in out.html
    status = i18n.status_name("waiting_on_customer", language)
    assert status in out.text
    assert "Tier 2" not in out.text and "dave@vendor.example" not in out.text  # routing stays internal


# ---------------------------------------------------------------------------- auto_closed


def closed_event(**more: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "waiting_since": SINCE,
        "old_status": "waiting_on_customer",
        "new_status": "closed",
        "closed_by": "maild",
        "reopen_until": REOPEN,
    }
    values.update(more)
    return values


@pytest.mark.parametrize("language", PHRASED)
@pytest.mark.parametrize("role", CONTACT_ROLES)
def test_auto_closed_tells_contacts_why_and_how_to_continue(
    strict: Composer, language: str, role: str
) -> None:
    out = strict.render("auto_closed", language, contact_context(language, role, **closed_event()))
    assert out.subject.startswith(TAG)
    for part in (out.text, out.html):
        assert when(SINCE, language) in part and when(REOPEN, language) in part
    if language == "en":
        assert "closed automatically, as we have not heard back from you since" in out.text
        assert f"reply to this email by {when(REOPEN, 'en')} and the case will be reopened" in out.text
        assert "new request" in out.text
    else:
        assert "ご返信を確認できなかったため、自動的にクローズいたしました" in out.text
        assert f"{when(REOPEN, 'ja')} までにこのメールへご返信いただくと、ケースが再開されます" in out.text
        assert "新しいお問い合わせ" in out.text and "今後ともよろしくお願いいたします" in out.text
    for secret in ("maild", "Acme", "Tier 2", "dave@vendor.example"):
        assert secret not in out.text, secret  # the staff-only details


@pytest.mark.parametrize("language", PHRASED)
def test_auto_closed_without_a_reopen_date_still_says_a_reply_reopens(
    strict: Composer, language: str
) -> None:
    out = strict.render("auto_closed", language, contact_context(language, **closed_event(reopen_until=None)))
    reopens = "the case will be reopened" if language == "en" else "ケースが再開されます"
    new_request = "new request" if language == "en" else "新しいお問い合わせ"
    for part in (out.text, out.html):
        assert reopens in part and new_request in part
        assert when(REOPEN, language) not in part


@pytest.mark.parametrize("language", PHRASED)
@pytest.mark.parametrize("role", ["owner", "team", "agent", "manager"])
def test_auto_closed_states_it_plainly_to_staff(strict: Composer, language: str, role: str) -> None:
    out = strict.render("auto_closed", language, staff_context(language, role, **closed_event()))
    old, new = i18n.status_name("waiting_on_customer", language), i18n.status_name("closed", language)
    if language == "en":
        plain = f"was closed automatically: the customer has not replied since {when(SINCE, 'en')}"
        lines = [f"Status: {old} → {new}", "Closed by: maild", f"reply by {when(REOPEN, 'en')} reopens"]
    else:
        plain = f"{when(SINCE, 'ja')} 以降お客様からの返信がなかったため、自動的にクローズされました"
        lines = [
            f"ステータス: {old} → {new}",
            "クローズ実行者: maild",
            f"{when(REOPEN, 'ja')} までにお客様から返信",
        ]
    assert plain in out.text
    for line in lines:
        assert line in out.text, line
    assert "Acme" in out.text and "alice@acme.example" in out.text
    assert when(SINCE, language) in out.html and "maild" in out.html
    assert_no_customer_wording(out.text, out.html)
    assert "heard back from you" not in out.text and "いたしました" not in out.text


@pytest.mark.parametrize("language", PHRASED)
def test_new_events_escape_html(strict: Composer, language: str) -> None:
    for event, ctx in (
        ("deadline_warning", staff_context(language, "owner", due_at=DUE)),
        ("waiting_reminder", contact_context(language, waiting_since=SINCE, closes_at=CLOSES)),
        ("auto_closed", staff_context(language, "team", **closed_event(closed_by=SCRIPT))),
    ):
        ctx["case"]["subject"] = SCRIPT
        ctx["case"]["account"] = SCRIPT
        out = strict.render(event, language, ctx)
        assert "<script>" not in out.html and ESCAPED in out.html, event
        assert "&amp;lt;" not in out.html, event
        assert SCRIPT in out.subject, event


# ---------------------------------------------------------------------------- escalated: next_response


@pytest.mark.parametrize(
    ("language", "next_words", "initial_words"),
    [
        ("en", "within the next response time", "initial response"),
        ("ja", "次回回答期限までにご回答できず", "初回回答期限"),
    ],
)
def test_escalation_of_a_missed_next_response_says_next_response(
    strict: Composer, language: str, next_words: str, initial_words: str
) -> None:
    for role in CONTACT_ROLES:
        out = strict.render("escalated", language, contact_context(language, role, reason="next_response"))
        for part in (out.text, out.html):
            assert next_words in part and initial_words not in part
        first = strict.render("escalated", language, contact_context(language, role, reason="deadline"))
        assert initial_words in first.text and next_words not in first.text


@pytest.mark.parametrize("language", PHRASED)
def test_staff_escalation_reason_for_next_response(strict: Composer, language: str) -> None:
    reason = i18n.escalation_reason_text("next_response", language)
    assert reason != "next_response"
    assert reason != i18n.escalation_reason_text("deadline", language)
    assert ("next response" in reason) if language == "en" else ("次回応答期限" in reason)
    out = strict.render("escalated", language, staff_context(language, "manager", reason="next_response"))
    assert reason in out.text and reason.replace("'", "&#39;") in out.html
