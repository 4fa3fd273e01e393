"""The mailbox lease: one holder at a time, expiry, and takeover from a dead local process."""

from __future__ import annotations

import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from maild.clock import FixedClock
from maild.daemon.lease import MailboxLeaser
from maild.store.db import Database, upgrade
from maild.store.holders import holder_is_dead_here

BOX = "imap://support@127.0.0.1:143/INBOX"


def db(tmp_path: Path) -> Database:
    d = Database(f"sqlite:///{tmp_path / 'lease.db'}")
    upgrade(d)
    return d


def test_one_holder_at_a_time_until_release_or_expiry(tmp_path: Path) -> None:
    d = db(tmp_path)
    clock = FixedClock(datetime(2026, 11, 21, 10, 0, tzinfo=UTC))
    a = MailboxLeaser(d, clock, holder="remote-a:1:x", ttl=timedelta(seconds=30))
    b = MailboxLeaser(d, clock, holder="remote-b:2:y", ttl=timedelta(seconds=30))
    assert a.acquire(BOX)
    assert not b.acquire(BOX)
    assert a.acquire(BOX), "the holder renews"
    clock.advance(timedelta(seconds=20))
    a.touch(BOX)
    clock.advance(timedelta(seconds=20))
    assert not b.acquire(BOX), "touch extended the lease"
    clock.advance(timedelta(seconds=11))
    assert b.acquire(BOX), "an unrenewed lease expires"
    assert not a.acquire(BOX)
    b.release(BOX)
    assert a.acquire(BOX), "a released lease is free at once"
    assert b.acquire("other-mailbox"), "leases are per mailbox"


def test_dead_local_holder_is_taken_over_at_once(tmp_path: Path) -> None:
    d = db(tmp_path)
    clock = FixedClock(datetime(2026, 11, 21, 10, 0, tzinfo=UTC))
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    dead = f"{socket.gethostname()}:{proc.pid}:zz"
    assert holder_is_dead_here(dead)
    assert MailboxLeaser(d, clock, holder=dead).acquire(BOX)
    assert MailboxLeaser(d, clock).acquire(BOX), "this host's dead pid is taken over before expiry"
    remote = MailboxLeaser(d, clock, holder="elsewhere.example:1:q")
    remote.release(BOX)
    assert not MailboxLeaser(d, clock, holder="elsewhere.example:2:r").acquire(BOX), (
        "a live local holder keeps it"
    )


def test_live_or_foreign_holders_are_not_dead() -> None:
    import os

    assert not holder_is_dead_here(f"{socket.gethostname()}:{os.getpid()}:me")
    assert not holder_is_dead_here(f"{socket.gethostname()}:1:init")
    assert not holder_is_dead_here("elsewhere.example:999999:x")
    assert not holder_is_dead_here("garbage")
