"""The parent's side of the sending child: a sender whose SMTP work happens in another process.

A big `maild run --once` keeps its outbox in the parent (the Dispatcher
claims, records and retries exactly as in the daemon) and gives the
`PipeSender` to that Dispatcher in place of the in-process SmtpSender: the
same `send_many` (one typed SendResult per envelope, never raising) and
`connections`, but each call's envelopes go down a pipe to
`python -m maild.daemon.sendproc`, which holds the SMTP sessions on the
other core. Frames are maild.daemon.sendpipe's; the pipes are read and
written from the parent's event loop, so a round in flight costs the
parent only its pickling.

When the child cannot be used, nothing is lost and sending goes on here:

* it cannot start: `start` returns None and the caller keeps sending
  in-process;
* it ends (crashes, is killed, cannot read its config): every envelope it
  had been handed and not answered gets a transient result, as a dropped
  SMTP connection would give, so the outbox retries it per its rules; every
  later call goes to the in-process `fallback` sender. Known window, the
  same as a connection dropped after DATA: a child that died after the
  server took a message but before its answer reached us makes that
  message go out twice (at most once more; never lost).

`finish` closes the child's stdin; the child sends what it was handed,
QUITs, reports its sent count, CPU seconds and peak RSS, and exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import cast

from maild.daemon.sendpipe import Answer, ChildReport, encode_frame, read_frame
from maild.daemon.sendproc import CHILD_MODULE
from maild.outbound.outbox import Sender
from maild.outbound.smtp import Envelope, SendResult
from maild.safetext import redact, visible_text

__all__ = ["PipeSender"]

log = logging.getLogger("maild.sendproc")

GONE = "the sending process ended before answering"


class _Stdin(asyncio.BaseProtocol):
    """The write side of the child's stdin: tells the owner when the pipe breaks."""

    def __init__(self, owner: PipeSender) -> None:
        self.owner = owner

    def connection_lost(self, exc: Exception | None) -> None:
        self.owner._lost()


class PipeSender:
    """Sends through the child process; `fallback` (in this process) once the child is gone."""

    def __init__(self, proc: subprocess.Popen[bytes], fallback: Sender) -> None:
        self.proc = proc
        self.fallback = fallback
        self.connections = fallback.connections
        self._ids = itertools.count()
        self._pending: dict[int, asyncio.Future[list[SendResult] | None]] = {}
        self._stdin: asyncio.WriteTransport | None = None
        self._reading: asyncio.Task[None] | None = None
        self._report: ChildReport | None = None
        self._gone = False
        self._told = False

    @classmethod
    def start(
        cls,
        config: Path,
        fallback: Sender,
        *,
        debug: bool = False,
        token_name: str | None = None,
        login_command: str | None = None,
    ) -> PipeSender | None:
        """Start `python -m maild.daemon.sendproc` (from any thread); None (send in-process) if it cannot."""
        argv = [sys.executable, "-m", CHILD_MODULE, "--config", str(config)]
        if token_name:
            argv += ["--token-name", token_name]
        if login_command:
            argv += ["--login-command", login_command]
        if debug:
            argv.append("--debug")
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        except OSError as e:
            log.warning(
                "cannot start a sending process, sending in this one: %s", visible_text(redact(str(e)))
            )
            return None
        return cls(proc, fallback)

    @property
    def alive(self) -> bool:
        """False once the child ended (or broke the protocol): later sends go to the fallback."""
        return not self._gone

    async def _attach(self) -> None:
        """Connect the pipes to the running event loop (the child may have been started from a thread)."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        loop = asyncio.get_running_loop()
        answers = asyncio.StreamReader(limit=2**20)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(answers), self.proc.stdout)
        self._stdin, _ = await loop.connect_write_pipe(lambda: _Stdin(self), self.proc.stdin)
        self._reading = asyncio.create_task(self._read(answers), name="sending process answers")

    async def _read(self, answers: asyncio.StreamReader) -> None:
        try:
            while (frame := await read_frame(answers)) is not None:
                if isinstance(frame, ChildReport):
                    self._report = frame
                    continue
                request_id, results = cast(Answer, frame)
                waiting = self._pending.pop(request_id, None)
                if waiting is not None and not waiting.done():
                    waiting.set_result(results)
        except Exception as e:  # a broken frame: the child is of no more use
            log.error(
                "the sending process broke the protocol: %s", visible_text(redact(f"{type(e).__name__}: {e}"))
            )
            with contextlib.suppress(OSError):
                self.proc.kill()
        finally:
            self._lost()

    def _lost(self) -> None:
        """The child cannot answer any more: whatever waits gets None (→ transient results)."""
        self._gone = True
        pending, self._pending = self._pending, {}
        for waiting in pending.values():
            if not waiting.done():
                waiting.set_result(None)

    async def send_many(self, envelopes: Sequence[Envelope]) -> list[SendResult]:
        """As SmtpSender.send_many, through the child; see the module docstring for when it is gone."""
        if not envelopes:
            return []
        if not self._gone and self._stdin is None:
            await self._attach()
        if self._gone or self._stdin is None or self._stdin.is_closing():
            return await self.fallback.send_many(envelopes)
        request_id = next(self._ids)
        waiting: asyncio.Future[list[SendResult] | None] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = waiting
        self._stdin.write(encode_frame((request_id, list(envelopes))))
        results = await waiting
        if results is None or len(results) != len(envelopes):
            self._tell_gone()
            return [SendResult("transient", None, GONE) for _ in envelopes]
        return results

    def _tell_gone(self) -> None:
        if not self._told:
            self._told = True
            log.warning("%s (exit %s): sending in this process", GONE, self.proc.poll())

    async def finish(self) -> ChildReport | None:
        """Nothing more to send: close the child's stdin, wait for its report and its exit; None if none."""
        if not self._gone and self._stdin is None:
            await self._attach()
        if self._stdin is not None:
            self._stdin.close()
        elif self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        if self._reading is not None:
            await self._reading
        code = await asyncio.to_thread(self.proc.wait)
        if self._report is None:
            log.warning("the sending process ended (exit %s) without its report", code)
        return self._report

    async def close(self) -> None:
        """As SmtpSender.close: the child QUITs its sessions and exits (the fallback is its owner's)."""
        await self.finish()

    def kill(self) -> None:
        """Make sure the child is gone (after `finish`, or when the pass failed)."""
        if self._reading is not None and not self._reading.done():
            self._reading.cancel()
        if self._stdin is not None:
            self._stdin.close()
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
