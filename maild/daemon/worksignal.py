"""How a worker without a mailbox's lease learns at once that there is work to claim.

Only the lease holder lists a mailbox (maild.daemon.workqueue); the other workers
claim from what it listed. Looking once a second left a helper idle for up
to a second whenever a burst arrived: on a machine with two workers, that is
half the machine idle at the start of every burst (measured: 1–1.5 s of a
14 s run of 1,000 messages at 61–80 % busy). On PostgreSQL the transaction
that lists new messages, or hands claims back, also sends NOTIFY (delivered
when it commits), and each helper LISTENs on a connection of its own, so it
claims within milliseconds. SQLite has no such channel: there a helper keeps
looking every second, and so does a PostgreSQL helper whose listening
connection is down (it reconnects after a pause, never in a tight loop).
A worker that takes the lease closes its listening connection: nobody would
read what arrives there, and PostgreSQL keeps every notification until each
listener has read it.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, text

from maild.store.db import is_postgres

log = logging.getLogger("maild.worker")

CHANNEL = "maild_work"
RECONNECT_AFTER = 30.0  # seconds before a failed listening connection is tried again
STOP_CHECK = 0.25  # how often a wait looks at the stop flag

_NOTIFY = text("SELECT pg_notify(:channel, :mailbox)")


def announce_work(conn: Connection, mailbox: str) -> None:
    """Inside the transaction that made work claimable: wake the helpers when it commits."""
    if is_postgres(conn.engine):
        conn.execute(_NOTIFY, {"channel": CHANNEL, "mailbox": mailbox})


class WorkWaiter(Protocol):
    def wait(self, mailbox: str, timeout: float) -> bool:
        """Wait up to `timeout` s; True as soon as work was announced for `mailbox`."""

    def close(self) -> None: ...


class PollingWaiter:
    """No channel (SQLite): wait out the time, then look."""

    def __init__(self, stopping: threading.Event) -> None:
        self.stopping = stopping

    def wait(self, mailbox: str, timeout: float) -> bool:
        self.stopping.wait(timeout)
        return False

    def close(self) -> None:
        pass


class ListeningWaiter:
    """LISTEN on a PostgreSQL connection of its own; falls back to polling while it is down."""

    def __init__(self, engine: Engine, stopping: threading.Event) -> None:
        self.engine = engine
        self.stopping = stopping
        self._conn: Any = None
        self._retry_at = 0.0

    def _connection(self) -> Any:
        if self._conn is None and time.monotonic() >= self._retry_at:
            import psycopg

            cargs, cparams = self.engine.dialect.create_connect_args(self.engine.url)
            cparams.pop("context", None)
            try:
                conn = psycopg.connect(*cargs, **cparams, autocommit=True)
                conn.execute(f"LISTEN {CHANNEL}")
            except psycopg.Error as e:
                self._failed(e)
            else:
                self._conn = conn
        return self._conn

    def _failed(self, error: Exception) -> None:
        log.debug("work notifications unavailable, looking every second instead: %s", error)
        self.close()
        self._retry_at = time.monotonic() + RECONNECT_AFTER

    def wait(self, mailbox: str, timeout: float) -> bool:
        import psycopg

        deadline = time.monotonic() + timeout
        while not self.stopping.is_set() and (left := deadline - time.monotonic()) > 0:
            conn = self._connection()
            if conn is None:
                self.stopping.wait(left)
                return False
            try:
                for note in conn.notifies(timeout=min(left, STOP_CHECK)):
                    if note.payload == mailbox:
                        return True
            except psycopg.Error as e:
                self._failed(e)
        return False

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception as e:  # closing a broken connection must not end the loop
                log.debug("closing the listening connection: %s", e)


def work_waiter(engine: Engine, stopping: threading.Event) -> WorkWaiter:
    """The best way this database offers to wait for work."""
    if is_postgres(engine):
        return ListeningWaiter(engine, stopping)
    return PollingWaiter(stopping)
