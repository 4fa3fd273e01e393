"""SPEC §11 end to end: the next-response deadline after the first answer, and warnings before deadlines.

Real Dovecot in, the real SMTP sink out, the command line and real `maild
run` processes in between; results are read only through `case show --json`
and what the sink received. Every message the sink took is counted by
recipient and event, so a second notice (or one to the wrong side) fails.
Targets are a few seconds so the clock really runs; each wait is for a
wall-clock instant past a deadline (sleep_until) or for the sink to show
something (wait_until), never an assertion on elapsed time. The helpers are
in deadlines.py; the initial-response clock alone is test_deadlines.py's.
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from tests.integration.deadlines import (
    due_of,
    each,
    escalation_levels,
    follow_up,
    open_case,
    passes_in_processes,
    sleep_until,
    tally,
    with_event,
)
from tests.integration.env import (
    AGENT,
    ALICE,
    BOB,
    MANAGERS,
    MaildEnv,
    message,
    stop,
    text_of,
    wait_until,
)

NEXT_3S = {"sla.next_response.1": "3s"}
TRUSTED = "mx.example.com"
PROVEN = {"Authentication-Results": f"{TRUSTED}; dmarc=pass header.from=example.com"}
DESK = "support-team@example.com"  # support.agent_address: the team's copy when there are no teams
TIER1 = "tier1@example.com"
WARN = {"sla.next_response.1": "8s", "escalation.warn_before": "6s"}
ANSWER = "We have found the cause and are deploying a fix.\n"


def answered(env: MaildEnv, imap: Any, sink: Any, *team: str) -> tuple[str, dict[str, Any]]:
    """A sev-1 case of Alice's (Bob in Cc) with the agent's first public answer sent; the sink emptied.

    `team`: the team address that gets its copies, if configured. Returns the
    case number and the answer each contact received (what they reply to).
    """
    opened = open_case(env, imap, sink, cc=(BOB,))
    assert tally(sink) == each("case_opened", ALICE, BOB, *team)
    sink.clear()
    env.ok("case", "reply", opened.number, "--as", AGENT, "--body", "We are looking into it.")
    env.run_once()
    case = env.case(opened.number)
    assert case["owner"] == AGENT, "the agent who first answered owns the case"
    assert case["first_responded_at"] is not None and case["next_response_due_at"] is None
    assert tally(sink) == each("comment_added", ALICE, BOB, *team)
    notes = {r: m for r, m in with_event(sink, "comment_added")}
    sink.clear()
    return opened.number, notes


def followed_up(env: MaildEnv, imap: Any, sink: Any) -> tuple[str, float]:
    """An answered case whose customer has followed up: its number and its next-response deadline."""
    number, notes = answered(env, imap, sink)
    follow_up(env, imap, notes[ALICE])
    due = due_of(env.case(number), "next_response_due_at")
    sink.clear()
    return number, due


def escalated_once(sink: Any) -> Counter[tuple[str, str]]:
    """A missed deadline of an owned case: its managers, its owner and (notify_contacts) its contacts."""
    return each("escalated", MANAGERS, AGENT, ALICE, BOB)


def no_escalation_before(env: MaildEnv, sink: Any, number: str, due: float) -> None:
    """A pass that ends before the deadline escalates nothing (unchecked if the machine was too slow)."""
    env.run_once()
    case = env.case(number)
    if time.time() < due - 1:  # `due` is the latest the deadline may be; it may be a second earlier
        assert case["escalations"] == []
        assert not [k for k in tally(sink) if k[1] == "escalated"]


# ------------------------------------------------------------------ 1. the next-response deadline


def missed_next_response_twice(env: MaildEnv, imap: Any, sink: Any, passes: Callable[[], object]) -> None:
    number, notes = answered(env, imap, sink)
    before, after = follow_up(env, imap, notes[ALICE])
    case = env.case(number)
    due = due_of(case, "next_response_due_at")
    assert before + 3 - 1 <= due - 1 <= after + 3, (before, after, case["next_response_due_at"])
    assert case["status"] == "in_progress" and case["escalations"] == []
    assert tally(sink) == each("comment_added", BOB, AGENT), "the owner gets the customer's follow-up"
    sink.clear()
    no_escalation_before(env, sink, number, due)

    sleep_until(due + 0.2)
    for _ in range(3):
        passes()
    assert tally(sink) == escalated_once(sink)
    case = env.case(number)
    assert escalation_levels(case) == [(1, "next_response")]
    notices = dict(with_event(sink, "escalated"))
    assert "The next response deadline passed" in text_of(notices[MANAGERS])
    assert "within the next response time" in text_of(notices[ALICE])
    sink.clear()

    # The agent's public answer (by e-mail, proven) stops the clock; nothing more goes out for it.
    imap.append(message(AGENT, f"Re: [Case #{number}] Checkout is down", ANSWER, headers=PROVEN))
    passes()
    case = env.case(number)
    assert case["next_response_due_at"] is None
    assert [c["role"] for c in case["comments"]] == ["agent", "primary_contact", "agent"]
    assert tally(sink) == each("comment_added", ALICE, BOB)
    answer_to_bob = dict(with_event(sink, "comment_added"))[BOB]
    sink.clear()

    # The customer's next follow-up is a new deadline, missed once, escalated once.
    before, after = follow_up(env, imap, answer_to_bob, sender=BOB, text="Still failing for me.\n")
    second = due_of(env.case(number), "next_response_due_at")
    assert before + 3 - 1 <= second - 1 <= after + 3 and second > due
    assert tally(sink) == each("comment_added", ALICE, AGENT)
    sink.clear()
    sleep_until(second + 0.2)
    for _ in range(3):
        passes()
    assert tally(sink) == escalated_once(sink)
    case = env.case(number)
    assert escalation_levels(case) == [(1, "next_response"), (1, "next_response")]
    assert case["escalations"][0]["at"] <= case["escalations"][1]["at"]


@pytest.mark.maild_config({**NEXT_3S, "support.trusted_authserv_ids": [TRUSTED]})
def test_a_missed_next_response_escalates_once_and_each_new_follow_up_is_a_new_deadline(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    missed_next_response_twice(env, imap_box, smtp_sink, env.run_once)


@pytest.mark.maild_config({**NEXT_3S, "support.trusted_authserv_ids": [TRUSTED]})
def test_on_postgres_racing_workers_escalate_each_next_response_deadline_once(
    pg_env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    missed_next_response_twice(pg_env, imap_box, smtp_sink, lambda: passes_in_processes(pg_env, 3))


@pytest.mark.maild_config({**NEXT_3S, "sla.initial_response.2": "3s"})
def test_a_missed_next_response_goes_to_the_same_people_as_a_missed_first_response(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    followed, notes = answered(env, imap_box, smtp_sink)
    unanswered = open_case(env, imap_box, smtp_sink, subject="[Sev 2] Search is slow", cc=(BOB,)).number
    env.ok("case", "assign", unanswered, AGENT, "--as", AGENT)  # owned too, but not answered
    follow_up(env, imap_box, notes[ALICE])
    latest = max(
        due_of(env.case(followed), "next_response_due_at"),
        due_of(env.case(unanswered), "first_response_due_at"),
    )
    smtp_sink.clear()
    sleep_until(latest + 0.2)
    for _ in range(2):
        env.run_once()
    assert tally(smtp_sink, followed) == escalated_once(smtp_sink)
    assert tally(smtp_sink, unanswered) == escalated_once(smtp_sink)
    assert len(smtp_sink.messages()) == 8
    assert escalation_levels(env.case(followed)) == [(1, "next_response")]
    assert escalation_levels(env.case(unanswered)) == [(1, "deadline")]


# ------------------------------------------------------------------ 2. what stops the clock


@pytest.mark.maild_config(NEXT_3S)
def test_an_internal_note_does_not_stop_the_clock(env: MaildEnv, imap_box: Any, smtp_sink: Any) -> None:
    number, notes = answered(env, imap_box, smtp_sink)
    follow_up(env, imap_box, notes[ALICE])
    shown = env.case(number)["next_response_due_at"]
    smtp_sink.clear()
    env.ok("case", "note", number, "--as", AGENT, "--body", "Checking the payment gateway logs.")
    case = env.case(number)
    assert case["next_response_due_at"] == shown, "a note is not a response"
    assert [c["internal"] for c in case["comments"]] == [False, False, True]
    sleep_until(due_of(case, "next_response_due_at") + 0.2)
    for _ in range(3):
        env.run_once()
    # The note reached no one (its author owns the case; no team address); the escalation did.
    assert tally(smtp_sink) == escalated_once(smtp_sink)
    assert escalation_levels(env.case(number)) == [(1, "next_response")]


@pytest.mark.maild_config({"sla.next_response.1": "8s"})
def test_a_public_answer_before_the_deadline_means_no_escalation_ever(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    number, notes = answered(env, imap_box, smtp_sink)
    follow_up(env, imap_box, notes[ALICE])
    shown = env.case(number)["next_response_due_at"]
    # A second follow-up while the clock runs keeps the first one's deadline: it measures the wait.
    follow_up(env, imap_box, notes[BOB], sender=BOB, text="Same here.\n")
    case = env.case(number)
    assert case["next_response_due_at"] == shown and len(case["comments"]) == 3
    due = due_of(case, "next_response_due_at")
    smtp_sink.clear()
    env.ok("case", "reply", number, "--as", AGENT, "--body", ANSWER)
    assert env.case(number)["next_response_due_at"] is None
    sleep_until(due + 1.2)
    for _ in range(3):
        env.run_once()
    case = env.case(number)
    assert case["escalations"] == [] and case["next_response_due_at"] is None
    assert tally(smtp_sink) == each("comment_added", ALICE, BOB)


# ------------------------------------------------------------------ 3. off when not configured


@pytest.mark.parametrize(
    "severity",
    [
        pytest.param(1, id="no-next-response-table"),
        pytest.param(1, id="sev-1-not-in-it", marks=pytest.mark.maild_config({"sla.next_response.2": "1s"})),
    ],
)
def test_without_a_next_response_target_a_follow_up_starts_no_clock(
    env: MaildEnv, imap_box: Any, smtp_sink: Any, severity: int
) -> None:
    number, notes = answered(env, imap_box, smtp_sink)
    follow_up(env, imap_box, notes[ALICE])
    case = env.case(number)
    assert case["severity"] == severity and case["next_response_due_at"] is None
    time.sleep(2)  # past any target of a second or two
    for _ in range(3):
        env.run_once()
    assert env.case(number)["escalations"] == []
    assert tally(smtp_sink) == each("comment_added", BOB, AGENT)


# ------------------------------------------------------------------ 4. warnings before a deadline


@pytest.mark.maild_config(WARN)
def test_the_owner_is_warned_once_before_a_next_response_deadline_then_it_escalates_once(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    number, due = followed_up(env, imap_box, smtp_sink)
    sleep_until(due - 6 + 0.2)  # the warning's time (6 s before) has come; the deadline is ~5 s away
    for _ in range(2):
        env.run_once()
    assert tally(smtp_sink) == each("deadline_warning", AGENT), "one warning, to the owner only"
    warning = with_event(smtp_sink, "deadline_warning")[0][1]
    assert warning["X-Maild-Case"] == number and f"[Case #{number}]" in str(warning["Subject"])
    assert "Next response due by" in str(warning["Subject"])
    assert env.case(number)["escalations"] == []
    sleep_until(due + 0.2)
    for _ in range(2):
        env.run_once()
    assert tally(smtp_sink) == each("deadline_warning", AGENT) + escalated_once(smtp_sink)
    assert escalation_levels(env.case(number)) == [(1, "next_response")]


FIRST_WARN = {"sla.initial_response.1": "8s", "escalation.warn_before": "6s"}
TEAM_DESK = {**FIRST_WARN, "support.agent_address": DESK}
TEAM_TIER1 = {**FIRST_WARN, "teams.tier1.address": TIER1, "routing.default_team": "tier1"}


@pytest.mark.parametrize(
    "team",
    [
        pytest.param(DESK, id="agent_address", marks=pytest.mark.maild_config(TEAM_DESK)),
        pytest.param(TIER1, id="team_address", marks=pytest.mark.maild_config(TEAM_TIER1)),
    ],
)
def test_an_unowned_case_warns_its_team_address_once_before_the_first_response_deadline(
    env: MaildEnv, imap_box: Any, smtp_sink: Any, team: str
) -> None:
    opened = open_case(env, imap_box, smtp_sink, cc=(BOB,))
    assert tally(smtp_sink) == each("case_opened", ALICE, BOB, team), "the team's copy of the new case"
    case = env.case(opened.number)
    assert case["owner"] is None
    due = due_of(case, "first_response_due_at")
    smtp_sink.clear()
    sleep_until(due - 6 + 0.2)
    for _ in range(2):
        env.run_once()
    assert tally(smtp_sink) == each("deadline_warning", team)
    warning = with_event(smtp_sink, "deadline_warning")[0][1]
    assert "Initial response due by" in str(warning["Subject"])
    assert f"The initial response to case {opened.number}" in text_of(warning)
    sleep_until(due + 0.2)
    for _ in range(2):
        env.run_once()
    expected = each("deadline_warning", team) + each("escalated", MANAGERS, ALICE, BOB, team)
    assert tally(smtp_sink) == expected
    assert escalation_levels(env.case(opened.number)) == [(1, "deadline")]


@pytest.mark.maild_config({**WARN, **TEAM_DESK})
def test_no_warning_when_the_deadlines_were_met_before_the_warning_time(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    # Both answers come before any pass after the warning time: no scan ever sees a warning due.
    number, notes = answered(env, imap_box, smtp_sink, DESK)  # the first response, before its warning
    first_due = due_of(env.case(number), "first_response_due_at")
    follow_up(env, imap_box, notes[ALICE])
    next_due = due_of(env.case(number), "next_response_due_at")
    env.ok("case", "reply", number, "--as", AGENT, "--body", ANSWER)
    assert env.case(number)["next_response_due_at"] is None
    smtp_sink.clear()
    sleep_until(max(first_due, next_due) + 0.2)
    for _ in range(3):
        env.run_once()
    assert tally(smtp_sink) == each("comment_added", ALICE, BOB, DESK)
    assert env.case(number)["escalations"] == []


@pytest.mark.maild_config(WARN)
def test_no_warning_once_the_next_response_deadline_passed_unwatched_only_the_escalation(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    number, due = followed_up(env, imap_box, smtp_sink)
    sleep_until(due + 0.2)  # no pass between the warning's time and the deadline
    for _ in range(3):
        env.run_once()
    assert tally(smtp_sink) == escalated_once(smtp_sink)
    assert escalation_levels(env.case(number)) == [(1, "next_response")]


@pytest.mark.maild_config(TEAM_DESK)
def test_no_warning_once_the_first_response_deadline_passed_unwatched_only_the_escalation(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    opened = open_case(env, imap_box, smtp_sink, cc=(BOB,))
    due = due_of(env.case(opened.number), "first_response_due_at")
    smtp_sink.clear()
    sleep_until(due + 0.2)
    for _ in range(3):
        env.run_once()
    assert tally(smtp_sink) == each("escalated", MANAGERS, ALICE, BOB, DESK)
    assert escalation_levels(env.case(opened.number)) == [(1, "deadline")]


# ------------------------------------------------------------------ 5. restarts and separate processes


def sent_and_recorded(env: MaildEnv, sink: Any, event: str) -> bool:
    """The sink has a message of `event` and maild recorded it as sent (so a restart will not resend it)."""
    rows = [r for r in env.outbox() if r.event == event]
    return bool(with_event(sink, event)) and bool(rows) and all(r.status == "sent" for r in rows)


@pytest.mark.maild_config({"sla.next_response.1": "12s", "escalation.warn_before": "9s"})
def test_a_daemon_killed_between_the_warning_and_the_deadline_escalates_once_after_restart(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    number, due = followed_up(env, imap_box, smtp_sink)
    daemon = env.start_daemon("first")
    try:
        wait_until(
            lambda: sent_and_recorded(env, smtp_sink, "deadline_warning"),
            timeout=max(due - time.time(), 1) + 30,
            what="the warning",
        )
    finally:
        assert stop(daemon, signal.SIGKILL) == -signal.SIGKILL
    assert tally(smtp_sink) == each("deadline_warning", AGENT), "killed before the deadline"
    daemon = env.start_daemon("second")
    try:
        wait_until(
            lambda: sent_and_recorded(env, smtp_sink, "escalated"),
            timeout=max(due - time.time(), 1) + 60,
            what="the escalation",
        )
        time.sleep(3)  # the deadline loop scans every second: room for a second notice, if there were one
    finally:
        assert stop(daemon) == 0, env.daemon_log("second")
    assert tally(smtp_sink) == each("deadline_warning", AGENT) + escalated_once(smtp_sink)
    assert escalation_levels(env.case(number)) == [(1, "next_response")]
    assert "Traceback" not in env.daemon_log("first") + env.daemon_log("second")


@pytest.mark.maild_config(WARN)
def test_passes_in_separate_processes_one_after_another_warn_once_and_escalate_once(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    number, due = followed_up(env, imap_box, smtp_sink)
    sleep_until(due - 6 + 0.2)
    for _ in range(2):
        passes_in_processes(env, 1)
    assert tally(smtp_sink) == each("deadline_warning", AGENT)
    sleep_until(due + 0.2)
    for workers in (1, 1, 2):
        passes_in_processes(env, workers)
    assert tally(smtp_sink) == each("deadline_warning", AGENT) + escalated_once(smtp_sink)
    assert escalation_levels(env.case(number)) == [(1, "next_response")]
