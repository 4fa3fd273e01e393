"""The work queue on a fresh PostgreSQL database: planner statistics after a big listing, crash counts."""

from __future__ import annotations

import secrets
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from sqlalchemy import text

from maild.clock import FixedClock
from maild.daemon.workqueue import ANALYZE_AFTER, WorkQueue
from maild.inbound.listing import Listed
from maild.store.db import Database, upgrade
from tests.unit.test_workqueue import check_crash_counting

BOX = "imap://support@127.0.0.1:143/INBOX"
CLOCK = FixedClock(datetime(2026, 12, 4, 9, 0, tzinfo=UTC))


@pytest.fixture
def fresh(postgres_url: str) -> Iterator[Database]:
    """A database of its own, so mailbox_work has never been analyzed (by us or autovacuum)."""
    name = f"wq_{secrets.token_hex(6)}"
    admin = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    database = Database(postgres_url.rsplit("/", 1)[0] + f"/{name}")
    upgrade(database)
    # Whatever statistics the table gets in these tests, maild gave it, not autovacuum.
    with database.engine.begin() as conn:
        conn.execute(text("ALTER TABLE mailbox_work SET (autovacuum_enabled = false)"))
    try:
        yield database
    finally:
        database.dispose()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def reltuples(db: Database) -> float:
    with db.engine.connect() as conn:
        query = text("SELECT reltuples FROM pg_class WHERE relname = 'mailbox_work'")
        return float(conn.execute(query).scalar_one())


def thread(n: int, start: int = 0) -> list[Listed]:
    """Messages where every third answers one listed seven before: thread groups with waiting rows."""
    return [
        Listed(str(i), f"<m{i}@x>", (f"<m{i - 7}@x>",) if i % 3 == 0 and i - 7 > start else ())
        for i in range(start + 1, start + n + 1)
    ]


def test_a_small_listing_leaves_statistics_to_autovacuum(fresh: Database) -> None:
    queue = WorkQueue(fresh, CLOCK, "remote-a:1:x")
    assert queue.add(BOX, thread(ANALYZE_AFTER - 1)) == ANALYZE_AFTER - 1
    assert reltuples(fresh) < 0, "never analyzed (PostgreSQL 14+ says -1)"


def test_a_big_listing_analyzes_the_queue_so_claims_stay_cheap(fresh: Database) -> None:
    queue = WorkQueue(fresh, CLOCK, "remote-a:1:x")
    other = WorkQueue(fresh, CLOCK, "remote-b:2:y")
    assert queue.add(BOX, thread(2000)) == 2000
    assert reltuples(fresh) == 2000, "analyzed inside the listing's transaction, its own rows counted"
    # Every third message from 9 on answers one listed seven before, so it waits for it.
    claimable = [str(i) for i in range(1, 2001) if not (i % 3 == 0 and i > 7)]
    claimed = queue.claim(BOX, 25)
    assert [c.key for c in claimed] == claimable[:25]
    # The claim PostgreSQL now plans looks up each row's older siblings by index,
    # instead of walking the whole queue per row (0.9 s per claim here before).
    with fresh.engine.connect() as conn:
        plan = "\n".join(
            r[0]
            for r in conn.execute(
                text(
                    "EXPLAIN SELECT w.id FROM mailbox_work w WHERE w.mailbox = :m AND NOT EXISTS ("
                    " SELECT 1 FROM mailbox_work o WHERE o.mailbox = w.mailbox"
                    " AND o.thread_group = w.thread_group AND o.id < w.id) ORDER BY w.id LIMIT 25"
                ),
                {"m": BOX},
            )
        )
    assert any(
        "Index Cond" in line and "thread_group = (w.thread_group)" in line for line in plan.splitlines()
    ), plan
    second = [c.key for c in other.claim(BOX, 25)]
    assert second == claimable[25:50], "the next worker gets the next 25 claimable rows, in order"
    assert not set(second) & {c.key for c in claimed}, "none of the first worker's rows"


def test_crashes_count_only_starts_that_never_finished(fresh: Database) -> None:
    """The poison-message rules of tests/unit/test_workqueue.py, on PostgreSQL (async-committed starts)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    check_crash_counting(
        lambda holder, clock: WorkQueue(fresh, clock, holder), f"{socket.gethostname()}:{proc.pid}:zz"
    )
