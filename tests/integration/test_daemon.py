"""`maild run` as a real process: it keeps up with the mailbox, survives SIGKILL, stops on SIGTERM."""

from __future__ import annotations

import signal
import sqlite3
from collections import Counter
from typing import Any

import pytest

from tests.integration.env import ALICE, BOB, MaildEnv, message, stop, wait_until


def cases_in_db(env: MaildEnv) -> int:
    path = env.config["database"]["url"].split("///", 1)[1]
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as conn:
            return int(conn.execute("SELECT count(*) FROM cases").fetchone()[0])
    except sqlite3.Error:
        return 0


@pytest.mark.slow
def test_killed_mid_batch_then_restarted_loses_and_duplicates_nothing(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    count = 400
    subjects = [f"Crash test {i:03d}" for i in range(count)]
    imap_box.append_many([message(ALICE, s, f"Message {s}.", cc=(BOB,)) for s in subjects])
    daemon = env.start_daemon("first")
    try:
        # A direct, cheap count so the kill lands early in the batch however fast maild is.
        wait_until(lambda: cases_in_db(env) >= 5, timeout=60, what="the first cases", interval=0.02)
    finally:
        stop(daemon, signal.SIGKILL)
    done_before_restart = len(env.cases())
    assert done_before_restart < count, "the kill must land mid-batch for this test to mean anything"
    daemon = env.start_daemon("second")
    try:
        wait_until(lambda: len(env.cases()) == count, timeout=120, what="every message processed")
        wait_until(
            lambda: len(smtp_sink.messages()) >= 2 * count, timeout=60, what="every acknowledgement sent"
        )
    finally:
        assert stop(daemon) == 0, env.daemon_log("second")
    cases = env.cases()
    assert sorted(c["subject"] for c in cases) == subjects, "every message became exactly one case"
    per_rcpt_subject = Counter((m.rcpt_tos[0], m.msg["X-Maild-Case"]) for m in smtp_sink.messages())
    duplicates = {k: v for k, v in per_rcpt_subject.items() if v > 1}
    # A SIGKILL between the SMTP server's 250 and our commit can re-send at most one
    # message per SMTP connection (results are recorded after every round).
    assert sum(v - 1 for v in duplicates.values()) <= env.smtp_connections(), duplicates
    assert {r for r, _ in per_rcpt_subject} == {ALICE, BOB}
    assert imap_box.count() == count and all(b"\\Seen" in f for f in imap_box.flags().values())


def test_daemon_picks_up_new_mail_and_stops_cleanly_on_sigterm(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    daemon = env.start_daemon()
    try:
        wait_until(lambda: "watching" in env.daemon_log(), timeout=30, what="the daemon to be ready")
        imap_box.append(message(ALICE, "While running", "Body", cc=(BOB,)))
        wait_until(lambda: len(smtp_sink.messages()) >= 2, timeout=30, what="acknowledgements")
    finally:
        code = stop(daemon, signal.SIGTERM, timeout=30)
    assert code == 0, env.daemon_log()
    assert len(env.cases()) == 1
    assert "Traceback" not in env.daemon_log()


def test_sigterm_sends_the_acknowledgements_already_queued(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    daemon = env.start_daemon()
    try:
        wait_until(lambda: "watching" in env.daemon_log(), timeout=30, what="the daemon to be ready")
        imap_box.append_many([message(ALICE, f"Queued {i}", "Body", cc=(BOB,)) for i in range(20)])
        # Stop the moment the last case is committed: its acknowledgements may still be queued.
        wait_until(lambda: cases_in_db(env) >= 20, timeout=60, what="every case", interval=0.01)
    finally:
        code = stop(daemon, signal.SIGTERM, timeout=30)
    assert code == 0, env.daemon_log()
    sent = Counter(m.rcpt_tos[0] for m in smtp_sink.messages())
    assert sent == {ALICE: 20, BOB: 20}, "a graceful stop delivers what it queued"


def test_sighup_reloads_settings_and_templates_and_survives_a_bad_config(
    env: MaildEnv, imap_box: Any, smtp_sink: Any, tmp_path: Any
) -> None:
    overrides = tmp_path / "templates" / "en"
    overrides.mkdir(parents=True)
    daemon = env.start_daemon()
    try:
        wait_until(lambda: "watching" in env.daemon_log(), timeout=30, what="the daemon to be ready")
        env.set("support.helpdesk_message", "Ask the Acme IT desk (reloaded).")
        env.set("templates.path", str(tmp_path / "templates"))
        (overrides / "helpdesk.subject.txt").write_text("Overridden: {{ support.name }}\n")
        daemon.send_signal(signal.SIGHUP)
        wait_until(lambda: "reloaded" in env.daemon_log(), timeout=10, what="the reload")
        imap_box.append(message(BOB, "Password", "Reset it please"))
        (note,) = wait_until(lambda: smtp_sink.messages(), timeout=30, what="the help-desk reply")
        assert "Ask the Acme IT desk (reloaded)." in " ".join(
            str(note.msg.get_body(("plain",)).get_content()).split()
        )
        assert str(note.msg["Subject"]) == "Overridden: Example Support"

        env.config_path.write_text("[support\nbroken", encoding="utf-8")
        daemon.send_signal(signal.SIGHUP)
        wait_until(lambda: "reload refused" in env.daemon_log(), timeout=10, what="the refusal")
        assert daemon.poll() is None, "a bad config on reload does not stop the daemon"
    finally:
        assert stop(daemon) == 0
