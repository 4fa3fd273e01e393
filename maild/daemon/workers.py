"""The daemon's loops: ingest, deadline scan and outbox, each with run_once().

`maild run --once` is one call of each run_once in order; `maild run` wraps
them in loops with waiting, backoff and signals. Ingest runs in a thread
of its own (imapclient and the database driver block); the outbox and the
deadline scan are asyncio tasks. Ingest wakes the outbox as soon as it
queued something, so notifications leave within moments of a message's
arrival (50 ms later, so that a burst shares one claim). SIGTERM/SIGINT let
the message in hand finish, send what is due, then everything closes and
the process exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from tenacity import RetryCallState, Retrying, retry_if_exception_type, wait_exponential_jitter

from maild.app import App
from maild.config import MailboxSettings
from maild.daemon import systemd
from maild.daemon.ingest import Ingestor, IngestStats
from maild.daemon.lease import MailboxLeaser
from maild.daemon.metrics import Metrics
from maild.daemon.sendproc import SendProcess
from maild.daemon.workqueue import WorkQueue
from maild.daemon.worksignal import work_waiter
from maild.errors import MaildError, TransientError
from maild.inbound.source import MailSource
from maild.outbound.outbox import Dispatcher, DispatchStats
from maild.outbound.smtp import SmtpSender
from maild.store.db import is_postgres
from maild.store.models import Case

log = logging.getLogger("maild.worker")

DEADLINE_SCAN_EVERY = 1.0
SEND_PROCESS_FROM = 200  # pending messages from which `run --once` sends from a second process
LEASE_RENEW_EVERY = 5.0  # seconds between lease renewals while claims are processed
HELPER_LOOK = 1.0  # how often a worker without the lease looks for listed work
OUTBOX_GATHER = 0.05  # after a wake-up, so a burst's notifications share one claim
OUTBOX_IDLE_CHECK = 1.0  # also how soon a standby worker helps send what another queued
WAIT_CHUNK = 2.0


@dataclass
class Box:
    """One mailbox a worker serves: its settings, its ingest pipeline and loop state."""

    settings: MailboxSettings
    name: str
    ingestor: Ingestor
    alive_at: float = field(default_factory=time.monotonic)
    listing: bool = False


@dataclass
class PassReport:
    ingest: IngestStats = field(default_factory=IngestStats)
    escalations: int = 0
    dispatch: DispatchStats = field(default_factory=DispatchStats)
    errors: list[str] = field(default_factory=list)
    mailbox_busy: bool = False


async def wait_for_event(event: asyncio.Event, timeout: float) -> bool:
    """Wait until `event` is set or `timeout` passes; True when it was set."""
    try:
        await asyncio.wait_for(event.wait(), timeout)
    except TimeoutError:
        return False
    return True


def scan_deadlines(app: App, limit: int = 500) -> int:
    """Escalate every case whose next escalation time has come; returns notifications queued.

    Each case is its own short transaction (locked with SKIP LOCKED on
    PostgreSQL), so a burst of due cases never holds the database for long
    and two workers never escalate the same case; the unique (case, level)
    row is the final guard.
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
            log.info("case %08d: escalation already recorded by another worker", case_id)
    return queued


