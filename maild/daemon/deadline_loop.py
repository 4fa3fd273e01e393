"""The deadline scan: act on every case whose next timer (escalation, warning, reminder, close) is due.

Runs as an asyncio task in the daemon (every DEADLINE_SCAN_EVERY seconds)
and once per `run --once`; the scan itself is blocking database work, done
in a thread so the outbox keeps sending meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError

from maild.app import App
from maild.daemon.loops import PassReport, wait_for_event
from maild.daemon.metrics import Metrics
from maild.store.db import is_postgres
from maild.store.models import Case

__all__ = ["DEADLINE_SCAN_EVERY", "DeadlineLoop", "scan_deadlines"]

log = logging.getLogger("maild.worker")

DEADLINE_SCAN_EVERY = 1.0


def scan_deadlines(app: App, limit: int = 500) -> int:
    """Do every case's due timers (maild.cases.deadlines); returns notifications queued.

    Each case is its own short transaction (locked with SKIP LOCKED on
    PostgreSQL), so a burst of due cases never holds the database for long
    and two workers never act on the same case; the unique rows of
    escalations and deadline_notices are the final guard.
    """
    now = app.clock.now()
    with app.db.reader() as s:
        due = s.execute(
            select(Case.id)
            .where(Case.next_escalation_at <= now)
            .order_by(Case.next_escalation_at)
            .limit(limit)
        ).scalars()
        case_ids = list(due)
    queued = 0
    for case_id in case_ids:
        try:
            with app.db.session() as s:
                query = select(Case).where(Case.id == case_id, Case.next_escalation_at <= now)
                if is_postgres(app.db.engine):
                    query = query.with_for_update(skip_locked=True)
                case = s.execute(query).scalar_one_or_none()
                if case is not None:
                    queued += app.service.scan_deadlines(s, case)
        except IntegrityError:
            log.info("case %08d: deadline already handled by another worker", case_id)
    return queued


class DeadlineLoop:
    """Scans deadlines; wakes the outbox (`wake`) when a scan queued escalation notices."""

    def __init__(self, app: App, metrics: Metrics, wake: Callable[[], None]) -> None:
        self.app = app
        self.metrics = metrics
        self.wake = wake

    async def run_once(self, report: PassReport) -> None:
        """One scan for `run --once`: its count, or the error, goes into `report`."""
        try:
            report.escalations = await asyncio.to_thread(scan_deadlines, self.app)
        except OperationalError as e:
            report.errors.append(f"deadline scan: database unavailable: {e.orig}")

    async def run(self, stop: asyncio.Event) -> None:
        """Scan every DEADLINE_SCAN_EVERY seconds until `stop`; a database outage is waited out."""
        while not stop.is_set():
            try:
                queued = await asyncio.to_thread(scan_deadlines, self.app)
                if queued:
                    self.metrics.escalations.inc(queued)
                    self.wake()
            except OperationalError as e:
                log.warning("deadline scan: database unavailable: %s", e.orig)
            await wait_for_event(stop, DEADLINE_SCAN_EVERY)
