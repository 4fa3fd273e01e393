"""The LMTP listener of `maild run` (RFC 2033): mail pushed by the site's own MTA.

Written on asyncio streams rather than aiosmtpd's LMTP class because two of
its answers break LMTP's one-reply-per-recipient rule: a message over the
size limit and a line over its line limit get a single reply however many
recipients were accepted, and the client then waits for the rest.

What it answers, and why:

* RCPT: 250 for our addresses (maild.mailids.is_own_address over the support
  addresses, and any address at the support domain), 550 for the rest, so
  the MTA bounces a stray recipient itself.
* DATA: one reply per accepted recipient, all the same, because the message
  is recorded once whoever it was for: 250 only after its transaction
  committed (whatever its outcome, quarantine and duplicate included), 451
  4.3.0 when the database is unavailable (the MTA keeps it and retries),
  552 5.3.4 over `[lmtp] max_message_size`. The size is counted while
  reading; past the limit the rest is read and thrown away, never buffered.
* MAIL may carry `X-MAILD-MAILBOX=<label>`: the message is recorded as if it
  had arrived in that configured mailbox (what `maild deliver --mailbox`
  passes on); without it, under maild.daemon.delivery.LOCAL_MAILBOX.

Recording blocks (the database driver), so it runs in one worker thread of
its own while the event loop goes on serving connections, the outbox and
the deadline scan. On stop, idle connections are told 421 and closed; a
message being recorded is finished and answered first.

Under systemd socket activation (LISTEN_FDS, a maild-lmtp.socket unit) the
listening socket systemd passed is used instead of binding `listen`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import stat
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from maild.configtransport import LmtpSettings
from maild.errors import MaildError, TransientError
from maild.safetext import visible

__all__ = ["LmtpServer", "LmtpTarget"]

log = logging.getLogger("maild.lmtp")

COMMAND_LIMIT = 4096  # bytes of one command line (RFC 5321 asks for 512 at least)
COMMAND_TIMEOUT = 300.0  # seconds a client may stay silent between commands (RFC 5321 4.5.3.2)
DATA_TIMEOUT = 600.0  # seconds between two pieces of a message
MAX_RECIPIENTS = 100
STREAM_LIMIT = 64 * 1024  # longest line held in one piece; longer ones are read in pieces
SD_LISTEN_FDS_START = 3
MAILBOX_PARAM = "X-MAILD-MAILBOX"


@dataclass(frozen=True)
class LmtpTarget:
    """What the listener asks of the rest of the daemon, so it holds no database code itself.

    `accepts(address)`: is this recipient ours. `mailbox(label)`: the mailbox
    name of a configured label (MaildError when there is none). `deliver(raw,
    mailbox)`: record the message, blocking (run in the listener's thread);
    returns the outcome, raises TransientError when the database is away.
    """

    accepts: Callable[[str], bool]
    mailbox: Callable[[str], str]
    deliver: Callable[[bytes, str], str]
    default_mailbox: str


class _Closed(Exception):
    """The client went away (or was silent too long): end the session."""


@dataclass(eq=False)
class _Session:
    server: LmtpServer
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    greeted: bool = False
    sender: str | None = None
    mailbox: str = ""
    recipients: list[str] = field(default_factory=list)
    busy: bool = False  # a message is being recorded: a stop waits for its answer

    def reset(self) -> None:
        self.sender = None
        self.mailbox = self.server.target.default_mailbox
        self.recipients = []

    async def reply(self, *lines: str) -> None:
        self.writer.write("".join(f"{line}\r\n" for line in lines).encode("utf-8", "replace"))
        await self.writer.drain()

    async def run(self) -> None:
        self.reset()
        await self.reply(f"220 {self.server.hostname} maild LMTP ready")
        while True:
            line = await self._command()
            if line is None:
                continue
            verb, _, arg = line.partition(" ")
            verb = verb.upper()
            if verb == "QUIT":
                await self.reply("221 2.0.0 bye")
                return
            handler = _COMMANDS.get(verb)
            if handler is None:
                await self.reply(f"500 5.5.2 command not recognised: {visible(verb[:20])}")
                continue
            await handler(self, arg.strip())

    async def _command(self) -> str | None:
        """The next command line, or None when it was too long (answered here)."""
        try:
            raw = await asyncio.wait_for(self.reader.readuntil(b"\n"), COMMAND_TIMEOUT)
        except asyncio.LimitOverrunError as e:
            await self._discard_line(e.consumed)
            await self.reply("500 5.5.2 line too long")
            return None
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError) as e:
            raise _Closed from e
        if len(raw) > COMMAND_LIMIT:
            await self.reply("500 5.5.2 line too long")
            return None
        return raw.rstrip(b"\r\n").decode("utf-8", "replace")

    async def _discard_line(self, consumed: int) -> None:
        while True:
            await self.reader.readexactly(consumed)
            try:
                await asyncio.wait_for(self.reader.readuntil(b"\n"), COMMAND_TIMEOUT)
                return
            except asyncio.LimitOverrunError as e:
                consumed = e.consumed
            except (asyncio.IncompleteReadError, TimeoutError, ConnectionError) as e:
                raise _Closed from e

    # ------------------------------------------------------------------ commands

    async def lhlo(self, arg: str) -> None:
        if not arg:
            await self.reply("501 5.5.4 LHLO needs a host name")
            return
        self.greeted = True
        self.reset()
        await self.reply(
            f"250-{self.server.hostname}",
            "250-PIPELINING",
            "250-ENHANCEDSTATUSCODES",
            "250-8BITMIME",
            "250-SMTPUTF8",
            f"250-SIZE {self.server.settings.max_message_size}",
            f"250 {MAILBOX_PARAM}",
        )

    async def mail(self, arg: str) -> None:
        if not self.greeted:
            await self.reply("503 5.5.1 LHLO first")
            return
        if self.sender is not None:
            await self.reply("503 5.5.1 MAIL already given (RSET first)")
            return
        address, params = _path(arg, "FROM:")
        if address is None:
            await self.reply("501 5.5.4 syntax: MAIL FROM:<address>")
            return
        problem = self._mail_params(params)
        if problem is not None:
            await self.reply(problem)
            return
        self.sender = address
        await self.reply("250 2.1.0 sender ok")

    def _mail_params(self, params: list[str]) -> str | None:
        """Apply MAIL's parameters; the refusal to answer, if any (unknown ones are ignored)."""
        for param in params:
            name, _, value = param.partition("=")
            name = name.upper()
            if name == "SIZE" and value.isdigit() and int(value) > self.server.settings.max_message_size:
                return self.server.too_big
            if name == MAILBOX_PARAM:
                try:
                    self.mailbox = self.server.target.mailbox(value)
                except MaildError as e:
                    return f"501 5.5.4 {visible(str(e))[:200]}"
        return None

    async def rcpt(self, arg: str) -> None:
        if self.sender is None:
            await self.reply("503 5.5.1 MAIL first")
            return
        address, _params = _path(arg, "TO:")
        if not address:
            await self.reply("501 5.5.4 syntax: RCPT TO:<address>")
            return
        if len(self.recipients) >= MAX_RECIPIENTS:
            await self.reply("452 4.5.3 too many recipients")
            return
        if not self.server.target.accepts(address):
            await self.reply(f"550 5.1.1 <{visible(address)}>: not a support address here")
            return
        self.recipients.append(address)
        await self.reply("250 2.1.5 recipient ok")

    async def data(self, arg: str) -> None:
        if arg:
            await self.reply("501 5.5.4 syntax: DATA")
            return
        if self.sender is None or not self.recipients:
            await self.reply("503 5.5.1 no valid recipients")
            return
        await self.reply("354 2.0.0 end data with <CR><LF>.<CR><LF>")
        raw = await self._message()
        if raw is None:
            answer = self.server.too_big
        else:
            self.busy = True
            try:
                answer = await self.server.record(raw, self.mailbox)
            finally:
                self.busy = False
        await self.reply(*(answer for _ in self.recipients))
        self.reset()

    async def _message(self) -> bytes | None:
        """The message's bytes, dot-unstuffed; None when it is over the size limit (read to its end).

        Read in pieces that end at ".<CRLF>" (the end mark is such a piece that
        starts a line), not line by line: a message is a few reads, and the
        unstuffing is one replace over the whole (every line-initial dot in
        the transmitted data is a stuffing dot, RFC 5321 4.5.2).
        """
        limit = self.server.settings.max_message_size
        pieces: list[bytes] = []
        size = 0
        line_start = True
        while True:
            piece, complete = await self._piece()
            if complete and ((line_start and piece == b".\r\n") or piece.endswith(b"\n.\r\n")):
                pieces.append(piece[:-3])
                size += len(piece) - 3
                break
            line_start = piece.endswith(b"\n")
            size += len(piece)
            if size <= limit:
                pieces.append(piece)
            elif pieces:
                pieces = []  # over the limit: nothing more is kept
        if size > limit:
            return None
        data = b"".join(pieces)
        if data.startswith(b"."):
            data = data[1:]
        return data.replace(b"\n.", b"\n")

    async def _piece(self) -> tuple[bytes, bool]:
        """Data up to and including the next ".<CRLF>" (True), or a piece of a long run without one."""
        try:
            return await asyncio.wait_for(self.reader.readuntil(b".\r\n"), DATA_TIMEOUT), True
        except asyncio.LimitOverrunError as e:
            return await self.reader.read(e.consumed), False
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError) as e:
            raise _Closed from e

    async def rset(self, _arg: str) -> None:
        self.reset()
        await self.reply("250 2.0.0 ok")

    async def noop(self, _arg: str) -> None:
        await self.reply("250 2.0.0 ok")

    async def vrfy(self, _arg: str) -> None:
        await self.reply("252 2.5.0 cannot verify, but will accept and try")

    async def not_lmtp(self, _arg: str) -> None:
        await self.reply("500 5.5.1 this is LMTP: LHLO, not HELO or EHLO")


