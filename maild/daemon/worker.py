"""The worker: runs the intake, send and deadline loops, once or until stopped.

`maild run --once` is one `run_once` of each loop in order (sending starts
while the mailbox is still being processed); `maild run` runs each loop
until a signal: one intake thread per mailbox (imapclient and the database
driver block), the outbox and the deadline scan as asyncio tasks, and the
systemd watchdog, vouched for only while every intake loop shows progress.
Ingest wakes the outbox as soon as it queued something, so notifications
leave within moments of a message's arrival. SIGTERM/SIGINT let the message
in hand finish, send what is due, then everything closes and the process
exits 0; SIGHUP reloads the configuration.

With `[lmtp]` the daemon also serves the LMTP listener (maild.daemon.lmtp)
on its event loop; a config with no mailbox at all runs the listener, the
outbox and the deadline scan only. `run --once` never listens: a pass has
no time to wait for an MTA.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from maild.app import App
from maild.daemon import systemd
from maild.daemon.authstate import AuthStateLoop
from maild.daemon.deadline_loop import DeadlineLoop
from maild.daemon.intake_loop import IntakeLoop
from maild.daemon.lease import MailboxLeaser
from maild.daemon.loops import PassReport, wait_for_event
from maild.daemon.metrics import Metrics
from maild.daemon.send_loop import SendLoop
from maild.errors import MaildError

if TYPE_CHECKING:
    from maild.cases.recording import Applied
    from maild.daemon.lmtp import LmtpServer

__all__ = ["Worker"]

log = logging.getLogger("maild.worker")


class Worker:
    """One maild process's loops, sharing its lease holder name, metrics and stop flag."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.stopping = threading.Event()
        self.leaser = MailboxLeaser(app.db, app.clock)
        self.metrics = Metrics()
        self.send = SendLoop(app, self.leaser.holder, self.metrics)
        self.deadlines = DeadlineLoop(app, self.metrics, self.send.wake)
        self.authstate = AuthStateLoop(app)  # OAuth2 token state for `maild status`
        self.intakes = [
            IntakeLoop(app, m, self.leaser, self.metrics, self.send, self.stopping)
            for m in app.settings.mailboxes
        ]
        self.lmtp: LmtpServer | None = None

    def _delivered(self, applied: Applied, seconds: float) -> None:
        """A message the LMTP listener recorded: counted, and its notifications sent now."""
        self.metrics.message_finished(applied.outcome, seconds)
        if applied.notifications:
            self.send.wake()

    async def _start_lmtp(self) -> None:
        """Listen before anything else starts, so a taken address fails the start at once."""
        if self.app.settings.lmtp is None:
            return
        from maild.daemon.delivery import lmtp_server

        self.lmtp = lmtp_server(self.app, self._delivered)
        await self.lmtp.start()
        if not self.intakes:
            systemd.notify(f"READY=1\nSTATUS=serving LMTP on {self.lmtp.address}, no mailbox to read")

    @property
    def ingest_alive_at(self) -> float:
        """When the least recently active intake loop last showed progress (now, without any)."""
        return min((intake.alive_at for intake in self.intakes), default=time.monotonic())

    # ------------------------------------------------------------------ one pass

    async def run_once(self) -> PassReport:
        """Fetch and process everything now in the mailbox, scan deadlines, send all that is due.

        Sending starts while the mailbox is still being processed (as in the
        daemon), so the pass takes about as long as the slower of the two.
        A big mailbox gets a sending process of its own (maild.daemon.sendproc).
        """
        report = PassReport()
        started = time.monotonic()
        self.send.bind(asyncio.get_running_loop(), once=True)
        sender = self.app.make_sender()
        dispatcher = self.send.dispatcher(sender)
        try:
            await self.send.send_during(self._intake_once(report), dispatcher, report)
            await self.deadlines.run_once(report)
            await self.send.finish_once(dispatcher, report, started)
        finally:
            await sender.close()
            await asyncio.to_thread(self.authstate.record_now)
        return report

    async def _intake_once(self, report: PassReport) -> None:
        for intake in self.intakes:
            await intake.run_once(report)

    # ------------------------------------------------------------------ forever

    async def run_forever(self) -> None:
        loop = asyncio.get_running_loop()
        self.send.bind(loop, once=False)
        stop = asyncio.Event()

        def request_stop(signame: str) -> None:
            if not stop.is_set():
                log.info("received %s: finishing the message in hand, then stopping", signame)
            stop.set()
            self.stopping.set()
            self.send.wake()

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, request_stop, sig.name)
        loop.add_signal_handler(signal.SIGHUP, self.reload)
        systemd.notify("STATUS=starting")
        await self._start_lmtp()
        if self.app.settings.metrics.listen:
            # Getters, read at each scrape: SIGHUP may change the settings.
            self.metrics.serve(
                self.app.settings.metrics.listen,
                self.app.db,
                self.app.clock,
                lambda: self.app.settings.teams,
                lambda: self.app.settings.escalation.warn_before,
            )
        # One thread per mailbox, of their own: they block for as long as the daemon runs.
        readers = ThreadPoolExecutor(max_workers=max(1, len(self.intakes)), thread_name_prefix="ingest")

        async def intake_thread(intake: IntakeLoop) -> None:
            await loop.run_in_executor(readers, intake.run)

        ingest = [asyncio.create_task(intake_thread(i), name=f"ingest {i.name}") for i in self.intakes]
        outbox = asyncio.create_task(self.send.run(stop, ingest), name="outbox")
        deadlines = asyncio.create_task(self.deadlines.run(stop), name="deadlines")
        watchdog = asyncio.create_task(self._watchdog(stop), name="watchdog")
        authstate = asyncio.create_task(self.authstate.run(stop), name="oauth2 state")
        tasks = [*ingest, outbox, deadlines, watchdog, authstate]
        if self.lmtp is not None:
            tasks.append(asyncio.create_task(self.lmtp.serve(stop), name="lmtp"))
        done, _pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            if task.exception() is not None and not stop.is_set():
                request_stop("an internal error")
        stop.set()
        self.stopping.set()
        systemd.notify("STOPPING=1")
        await self._wind_down(tasks)
        readers.shutdown(wait=False)
        results = [t.exception() if not t.cancelled() else None for t in tasks]
        errors = [
            r for r in results if isinstance(r, BaseException) and not isinstance(r, asyncio.CancelledError)
        ]
        if errors:
            raise errors[0]

    async def _wind_down(self, tasks: list[asyncio.Task[None]]) -> None:
        """Let every loop finish within the shutdown timeout; past it, leave at once."""
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
        for intake in self.intakes:
            intake.reconfigure()
        setup_logging(self.app.settings.logging.level, self.app.settings.logging.format)
        log.info("configuration and templates reloaded from %s", source)
        if restart:
            log.warning("changes to [%s] take effect only after a restart", "], [".join(restart))
        systemd.notify("READY=1\nSTATUS=configuration reloaded")

    async def _watchdog(self, stop: asyncio.Event) -> None:
        """WATCHDOG=1 only while the ingest threads show progress, so a hung fetch gets us restarted."""
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
