"""Deadlines end to end: the initial-response clock and the escalation notices, once per level.

Real Dovecot in, real SMTP sink out, the command line and real `maild run`
processes in between; results are read only through `case show --json` and
what the sink received. Targets are a few seconds so the clock really runs.
`#escalate` by email is in test_escalate.py; the helpers in deadlines.py.
"""

from __future__ import annotations

import signal
import time
from datetime import timedelta
from typing import Any

import pytest

from tests.integration.deadlines import (
    BODY,
    HEAD,
    SEV1_2S,
    TWO_LEVELS,
    escalation_levels,
    escalation_notices,
    open_case,
    parse_time,
    passes_in_processes,
    set_levels,
    sleep_until,
    with_event,
)
from tests.integration.env import (
    AGENT,
    ALICE,
    BOB,
    MANAGERS,
    OPS,
    MaildEnv,
    message,
    stop,
    text_of,
    wait_until,
)

# ------------------------------------------------------------------ the clock


@pytest.mark.maild_config(SEV1_2S)
def test_due_dates_follow_the_severity_target_and_nothing_escalates_before_them(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    sev1 = open_case(env, imap_box, smtp_sink, subject="[Sev 1] Checkout is down")
    one = env.case(sev1.number)  # read at once: its deadline is two seconds away
    sev3 = open_case(env, imap_box, smtp_sink, subject="Report export is slow")
    three = env.case(sev3.number)
    assert (one["severity"], three["severity"]) == (1, 3)
    for case, target in ((one, timedelta(seconds=2)), (three, timedelta(hours=4))):
        created, due = parse_time(case["created_at"]), parse_time(case["first_response_due_at"])
        # Both are shown in whole seconds, so the difference may be off by one.
        assert abs((due - created) - target) <= timedelta(seconds=1), case
        assert case["first_responded_at"] is None and case["escalations"] == []
        assert case["status"] == "new"
    # The acknowledgement names the deadline.
    due3 = parse_time(three["first_response_due_at"])
    assert f"{due3:%Y-%m-%d %H:%M} UTC" in text_of(sev3.ack(ALICE))
    # Passes before the sev-3 deadline escalate nothing.
    for _ in range(3):
        env.run_once()
    assert env.case(sev3.number)["escalations"] == []
    assert [m for _r, m in with_event(smtp_sink, "escalated") if m["X-Maild-Case"] == sev3.number] == []


# No [sla] table at all: the built-in targets (SPEC §5, CONTRACT's example) apply.
@pytest.mark.maild_config({"sla": None, "support.default_severity": None})
def test_each_severity_gets_its_built_in_target_1_2_4_8_hours(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    subjects = {1: "Down", 2: "Degraded", 3: "Slow", 4: "A question"}  # the case subject drops the tag
    imap_box.append_many([message(ALICE, f"[Sev {n}] {s}", BODY, cc=(BOB,)) for n, s in subjects.items()])
    imap_box.append(message(ALICE, "No severity given", BODY))
    env.run_once()
    by_subject = {c["subject"]: env.case(c["number"]) for c in env.cases()}
    targets = {1: timedelta(hours=1), 2: timedelta(hours=2), 3: timedelta(hours=4), 4: timedelta(hours=8)}
    expected = {**{s: n for n, s in subjects.items()}, "No severity given": 3}  # the built-in default
    assert {subject: case["severity"] for subject, case in by_subject.items()} == expected
    for subject, case in by_subject.items():
        created, due = parse_time(case["created_at"]), parse_time(case["first_response_due_at"])
        # Both from the same instant (the case's opening), so whole seconds keep the difference exact.
        assert due - created == targets[case["severity"]], (subject, case)
        assert case["status"] == "new" and case["first_responded_at"] is None
    # The severity-4 acknowledgement tells its 8-hour deadline to everyone in the sharing settings.
    sev4 = by_subject[subjects[4]]
    acks = [m for m in smtp_sink.messages() if m.msg["X-Maild-Case"] == sev4["number"]]
    assert sorted(r for m in acks for r in m.rcpt_tos) == [ALICE, BOB]
    due4 = parse_time(sev4["first_response_due_at"])
    assert all(f"{due4:%Y-%m-%d %H:%M} UTC" in text_of(m.msg) for m in acks)


@pytest.mark.maild_config(SEV1_2S)
def test_unanswered_case_gets_exactly_one_notice_per_recipient_however_many_passes(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    opened = open_case(env, imap_box, smtp_sink)
    assert with_event(smtp_sink, "escalated") == []
    sleep_until(opened.finished + 2.2)
    for _ in range(5):
        env.run_once()
    counts = escalation_notices(smtp_sink, opened.number)
    # The managers, and (notify_contacts) everyone in the sharing settings; each once.
    assert counts == {(MANAGERS, 1): 1, (ALICE, 1): 1, (BOB, 1): 1, (OPS, 1): 1}, counts
    case = env.case(opened.number)
    assert escalation_levels(case) == [(1, "deadline")]
    assert parse_time(case["escalations"][0]["at"]) >= parse_time(case["first_response_due_at"])
    assert case["status"] == "new" and case["first_responded_at"] is None
    to_managers = next(m for r, m in with_event(smtp_sink, "escalated") if r == MANAGERS)
    assert f"[Case #{opened.number}]" in str(to_managers["Subject"])
    assert "The initial response deadline passed without a response." in text_of(to_managers)


@pytest.mark.maild_config({"sla.initial_response.1": "3s"})
def test_two_levels_each_sent_once_and_the_second_only_after_200_percent(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    set_levels(env, TWO_LEVELS)
    opened = open_case(env, imap_box, smtp_sink, cc=(BOB,))
    sleep_until(opened.finished + 3.1)
    env.run_once()
    level_one_done = time.time()
    assert level_one_done < opened.started + 6, "too slow: the first pass ran past the 200% threshold"
    counts = escalation_notices(smtp_sink, opened.number)
    assert counts == {(MANAGERS, 1): 1, (ALICE, 1): 1, (BOB, 1): 1}, counts
    assert escalation_levels(env.case(opened.number)) == [(1, "deadline")]

    sleep_until(opened.finished + 6.2)
    for _ in range(2):
        env.run_once()
    counts = escalation_notices(smtp_sink, opened.number)
    assert counts == {
        (MANAGERS, 1): 1,
        (ALICE, 1): 1,
        (BOB, 1): 1,
        (HEAD, 2): 1,  # level 2 has its own recipient list
        (ALICE, 2): 1,
        (BOB, 2): 1,
    }, counts
    case = env.case(opened.number)
    assert escalation_levels(case) == [(1, "deadline"), (2, "deadline")]
    created = parse_time(case["created_at"])
    assert parse_time(case["escalations"][1]["at"]) >= created + timedelta(seconds=6)


@pytest.mark.maild_config({"sla.initial_response.1": "3s"})
def test_an_agent_answer_between_the_levels_stops_the_second_one(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    set_levels(env, TWO_LEVELS)
    opened = open_case(env, imap_box, smtp_sink, cc=())
    sleep_until(opened.finished + 3.1)
    env.run_once()
    env.ok("case", "reply", opened.number, "--as", AGENT, "--body", "Looking into it now.")
    sleep_until(opened.finished + 6.2)
    for _ in range(2):
        env.run_once()
    counts = escalation_notices(smtp_sink, opened.number)
    assert counts == {(MANAGERS, 1): 1, (ALICE, 1): 1}, counts
    case = env.case(opened.number)
    assert escalation_levels(case) == [(1, "deadline")]
    assert case["first_responded_at"] is not None and case["status"] == "in_progress"


# ------------------------------------------------------------------ answered, closed, configured off


@pytest.mark.maild_config(
    {"sla.initial_response.1": "3s", "support.trusted_authserv_ids": ["mx.example.com"]}
)
def test_a_case_answered_before_the_deadline_is_never_escalated(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    by_cli = open_case(env, imap_box, smtp_sink, cc=(BOB,))
    by_email = open_case(env, imap_box, smtp_sink, subject="[Sev 1] Search is down", cc=(BOB,))
    env.ok("case", "reply", by_cli.number, "--as", AGENT, "--body", "We are on it.")
    subject = f"Re: [Case #{by_email.number}] Search is down"
    # An agent acts by email only with proof (SPEC §8): our MTA's DMARC verdict.
    proof = {"Authentication-Results": "mx.example.com; dmarc=pass header.from=example.com"}
    imap_box.append(message(AGENT, subject, "We are on it.\n", name="Agnes Agent", headers=proof))
    env.run_once()
    for opened in (by_cli, by_email):
        case = env.case(opened.number)
        assert case["first_responded_at"] is not None, "the agent's reply must stop the clock"
        assert parse_time(case["first_responded_at"]) <= parse_time(case["first_response_due_at"]), (
            "too slow: the answer came after the deadline"
        )
        assert case["status"] == "in_progress"
        assert [c["role"] for c in case["comments"]] == ["agent"]
    sleep_until(by_email.finished + 3.2)
    for _ in range(3):
        env.run_once()
    for opened in (by_cli, by_email):
        case = env.case(opened.number)
        assert case["escalations"] == [] and case["status"] == "in_progress"
    assert with_event(smtp_sink, "escalated") == []


@pytest.mark.maild_config(SEV1_2S)
def test_a_case_closed_before_the_deadline_is_never_escalated(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    opened = open_case(env, imap_box, smtp_sink, cc=(BOB,))
    env.ok("case", "close", opened.number, "--as", AGENT)
    sleep_until(opened.finished + 2.2)
    for _ in range(3):
        env.run_once()
    case = env.case(opened.number)
    assert case["status"] == "closed" and case["escalations"] == []
    assert with_event(smtp_sink, "closed"), "the close itself was notified"
    assert with_event(smtp_sink, "escalated") == []


@pytest.mark.maild_config({**SEV1_2S, "escalation.notify_contacts": False})
def test_without_notify_contacts_only_the_managers_are_notified(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    opened = open_case(env, imap_box, smtp_sink)
    sleep_until(opened.finished + 2.2)
    for _ in range(2):
        env.run_once()
    assert escalation_notices(smtp_sink, opened.number) == {(MANAGERS, 1): 1}
    assert escalation_levels(env.case(opened.number)) == [(1, "deadline")]


# ------------------------------------------------------------------ the daemon and several workers


@pytest.mark.maild_config(SEV1_2S)
def test_the_daemon_escalates_by_itself_once_and_not_again_after_a_restart(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    daemon = env.start_daemon("first")
    try:
        wait_until(lambda: "watching" in env.daemon_log("first"), timeout=30, what="the daemon to be ready")
        imap_box.append(message(ALICE, "[Sev 1] Checkout is down", BODY, cc=(BOB,)))
        numbers = wait_until(lambda: [c["number"] for c in env.cases()], timeout=15, what="the case")
        number = numbers[0]
        # Shown in whole seconds: the real deadline lies within the second after this.
        deadline = parse_time(env.case(number)["first_response_due_at"]).timestamp() + 1

        def managers_notified() -> bool:
            return any(r == MANAGERS for r, _ in with_event(smtp_sink, "escalated"))

        wait_until(
            managers_notified, timeout=max(deadline + 3 - time.time(), 1), what="the escalation notice"
        )
        assert time.time() <= deadline + 3.5, "the notice came more than ~3 s after the deadline"
        time.sleep(3)  # the deadline loop keeps scanning every second
        assert escalation_notices(smtp_sink, number) == {(MANAGERS, 1): 1, (ALICE, 1): 1, (BOB, 1): 1}
    finally:
        assert stop(daemon) == 0, env.daemon_log("first")
    daemon = env.start_daemon("second")
    try:
        wait_until(lambda: "watching" in env.daemon_log("second"), timeout=30, what="the restarted daemon")
        time.sleep(2.5)
    finally:
        assert stop(daemon, signal.SIGTERM) == 0, env.daemon_log("second")
    assert escalation_notices(smtp_sink, number) == {(MANAGERS, 1): 1, (ALICE, 1): 1, (BOB, 1): 1}
    assert escalation_levels(env.case(number)) == [(1, "deadline")]
    assert "Traceback" not in env.daemon_log("first") + env.daemon_log("second")


@pytest.mark.maild_config(SEV1_2S)
def test_concurrent_passes_on_postgres_send_each_level_once(
    pg_env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    set_levels(pg_env, TWO_LEVELS)
    opened = open_case(pg_env, imap_box, smtp_sink, cc=(BOB,))
    sleep_until(opened.finished + 2.1)
    passes_in_processes(pg_env, 3)  # three workers race for level 1
    sleep_until(opened.finished + 4.1)
    passes_in_processes(pg_env, 3)  # and for level 2, with level 1 already sent
    counts = escalation_notices(smtp_sink, opened.number)
    expected = {(r, 1): 1 for r in (MANAGERS, ALICE, BOB)} | {(r, 2): 1 for r in (HEAD, ALICE, BOB)}
    assert counts == expected, counts
    assert escalation_levels(pg_env.case(opened.number)) == [(1, "deadline"), (2, "deadline")]


@pytest.mark.maild_config(SEV1_2S)
def test_concurrent_passes_on_sqlite_send_the_notice_once(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    opened = open_case(env, imap_box, smtp_sink, cc=(BOB,))
    sleep_until(opened.finished + 2.1)
    passes_in_processes(env, 2)
    assert escalation_notices(smtp_sink, opened.number) == {(MANAGERS, 1): 1, (ALICE, 1): 1, (BOB, 1): 1}
    assert escalation_levels(env.case(opened.number)) == [(1, "deadline")]
