"""Helpers for the deadline tests (test_deadlines.py, test_escalate.py): open a case, count notices.

Results are read only through the public interface: `case show --json` and
what the SMTP sink received. Targets in these tests are a few seconds, so
the clock really runs; `sleep_until` waits for a wall-clock instant rather
than asserting on one.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime
from typing import Any

from tests.integration.env import (
    ALICE,
    BOB,
    OPS,
    MaildEnv,
    message,
    reply_to_note,
    to_toml,
    toml_value,
)

HEAD = "head@example.com"
SEV1_2S = {"sla.initial_response.1": "2s"}
TWO_LEVELS = [{"percent": 100}, {"percent": 200, "recipients": [HEAD]}]
LEVEL = re.compile(r"(?:level |レベル)(\d+)")
BODY = "Checkout returns HTTP 500 for every customer since 09:00.\n\nRegards,\nAlice\n"


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


# ------------------------------------------------------------------ after the first response (test_followup)

FOLLOW_UP = "It still fails after your change: the same HTTP 500 on checkout.\n\nAlice\n"


def tally(sink: Any, number: str | None = None) -> Counter[tuple[str, str]]:
    """How many messages each (recipient, X-Maild-Event) received: every one the sink took, or one case's."""
    return Counter(
        (r.lower(), str(m.msg.get("X-Maild-Event", "")))
        for m in sink.messages()
        if number is None or m.msg["X-Maild-Case"] == number
        for r in m.rcpt_tos
    )


def each(event: str, *recipients: str) -> Counter[tuple[str, str]]:
    """One `event` message to each of `recipients`: the expected side of a tally()."""
    return Counter({(r, event): 1 for r in recipients})


def follow_up(
    env: MaildEnv, imap: Any, note: Any, sender: str = ALICE, text: str = FOLLOW_UP
) -> tuple[float, float]:
    """A contact's reply by e-mail to `note` (a notification they got), taken in by one pass.

    Returns the instants around the pass: the comment is stored between
    them, so a deadline it starts lies between them plus the target.
    """
    imap.append(reply_to_note(note, sender, text))
    started = time.time()
    env.run_once()
    return started, time.time()


def due_of(case: dict[str, Any], field: str) -> float:
    """The latest instant a deadline shown in whole seconds may really be (it lies in the second after)."""
    value = case[field]
    assert value is not None, f"{field} is not set: {case}"
    return parse_time(value).timestamp() + 1
