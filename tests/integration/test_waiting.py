"""Waiting on the customer end to end (SPEC §11): the reminder, the automatic close, and what stops them.

Real Dovecot in, real SMTP sink out, the command line and real `maild run`
processes in between; results are read only through `case show --json` and
what the sink received, and every message the sink took is counted by
recipient and event, because the risks are a second reminder, a reminder to
the wrong people, and a close that happens twice or never.

The targets are a few seconds so the clocks really run. A case's wait
begins somewhere inside the command that starts it, so every wait here is
measured from the right end of that command (`Wait`): the earliest instant
a timer can be due is `before + target`, the latest `after + target`.
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.integration.deadlines import open_case, parse_time, passes_in_processes, sleep_until
from tests.integration.env import (
    AGENT,
    ALICE,
    BOB,
    MANAGERS,
    OPS,
    MaildEnv,
    message,
    reply_address_of,
    reply_to_note,
    stop,
    text_of,
    wait_until,
)

TEAM = "support-team@example.com"  # support.agent_address: the team's copy of every case notice
TRUSTED = "mx.example.com"
PROVEN = {"Authentication-Results": f"{TRUSTED}; dmarc=pass header.from=example.com"}
REMIND, CLOSE = 3.0, 9.0  # seconds; far enough apart that a slow pass still lands between them
FAST = {"1": "2s", "2": "2s", "3": "2s", "4": "2s"}
WAITING: dict[str, Any] = {
    "support.agent_address": TEAM,
    "support.trusted_authserv_ids": [TRUSTED],
    "sla.initial_response": FAST,  # an unanswered case would escalate within two seconds
    "sla.next_response": FAST,
    "sla.waiting_reminder": f"{REMIND:g}s",
    "sla.auto_close_after": f"{CLOSE:g}s",
}
CLOCK_EVENTS = ("waiting_reminder", "auto_closed", "escalated", "deadline_warning")


@dataclass(frozen=True)
class Wait:
    """The wall-clock instants around the command that started a wait: waiting_since lies between."""

    before: float
    after: float

    def remind(self) -> None:
        """Sleep until the reminder is due whatever the exact start."""
        sleep_until(self.after + REMIND + 0.1)

    def close(self) -> None:
        sleep_until(self.after + CLOSE + 0.1)

    def still_before_close(self) -> bool:
        return time.time() < self.before + CLOSE


def sent(sink: Any, number: str | None = None) -> Counter[tuple[str, str]]:
    """(recipient, event) -> how many messages the sink took, for one case or all."""
    return Counter(
        (r.lower(), str(m.msg["X-Maild-Event"]))
        for m in sink.messages()
        if number is None or m.msg["X-Maild-Case"] == number
        for r in m.rcpt_tos
    )


def clock_notices(sink: Any, number: str | None = None) -> Counter[tuple[str, str]]:
    """sent(), only the events the response clocks and the wait send."""
    return Counter({k: n for k, n in sent(sink, number).items() if k[1] in CLOCK_EVENTS})


def messages(sink: Any, rcpt: str, event: str) -> list[Any]:
    return [
        m.msg for m in sink.messages() if m.msg["X-Maild-Event"] == event for r in m.rcpt_tos if r == rcpt
    ]


def agent_mail(number: str, text: str) -> bytes:
    """An agent's reply proven by our MTA's DMARC verdict (SPEC §8): its commands count."""
    return message(AGENT, f"Re: [Case #{number}] Checkout is down", text, name="Agnes Agent", headers=PROVEN)


def wait_by_email(env: MaildEnv, imap: Any, number: str) -> Wait:
    """`#waiting` alone at the top of the agent's mail: only the status changes."""
    imap.append(agent_mail(number, "#waiting\n"))
    before = time.time()
    env.run_once()
    return Wait(before, time.time())


def wait_by_cli(env: MaildEnv, number: str, body: str = "Could you send us the server logs?") -> Wait:
    before = time.time()
    env.ok("case", "reply", number, "--as", AGENT, "--waiting", "--body", body)
    after = time.time()
    env.run_once()  # the reply's own notices go out now, long before any timer
    return Wait(before, after)


