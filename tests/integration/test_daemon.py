"""`maild run` as a real process: it keeps up with the mailbox, survives SIGKILL, stops on SIGTERM."""

from __future__ import annotations

import signal
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.env import ALICE, BOB, MaildEnv, message, resent_copies, stop, wait_until
from tests.integration.holding_sink import HoldingSink


def db_path(env: MaildEnv) -> str:
    return str(env.config["database"]["url"]).split("///", 1)[1]


def cases_in_db(env: MaildEnv) -> int:
    try:
        with sqlite3.connect(f"file:{db_path(env)}?mode=ro", uri=True, timeout=1) as conn:
            return int(conn.execute("SELECT count(*) FROM cases").fetchone()[0])
    except sqlite3.Error:
        return 0


def outbox_ids(env: MaildEnv) -> set[str]:
    """The Message-IDs of every queued notification, as stored in the outbox."""
    with sqlite3.connect(f"file:{db_path(env)}?mode=ro", uri=True, timeout=5) as conn:
        return {str(r[0]) for r in conn.execute("SELECT message_id FROM outbox")}


def outbox_rows(env: MaildEnv) -> tuple[str, ...]:
    """Each outbox row's status, in id order."""
    with sqlite3.connect(f"file:{db_path(env)}?mode=ro", uri=True, timeout=5) as conn:
        return tuple(str(r[0]) for r in conn.execute("SELECT status FROM outbox ORDER BY id"))


def acknowledged(sink: Any) -> set[tuple[str, str]]:
    """(recipient, case number) of every message the sink took."""
    return {(m.rcpt_tos[0], str(m.msg["X-Maild-Case"])) for m in sink.messages()}


def original_and_follow_up(i: int) -> list[bytes]:
    """A new case and Alice's follow-up to it, listed together so one batch carries both."""
    original = f"<original-{i}@acme.example>"
    verdict = {"Authentication-Results": "mx.example.com; dmarc=pass header.from=acme.example"}
    return [
        message(ALICE, f"Pair {i}", "The report fails.\n", cc=(BOB,), message_id=original),
        message(
            ALICE,
            f"Re: Pair {i}",
            f"Also: it fails on Mondays ({i}).\n",
            in_reply_to=original,
            references=original,
            headers=verdict,
        ),
    ]


@pytest.fixture
def holding_smtp() -> Iterator[HoldingSink]:
    sink = HoldingSink().start()
    try:
        yield sink
    finally:
        sink.stop()


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
        wait_until(
            lambda: len(acknowledged(smtp_sink)) == 2 * count,
            timeout=30,
            what="an acknowledgement for every (recipient, case)",
            interval=0.5,
        )
    finally:
        assert stop(daemon) == 0, env.daemon_log("second")
    cases = env.cases()
    assert sorted(c["subject"] for c in cases) == subjects, "every message became exactly one case"
    assert acknowledged(smtp_sink) == {(r, c["number"]) for c in cases for r in (ALICE, BOB)}
    # One notification per (recipient, case); a SIGKILL between the SMTP server's 250
    # and our commit re-sends at most one per connection, the same bytes under the same Message-ID.
    copies = resent_copies(smtp_sink.messages(), env.smtp_connections())
    assert len(copies) == 2 * count
    inbound = env.ok("inbound", "list", "--limit", str(2 * count), "--json").json()
    assert Counter(r["outcome"] for r in inbound) == {"case_opened": count}, "one record per message"
    assert imap_box.count() == count and all(b"\\Seen" in f for f in imap_box.flags().values())


# Follow-ups from Alice are comments only with our MTA's verdict (SPEC §8).
@pytest.mark.maild_config({"support.trusted_authserv_ids": ["mx.example.com"], "smtp.connections": 2})
def test_a_crash_with_notifications_in_flight_resends_only_those_with_the_same_message_id(
    env: MaildEnv, imap_box: Any, holding_smtp: HoldingSink
) -> None:
    pairs = 8
    imap_box.append_many([raw for i in range(pairs) for raw in original_and_follow_up(i)])
    env.set("smtp.port", holding_smtp.port)
    holding_smtp.hold()  # every message is taken, none answered: the crash window held open
    daemon = env.start_daemon("first")
    try:
        wait_until(lambda: holding_smtp.waiting() >= 2, timeout=30, what="notifications in flight")
        time.sleep(0.3)  # let the round fill every connection
    finally:
        stop(daemon, signal.SIGKILL)
    in_flight = Counter(t.message_id for t in holding_smtp.taken())
    assert 2 <= sum(in_flight.values()) <= env.smtp_connections() == 2, in_flight
    holding_smtp.release()

    daemon = env.start_daemon("second")
    try:
        inbound = lambda: env.ok("inbound", "list", "--json").json()  # noqa: E731
        wait_until(lambda: len(inbound()) == 2 * pairs, timeout=30, what="every message recorded")
        wait_until(lambda: set(outbox_rows(env)) == {"sent"}, timeout=60, what="every notification sent")
    finally:
        assert stop(daemon) == 0, env.daemon_log("second")

    copies = resent_copies(holding_smtp.taken(), env.smtp_connections())
    assert set(copies) == outbox_ids(env), "every notification sent, under the Message-ID it was queued with"
    resent = {message_id: n - 1 for message_id, n in copies.items() if n > 1}
    assert resent == dict.fromkeys(in_flight, 1), (
        "exactly the messages in flight at the crash, once more each"
    )
    # Cases, comments and inbound records: exactly once.
    cases = env.cases()
    assert sorted(c["subject"] for c in cases) == [f"Pair {i}" for i in range(pairs)]
    for c in cases:
        (comment,) = env.case(c["number"])["comments"]
        assert comment["body"].strip() == f"Also: it fails on Mondays ({c['subject'][5:]}).", comment
    assert Counter(r["outcome"] for r in inbound()) == {"case_opened": pairs, "comment_added": pairs}


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
