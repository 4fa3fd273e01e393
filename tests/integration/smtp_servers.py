"""Test SMTP servers on 127.0.0.1 and the helpers to drive maild's SmtpSender at them.

Shared by the sender's tests (test_smtp.py, test_smtp_security.py) and the
sink's (test_sink.py): numbered messages whose bytes are known, a bare
aiosmtpd handler that records what it took (TLS or not) and refuses chosen
recipients, a TLS server context, and the sink as its own process. The
fixtures that start them (and make the certificate) are in
tests/integration/conftest.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from aiosmtpd.smtp import SMTP, Session
from aiosmtpd.smtp import Envelope as ServerEnvelope

from maild.outbound.smtp import Envelope, SendResult, SmtpSender


def mail(n: int, body: str = "Hello.") -> bytes:
    return (
        f"From: Support <support@example.test>\r\n"
        f"To: user{n}@example.test\r\n"
        f"Subject: [Case #{n:08d}] test\r\n"
        f"Message-ID: <m{n}@maild.test>\r\n"
        f"MIME-Version: 1.0\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n"
        f"Content-Transfer-Encoding: 8bit\r\n"
        f"\r\n"
        f"{body}\r\n"
    ).encode()


def envelope(n: int, body: str = "Hello.") -> Envelope:
    return Envelope(f"bounce+{n}@example.test", f"user{n}@example.test", mail(n, body))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def send(sender: SmtpSender, envelopes: list[Envelope]) -> list[SendResult]:
    async def run() -> list[SendResult]:
        try:
            return await sender.send_many(envelopes)
        finally:
            await sender.close()

    return asyncio.run(run())


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    tls: bool


@dataclass
class Recorder:
    """aiosmtpd handler that keeps what it received and refuses recipients by local part."""

    received: list[Received] = field(default_factory=list)
    # One aiosmtpd SMTP object per connection (STARTTLS renews the Session
    # instead), kept alive here so identities are never reused.
    connections: list[SMTP] = field(default_factory=list)
    noops: int = 0
    data_delay: float = 0.0

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: ServerEnvelope, hostname: str, responses: list[str]
    ) -> list[str]:
        if not any(c is server for c in self.connections):
            self.connections.append(server)
        session.host_name = hostname
        return responses

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: ServerEnvelope, address: str, options: list[str]
    ) -> str:
        if address.startswith("gone@"):
            return "550 5.1.1 <gone@example.test>: Recipient address rejected: User unknown"
        if address.startswith("full@"):
            return "452 4.2.2 Mailbox full, try later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_NOOP(self, server: SMTP, session: Session, envelope: ServerEnvelope, arg: str) -> str:
        self.noops += 1
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: ServerEnvelope) -> str:
        assert server.transport is not None
        tls = server.transport.get_extra_info("sslcontext") is not None
        self.received.append(
            Received(envelope.mail_from or "", list(envelope.rcpt_tos), envelope.original_content or b"", tls)
        )
        # Recorded first: a slow answer still means the message was taken.
        await asyncio.sleep(self.data_delay)
        return "250 2.0.0 Ok: queued"


def server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(certificate[0]), str(certificate[1]))
    return context


StartServer = Callable[..., tuple[Recorder, int]]


@contextlib.contextmanager
def sink_process(directory: Path) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """`python -m maild.demo.sink` in its own process as the demo runs it; killed if alive afterwards."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "maild.demo.sink", "--dir", str(directory), "--port", str(port)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == f"listening on 127.0.0.1:{port}"
        yield proc, port
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
