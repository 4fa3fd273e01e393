"""The outbox loop: notifications leave as soon as they are queued.

Ingest and the deadline scan call `wake()` (thread-safe) whenever they
queued something; the loop then sends, 50 ms later so that a burst shares
one claim, and looks by itself every OUTBOX_IDLE_CHECK seconds too (which is
also how soon a standby worker helps send what another queued). On a
graceful stop it waits for ingest to finish, then sends what is due, so the
acknowledgements of every message processed leave before the process exits.

A big `run --once` sends through a process of its own: `pending_listed`
starts it (maild.daemon.pipesender.PipeSender, the child
maild.daemon.sendproc) when listing finds at least SEND_PROCESS_FROM
messages. This loop's Dispatcher keeps claiming and recording the outbox
here; from its next pass it hands the SMTP work to the child instead of
the in-process SmtpSender, which stays the fallback should the child end.
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
from maild.daemon.pipesender import PipeSender
from maild.outbound.outbox import Dispatcher, DispatchStats, Sender

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
        self._child: PipeSender | None = None
        self._sender: Sender | None = None  # the in-process sender of `run --once`: the child's fallback
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
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    def pending_listed(self, count: int) -> None:
        """From an ingest thread: a big `run --once` starts its sending process now."""
        config = self.app.settings.source
        fallback = self._sender
        if not self._once or not self.send_in_child or config is None or fallback is None:
            return
        if count >= SEND_PROCESS_FROM and self._child is None:
            smtp = self.app.settings.smtp
            tokens = self.app.token_source(smtp)
            self._child = PipeSender.start(
                config,
                fallback,
                debug=log.isEnabledFor(logging.DEBUG),
                token_name=tokens.name if tokens else None,
                login_command=tokens.login_command if tokens else None,
            )
            if self._child is not None:
                log.info("%d messages pending: sending from a process of its own", count)

    def dispatcher(self, sender: Sender) -> Dispatcher:
        self._sender = sender
        return Dispatcher(self.app.outbox_store(self.holder), sender, self.app.settings.outbox.batch_size)

    def _through_child(self, dispatcher: Dispatcher) -> None:
        """Between passes: once the sending process is there, the Dispatcher's rounds go to it."""
        child = self._child
        if child is not None and dispatcher.sender is not child:
            dispatcher.sender = child
            # This loop now only waits on the child: its short outbox transactions need no thread.
            dispatcher.inline_db = True

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
        """Await `work` (ingest), sending as woken meanwhile (through the sending process once it runs)."""
        wake = self._woken()
        ingesting = True

        async def send_meanwhile() -> None:
            while ingesting:
                await wait_for_event(wake, ONCE_LOOK)
                wake.clear()
                self._through_child(dispatcher)
                await self.run_once(dispatcher, report)

        background = asyncio.create_task(send_meanwhile())
        try:
            await work
        finally:
            ingesting = False
            wake.set()
            await background

    async def finish_once(self, dispatcher: Dispatcher, report: PassReport, started: float) -> None:
        """End a `run --once`: send whatever is still due, then let the sending process finish and report."""
        child = self._child
        try:
            if child is not None:
                log.info(
                    "mail processed in %.1f s; waiting for the sending process", time.monotonic() - started
                )
                self._through_child(dispatcher)
            await self.run_once(dispatcher, report)
            if child is not None:
                done = await child.finish()
                if done is not None:
                    log.info(
                        "the sending process sent %d in %.1f s (its CPU %.1f s); its peak RSS %.0f MiB",
                        done.sent,
                        time.monotonic() - started,
                        done.cpu_seconds,
                        done.peak_rss_kib / 1024,
                    )
        finally:
            self._child = None
            if child is not None:
                dispatcher.sender = child.fallback
                dispatcher.inline_db = False
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