def everyone(owner: str | None = None) -> set[str]:
    """The sharing settings of open_case's cases (cc Bob and ops), the team's copy, and the owner."""
    return {ALICE, BOB, OPS, TEAM} | ({owner} if owner else set())


# ------------------------------------------------------------------ 1. the reminder and the close


@pytest.mark.maild_config(WAITING)
@pytest.mark.parametrize("how", ["email", "cli", "email after a follow-up"])
def test_a_waiting_case_gets_one_reminder_to_the_primary_contact_then_closes_once(
    env: MaildEnv, imap_box: Any, smtp_sink: Any, how: str
) -> None:
    opened = open_case(env, imap_box, smtp_sink)
    if how == "email after a follow-up":  # answered, then the customer's follow-up starts a 2 s clock
        env.ok("case", "reply", opened.number, "--as", AGENT, "--body", "We are looking into it.")
        env.run_once()
        (note,) = messages(smtp_sink, ALICE, "comment_added")
        imap_box.append(reply_to_note(note, ALICE, "Any news?"))
        env.run_once()
        assert env.case(opened.number)["next_response_due_at"] is not None
    wait = wait_by_cli(env, opened.number) if how == "cli" else wait_by_email(env, imap_box, opened.number)
    case = env.case(opened.number)
    assert case["status"] == "waiting_on_customer", case["status"]
    assert case["next_response_due_at"] is None, "no response clock runs while waiting"
    # Never answered: its two-second first-response clock stopped too.
    assert (case["first_responded_at"] is None) == (how == "email")
    owner = case["owner"]
    assert owner == (None if how == "email" else AGENT)
    assert clock_notices(smtp_sink) == {}
    smtp_sink.clear()

    wait.remind()
    env.run_once()
    assert wait.still_before_close(), "too slow: the pass ran past the automatic close"
    env.run_once()
    assert sent(smtp_sink) == {(ALICE, "waiting_reminder"): 1}, sent(smtp_sink)
    (reminder,) = messages(smtp_sink, ALICE, "waiting_reminder")
    assert reminder["X-Maild-Case"] == opened.number
    assert f"[Case #{opened.number}]" in str(reminder["Subject"])
    assert reply_address_of(reminder), "the reminder must be answerable"
    assert env.case(opened.number)["status"] == "waiting_on_customer"

    wait.close()
    for _ in range(3):
        env.run_once()
    case = env.case(opened.number)
    assert case["status"] == "closed" and case["closed_at"] is not None
    assert case["escalations"] == [], "no response clock runs while waiting"
    expected = Counter({(ALICE, "waiting_reminder"): 1}) + Counter(
        {(r, "auto_closed"): 1 for r in everyone(owner)}
    )
    assert sent(smtp_sink) == expected, sent(smtp_sink)
    assert {m.msg["X-Maild-Case"] for m in smtp_sink.messages()} == {opened.number}


# ------------------------------------------------------------------ 2. the customer answers