_COMMANDS = {
    "LHLO": _Session.lhlo,
    "MAIL": _Session.mail,
    "RCPT": _Session.rcpt,
    "DATA": _Session.data,
    "RSET": _Session.rset,
    "NOOP": _Session.noop,
    "VRFY": _Session.vrfy,
    "HELO": _Session.not_lmtp,
    "EHLO": _Session.not_lmtp,
}


def _path(arg: str, prefix: str) -> tuple[str | None, list[str]]:
    """`FROM:<a@b> PARAMS` -> ("a@b", params); (None, []) when it is not that shape."""
    if arg[: len(prefix)].upper() != prefix:
        return None, []
    rest = arg[len(prefix) :].strip()
    if not rest.startswith("<"):
        address, _, tail = rest.partition(" ")
        return address, tail.split()
    end = rest.find(">")
    if end < 0:
        return None, []
    address = rest[1:end]
    if ":" in address:  # an obsolete source route: <@relay:a@b>
        address = address.rpartition(":")[2]
    return address, rest[end + 1 :].split()


class LmtpServer:
    """The listener: binds `[lmtp] listen` (or takes systemd's socket) and serves until stopped."""

    def __init__(self, settings: LmtpSettings, target: LmtpTarget, hostname: str | None = None) -> None:
        self.settings = settings
        self.target = target
        self.hostname = hostname or socket.getfqdn()
        self._sessions: dict[asyncio.Task[None], _Session] = {}
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lmtp")
        self._server: asyncio.Server | None = None
        self._bound_path: Path | None = None

    @property
    def too_big(self) -> str:
        """The answer to a message over the size limit (permanent: the MTA bounces it)."""
        return f"552 5.3.4 message size exceeds the limit of {self.settings.max_message_size} bytes"

    async def record(self, raw: bytes, mailbox: str) -> str:
        """The DATA answer for one message: recorded, try later, or (a bug) try later too."""
        loop = asyncio.get_running_loop()
        try:
            outcome = await loop.run_in_executor(self._thread, self.target.deliver, raw, mailbox)
        except TransientError as e:
            log.warning("LMTP message deferred (451): %s", e)
            return "451 4.3.0 database unavailable, try again later"
        except Exception as e:
            # Nothing committed, so the MTA keeps the message: better than a bounce.
            log.error("LMTP message deferred (451) after an unexpected %s: %s", type(e).__name__, e)
            log.debug("LMTP recording failure", exc_info=True)
            return "451 4.3.0 local error, try again later"
        return f"250 2.0.0 recorded ({outcome})"

    async def start(self) -> None:
        """Listen: the socket systemd passed, else `[lmtp] listen`."""
        try:
            await self._listen()
        except OSError as e:
            raise MaildError(f"[lmtp] listen = {self.settings.listen!r}: {e.strerror or e}") from e

    async def _listen(self) -> None:
        inherited = _activated_socket()
        if inherited is not None:
            self._server = await asyncio.start_server(self._serve, sock=inherited, limit=STREAM_LIMIT)
            log.info("LMTP listening on the socket systemd passed")
            return
        path = self.settings.unix_path
        if path is not None:
            _remove_stale_socket(path)
            self._server = await asyncio.start_unix_server(self._serve, path=str(path), limit=STREAM_LIMIT)
            # The MTA runs as another user: its group (documented in systemd/README.md) may connect.
            os.chmod(path, 0o660)
            self._bound_path = path
        else:
            host, port = self.settings.host_port
            self._server = await asyncio.start_server(self._serve, host, port, limit=STREAM_LIMIT)
        log.info("LMTP listening on %s", self.address)

    @property
    def address(self) -> str:
        """Where it listens, as `listen` says it ("host:port" with the port bound, or "unix:/path")."""
        if self._server is None or self._bound_path is not None or not self._server.sockets:
            return self.settings.listen
        name = self._server.sockets[0].getsockname()
        return f"{name[0]}:{name[1]}" if isinstance(name, tuple) else str(name)

    async def serve(self, stop: asyncio.Event) -> None:
        """Serve until `stop` is set, then close as the module docstring says."""
        if self._server is None:
            await self.start()
        await stop.wait()
        await self.close()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for session in list(self._sessions.values()):
            if not session.busy:
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await session.reply("421 4.3.2 maild is stopping, try again later")
                session.writer.close()
        if self._sessions:
            await asyncio.wait(list(self._sessions))
        if self._bound_path is not None:
            with contextlib.suppress(OSError):
                self._bound_path.unlink()
            self._bound_path = None
        self._thread.shutdown(wait=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        session = _Session(self, reader, writer)
        self._sessions[task] = session
        try:
            await session.run()
        except (_Closed, ConnectionError):
            pass
        finally:
            del self._sessions[task]
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()


def _activated_socket() -> socket.socket | None:
    """The first socket systemd passed this process (socket activation), if any."""
    if os.environ.get("LISTEN_PID") != str(os.getpid()):
        return None
    try:
        count = int(os.environ.get("LISTEN_FDS", "0"))
    except ValueError:
        return None
    if count < 1:
        return None
    return socket.socket(fileno=SD_LISTEN_FDS_START)


def _remove_stale_socket(path: Path) -> None:
    """A socket file left by a daemon that was killed: binding would fail on it."""
    with contextlib.suppress(FileNotFoundError):
        if stat.S_ISSOCK(path.lstat().st_mode):
            path.unlink()
