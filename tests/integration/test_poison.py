"""Poison messages (SPEC §8): a real daemon killed twice in the middle of one message.

The message is made to hang through the ingest test seam
(MAILD_FAULT_HANG_SUBJECT, see maild.daemon.ingest), so it is reliably in
processing when the test kills the daemon, as systemd's watchdog would kill
a worker stuck in an endless loop. Started a third time, the daemon must
quarantine it ("crashed the worker") without processing it, and go on with
the messages listed after it. Killed only once, it is simply tried again.
The messages of a claim that nobody started are processed together in one
transaction, so the first kill counts every message of the batch once; from
then on each goes alone and only the poison is counted again.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
from typing import Any

from tests.integration.env import ALICE, MaildEnv, message, stop, wait_until

POISON = "Poison pill"
FAULT = {"MAILD_FAULT_HANG_SUBJECT": POISON}
HANGING = "hanging on purpose"


def started_counts(env: MaildEnv) -> list[int]:
    """mailbox_work.attempts of every waiting message, read straight from the database file."""
    path = env.config["database"]["url"].split("///", 1)[1]
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as conn:
        return [int(n) for (n,) in conn.execute("SELECT attempts FROM mailbox_work ORDER BY id")]


def mailbox(imap_box: Any) -> None:
    imap_box.append_many(
        [
            message(ALICE, "Before the poison", "An ordinary request."),
            message(ALICE, f"{POISON} inside", "This one never finishes."),
            message(ALICE, "After the poison 1", "Listed after it."),
            message(ALICE, "After the poison 2", "Listed after it too."),
        ]
    )


def kill_while_hanging(env: MaildEnv, name: str) -> subprocess.Popen[bytes]:
    daemon = env.start_daemon(name, extra_env=FAULT)
    try:
        wait_until(lambda: HANGING in env.daemon_log(name), timeout=60, what=f"{name}: the poison in hand")
    finally:
        stop(daemon, signal.SIGKILL)
    return daemon


def subjects(env: MaildEnv) -> list[str]:
    return sorted(c["subject"] for c in env.cases())


def test_a_message_that_killed_the_worker_twice_is_quarantined_and_the_mailbox_goes_on(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    mailbox(imap_box)
    kill_while_hanging(env, "first")
    # The four were processed together, their starts committed first in one
    # transaction: the kill left no case and counted each of them once.
    assert subjects(env) == []
    assert started_counts(env) == [1, 1, 1, 1]
    kill_while_hanging(env, "second")
    # Started before, each now goes alone: the first finished, the poison's second start.
    assert subjects(env) == ["Before the poison"]
    assert started_counts(env) == [2, 1, 1], "the poison's second start, no other"

    third = env.start_daemon("third", extra_env=FAULT)  # the seam still set: it must not process it
    try:
        wait_until(lambda: len(env.cases()) == 3, timeout=60, what="the messages after the poison")
        wait_until(
            lambda: imap_box.count("maild-failed") == 1, timeout=30, what="the poison in the failed folder"
        )
    finally:
        assert stop(third) == 0, env.daemon_log("third")
    log = env.daemon_log("third")
    assert HANGING not in log and "Traceback" not in log, log
    assert subjects(env) == ["After the poison 1", "After the poison 2", "Before the poison"]
    (q,) = env.ok("inbound", "list", "--outcome", "quarantined", "--json").json()
    assert q["reason"].startswith("crashed the worker"), q["reason"]
    kept = env.run_process("inbound", "raw", str(q["id"]))
    assert f"Subject: {POISON} inside".encode() in kept, "kept with its bytes"
    assert started_counts(env) == [], "nothing left waiting"
    assert imap_box.count() == 3
    assert len(smtp_sink.messages()) == 3, "one acknowledgement per case, none for the poison"


def test_a_message_killed_only_once_is_tried_again_and_processed(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    mailbox(imap_box)
    kill_while_hanging(env, "first")
    assert started_counts(env) == [1, 1, 1, 1]
    again = env.start_daemon("second")  # without the seam: the message is fine this time
    try:
        wait_until(lambda: len(env.cases()) == 4, timeout=60, what="every message, the killed one too")
    finally:
        assert stop(again) == 0, env.daemon_log("second")
    assert f"{POISON} inside" in subjects(env)
    assert env.ok("inbound", "list", "--outcome", "quarantined", "--json").json() == []
    assert "maild-failed" not in imap_box.folders() or imap_box.count("maild-failed") == 0


def test_memory_and_recursion_errors_are_quarantined_in_process(
    env: MaildEnv, imap_box: Any, smtp_sink: Any, monkeypatch: Any
) -> None:
    """What the worker survives is no crash: kept with its reason at the first try, like any error."""
    import maild.daemon.ingest

    real_parse = maild.daemon.ingest.parse_message

    def parse(raw: bytes, **kwargs: Any) -> Any:
        if b"Subject: Memory hog" in raw:
            raise MemoryError("cannot allocate")
        if b"Subject: Deep nesting" in raw:
            raise RecursionError("maximum recursion depth exceeded")
        return real_parse(raw, **kwargs)

    monkeypatch.setattr(maild.daemon.ingest, "parse_message", parse)
    imap_box.append_many(
        [message(ALICE, s, "x") for s in ("Memory hog", "Deep nesting", "An ordinary request")]
    )
    report = env.run_once()
    assert "Traceback" not in report.err
    reasons = sorted(
        q["reason"] for q in env.ok("inbound", "list", "--outcome", "quarantined", "--json").json()
    )
    assert [r.split(":")[0] for r in reasons] == ["MemoryError", "RecursionError"], reasons
    assert subjects(env) == ["An ordinary request"]
    assert imap_box.count("maild-failed") == 2
