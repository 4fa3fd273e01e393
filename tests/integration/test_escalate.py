"""`#escalate` by email end to end: before and after the deadline, who may, and only once.

Same setting as test_deadlines.py (real Dovecot, SMTP sink and command line,
targets of a few seconds); a designated contact's `#escalate` after the
deadline escalates for the customer (SPEC §5), before it says when it will be
possible, and anyone else is refused with the reason.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from tests.integration.deadlines import (
    SEV1_2S,
    escalation_levels,
    escalation_notices,
    open_case,
    parse_time,
    sleep_until,
    with_event,
)
from tests.integration.env import (
    ALICE,
    BOB,
    MANAGERS,
    YAMADA,
    MaildEnv,
    reply_to_note,
    text_of,
)


def test_escalate_before_the_deadline_says_when_it_becomes_possible(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    opened = open_case(env, imap_box, smtp_sink, subject="Report export is slow", cc=(BOB,))
    smtp_sink.clear()
    imap_box.append(reply_to_note(opened.ack(ALICE), ALICE, "#escalate\nPlease hurry."))
    env.run_once()
    case = env.case(opened.number)
    assert case["escalations"] == []
    assert case["comments"][-1]["author"] == ALICE
    assert "Please hurry." in case["comments"][-1]["body"]
    assert "#escalate" not in case["comments"][-1]["body"]
    early = with_event(smtp_sink, "escalate_too_early")
    assert [r for r, _ in early] == [ALICE], early
    due = parse_time(case["first_response_due_at"])
    assert f"{due:%Y-%m-%d %H:%M} UTC" in text_of(early[0][1]), "the notice names when it becomes possible"
    assert with_event(smtp_sink, "escalated") == []
    assert with_event(smtp_sink, "escalate_refused") == []


@pytest.mark.parametrize("already_escalated", [False, True])
@pytest.mark.maild_config(SEV1_2S)
def test_escalate_after_the_deadline_escalates_for_the_customer(
    env: MaildEnv, imap_box: Any, smtp_sink: Any, already_escalated: bool
) -> None:
    opened = open_case(env, imap_box, smtp_sink, cc=(BOB,))
    sleep_until(opened.finished + 2.2)
    if already_escalated:  # the deadline scan went first: level 1 is the deadline's
        env.run_once()
        assert escalation_levels(env.case(opened.number)) == [(1, "deadline")]
    smtp_sink.clear()
    imap_box.append(reply_to_note(opened.ack(ALICE), ALICE, "#escalate\nPlease hurry."))
    env.run_once()
    env.run_once()
    case = env.case(opened.number)
    customer = [e for e in case["escalations"] if e["reason"] == "customer_request"]
    assert len(customer) == 1, case["escalations"]
    assert len(case["escalations"]) == (2 if already_escalated else 1), case["escalations"]
    assert len({e["level"] for e in case["escalations"]}) == len(case["escalations"])
    assert parse_time(customer[0]["at"]) >= parse_time(case["first_response_due_at"])
    comment = case["comments"][-1]
    assert comment["author"] == ALICE and "#escalate" not in comment["body"]
    assert "Please hurry." in comment["body"]
    to_managers = [m for r, m in with_event(smtp_sink, "escalated") if r == MANAGERS]
    assert len(to_managers) == 1
    assert "The customer asked for escalation." in text_of(to_managers[0])
    assert Counter(r for r, _ in with_event(smtp_sink, "escalated")) == {MANAGERS: 1, ALICE: 1, BOB: 1}
    assert with_event(smtp_sink, "escalate_too_early") == []


def test_early_escalate_on_two_cases_tells_the_contact_each_time(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    first = open_case(env, imap_box, smtp_sink, subject="Report export is slow", cc=())
    second = open_case(env, imap_box, smtp_sink, subject="[Sev 4] Typo on the invoice page", cc=())
    smtp_sink.clear()
    imap_box.append(reply_to_note(first.ack(ALICE), ALICE, "#escalate\nPlease hurry."))
    env.run_once()
    imap_box.append(reply_to_note(second.ack(ALICE), ALICE, "#escalate\nThis one too."))
    env.run_once()
    early = with_event(smtp_sink, "escalate_too_early")
    by_case = Counter(m["X-Maild-Case"] for _r, m in early)
    assert by_case == {first.number: 1, second.number: 1}, (
        "each early #escalate is answered with when that case can be escalated"
    )
    for opened in (first, second):
        due = parse_time(env.case(opened.number)["first_response_due_at"])
        note = next(m for _r, m in early if m["X-Maild-Case"] == opened.number)
        assert f"{due:%Y-%m-%d %H:%M} UTC" in text_of(note)
        assert env.case(opened.number)["escalations"] == []


def test_early_escalate_from_a_designated_collaborator_in_japanese_full_width(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    opened = open_case(env, imap_box, smtp_sink, subject="Report export is slow", cc=(YAMADA,))
    smtp_sink.clear()
    imap_box.append(reply_to_note(opened.ack(YAMADA), YAMADA, "＃escalate\n至急対応をお願いします。"))
    env.run_once()
    case = env.case(opened.number)
    assert case["escalations"] == []
    assert case["comments"][-1]["body"].strip() == "至急対応をお願いします。"
    early = with_event(smtp_sink, "escalate_too_early")
    assert [r for r, _ in early] == [YAMADA], early
    due = parse_time(case["first_response_due_at"])
    when = f"{due.year}年{due.month}月{due.day}日 {due:%H:%M} (UTC)"
    assert when in text_of(early[0][1]), "told in Japanese when it becomes possible"
    assert with_event(smtp_sink, "escalated") == []


@pytest.mark.parametrize("past_deadline", [False, True])
@pytest.mark.maild_config(SEV1_2S)
def test_escalate_from_someone_not_designated_is_refused_with_the_reason(
    env: MaildEnv, imap_box: Any, smtp_sink: Any, past_deadline: bool
) -> None:
    subject = "[Sev 1] Checkout is down" if past_deadline else "Report export is slow"
    opened = open_case(env, imap_box, smtp_sink, subject=subject, cc=(BOB,))
    if past_deadline:
        sleep_until(opened.finished + 2.2)
    smtp_sink.clear()
    imap_box.append(reply_to_note(opened.ack(BOB), BOB, "#escalate\nThis is urgent for us."))
    env.run_once()
    case = env.case(opened.number)
    assert "customer_request" not in [e["reason"] for e in case["escalations"]], case["escalations"]
    if not past_deadline:
        assert case["escalations"] == []
    refused = with_event(smtp_sink, "escalate_refused")
    assert [r for r, _ in refused] == [BOB], refused
    assert "only designated contacts" in " ".join(text_of(refused[0][1]).split())
    assert with_event(smtp_sink, "escalate_too_early") == []
    # Bob's words still reach the case, without the command line.
    assert case["comments"][-1]["author"] == BOB and "#escalate" not in case["comments"][-1]["body"]
    if not past_deadline:
        assert with_event(smtp_sink, "escalated") == []
    else:
        escalated = escalation_notices(smtp_sink, opened.number)
        assert escalated.get((MANAGERS, 1), 0) <= 1


@pytest.mark.maild_config(SEV1_2S)
def test_a_second_escalate_is_answered_not_escalated_again(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    opened = open_case(env, imap_box, smtp_sink, subject="[Sev 1] Checkout is down", cc=())
    sleep_until(opened.finished + 2.2)
    imap_box.append(reply_to_note(opened.ack(ALICE), ALICE, "#escalate\nPlease hurry."))
    env.run_once()
    smtp_sink.clear()
    imap_box.append(reply_to_note(opened.ack(ALICE), ALICE, "#escalate\nAnd again."))
    env.run_once()
    reasons = [e["reason"] for e in env.case(opened.number)["escalations"]]
    assert reasons.count("customer_request") == 1
    assert with_event(smtp_sink, "escalated") == []
    (refusal,) = with_event(smtp_sink, "rejected")
    assert refusal[0] == ALICE and "already escalated" in text_of(refusal[1])
