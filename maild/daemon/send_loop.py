"""The outbox loop: notifications leave as soon as they are queued.

Ingest and the deadline scan call `wake()` (thread-safe) whenever they
queued something; the loop then sends, 50 ms later so that a burst shares
one claim, and looks by itself every OUTBOX_IDLE_CHECK seconds too (which is
also how soon a standby worker helps send what another queued). On a
graceful stop it waits for ingest to finish, then sends what is due, so the
acknowledgements of every message processed leave before the process exits.

A big `run --once` sends from a process of its own instead
(maild.daemon.sendproc): `pending_listed` starts it when listing finds at
least SEND_PROCESS_FROM messages, and `wake()` then wakes that process.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Sequence

from sqlalchemy.exc import OperationalError

from maild.app import App
from maild.daemon.loops import PassReport, wait_for_event
from maild.daemon.metrics import Metrics
from maild.daemon.sendproc import SendProcess
from maild.outbound.outbox import Dispatcher, DispatchStats
from maild.outbound.smtp import SmtpSender

__all__ = ["SEND_PROCESS_FROM", "SendLoop"]

log = logging.getLogger("maild.worker")

SEND_PROCESS_FROM = 200  # pending messages from which `run --once` sends from a second process
OUTBOX_GATHER = 0.05  # after a wake-up, so a burst's notifications share one claim
OUTBOX_IDLE_CHECK = 1.0  # also how soon a standby worker helps send what another queued
ONCE_LOOK = 0.5  # how often `run --once` looks at the outbox while ingesting, without a wake-up


class SendLoop:
    """Sends the outbox for one worker (`holder`): in the daemon, per `run --once`, or via a child."""

    def __init__(self, app: App, holder: str, metrics: Metrics) -> None:
        self.app = app
        self.holder = holder
        self.metrics = metrics
        # A big `run --once` sends from a process of its own; tests may turn it off.
        self.send_in_child = True
        self._child: SendProcess | None = None
        self._once = False
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop, *, once: bool) -> None:
        """Attach to the event loop the sending runs in (wake-ups from threads are posted there)."""
        self._loop = loop
        self._wake = asyncio.Event()
        self._once = once

    def _woken(self) -> asyncio.Event:
        assert self._wake is not None, "bind() first"
        return self._wake

    def wake(self) -> None:
        """Something was queued: send it now. Safe from any thread."""
        if self._child is not None:
            self._child.wake()
            return
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    def pending_listed(self, count: int) -> None:
        """From an ingest thread: a big `run --once` starts its sending process now."""
        config = self.app.settings.source
        if not self._once or not self.send_in_child or config is None or self._child is not None:
            return
        if count >= SEND_PROCESS_FROM:
            self._child = SendProcess.start(config, debug=log.isEnabledFor(logging.DEBUG))
            if self._child is not None:
                log.info("%d messages pending: sending from a process of its own", count)

    def dispatcher(self, sender: SmtpSender) -> Dispatcher:
        return Dispatcher(self.app.outbox_store(self.holder), sender, self.app.settings.outbox.batch_size)

    # ------------------------------------------------------------------ one pass

    async def run_once(self, dispatcher: Dispatcher, report: PassReport) -> None:
        """One dispatch pass; its counts, or the error, go into `report`."""
        try:
            stats = await dispatcher.run_once()
        except OperationalError as e:
            report.errors.append(f"outbox: database unavailable: {e.orig}")
            return
        report.dispatch.sent += stats.sent
        report.dispatch.deferred += stats.deferred
        report.dispatch.failed += stats.failed

    async def send_during(self, work: Awaitable[None], dispatcher: Dispatcher, report: PassReport) -> None:
        """Await `work` (ingest), sending as woken meanwhile, until a sending process takes over."""
        wake = self._woken()
        ingesting = True

        async def send_meanwhile() -> None:
            while ingesting and self._child is None:
                await wait_for_event(wake, ONCE_LOOK)
                wake.clear()
                if self._child is None:
                    await self.run_once(dispatcher, report)

        background = asyncio.create_task(send_meanwhile())
        try:
            await work
        finally:
            ingesting = False
            wake.set()
            await background

    async def finish_once(self, dispatcher: Dispatcher, report: PassReport, started: float) -> None:
        """End a `run --once`: collect the sending process's counts, then send whatever is still due."""
        child, self._child = self._child, None
        try:
            if child is not None:
                log.info(
                    "mail processed in %.1f s; waiting for the sending process", time.monotonic() - started
                )
                done = await asyncio.to_thread(child.finish)
                if done is not None:
                    report.dispatch = done.dispatch
                    report.errors += done.errors
                    log.info(
                        "the sending process sent %d in %.1f s (its CPU %.1f s)",
                        done.dispatch.sent,
                        time.monotonic() - started,
                        done.cpu_seconds,
                    )
            # What is still due: everything without a child, whatever a failed child left.
            await self.run_once(dispatcher, report)
        finally:
            if child is not None:
                child.kill()

    # ------------------------------------------------------------------ forever

    async def run(self, stop: asyncio.Event, ingest: Sequence[asyncio.Task[None]] = ()) -> None:
        """Send as notifications are queued; on stop, once ingest has finished, send what is due.

        A graceful stop thus delivers the acknowledgements of every message it
        processed, the one in hand included, instead of leaving them queued
        until the next start. Not when the server was deferring mail just now:
        a stop must not wait out SMTP timeouts (they stay queued, as always).
        """
        sender = self.app.make_sender()
        dispatcher = self.dispatcher(sender)
        try:
            healthy = await self._send_until(stop, dispatcher)
            if ingest:
                await asyncio.wait(ingest)
            if healthy:
                await self._send_until(None, dispatcher)
        finally:
            await sender.close()

    async def _send_until(self, stop: asyncio.Event | None, dispatcher: Dispatcher) -> bool:
        """Dispatch passes until `stop` is set (with None, one pass); False if the last deferred mail."""
        wake = self._woken()
        while True:
            # Cleared before the pass, so a message queued during it wakes the next one.
            wake.clear()
            healthy = await self._pass(dispatcher)
            if stop is None or stop.is_set():
                return healthy
            if await wait_for_event(wake, OUTBOX_IDLE_CHECK):
                # A burst of messages wakes this once per message; a moment's
                # wait lets their notifications go out in one claim, not one each.
                await asyncio.sleep(OUTBOX_GATHER)

    async def _pass(self, dispatcher: Dispatcher) -> bool:
        """One dispatch pass in the daemon, counted and logged; False if anything was deferred."""
        try:
            stats = await dispatcher.run_once()
        except OperationalError as e:
            log.warning("outbox: database unavailable: %s", e.orig)
            return False
        self._count(stats)
        if stats.sent or stats.failed:
            log.info("outbox: sent=%d deferred=%d failed=%d", stats.sent, stats.deferred, stats.failed)
        return stats.deferred == 0

    def _count(self, stats: DispatchStats) -> None:
        for result, n in (("sent", stats.sent), ("deferred", stats.deferred), ("failed", stats.failed)):
            if n:
                self.metrics.notifications.labels(result).inc(n)
