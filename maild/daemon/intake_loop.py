"""The intake loop of one mailbox: connect, list (with the lease), claim, process, wait.

Every worker processes what it can claim; the one holding the mailbox's
lease (maild.daemon.lease) also lists it. In the daemon the loop runs in a
thread of its own (imapclient and the database driver block), reconnecting
with backoff; `run --once` makes one pass. The loop is the ingest pipeline's
hooks (maild.daemon.ingest_hooks): it hears of progress, which the systemd
watchdog vouches for (`alive_at`), renews the lease between claims, and
wakes the outbox when notifications were queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time

from sqlalchemy.exc import OperationalError
from tenacity import RetryCallState, Retrying, retry_if_exception_type, wait_exponential_jitter

from maild.app import App
from maild.configtransport import MailboxSettings
from maild.daemon import systemd
from maild.daemon.ingest import Ingestor
from maild.daemon.lease import MailboxLeaser
from maild.daemon.loops import PassReport
from maild.daemon.metrics import Metrics
from maild.daemon.send_loop import SendLoop
from maild.daemon.workqueue import WorkQueue
from maild.daemon.worksignal import WorkWaiter, work_waiter
from maild.errors import MaildError, TransientError
from maild.inbound.source import MailSource
from maild.oauth2.errors import OAuth2Error

__all__ = ["IntakeLoop"]

log = logging.getLogger("maild.worker")

LEASE_RENEW_EVERY = 5.0  # seconds between lease renewals while claims are processed
HELPER_LOOK = 1.0  # how often a worker without the lease looks for listed work
WAIT_CHUNK = 2.0  # a lister's wait for mail is cut into pieces this long, renewing the lease
SLEEP_CHUNK = 1.0  # pauses are cut into pieces this long, so a stop is heard soon
OAUTH2_LOOK_AGAIN = 2.0  # seconds between looks for a token after a refused one (no request each: see below)


class IntakeLoop:
    """One mailbox a worker serves: its settings, its ingest pipeline and loop state."""

    def __init__(
        self,
        app: App,
        settings: MailboxSettings,
        leaser: MailboxLeaser,
        metrics: Metrics,
        send: SendLoop,
        stopping: threading.Event,
    ) -> None:
        self.app = app
        self.settings = settings
        self.name = settings.name
        self.leaser = leaser
        self.metrics = metrics
        self.send = send
        self.stopping = stopping
        self.ingestor = Ingestor(
            app.db,
            app.service,
            app.policy,
            app.clock,
            max_attachment_bytes=app.settings.support.max_attachment_size,
            batch_size=settings.batch_size,
            hooks=self,
            queue=WorkQueue(app.db, app.clock, leaser.holder),
        )
        self.alive_at = time.monotonic()
        self.listing = False
        self._ready = False
        self._renewed_at = 0.0

    def reconfigure(self) -> None:
        """After a reload (SIGHUP): the new routing policy and attachment limit apply at once."""
        self.ingestor.policy = self.app.policy
        self.ingestor.max_attachment_bytes = self.app.settings.support.max_attachment_size

    # ------------------------------------------------------------------ ingest hooks

    def stop_requested(self) -> bool:
        return self.stopping.is_set()

    def making_progress(self) -> None:
        """The loop made progress: what the systemd watchdog vouches for."""
        self.alive_at = time.monotonic()

    def claim_finished(self) -> None:
        """Renew the lease between claims, at most every few seconds (it lasts 30 s)."""
        now = time.monotonic()
        if now - self._renewed_at >= LEASE_RENEW_EVERY:
            self._renewed_at = now
            self.leaser.touch(self.name)

    def notifications_queued(self) -> None:
        self.send.wake()

    def message_finished(self, outcome: str, seconds: float) -> None:
        self.metrics.message_finished(outcome, seconds)

    def pending_listed(self, count: int) -> None:
        self.send.pending_listed(count)

    # ------------------------------------------------------------------ one pass

    async def run_once(self, report: PassReport) -> None:
        """Everything now in the mailbox, for `run --once`; counts and errors go into `report`."""
        try:
            lister = await asyncio.to_thread(self.leaser.acquire, self.name)
        except OperationalError as e:
            report.errors.append(f"database unavailable: {e.orig}")
            return
        if not lister:
            report.mailbox_busy = True
            log.info("mailbox %s is listed by another worker; helping with what it listed", self.name)
        source = self.app.make_source(self.settings)
        try:
            await asyncio.to_thread(source.open)
            stats = await asyncio.to_thread(self.ingestor.run_once, source, lister=lister)
            report.ingest.merge(stats)
            if lister:
                await asyncio.to_thread(self.leaser.touch, self.name, self.app.clock.now())
        except MaildError as e:
            report.errors.append(f"mailbox: {e}")
            log.error("mailbox: %s", e)
        except OperationalError as e:
            report.errors.append(f"database unavailable: {e.orig}")
        finally:
            await asyncio.to_thread(source.close)
            if lister:
                await asyncio.to_thread(self.leaser.release, self.name)

    # ------------------------------------------------------------------ forever

    def run(self) -> None:
        """The daemon's loop for this mailbox, in a thread of its own, until `stopping` is set."""
        source = self.app.make_source(self.settings)
        waiter = work_waiter(self.app.db.engine, self.stopping)
        try:
            while not self.stopping.is_set():
                if not self._open_with_backoff(source):
                    continue
                self.metrics.imap_connected.set(1)
                self._serve(source, waiter)
        finally:
            waiter.close()
            source.close()
            with contextlib.suppress(OperationalError):
                self.ingestor.queue.release(source.name)
            with contextlib.suppress(OperationalError):
                self.leaser.release(self.name)

    def _serve(self, source: MailSource, waiter: WorkWaiter) -> None:
        """Passes over an open source until stopping; a failure closes it for `run` to reopen."""
        try:
            while not self.stopping.is_set():
                self._pass(source, waiter)
        except OAuth2Error as e:
            # No token for the next login: its TokenSource has logged why; reconnecting waits for one.
            log.debug("no OAuth2 token for %s: %s", self.name, e)
            self._reset(source, 1.0)
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

    def _pass(self, source: MailSource, waiter: WorkWaiter) -> None:
        """List (with the lease) and process what can be claimed, then wait for more."""
        lister = self._try_lease()
        if not self._ready or lister != self.listing:
            self._announce_ready(standby=not lister)
            self.listing = lister
            if lister:
                waiter.close()  # see daemon.worksignal: no notifications piling up
        stats = self.ingestor.run_once(source, lister=lister)
        if lister:
            self.leaser.touch(self.name, self.app.clock.now())
        if stats.processed or stats.quarantined:
            log.info(
                "ingest pass: processed=%d quarantined=%d skipped=%d",
                stats.processed,
                stats.quarantined,
                stats.skipped,
            )
        if lister:
            self._wait_for_mail(source)
        elif not (stats.processed or stats.quarantined or stats.skipped):
            # A helper looks again when the lister announces new work, or soon anyway.
            waiter.wait(source.name, min(self._poll, HELPER_LOOK))
            self.making_progress()

    @property
    def _poll(self) -> float:
        return self.settings.poll_interval.total_seconds()

    def _try_lease(self) -> bool:
        """Hold the mailbox's lease (and so list it), or help another worker that holds it."""
        try:
            return self.leaser.acquire(self.name)
        except OperationalError as e:
            log.warning("database unavailable, retrying: %s", e.orig)
            return False

    def _announce_ready(self, *, standby: bool) -> None:
        self._ready = True
        if standby:
            systemd.notify("READY=1\nSTATUS=helping: another worker lists the mailbox")
            log.info("helping: another worker lists %s; this one processes what it can claim", self.name)
        else:
            systemd.notify("READY=1\nSTATUS=watching the mailbox")
            log.info("watching %s", self.name)

    def _wait_for_mail(self, source: MailSource) -> None:
        """The lister waits for new mail up to the poll interval, renewing its lease meanwhile."""
        poll = self._poll
        waited = 0.0
        while not self.stopping.is_set() and waited < poll:
            chunk = min(WAIT_CHUNK, poll - waited)
            if source.wait_for_mail(chunk):
                return
            waited += chunk
            self.making_progress()
            self.leaser.touch(self.name)

    def _reset(self, source: MailSource, pause: float) -> None:
        self.metrics.imap_connected.set(0)
        source.close()
        self._sleep(pause)

    def _sleep(self, seconds: float) -> None:
        """Pause, waking early on a stop; a pause is not a hang, so it counts as progress."""
        deadline = time.monotonic() + seconds
        while not self.stopping.is_set() and (left := deadline - time.monotonic()) > 0:
            self.making_progress()
            self.stopping.wait(min(SLEEP_CHUNK, left))

    def _open_with_backoff(self, source: MailSource) -> bool:
        """Connect, retrying with exponential backoff and jitter until connected or stopping.

        A token request that failed for a reason a person must fix (a
        revoked grant, an expired client secret) is logged once by its
        TokenSource, with the provider's code and what to do, which also
        spaces its requests with a growing delay. So the loop stays quiet
        about it and looks again every few seconds, a look costing no
        request until that delay is over: the mailbox comes back within
        moments of `maild auth login` writing a new refresh token.
        """
        logged: list[str] = []  # the kind of failure last logged: one line per change, not per retry
        exponential = wait_exponential_jitter(initial=1, max=60, jitter=1)

        def wait(rs: RetryCallState) -> float:
            exc = rs.outcome.exception() if rs.outcome is not None else None
            if isinstance(exc, OAuth2Error) and not exc.transient:
                return OAUTH2_LOOK_AGAIN
            return float(exponential(rs))

        def before_sleep(rs: RetryCallState) -> None:
            exc = rs.outcome.exception() if rs.outcome is not None else None
            if exc is None:
                return
            kind = f"oauth2 {exc.code}" if isinstance(exc, OAuth2Error) else "mailbox"
            if logged[-1:] != [kind]:
                if kind == "mailbox":
                    log.warning("mailbox unavailable, retrying with backoff: %s", exc)
                systemd.notify(f"STATUS=mailbox unavailable: {exc}")
                logged.append(kind)

        retrying = Retrying(
            retry=retry_if_exception_type(MaildError),
            wait=wait,
            stop=lambda _rs: self.stopping.is_set(),
            sleep=self._sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            retrying(source.open)
        except MaildError:
            return False
        if logged:
            log.info("mailbox %s connected again", self.name)
        return True