@pytest.mark.maild_config({**WAITING, "sla.next_response": {"1": "1h"}})
def test_a_collaborators_reply_before_the_reminder_ends_the_wait_and_starts_the_next_response_clock(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    opened = open_case(env, imap_box, smtp_sink)
    wait_by_cli(env, opened.number)
    (note,) = messages(smtp_sink, BOB, "comment_added")  # any contact's reply, not only the primary's
    smtp_sink.clear()
    imap_box.append(reply_to_note(note, BOB, "Here are the logs you asked for."))
    before = time.time()
    env.run_once()
    after = time.time()
    case = env.case(opened.number)
    assert case["status"] == "in_progress"
    assert [c["author"] for c in case["comments"]] == [AGENT, BOB]
    due = parse_time(case["next_response_due_at"])
    earliest = datetime.fromtimestamp(before, UTC) + timedelta(hours=1)
    latest = datetime.fromtimestamp(after, UTC) + timedelta(hours=1)
    assert earliest - timedelta(seconds=1) <= due <= latest, (due, earliest, latest)

    sleep_until(after + CLOSE + 0.5)  # past both timers of the wait that ended
    for _ in range(3):
        env.run_once()
    case = env.case(opened.number)
    assert case["status"] == "in_progress" and case["escalations"] == []
    assert clock_notices(smtp_sink) == {}, sent(smtp_sink)


@pytest.mark.maild_config({**WAITING, "sla.next_response": {"1": "2s"}})
def test_a_reply_to_the_reminder_threads_back_reopens_the_work_and_cancels_the_close(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    opened = open_case(env, imap_box, smtp_sink)
    wait = wait_by_cli(env, opened.number)
    smtp_sink.clear()
    wait.remind()
    env.run_once()
    assert wait.still_before_close(), "too slow: the pass ran past the automatic close"
    (reminder,) = messages(smtp_sink, ALICE, "waiting_reminder")
    assert opened.number in text_of(reminder)
    imap_box.append(reply_to_note(reminder, ALICE, "Sorry for the delay, the logs are attached."))
    env.run_once()
    replied = time.time()
    assert wait.still_before_close(), "too slow: the reply came after the automatic close"
    case = env.case(opened.number)
    assert case["status"] == "in_progress"
    assert [(c["author"], c["role"]) for c in case["comments"]][-1][0] == ALICE
    assert case["next_response_due_at"] is not None, "the customer's answer starts the next-response clock"

    # The next-response clock runs (two seconds): one escalation; the wait's close never comes.
    sleep_until(max(replied + 2.5, wait.after + CLOSE + 0.5))
    for _ in range(3):
        env.run_once()
    case = env.case(opened.number)
    assert case["status"] == "in_progress"
    assert [(e["level"], e["reason"]) for e in case["escalations"]] == [(1, "next_response")]
    expected = Counter({(ALICE, "waiting_reminder"): 1}) + Counter(
        {(r, "escalated"): 1 for r in (MANAGERS, AGENT, *everyone())}
    )
    got = clock_notices(smtp_sink)
    assert got == expected, got


@pytest.mark.maild_config(WAITING)
def test_asking_again_after_the_reminder_starts_a_new_wait_with_its_own_reminder_and_close(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    opened = open_case(env, imap_box, smtp_sink)
    first = wait_by_cli(env, opened.number)
    smtp_sink.clear()
    first.remind()
    env.run_once()
    assert sent(smtp_sink) == {(ALICE, "waiting_reminder"): 1}, sent(smtp_sink)
    second = wait_by_cli(env, opened.number, "Thanks, and which version do you run?")
    assert first.still_before_close(), "too slow: the second question came after the first close was due"
    smtp_sink.clear()

    first.close()  # the first wait's close is due now, the second's not yet
    env.run_once()
    assert second.still_before_close(), "too slow: the pass ran past the second wait's close"
    assert env.case(opened.number)["status"] == "waiting_on_customer"
    assert sent(smtp_sink) == {(ALICE, "waiting_reminder"): 1}, "only the second wait's reminder"

    second.close()
    for _ in range(2):
        env.run_once()
    assert env.case(opened.number)["status"] == "closed"
    expected = Counter({(ALICE, "waiting_reminder"): 1}) + Counter(
        {(r, "auto_closed"): 1 for r in everyone(AGENT)}
    )
    assert sent(smtp_sink) == expected, sent(smtp_sink)


# ------------------------------------------------------------------ 3. off when unset


@pytest.mark.maild_config({**WAITING, "sla.waiting_reminder": None, "sla.auto_close_after": None})
def test_without_the_settings_a_waiting_case_waits_forever(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    opened = open_case(env, imap_box, smtp_sink)
    wait = wait_by_cli(env, opened.number)
    smtp_sink.clear()
    # Past what would be the reminder's time and every two-second response target: with both
    # settings off nothing is scheduled at all (no timer), so waiting longer would prove nothing more.
    sleep_until(wait.after + REMIND + 1)
    for _ in range(3):
        env.run_once()
    case = env.case(opened.number)
    assert case["status"] == "waiting_on_customer" and case["escalations"] == []
    assert sent(smtp_sink) == {}, sent(smtp_sink)


def waited_past_the_close(env: MaildEnv, imap: Any, sink: Any) -> tuple[str, Counter[tuple[str, str]]]:
    """A case waiting on the customer well past both timers: its status and what the sink received."""
    opened = open_case(env, imap, sink)
    wait = wait_by_cli(env, opened.number)
    sink.clear()
    wait.close()
    for _ in range(3):
        env.run_once()
    return env.case(opened.number)["status"], sent(sink)


@pytest.mark.maild_config({**WAITING, "sla.auto_close_after": None})
def test_a_reminder_without_an_automatic_close(env: MaildEnv, imap_box: Any, smtp_sink: Any) -> None:
    status, got = waited_past_the_close(env, imap_box, smtp_sink)
    assert status == "waiting_on_customer"
    assert got == {(ALICE, "waiting_reminder"): 1}, got


@pytest.mark.maild_config({**WAITING, "sla.waiting_reminder": None})
def test_an_automatic_close_without_a_reminder(env: MaildEnv, imap_box: Any, smtp_sink: Any) -> None:
    status, got = waited_past_the_close(env, imap_box, smtp_sink)
    assert status == "closed"
    assert got == {(r, "auto_closed"): 1 for r in everyone(AGENT)}, got


# ------------------------------------------------------------------ 4. the daemon: killed, restarted, late


@pytest.mark.maild_config(WAITING)
def test_a_daemon_killed_after_the_reminder_closes_once_after_a_restart_without_a_second_reminder(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    opened = open_case(env, imap_box, smtp_sink)
    daemon = env.start_daemon("first")
    try:
        wait_until(lambda: "watching" in env.daemon_log("first"), timeout=60, what="the daemon to be ready")
        smtp_sink.clear()
        wait = wait_by_cli(env, opened.number)

        def reminder_recorded_as_sent() -> bool:
            rows = [r for r in env.outbox() if r.event == "waiting_reminder"]
            return bool(rows) and all(r.status == "sent" for r in rows)

        wait_until(reminder_recorded_as_sent, timeout=60, what="the reminder to be sent")
    finally:
        stop(daemon, signal.SIGKILL)
    assert sent(smtp_sink)[(ALICE, "waiting_reminder")] == 1
    daemon = env.start_daemon("second")
    try:
        wait_until(
            lambda: env.case(opened.number)["status"] == "closed",
            timeout=max(wait.after + CLOSE + 60 - time.time(), 1),
            what="the automatic close",
        )
        wait_until(
            lambda: all(r.status == "sent" for r in env.outbox()), timeout=60, what="every notice sent"
        )
        time.sleep(3)  # the deadline loop keeps scanning every second
    finally:
        assert stop(daemon) == 0, env.daemon_log("second")
    expected = Counter({(ALICE, "waiting_reminder"): 1}) + Counter(
        {(r, "auto_closed"): 1 for r in everyone(AGENT)}
    )
    got = clock_notices(smtp_sink)
    assert got == expected, got
    assert "Traceback" not in env.daemon_log("first") + env.daemon_log("second")


@pytest.mark.maild_config(WAITING)
def test_a_daemon_started_after_the_close_was_due_sends_only_the_close(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    opened = open_case(env, imap_box, smtp_sink)
    wait = wait_by_cli(env, opened.number)
    smtp_sink.clear()
    wait.close()
    daemon = env.start_daemon()
    try:
        wait_until(lambda: env.case(opened.number)["status"] == "closed", timeout=60, what="the close")
        wait_until(
            lambda: all(r.status == "sent" for r in env.outbox()), timeout=60, what="every notice sent"
        )
        time.sleep(3)
    finally:
        assert stop(daemon) == 0, env.daemon_log()
    assert sent(smtp_sink) == {(r, "auto_closed"): 1 for r in everyone(AGENT)}, sent(smtp_sink)
    assert "Traceback" not in env.daemon_log()


# ------------------------------------------------------------------ 5. several workers on PostgreSQL

PG_CLOSE = 14.0  # ten `case reply` commands in a row, then racing processes: more room before the close


@pytest.mark.maild_config(
    {
        **WAITING,
        "sla.initial_response": {"1": "1h", "2": "1h", "3": "1h", "4": "1h"},
        "sla.next_response": {"1": "3s", "2": "3s", "3": "3s", "4": "3s"},
        "sla.auto_close_after": f"{PG_CLOSE:g}s",
    }
)
def test_racing_workers_on_postgres_send_each_reminder_close_and_escalation_once(
    pg_env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    env = pg_env
    subjects = [f"Checkout is down in region {i}" for i in range(14)]
    imap_box.append_many([message(ALICE, s, "Every checkout fails.\n", cc=(BOB,)) for s in subjects])
    env.run_once()
    numbers = sorted(c["number"] for c in env.cases())
    assert len(numbers) == len(subjects)
    waiting, followed = numbers[:10], numbers[10:]

    # Four cases answered, then the customer writes again: a next-response clock each.
    for number in followed:
        env.ok("case", "reply", number, "--as", AGENT, "--body", "We are looking into it.")
    env.run_once()
    notes = {m["X-Maild-Case"]: m for m in messages(smtp_sink, ALICE, "comment_added")}
    imap_box.append_many([reply_to_note(notes[n], ALICE, "Any news?") for n in followed])
    env.run_once()
    assert all(env.case(n)["next_response_due_at"] for n in followed)

    # Ten cases waiting at once.
    before = time.time()
    for number in waiting:
        env.ok("case", "reply", number, "--as", AGENT, "--waiting", "--body", "Which browser do you use?")
    after = time.time()
    env.run_once()
    assert {env.case(n)["status"] for n in waiting} == {"waiting_on_customer"}
    # The sink is not cleared: a next-response escalation may already be out (the clocks run).

    sleep_until(after + REMIND + 0.1)
    passes_in_processes(env, 3)
    assert time.time() < before + PG_CLOSE, "too slow: the racing passes ran past the automatic close"
    passes_in_processes(env, 3)
    sleep_until(after + PG_CLOSE + 0.1)
    passes_in_processes(env, 3)
    passes_in_processes(env, 2)

    for number in waiting:
        case = env.case(number)
        assert case["status"] == "closed" and case["escalations"] == [], number
        expected = Counter({(ALICE, "waiting_reminder"): 1}) + Counter(
            {(r, "auto_closed"): 1 for r in (ALICE, BOB, TEAM, AGENT)}
        )
        assert clock_notices(smtp_sink, number) == expected, (number, sent(smtp_sink, number))
    for number in followed:
        case = env.case(number)
        assert case["status"] == "in_progress", number
        assert [(e["level"], e["reason"]) for e in case["escalations"]] == [(1, "next_response")], number
        expected = Counter({(r, "escalated"): 1 for r in (MANAGERS, ALICE, BOB, TEAM, AGENT)})
        assert clock_notices(smtp_sink, number) == expected, (number, sent(smtp_sink, number))


@pytest.mark.maild_config({**WAITING, "sla.initial_response": {"1": "1h", "2": "1h", "3": "1h", "4": "1h"}})
def test_two_daemons_on_postgres_remind_and_close_each_waiting_case_once(
    pg_env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    env = pg_env
    imap_box.append_many([message(ALICE, f"Export {i} fails", "It fails.\n", cc=(BOB,)) for i in range(6)])
    env.run_once()
    numbers = sorted(c["number"] for c in env.cases())
    assert len(numbers) == 6
    daemons = {name: env.start_daemon(name) for name in ("one", "two")}
    try:
        for name in daemons:  # one lists the mailbox ("watching"), the other "helping"
            ready = lambda n=name: any(w in env.daemon_log(n) for w in ("watching", "helping"))  # noqa: E731
            wait_until(ready, timeout=60, what=f"daemon {name}")
        for number in numbers:
            env.ok("case", "reply", number, "--as", AGENT, "--waiting", "--body", "Which file do you export?")
        wait_until(
            lambda: {env.case(n)["status"] for n in numbers} == {"closed"},
            timeout=CLOSE + 90,
            what="every case closed",
        )
        wait_until(
            lambda: all(r.status == "sent" for r in env.outbox()), timeout=60, what="every notice sent"
        )
        time.sleep(3)  # both deadline loops keep scanning every second
    finally:
        codes = {name: stop(proc) for name, proc in daemons.items()}
    assert codes == {"one": 0, "two": 0}, env.daemon_log("one") + env.daemon_log("two")
    for number in numbers:
        expected = Counter({(ALICE, "waiting_reminder"): 1}) + Counter(
            {(r, "auto_closed"): 1 for r in (ALICE, BOB, TEAM, AGENT)}
        )
        assert clock_notices(smtp_sink, number) == expected, (number, sent(smtp_sink, number))
    assert "Traceback" not in env.daemon_log("one") + env.daemon_log("two")


# ------------------------------------------------------------------ 6. business hours


def closed_all_week_but(days_ahead: int) -> dict[str, str]:
    """[sla.hours] open one hour on the weekday `days_ahead` from today (UTC): closed now and tomorrow."""
    names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    day = names[(datetime.now(UTC).weekday() + days_ahead) % 7]
    return {day: "09:00-10:00"}


@pytest.mark.maild_config({**WAITING, "sla.timezone": "UTC", "sla.hours": closed_all_week_but(3)})
def test_outside_business_hours_the_waiting_clock_does_not_run(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    opened = open_case(env, imap_box, smtp_sink)
    wait = wait_by_cli(env, opened.number)
    smtp_sink.clear()
    sleep_until(wait.after + CLOSE + 1)  # both targets have passed in wall time, none in open hours
    for _ in range(3):
        env.run_once()
    case = env.case(opened.number)
    assert case["status"] == "waiting_on_customer" and case["closed_at"] is None
    assert sent(smtp_sink) == {}, sent(smtp_sink)


# ------------------------------------------------------------- 7. a wait pauses an unanswered case's clock


@pytest.mark.maild_config(
    {**WAITING, "sla.initial_response": {"1": "6s"}, "sla.waiting_reminder": "", "sla.auto_close_after": ""}
)
def test_a_wait_on_an_unanswered_case_pauses_its_first_response_clock_and_a_reply_resumes_it(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    opened = open_case(env, imap_box, smtp_sink)
    first_due = parse_time(env.case(opened.number)["first_response_due_at"])
    wait_by_email(env, imap_box, opened.number)
    (note,) = messages(smtp_sink, ALICE, "status_changed")
    waiting = env.case(opened.number)
    assert waiting["status"] == "waiting_on_customer" and waiting["first_responded_at"] is None
    since = parse_time(waiting["waiting_since"])
    assert since < first_due + timedelta(seconds=1), "too slow: the wait began after the deadline"
    smtp_sink.clear()

    sleep_until(first_due.timestamp() + 3)  # well past the deadline the case had before it waited
    env.run_once()
    assert env.case(opened.number)["escalations"] == [], "no response clock runs while waiting"

    imap_box.append(reply_to_note(note, ALICE, "Here are the logs you asked for."))
    replied = time.time()
    env.run_once()
    case = env.case(opened.number)
    assert case["status"] == "in_progress", "any contact's reply returns the case to in_progress"
    assert case["first_responded_at"] is None and case["escalations"] == []
    resumed = parse_time(case["first_response_due_at"])
    # What was left when the wait began is left again from the reply (shown in whole seconds).
    left = first_due - since
    assert resumed > first_due + timedelta(seconds=2), (first_due, resumed)
    assert resumed <= datetime.fromtimestamp(time.time(), UTC) + left + timedelta(seconds=2)
    assert resumed >= datetime.fromtimestamp(replied, UTC) + left - timedelta(seconds=2)

    sleep_until(resumed.timestamp() + 1.2)
    for _ in range(2):
        env.run_once()
    case = env.case(opened.number)
    assert [(e["level"], e["reason"]) for e in case["escalations"]] == [(1, "deadline")]
    assert Counter(r for (r, event) in sent(smtp_sink) if event == "escalated") == Counter(
        {MANAGERS: 1, ALICE: 1, BOB: 1, OPS: 1, TEAM: 1}
    ), sent(smtp_sink)
