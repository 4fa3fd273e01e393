"""Deadlines end to end: the initial-response clock, escalation notices once per level, #escalate.

Real Dovecot in, real SMTP sink out, the command line and real `maild run`
processes in between; results are read only through `case show --json` and
what the sink received. Targets are a few seconds so the clock really runs.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.integration.env import (
    AGENT,
    ALICE,
    BOB,
    MANAGERS,
    OPS,
    YAMADA,
    MaildEnv,
    message,
    reply_to_note,
    stop,
    text_of,
    to_toml,
    toml_value,
    wait_until,
)

HEAD = "head@example.com"
SEV1_2S = {"sla.initial_response.1": "2s"}
TWO_LEVELS = [{"percent": 100}, {"percent": 200, "recipients": [HEAD]}]
LEVEL = re.compile(r"(?:level |レベル)(\d+)")
BODY = "Checkout returns HTTP 500 for every customer since 09:00.\n\nRegards,\nAlice\n"


# ------------------------------------------------------------------ helpers


def parse_time(value: str) -> datetime:
    assert value.endswith("Z"), value
    return datetime.fromisoformat(value[:-1] + "+00:00")


def set_levels(env: MaildEnv, levels: list[dict[str, Any]]) -> None:
    """Write `[escalation] levels = [{…}, …]` (env.to_toml has no inline tables) and validate it."""
    config = {k: (dict(v) if isinstance(v, dict) else v) for k, v in env.config.items()}
    config["escalation"].pop("levels", None)
    inline = ", ".join(
        "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in level.items()) + " }" for level in levels
    )
    text = to_toml(config)
    assert "[escalation]\n" in text
    env.config_path.write_text(
        text.replace("[escalation]\n", f"[escalation]\nlevels = [{inline}]\n", 1), encoding="utf-8"
    )
    env.ok("check-config")


def sleep_until(moment: float) -> None:
    delay = moment - time.time()
    if delay > 0:
        time.sleep(delay)


class Opened:
    """A case opened by one `run --once`: its number, its acknowledgements, and when it was opened."""

    def __init__(self, number: str, acks: dict[str, list[Any]], started: float, finished: float) -> None:
        self.number = number
        self.acks = acks
        self.started = started  # created_at lies between these two wall-clock instants
        self.finished = finished

    def ack(self, rcpt: str) -> Any:
        assert len(self.acks[rcpt]) == 1, self.acks
        return self.acks[rcpt][0].msg


def open_case(
    env: MaildEnv,
    imap: Any,
    sink: Any,
    subject: str = "[Sev 1] Checkout is down",
    cc: tuple[str, ...] = (BOB, OPS),
    sender: str = ALICE,
) -> Opened:
    before = {c["number"] for c in env.cases()}
    sink.clear()
    imap.append(message(sender, subject, BODY, cc=cc))
    started = time.time()
    env.run_once()
    finished = time.time()
    new = {c["number"] for c in env.cases()} - before
    assert len(new) == 1, f"expected one new case, got {new}"
    acks: dict[str, list[Any]] = {}
    for m in sink.messages():
        for r in m.rcpt_tos:
            acks.setdefault(r.lower(), []).append(m)
    return Opened(new.pop(), acks, started, finished)


def with_event(sink: Any, event: str) -> list[tuple[str, Any]]:
    """(recipient, message) for every message of one X-Maild-Event the sink received."""
    return [
        (r.lower(), m.msg) for m in sink.messages() if m.msg["X-Maild-Event"] == event for r in m.rcpt_tos
    ]


def escalation_notices(sink: Any, number: str) -> Counter[tuple[str, int]]:
    """How many escalated notices each (recipient, level) received."""
    counts: Counter[tuple[str, int]] = Counter()
    for rcpt, msg in with_event(sink, "escalated"):
        assert msg["X-Maild-Case"] == number, msg["X-Maild-Case"]
        level = LEVEL.search(str(msg["Subject"]))
        assert level, msg["Subject"]
        counts[(rcpt, int(level.group(1)))] += 1
    return counts


def passes_in_processes(env: MaildEnv, workers: int = 2) -> None:
    """`workers` real `maild run --once` processes started together; each must exit 0."""
    cmd = [sys.executable, "-m", "maild", "--config", str(env.config_path), "run", "--once"]
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MAILD_")}
    procs = [
        subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=environ
        )
        for _ in range(workers)
    ]
    outputs = [p.communicate(timeout=60) for p in procs]
    for p, (_out, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err.decode(errors="replace")


def escalation_levels(case: dict[str, Any]) -> list[tuple[int, str]]:
    return [(e["level"], e["reason"]) for e in case["escalations"]]


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


# ------------------------------------------------------------------ #escalate


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
