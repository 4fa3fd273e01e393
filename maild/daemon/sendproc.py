"""`maild run --once` sends from a second process while the first one ingests.

Ingest and sending in one process share one interpreter lock, and on a busy
mailbox each slows the other down (measured with 1,000 messages: ingest
alone 9.6 s, beside in-process sending 15.6 s). A child process started
from the same configuration does the sending on the other core.

The protocol is a pipe each way. The parent writes a byte to the child's
stdin whenever it queued notifications (a wake-up; the child also looks by
itself every quarter second) and closes stdin when nothing more will be
queued. The child then sends everything that is due, prints its counts as
one JSON line on stdout and exits. A parent that dies closes the pipe as
well, so the child finishes its pass rather than stranding what was queued;
outbox claims keep it and any other sender apart, as between workers.

The child is started as `python -m maild.daemon.sendproc --config PATH`:
an entry point of its own rather than a hidden option of the public
command line, since it is an internal process and speaks the pipe protocol
above, not CONTRACT.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import resource
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.exc import OperationalError

from maild.app import App
from maild.config import config_path, load_settings
from maild.errors import MaildError
from maild.logs import setup_logging
from maild.outbound.outbox import Dispatcher, DispatchStats
from maild.safetext import redact, visible_text

log = logging.getLogger("maild.sendproc")

CHILD_MODULE = "maild.daemon.sendproc"
IDLE_LOOK = 0.25  # seconds between looks at the outbox when no wake-up came


@dataclass
class ChildReport:
    dispatch: DispatchStats = field(default_factory=DispatchStats)
    errors: list[str] = field(default_factory=list)
    cpu_seconds: float = 0.0  # the child's own user + system time: where a pass's CPU went


class SendProcess:
    """The parent's handle on the sending child."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        assert proc.stdin is not None
        self._wake_fd = proc.stdin.fileno()
        os.set_blocking(self._wake_fd, False)

    @classmethod
    def start(cls, config: Path, *, debug: bool) -> SendProcess | None:
        """Start `python -m maild.daemon.sendproc`; None (send in-process) if it cannot start."""
        argv = [sys.executable, "-m", CHILD_MODULE, "--config", str(config)]
        if debug:
            argv.append("--debug")
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        except OSError as e:
            log.warning("cannot start a sending process, sending in this one: %s", e)
            return None
        return cls(proc)

    def wake(self) -> None:
        """Tell the child there is something to send (from any thread; never blocks)."""
        with contextlib.suppress(BlockingIOError, BrokenPipeError, OSError, ValueError):
            os.write(self._wake_fd, b"w")

    def finish(self) -> ChildReport | None:
        """Nothing more will be queued: wait for the child's last pass; None if it failed."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        with contextlib.suppress(OSError):
            self.proc.stdin.close()
        out = self.proc.stdout.read()
        code = self.proc.wait()
        try:
            data = json.loads(out.decode().strip().splitlines()[-1])
            report = ChildReport(
                DispatchStats(**data["dispatch"]),
                [str(e) for e in data["errors"]],
                float(data.get("cpu_seconds", 0.0)),
            )
        except (ValueError, IndexError, KeyError, TypeError):
            log.error("the sending process ended (exit %s) without its report", code)
            return None
        return report

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


async def serve(app: App) -> int:
    """The child: send what is due whenever woken, until stdin closes; then a last pass and a report."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    sender = app.make_sender()
    dispatcher = Dispatcher(app.outbox_store(), sender, app.settings.outbox.batch_size)
    report = ChildReport()
    final = False
    try:
        while True:
            try:
                stats = await dispatcher.run_once()
            except OperationalError as e:
                stats = DispatchStats()
                report.errors.append(f"outbox: database unavailable: {e.orig}")
            report.dispatch.sent += stats.sent
            report.dispatch.deferred += stats.deferred
            report.dispatch.failed += stats.failed
            if final:
                break
            try:
                data = await asyncio.wait_for(reader.read(4096), IDLE_LOOK)
            except TimeoutError:
                continue
            final = not data  # end of file: the parent is done (or gone)
    finally:
        await sender.close()
    d = report.dispatch
    usage = resource.getrusage(resource.RUSAGE_SELF)
    line = {
        "dispatch": {"sent": d.sent, "deferred": d.deferred, "failed": d.failed},
        "errors": report.errors,
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 3),
    }
    print(json.dumps(line), flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """The child's entry point: the parent's config, its logging, then serve() until stdin closes.

    Failures are told on stderr (shared with the parent) the way the command
    line tells them, one sentence with passwords masked; the parent notices
    the missing report and says that the sending process failed.
    """
    parser = argparse.ArgumentParser(prog=f"python -m {CHILD_MODULE}", description="maild's sending process.")
    parser.add_argument("--config", required=True, help="the parent's config file")
    parser.add_argument("--debug", action="store_true", help="debug logs and tracebacks")
    args = parser.parse_args(argv)
    os.umask(0o077)  # as the command line: what maild creates is owner-only (SPEC §8)
    if args.debug:
        setup_logging(debug=True)
    try:
        settings = load_settings(config_path(args.config))
        setup_logging(settings.logging.level, settings.logging.format, args.debug)
        app = App(settings)
        try:
            app.db.check_schema()
            return asyncio.run(serve(app))
        finally:
            app.close()
    except MaildError as e:
        log.debug("failed", exc_info=True)
        print(f"maild: {visible_text(redact(str(e)))}", file=sys.stderr)
        return e.exit_code
    except Exception as e:
        log.debug("unexpected error", exc_info=True)
        print(f"maild: {visible_text(redact(f'unexpected error: {type(e).__name__}: {e}'))}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
