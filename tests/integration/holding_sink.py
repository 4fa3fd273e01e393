"""An SMTP server that takes a message and then withholds its answer: the crash window made to order.

maild marks a notification sent only after the server's 250. A crash after
the server took the message but before maild recorded the answer makes the
next run send it again: the one duplicate an outbox cannot rule out. The
project's sink (maild/demo/sink.py) always answers at once, so the window is
hit only by chance; this server stores the message and, while `holding`,
keeps the answer back until released, so a test can kill maild with
exactly those messages in flight.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

_HOLD_POLL = 0.05


@dataclass(frozen=True)
class Taken:
    """One message as the server took it, whether or not its answer ever reached the client."""

    rcpt_tos: tuple[str, ...]
    raw: bytes

    @property
    def msg(self) -> EmailMessage:
        parsed = message_from_bytes(self.raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed

    @property
    def message_id(self) -> str:
        return str(self.msg["Message-ID"]).strip()


@dataclass
class _Handler:
    lock: threading.Lock = field(default_factory=threading.Lock)
    taken: list[Taken] = field(default_factory=list)
    waiting: int = 0
    holding: threading.Event = field(default_factory=threading.Event)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self.lock:
            self.taken.append(Taken(tuple(envelope.rcpt_tos), envelope.original_content or b""))
            self.waiting += 1
        try:
            while self.holding.is_set():
                await asyncio.sleep(_HOLD_POLL)
        finally:
            with self.lock:
                self.waiting -= 1
        return "250 2.0.0 Ok: queued"


class HoldingSink:
    """aiosmtpd on 127.0.0.1 in a background thread; `hold()` keeps answers back, `release()` sends them."""

    def __init__(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self._handler = _Handler()
        self._controller = Controller(
            self._handler, hostname="127.0.0.1", port=self.port, server_hostname="holding.localhost"
        )

    def start(self) -> HoldingSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self.release()
        self._controller.stop()

    def hold(self) -> None:
        self._handler.holding.set()

    def release(self) -> None:
        self._handler.holding.clear()

    def waiting(self) -> int:
        """Messages taken whose answer is being withheld right now."""
        with self._handler.lock:
            return self._handler.waiting

    def taken(self) -> list[Taken]:
        with self._handler.lock:
            return list(self._handler.taken)
