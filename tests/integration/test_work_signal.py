"""A helper worker is woken by the lister's NOTIFY on real PostgreSQL, and falls back to looking."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from maild.clock import FixedClock
from maild.daemon.workqueue import WorkQueue
from maild.daemon.worksignal import ListeningWaiter, PollingWaiter, work_waiter
from maild.inbound.listing import Listed
from maild.store.db import Database, upgrade

# Long enough that a missed notification fails the test rather than passing by luck.
WOKEN_WITHIN = 30.0
CLOCK = FixedClock(datetime(2026, 12, 4, 9, 0, tzinfo=UTC))


@pytest.fixture
def pg(postgres_url: str) -> Iterator[Database]:
    database = Database(postgres_url)
    upgrade(database)
    yield database
    database.dispose()


def mailbox() -> str:
    """A mailbox of this test's own: the database (and its channel) is shared by the session."""
    return f"imap://support@127.0.0.1:143/T{secrets.token_hex(4)}"


def listed(key: str) -> Listed:
    return Listed(key, f"<{secrets.token_hex(6)}@x>", ())


def later(action: object, delay: float = 0.2) -> threading.Thread:
    def run() -> None:
        time.sleep(delay)
        action()  # type: ignore[operator]

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_listing_wakes_a_waiting_helper_of_that_mailbox_only(pg: Database) -> None:
    stopping = threading.Event()
    waiter = work_waiter(pg.engine, stopping)
    assert isinstance(waiter, ListeningWaiter)
    box, other = mailbox(), mailbox()
    lister = WorkQueue(pg, CLOCK, "remote-a:1:x")
    try:
        assert waiter.wait(box, 0.05) is False, "nothing listed yet"
        thread = later(lambda: lister.add(box, [listed("1"), listed("2")]))
        assert waiter.wait(box, WOKEN_WITHIN) is True
        thread.join()
        thread = later(lambda: lister.add(other, [listed("1")]))
        assert waiter.wait(box, 1.0) is False, "work in another mailbox is not this helper's wake-up"
        thread.join()
        assert lister.add(box, [listed("1")]) == 0
        assert waiter.wait(box, 0.5) is False, "a listing that added nothing announces nothing"
    finally:
        waiter.close()


def test_claims_handed_back_wake_a_helper_and_an_empty_hand_back_does_not(pg: Database) -> None:
    stopping = threading.Event()
    waiter = work_waiter(pg.engine, stopping)
    box = mailbox()
    quitting = WorkQueue(pg, CLOCK, "remote-a:1:x")
    helper = WorkQueue(pg, CLOCK, "remote-b:2:y")
    try:
        assert waiter.wait(box, 0.05) is False, "listening from here on"
        quitting.add(box, [listed("1")])
        assert [c.key for c in quitting.claim(box, 10)] == ["1"]
        assert waiter.wait(box, WOKEN_WITHIN) is True, "the listing, announced while the helper was busy"
        assert helper.claim(box, 10) == []
        thread = later(lambda: quitting.release(box))
        assert waiter.wait(box, WOKEN_WITHIN) is True
        thread.join()
        assert [c.key for c in helper.claim(box, 10)] == ["1"]
        helper.release(box)
        assert waiter.wait(box, 0.05) is True
        helper.release(box)
        assert waiter.wait(box, 0.5) is False, "nothing was handed back the second time"
    finally:
        waiter.close()


def test_with_postgresql_unreachable_a_helper_waits_out_its_time_and_never_raises() -> None:
    stopping = threading.Event()
    engine = create_engine("postgresql+psycopg://postgres@127.0.0.1:9/none?connect_timeout=2")
    waiter = ListeningWaiter(engine, stopping)
    try:
        started = time.monotonic()
        assert waiter.wait("box", 0.3) is False
        assert time.monotonic() - started >= 0.3
        stopping.set()
        started = time.monotonic()
        assert waiter.wait("box", 30.0) is False
        assert time.monotonic() - started < 5.0, "a stop ends the wait"
    finally:
        waiter.close()
        engine.dispose()


def test_sqlite_has_no_channel_so_a_helper_looks_again_after_its_time(tmp_path: Path) -> None:
    stopping = threading.Event()
    database = Database(f"sqlite:///{tmp_path / 'w.db'}")
    waiter = work_waiter(database.engine, stopping)
    assert isinstance(waiter, PollingWaiter)
    started = time.monotonic()
    assert waiter.wait("box", 0.2) is False
    assert time.monotonic() - started >= 0.2
    stopping.set()
    assert waiter.wait("box", 30.0) is False
    waiter.close()
    database.dispose()
