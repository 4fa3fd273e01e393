"""The sending child of a big `maild run --once`: SMTP only, over a pipe each way.

Ingest and sending in one process share one interpreter lock, and on a busy
mailbox each slows the other down, so a big pass hands the SMTP protocol
work (aiosmtplib, TLS, the login, the session pool of settings.smtp) to a
second process on the other core. The parent keeps the whole outbox:
it claims the rows, records every answer and applies the retry rules
(maild.outbound.outbox, through maild.daemon.pipesender.PipeSender); this
process only sends what it is handed and answers with one typed SendResult
per envelope. So it opens no database and imports neither SQLAlchemy nor
templates nor the mailbox library (tests/unit/test_sendproc.py checks):
it is a few tens of MiB beside the parent, not a second maild.

The protocol is frames each way (maild.daemon.sendpipe: a length, then a
pickle; message bytes are never re-encoded). The parent writes `(request
id, [Envelope, …])`; the child sends each request's envelopes with
`SmtpSender.send_many` across the pool's connections (several requests at
once if given) and writes `(request id, [SendResult, …])`. When its stdin closes (the parent is done,
or gone) it finishes what it was handed, QUITs its sessions, writes one
last frame, its `ChildReport` (what it sent, its CPU seconds and peak RSS),
and exits. The pipe's stdout is its own file descriptor: anything printed
by accident goes to stderr, which it shares with the parent for its logs.

Started as `python -m maild.daemon.sendproc --config PATH`: an entry point
of its own rather than a hidden option of the public command line, since it
is an internal process and speaks the pipe protocol above, not CONTRACT.md.
It builds its SmtpSender from the same config file as the parent.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import resource
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

from maild.clock import SystemClock
from maild.config import Settings, config_path, load_settings
from maild.daemon.sendpipe import ChildReport, Request, encode_frame, read_frame
from maild.errors import MaildError
from maild.logs import setup_logging
from maild.oauth2.errors import LOGIN_COMMAND
from maild.oauth2.tokens import TokenSource
from maild.outbound.smtp import Envelope, SmtpSender
from maild.outbound.smtpbuild import smtp_sender
from maild.safetext import redact, visible_text

if TYPE_CHECKING:  # the outbox (and SQLAlchemy) stays in the parent
    from maild.outbound.outbox import Sender

__all__ = ["CHILD_MODULE", "build_sender", "main", "serve"]

log = logging.getLogger("maild.sendproc")

CHILD_MODULE = "maild.daemon.sendproc"


def build_sender(settings: Settings, *, token_name: str, login_command: str) -> SmtpSender:
    """The [smtp] sender, as maild.app.App.make_sender builds it, without the App (and its database)."""
    s = settings.smtp
    tokens = None
    if s.oauth2 is not None:
        tokens = TokenSource(s.oauth2, SystemClock(), name=token_name, login_command=login_command)
    return smtp_sender(s, tokens)


def _write(fd: int, frame: bytes) -> bool:
    """Write a whole frame (blocking: answers are small); False if the parent is gone."""
    view = memoryview(frame)
    try:
        while view:
            view = view[os.write(fd, view) :]
    except OSError:
        return False
    return True


async def serve(sender: Sender, requests: asyncio.StreamReader, out: int) -> ChildReport:
    """Send each request as it comes, until the end of the pipe; then finish them all and QUIT."""
    report = ChildReport()
    handed: set[asyncio.Task[None]] = set()

    async def answer(request_id: int, envelopes: list[Envelope]) -> None:
        results = await sender.send_many(envelopes)
        report.sent += sum(1 for r in results if r.outcome == "sent")
        if not _write(out, encode_frame((request_id, results))):
            log.debug("the parent is gone: answer %d not delivered", request_id)

    try:
        while (frame := await read_frame(requests)) is not None:
            request_id, envelopes = cast(Request, frame)
            task = asyncio.create_task(answer(request_id, envelopes))
            handed.add(task)
            task.add_done_callback(handed.discard)
        # The parent is done or gone: what was handed over is still sent.
        await asyncio.gather(*handed)
    finally:
        await sender.close()
    return report


async def _serve_stdin(sender: SmtpSender, out: int) -> ChildReport:
    loop = asyncio.get_running_loop()
    requests = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(requests), sys.stdin.buffer)
    return await serve(sender, requests, out)


def _peak_rss_kib() -> int:
    """This process's VmHWM. Not ru_maxrss: Linux carries the parent's high-water mark across exec."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _finish(report: ChildReport, out: int) -> None:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    report.cpu_seconds = round(usage.ru_utime + usage.ru_stime, 3)
    report.peak_rss_kib = _peak_rss_kib()
    _write(out, encode_frame(report))


def main(argv: Sequence[str] | None = None) -> int:
    """The child's entry point: the parent's config and logging, then serve() until stdin closes.

    Failures are told on stderr (shared with the parent) the way the command
    line tells them, one sentence with passwords masked; the parent notices
    the pipe's end without a report and sends in-process instead.
    """
    parser = argparse.ArgumentParser(prog=f"python -m {CHILD_MODULE}", description="maild's sending process.")
    parser.add_argument("--config", required=True, help="the parent's config file")
    parser.add_argument("--debug", action="store_true", help="debug logs and tracebacks")
    parser.add_argument("--token-name", default="smtp", help="how the SMTP OAuth2 client is named in logs")
    parser.add_argument("--login-command", default=LOGIN_COMMAND, help="the hint for a new refresh token")
    args = parser.parse_args(argv)
    # The answers' pipe gets a descriptor of its own; fd 1 becomes stderr, so a stray print cannot corrupt it.
    out = os.dup(1)
    os.dup2(2, 1)
    os.umask(0o077)  # as the command line: what maild creates is owner-only (SPEC §8)
    if args.debug:
        setup_logging(debug=True)
    try:
        settings = load_settings(config_path(args.config))
        setup_logging(settings.logging.level, settings.logging.format, args.debug)
        sender = build_sender(settings, token_name=args.token_name, login_command=args.login_command)
        report = asyncio.run(_serve_stdin(sender, out))
    except MaildError as e:
        log.debug("failed", exc_info=True)
        print(f"maild: {visible_text(redact(str(e)))}", file=sys.stderr)
        return e.exit_code
    except Exception as e:
        log.debug("unexpected error", exc_info=True)
        print(f"maild: {visible_text(redact(f'unexpected error: {type(e).__name__}: {e}'))}", file=sys.stderr)
        return 1
    _finish(report, out)
    with contextlib.suppress(OSError):
        os.close(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