class Worker:
    def __init__(self, app: App) -> None:
        self.app = app
        self.stopping = threading.Event()
        # A big `run --once` sends from a process of its own (maild.daemon.sendproc); tests may turn it off.
        self.send_in_child = True
        self._child: SendProcess | None = None
        self._once = False
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.leaser = MailboxLeaser(app.db, app.clock)
        self.metrics = Metrics()
        self._here = threading.local()  # which mailbox the calling ingest thread serves
        self._touched: dict[str, float] = {}
        self.boxes = [self._box(m) for m in app.settings.mailboxes]

    def _box(self, settings: MailboxSettings) -> Box:
        name = settings.name
        ingestor = Ingestor(
            self.app.db,
            self.app.service,
            self.app.policy,
            self.app.clock,
            max_attachment_bytes=self.app.settings.support.max_attachment_size,
            batch_size=settings.batch_size,
            on_queued=self._wake_outbox,
            should_stop=self._should_stop,
            heartbeat=lambda: self._heartbeat(name),
            observe=self._observe_message,
            on_pending=self._pending_seen,
            queue=WorkQueue(self.app.db, self.app.clock, self.leaser.holder),
        )
        return Box(settings, name, ingestor)

    def _heartbeat(self, mailbox: str) -> None:
        """Renew the lease between claims, at most every few seconds (it lasts 30 s)."""
        now = time.monotonic()
        if now - self._touched.get(mailbox, 0.0) >= LEASE_RENEW_EVERY:
            self._touched[mailbox] = now
            self.leaser.touch(mailbox)

    @property
    def ingest_alive_at(self) -> float:
        """When the least recently active mailbox loop last showed progress."""
        return min(box.alive_at for box in self.boxes)

    def _dispatcher(self, sender: SmtpSender) -> Dispatcher:
        return Dispatcher(
            self.app.outbox_store(self.leaser.holder), sender, self.app.settings.outbox.batch_size
        )

    def _observe_message(self, outcome: str, seconds: float) -> None:
        self.metrics.messages.labels(outcome).inc()
        self.metrics.latency.observe(seconds)

    def _count_dispatch(self, stats: DispatchStats) -> None:
        for result, n in (("sent", stats.sent), ("deferred", stats.deferred), ("failed", stats.failed)):
            if n:
                self.metrics.notifications.labels(result).inc(n)

    def _wake_outbox(self) -> None:
        if self._child is not None:
            self._child.wake()
            return
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    # ------------------------------------------------------------------ one pass

    async def run_once(self) -> PassReport:
        """Fetch and process everything now in the mailbox, scan deadlines, send all that is due.

        Sending starts while the mailbox is still being processed (as in the
        daemon), so the pass takes about as long as the slower of the two.
        A big mailbox gets a sending process of its own (maild.daemon.sendproc).
        """
        report = PassReport()
        started = time.monotonic()
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._once = True
        sender = self.app.make_sender()
        dispatcher = self._dispatcher(sender)
        ingesting = True

        async def send_meanwhile() -> None:
            while ingesting and self._child is None:
                assert self._wake is not None
                await wait_for_event(self._wake, 0.5)
                self._wake.clear()
                if self._child is None:
                    await self._dispatch_into(dispatcher, report)

        background = asyncio.create_task(send_meanwhile())
        try:
            for box in self.boxes:
                await self._ingest_once(report, box)
        finally:
            ingesting = False
            self._wake.set()
            await background
        try:
            report.escalations = await asyncio.to_thread(scan_deadlines, self.app)
        except OperationalError as e:
            report.errors.append(f"deadline scan: database unavailable: {e.orig}")
        child, self._child = self._child, None
        try:
            if child is not None:
                processed = time.monotonic() - started
                log.info("mail processed in %.1f s; waiting for the sending process", processed)
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
            await self._dispatch_into(dispatcher, report)
        finally:
            if child is not None:
                child.kill()
            await sender.close()
        return report

    def _pending_seen(self, count: int) -> None:
        """From the ingest thread: a big `run --once` starts its sending process now."""
        config = self.app.settings.source
        if not self._once or not self.send_in_child or config is None or self._child is not None:
            return
        if count >= SEND_PROCESS_FROM:
            self._child = SendProcess.start(config, debug=log.isEnabledFor(logging.DEBUG))
            if self._child is not None:
                log.info("%d messages pending: sending from a process of its own", count)

    async def _ingest_once(self, report: PassReport, box: Box) -> None:
        try:
            lister = await asyncio.to_thread(self.leaser.acquire, box.name)
        except OperationalError as e:
            report.errors.append(f"database unavailable: {e.orig}")
            return
        if not lister:
            report.mailbox_busy = True
            log.info("mailbox %s is listed by another worker; helping with what it listed", box.name)
        source = self.app.make_source(box.settings)
        try:
            await asyncio.to_thread(source.open)
            stats = await asyncio.to_thread(box.ingestor.run_once, source, lister=lister)
            report.ingest.merge(stats)
            if lister:
                await asyncio.to_thread(self.leaser.touch, box.name, self.app.clock.now())
        except MaildError as e:
            report.errors.append(f"mailbox: {e}")
            log.error("mailbox: %s", e)
        except OperationalError as e:
            report.errors.append(f"database unavailable: {e.orig}")
        finally:
            await asyncio.to_thread(source.close)
            if lister:
                await asyncio.to_thread(self.leaser.release, box.name)

    async def _dispatch_into(self, dispatcher: Dispatcher, report: PassReport) -> None:
        try:
            stats = await dispatcher.run_once()
        except OperationalError as e:
            report.errors.append(f"outbox: database unavailable: {e.orig}")
            return
        report.dispatch.sent += stats.sent
        report.dispatch.deferred += stats.deferred
        report.dispatch.failed += stats.failed

    # ------------------------------------------------------------------ forever

    async def run_forever(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        stop = asyncio.Event()

        def request_stop(signame: str) -> None:
            if not stop.is_set():
                log.info("received %s: finishing the message in hand, then stopping", signame)
            stop.set()
            self.stopping.set()
            self._wake_outbox()

        for sig in (signal.SIGTERM, signal.SIGINT):
            self._loop.add_signal_handler(sig, request_stop, sig.name)
        self._loop.add_signal_handler(signal.SIGHUP, self.reload)
        systemd.notify("STATUS=starting")
        if self.app.settings.metrics.listen:
            self.metrics.serve(self.app.settings.metrics.listen, self.app.db, self.app.clock)
        # One thread per mailbox, of their own: they block for as long as the daemon runs.
        readers = ThreadPoolExecutor(max_workers=len(self.boxes), thread_name_prefix="ingest")
        loop = self._loop

        async def ingest_loop(box: Box) -> None:
            await loop.run_in_executor(readers, self._ingest_loop, box)

        ingest = [asyncio.create_task(ingest_loop(box), name=f"ingest {box.name}") for box in self.boxes]
        outbox = asyncio.create_task(self._outbox_loop(stop, ingest), name="outbox")
        deadlines = asyncio.create_task(self._deadline_loop(stop), name="deadlines")
        watchdog = asyncio.create_task(self._watchdog(stop), name="watchdog")
        tasks = [*ingest, outbox, deadlines, watchdog]
        done, _pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            if task.exception() is not None and not stop.is_set():
                request_stop("an internal error")
        stop.set()
        self.stopping.set()
        systemd.notify("STOPPING=1")
        bound = self.app.settings.daemon.shutdown_timeout.total_seconds()
        _done, hanging = await asyncio.wait(tasks, timeout=bound)
        if hanging:
            # Every unit of work is one transaction, so leaving now loses nothing half-done.
            log.error(
                "shutdown did not finish within %.0f s (%s still busy); exiting anyway",
                bound,
                ", ".join(t.get_name() for t in hanging),
            )
            logging.shutdown()
            os._exit(0)
        readers.shutdown(wait=False)
        results = [t.exception() if not t.cancelled() else None for t in tasks]
        errors = [
            r for r in results if isinstance(r, BaseException) and not isinstance(r, asyncio.CancelledError)
        ]
        if errors:
            raise errors[0]

    def reload(self) -> None:
        """SIGHUP: re-read the config and templates; on any error keep running as before."""
        from maild.config import load_settings
        from maild.logs import setup_logging

        source = self.app.settings.source
        if source is None:
            return
        systemd.notify("RELOADING=1")
        try:
            new = load_settings(source)
        except MaildError as e:
            log.error("reload refused, keeping the running configuration: %s", e)
            systemd.notify("READY=1")
            return
        restart = self.app.reload(new)
        for box in self.boxes:
            box.ingestor.policy = self.app.policy
            box.ingestor.max_attachment_bytes = self.app.settings.support.max_attachment_size
        setup_logging(self.app.settings.logging.level, self.app.settings.logging.format)
        log.info("configuration and templates reloaded from %s", source)
        if restart:
            log.warning("changes to [%s] take effect only after a restart", "], [".join(restart))
        systemd.notify("READY=1\nSTATUS=configuration reloaded")

    def _should_stop(self) -> bool:
        self._alive()
        return self.stopping.is_set()

    def _alive(self) -> None:
        """The calling ingest thread made progress: what the systemd watchdog vouches for."""
        box: Box | None = getattr(self._here, "box", None)
        if box is not None:
            box.alive_at = time.monotonic()

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.stopping.is_set() and (left := deadline - time.monotonic()) > 0:
            self._alive()
            self.stopping.wait(min(1.0, left))

    def _open_with_backoff(self, source: MailSource) -> bool:
        """Connect, retrying with exponential backoff and jitter until connected or stopping."""
        state = {"failing": False}

        def before_sleep(rs: RetryCallState) -> None:
            if not state["failing"] and rs.outcome is not None:
                log.warning("mailbox unavailable, retrying with backoff: %s", rs.outcome.exception())
                systemd.notify(f"STATUS=mailbox unavailable: {rs.outcome.exception()}")
            state["failing"] = True

        retrying = Retrying(
            retry=retry_if_exception_type(MaildError),
            wait=wait_exponential_jitter(initial=1, max=60, jitter=1),
            stop=lambda _rs: self.stopping.is_set(),
            sleep=self._sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            retrying(source.open)
        except MaildError:
            return False
        if state["failing"]:
            log.info("mailbox connected again")
        return True

    def _ingest_loop(self, box: Box) -> None:
        """Every worker processes what it can claim; the lease holder also lists the mailbox."""
        self._here.box = box
        source = self.app.make_source(box.settings)
        waiter = work_waiter(self.app.db.engine, self.stopping)
        poll = box.settings.poll_interval.total_seconds()
        ready = False
        try:
            while not self.stopping.is_set():
                if not self._open_with_backoff(source):
                    continue
                self.metrics.imap_connected.set(1)
                try:
                    while not self.stopping.is_set():
                        lister = self._try_lease(box)
                        if not ready or lister != box.listing:
                            ready = self._announce_ready(box, standby=not lister)
                            box.listing = lister
                            if lister:
                                waiter.close()  # see daemon.worksignal: no notifications piling up
                        stats = box.ingestor.run_once(source, lister=lister)
                        if lister:
                            self.leaser.touch(box.name, self.app.clock.now())
                        if stats.processed or stats.quarantined:
                            log.info(
                                "ingest pass: processed=%d quarantined=%d skipped=%d",
                                stats.processed,
                                stats.quarantined,
                                stats.skipped,
                            )
                        if lister:
                            self._wait_for_mail(box, source, poll)
                        elif not (stats.processed or stats.quarantined or stats.skipped):
                            # A helper looks again when the lister announces new work, or soon anyway.
                            waiter.wait(source.name, min(poll, HELPER_LOOK))
                            self._alive()
                except TransientError as e:
                    log.warning("connection lost, reconnecting: %s", e)
                    self._reset(source, 1.0)
                except OperationalError as e:
                    log.warning("database unavailable, retrying: %s", e.orig)
                    self._sleep(2.0)
                except MaildError as e:
                    log.error("mailbox error, reconnecting: %s", e)
                    self._reset(source, 5.0)
                except Exception as e:
                    # A bug or a server answer nobody foresaw must not end the daemon:
                    # every message is its own transaction, so starting over is safe.
                    log.error("unexpected %s in the ingest loop, starting over: %s", type(e).__name__, e)
                    log.debug("ingest loop failure", exc_info=True)
                    self._reset(source, 5.0)
        finally:
            waiter.close()
            source.close()
            with contextlib.suppress(OperationalError):
                box.ingestor.queue.release(source.name)
            with contextlib.suppress(OperationalError):
                self.leaser.release(box.name)

    def _try_lease(self, box: Box) -> bool:
        """Hold the mailbox's lease (and so list it), or help another worker that holds it."""
        try:
            return self.leaser.acquire(box.name)
        except OperationalError as e:
            log.warning("database unavailable, retrying: %s", e.orig)
            return False

    def _reset(self, source: MailSource, pause: float) -> None:
        self.metrics.imap_connected.set(0)
        source.close()
        self._sleep(pause)

    def _announce_ready(self, box: Box, *, standby: bool) -> bool:
        if standby:
            systemd.notify("READY=1\nSTATUS=helping: another worker lists the mailbox")
            log.info("helping: another worker lists %s; this one processes what it can claim", box.name)
        else:
            systemd.notify("READY=1\nSTATUS=watching the mailbox")
            log.info("watching %s", box.name)
        return True

    def _wait_for_mail(self, box: Box, source: MailSource, poll: float) -> None:
        waited = 0.0
        while not self.stopping.is_set() and waited < poll:
            chunk = min(WAIT_CHUNK, poll - waited)
            if source.wait_for_mail(chunk):
                return
            waited += chunk
            self._alive()
            self.leaser.touch(box.name)

    async def _outbox_loop(self, stop: asyncio.Event, ingest: Sequence[asyncio.Task[None]] = ()) -> None:
        """Send as notifications are queued; on stop, once ingest has finished, send what is due.

        A graceful stop thus delivers the acknowledgements of every message it
        processed, the one in hand included, instead of leaving them queued
        until the next start. Not when the server was deferring mail just now:
        a stop must not wait out SMTP timeouts (they stay queued, as always).
        """
        assert self._wake is not None
        sender = self.app.make_sender()
        dispatcher = self._dispatcher(sender)
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
        assert self._wake is not None
        while True:
            # Cleared before the pass, so a message queued during it wakes the next one.
            self._wake.clear()
            healthy = True
            try:
                stats = await dispatcher.run_once()
                self._count_dispatch(stats)
                healthy = stats.deferred == 0
                if stats.sent or stats.failed:
                    log.info(
                        "outbox: sent=%d deferred=%d failed=%d", stats.sent, stats.deferred, stats.failed
                    )
            except OperationalError as e:
                healthy = False
                log.warning("outbox: database unavailable: %s", e.orig)
            if stop is None or stop.is_set():
                return healthy
            if await wait_for_event(self._wake, OUTBOX_IDLE_CHECK):
                # A burst of messages wakes this once per message; a moment's
                # wait lets their notifications go out in one claim, not one each.
                await asyncio.sleep(OUTBOX_GATHER)

    async def _deadline_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                queued = await asyncio.to_thread(scan_deadlines, self.app)
                if queued:
                    self.metrics.escalations.inc(queued)
                    self._wake_outbox()
            except OperationalError as e:
                log.warning("deadline scan: database unavailable: %s", e.orig)
            await wait_for_event(stop, DEADLINE_SCAN_EVERY)

    async def _watchdog(self, stop: asyncio.Event) -> None:
        """WATCHDOG=1 only while the ingest thread shows progress, so a hung fetch gets us restarted."""
        interval = systemd.watchdog_interval()
        if interval is None:
            await stop.wait()
            return
        while not stop.is_set():
            stalled = time.monotonic() - self.ingest_alive_at
            if stalled < 2 * interval:
                systemd.notify("WATCHDOG=1")
            else:
                log.warning("ingest has made no progress for %.0f s: not vouching to the watchdog", stalled)
            await wait_for_event(stop, interval)
