"""Servers going away under a running daemon: it waits, recovers by itself, and loses or doubles nothing."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from tests.integration.env import ALICE, BOB, MaildEnv, message, stop, wait_until


def test_imap_server_restart_under_the_daemon(env: MaildEnv, imap_box: Any, smtp_sink: Any) -> None:
    daemon = env.start_daemon()
    try:
        wait_until(lambda: "watching" in env.daemon_log(), timeout=30, what="the daemon")
        imap_box.append(message(ALICE, "Before the outage", "x"))
        wait_until(lambda: len(env.cases()) == 1, timeout=30, what="the first case")
        time.sleep(1.0)  # the daemon is now waiting in IDLE: the shutdown's BYE arrives there
        imap_box.stop()
        time.sleep(4)  # several reconnect attempts fail meanwhile
        imap_box.start()
        imap_box.append_many([message(ALICE, f"After the outage {i}", "x", cc=(BOB,)) for i in range(3)])
        wait_until(lambda: len(env.cases()) == 4, timeout=90, what="recovery after the IMAP restart")
        wait_until(lambda: len(smtp_sink.messages()) == 7, timeout=30, what="all acknowledgements")
        assert daemon.poll() is None
    finally:
        assert stop(daemon) == 0
    log = env.daemon_log()
    assert "Traceback" not in log
    assert log.count("mailbox unavailable") <= 2, "logged once per state change, not once per attempt"
    assert Counter(m.rcpt_tos[0] for m in smtp_sink.messages()) == {ALICE: 4, BOB: 3}


def test_smtp_server_down_then_back_delivers_everything_once(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    env.set("outbox.retry_initial", "1s")
    env.set("outbox.retry_max", "2s")
    daemon = env.start_daemon()
    try:
        wait_until(lambda: "watching" in env.daemon_log(), timeout=30, what="the daemon")
        smtp_sink.stop()
        imap_box.append_many([message(ALICE, f"While SMTP is down {i}", "x", cc=(BOB,)) for i in range(3)])
        wait_until(lambda: len(env.cases()) == 3, timeout=30, what="cases to open while SMTP is down")
        wait_until(
            lambda: env.ok("status", "--json").json()["outbox"]["pending"] == 6,
            timeout=10,
            what="six queued notifications",
        )
        time.sleep(2)
        smtp_sink.start()
        wait_until(lambda: len(smtp_sink.messages()) >= 6, timeout=60, what="delivery after SMTP is back")
        time.sleep(2)
        assert daemon.poll() is None
    finally:
        assert stop(daemon) == 0
    assert Counter(m.rcpt_tos[0] for m in smtp_sink.messages()) == {ALICE: 3, BOB: 3}
    assert env.ok("status", "--json").json()["outbox"]["pending"] == 0


def test_database_unavailable_for_a_while(env: MaildEnv, imap_box: Any, smtp_sink: Any) -> None:
    """SQLite locked by another writer: the daemon waits and carries on, nothing lost."""
    import sqlite3

    db_path = env.config["database"]["url"].split("///", 1)[1]
    daemon = env.start_daemon()
    try:
        wait_until(lambda: "watching" in env.daemon_log(), timeout=30, what="the daemon")
        blocker = sqlite3.connect(db_path, isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")
        imap_box.append(message(ALICE, "During the lock", "x"))
        time.sleep(3)
        blocker.execute("ROLLBACK")
        blocker.close()
        wait_until(lambda: len(env.cases()) == 1, timeout=60, what="the case after the lock is gone")
        wait_until(lambda: len(smtp_sink.messages()) == 1, timeout=30, what="the acknowledgement")
        assert daemon.poll() is None
    finally:
        assert stop(daemon) == 0
