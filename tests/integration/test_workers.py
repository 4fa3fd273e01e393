"""Several `maild run` workers on one PostgreSQL database: shared work, no duplicates."""

from __future__ import annotations

import re
import signal
import time
from collections import Counter
from typing import Any

import psycopg
import pytest

from maild.daemon.worksignal import CHANNEL
from tests.integration.env import ALICE, BOB, MaildEnv, message, resent_copies, stop, wait_until

OUTCOME = re.compile(r"outcome=(\w+)")


def listening(env: MaildEnv) -> int:
    """Connections to this database waiting for work notifications (maild.daemon.worksignal)."""
    dsn = str(env.config["database"]["url"]).replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query = %s",
            (f"LISTEN {CHANNEL}",),
        ).fetchone()
    return int(row[0]) if row else 0


@pytest.mark.slow
def test_two_workers_one_killed_mid_batch_nothing_lost_or_doubled(
    pg_env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    count = 200
    subjects = [f"Worker test {i:03d}" for i in range(count)]
    imap_box.append_many([message(ALICE, s, f"Body of {s}.", cc=(BOB,)) for s in subjects])
    first = pg_env.start_daemon("w1")
    second = pg_env.start_daemon("w2")
    try:
        wait_until(lambda: len(pg_env.cases()) >= 5, timeout=60, what="the first cases")
        fetching = first if "watching" in pg_env.daemon_log("w1") else second
        stop(fetching, signal.SIGKILL)
        survivor = second if fetching is first else first
        wait_until(lambda: len(pg_env.cases()) == count, timeout=120, what="the survivor to take over")
        wait_until(lambda: len(smtp_sink.messages()) >= 2 * count, timeout=60, what="all acknowledgements")
        wait_until(
            lambda: len({(m.rcpt_tos[0], m.msg["X-Maild-Case"]) for m in smtp_sink.messages()}) == 2 * count,
            timeout=30,
            what="an acknowledgement for every (recipient, case), re-sends aside",
            interval=0.5,
        )
    finally:
        for proc in (first, second):
            if proc.poll() is None:
                stop(proc)
    assert survivor.returncode == 0
    cases = pg_env.cases()
    assert sorted(c["subject"] for c in cases) == subjects
    sent = {(m.rcpt_tos[0], str(m.msg["X-Maild-Case"])) for m in smtp_sink.messages()}
    assert sent == {(r, c["number"]) for c in cases for r in (ALICE, BOB)}, "every acknowledgement arrived"
    # One notification per (recipient, case): the kill may re-send at most one per SMTP
    # connection, the same bytes under the same Message-ID.
    assert len(resent_copies(smtp_sink.messages(), pg_env.smtp_connections())) == 2 * count
    inbound = pg_env.ok("inbound", "list", "--limit", str(2 * count), "--json").json()
    assert Counter(r["outcome"] for r in inbound) == {"case_opened": count}, "one record per message"


def test_second_worker_stands_by_while_the_first_holds_the_mailbox(
    pg_env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    first = pg_env.start_daemon("a")
    try:
        wait_until(lambda: "watching" in pg_env.daemon_log("a"), timeout=30, what="worker a to start")
        second = pg_env.start_daemon("b")
        try:
            wait_until(lambda: "helping" in pg_env.daemon_log("b"), timeout=30, what="worker b to help")
            wait_until(lambda: listening(pg_env) == 1, timeout=30, what="worker b to listen for work")
            imap_box.append_many([message(ALICE, f"Standby {i}", "x") for i in range(5)])
            wait_until(lambda: len(pg_env.cases()) == 5, timeout=30, what="cases")
            stop(first)
            imap_box.append(message(ALICE, "After the first worker stopped", "x"))
            wait_until(lambda: len(pg_env.cases()) == 6, timeout=30, what="worker b to take over")
            # The lister reads no notifications, so it keeps no listening connection.
            wait_until(lambda: listening(pg_env) == 0, timeout=30, what="worker b to stop listening")
        finally:
            assert stop(second) == 0
    finally:
        if first.poll() is None:
            stop(first)
    assert Counter(m.rcpt_tos[0] for m in smtp_sink.messages()) == {ALICE: 6}


@pytest.mark.slow
@pytest.mark.maild_config({"support.trusted_authserv_ids": ["mx.example.com"]})
def test_two_workers_keep_a_reply_after_the_message_it_answers(
    pg_env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    # Each follow-up sits in the mailbox with its original: a worker that took the
    # follow-up first would open a second case instead of adding a comment.
    pairs = 30
    raws: list[bytes] = []
    for i in range(pairs):
        original = f"<original-{i}@acme.example>"
        raws.append(message(ALICE, f"Pair {i:02d}", "The report fails.\n", message_id=original))
        raws.append(
            message(
                ALICE,
                f"Re: Pair {i:02d}",
                f"Also: it fails on Mondays ({i}).\n",
                in_reply_to=original,
                references=original,
                # A follow-up to her own message proves nothing by itself (SPEC §8): our MTA's verdict does.
                headers={"Authentication-Results": "mx.example.com; dmarc=pass header.from=acme.example"},
            )
        )
    imap_box.append_many(raws)
    workers = [pg_env.start_daemon("p1"), pg_env.start_daemon("p2")]
    try:
        wait_until(lambda: len(pg_env.cases()) >= pairs, timeout=60, what="the cases")
        wait_until(
            lambda: sum(len(pg_env.case(c["number"])["comments"]) for c in pg_env.cases()) >= pairs,
            timeout=60,
            what="the follow-ups as comments",
        )
    finally:
        for proc in workers:
            assert stop(proc) == 0
    cases = pg_env.cases()
    assert sorted(c["subject"] for c in cases) == [f"Pair {i:02d}" for i in range(pairs)]
    for c in cases:
        (comment,) = pg_env.case(c["number"])["comments"]
        assert f"({c['subject'][-2:].lstrip('0') or '0'})" in comment["body"]
    # Each message processed once, by one worker or the other, and both workers took a share.
    outcomes = {name: OUTCOME.findall(pg_env.daemon_log(name)) for name in ("p1", "p2")}
    assert all(outcomes.values()), f"a worker processed nothing: {outcomes}"
    assert Counter(outcomes["p1"]) + Counter(outcomes["p2"]) == {"case_opened": pairs, "comment_added": pairs}


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_workers_killed_and_restarted_at_random_lose_and_double_nothing(
    pg_env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    import random

    count = 300
    subjects = [f"Chaos {i:03d}" for i in range(count)]
    imap_box.append_many([message(ALICE, s, f"Body of {s}.") for s in subjects])
    rng = random.Random(20261122)
    kills = 8
    names = ["c1", "c2"]
    procs = {name: pg_env.start_daemon(name) for name in names}
    try:
        for _round in range(kills):
            time.sleep(rng.uniform(0.5, 2.0))
            victim = rng.choice(names)
            stop(procs[victim], signal.SIGKILL)
            procs[victim] = pg_env.start_daemon(victim)
        wait_until(lambda: len(pg_env.cases()) == count, timeout=180, what="every message")
        wait_until(lambda: len(smtp_sink.messages()) >= count, timeout=60, what="every acknowledgement")
        wait_until(
            lambda: len({m.msg["X-Maild-Case"] for m in smtp_sink.messages()}) == count,
            timeout=30,
            what="an acknowledgement for every case, re-sends aside",
            interval=0.5,
        )
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                stop(proc)
    assert sorted(c["subject"] for c in pg_env.cases()) == subjects
    cases = pg_env.cases()
    assert {str(m.msg["X-Maild-Case"]) for m in smtp_sink.messages()} == {c["number"] for c in cases}
    # A SIGKILL between the server's 250 and our commit re-sends at most one message per
    # SMTP connection, the same bytes under the same Message-ID.
    assert len(resent_copies(smtp_sink.messages(), kills * pg_env.smtp_connections())) == count
    inbound = pg_env.ok("inbound", "list", "--limit", "1000", "--json").json()
    assert Counter(r["outcome"] for r in inbound) == {"case_opened": count}
    assert pg_env.ok("status", "--json").json()["mailboxes"][0]["waiting"] == 0
