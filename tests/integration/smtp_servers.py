"""Test SMTP servers on 127.0.0.1 and the helpers to drive maild's SmtpSender at them.

Shared by the sender's tests (test_smtp.py, test_smtp_security.py,
test_smtp_oauth2.py) and the sink's (test_sink.py): numbered messages whose
bytes are known, a bare aiosmtpd handler that records what it took (TLS or
not) and refuses chosen recipients, a server that requires AUTH XOAUTH2 or
OAUTHBEARER and checks the bearer token as the test token endpoint's JWT, a
TLS server context, and the sink as its own process. The fixtures that
start them (and make the certificate) are in tests/integration/conftest.py.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import collections
import contextlib
import hashlib
import hmac
import json
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, SMTP, AuthResult, Session
from aiosmtpd.smtp import Envelope as ServerEnvelope

from maild.outbound.smtp import Envelope, SendResult, SmtpSender
from tests.fixtures.token_endpoint import ISSUER, b64url, jwt_claims


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


# ------------------------------------------------------------------ OAuth2 (SASL XOAUTH2, OAUTHBEARER)

# A real Microsoft 365 token is 1.5-3 KB: an AUTH line with one is far over
# aiosmtpd's 512-byte command limit and its 1001-byte line limit.
AUTH_LINE_LIMIT = 16384
REFUSAL = "535 5.7.8 Username and Password not accepted"
ERROR_STATUS = {"status": "401", "schemes": "bearer", "scope": "https://outlook.office.com/SMTP.Send"}


@dataclass
class AuthAttempt:
    """One AUTH exchange as the server saw it (the token kept for assertions, never printed)."""

    mechanism: str
    user: str
    token: str = field(repr=False)
    accepted: bool
    reason: str
    abort: bytes | None = None  # the client's answer to the error challenge


@dataclass
class OAuth2Recorder(Recorder):
    """Requires AUTH with a bearer token issued by the test token endpoint (HS256, its key).

    A token is accepted when its signature, issuer and lifetime are right,
    it is not revoked here, and its subject may send as the SASL user
    (`senders`: token subject -> the users it may act for, as a shared
    mailbox allows its delegates). Mail from an unauthenticated session is
    refused (auth_required), so a delivery proves a login.
    """

    key: bytes = b""
    senders: dict[str, set[str]] = field(default_factory=dict)
    revoked: set[str] = field(default_factory=set)
    attempts: list[AuthAttempt] = field(default_factory=list)

    def refusal(self, user: str, token: str) -> str:
        """Why this server refuses `token` for `user`, or "" if it accepts it."""
        parts = token.split(".")
        if len(parts) != 3:
            return "not a JWT"
        signed = hmac.new(self.key, f"{parts[0]}.{parts[1]}".encode("ascii"), hashlib.sha256).digest()
        if not hmac.compare_digest(b64url(signed), parts[2]):
            return "bad signature"
        claims = jwt_claims(token)
        now = time.time()
        if claims.get("iss") != ISSUER:
            return "wrong issuer"
        if not claims.get("nbf", 0) <= now < claims.get("exp", 0):
            return "expired or not yet valid"
        if token in self.revoked:
            return "revoked"
        if user not in self.senders.get(str(claims.get("sub")), set()):
            return f"{claims.get('sub')!r} may not send as {user!r}"
        return ""

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:
        return await self._bearer(server, args, "XOAUTH2")

    async def auth_OAUTHBEARER(self, server: SMTP, args: list[str]) -> AuthResult:
        return await self._bearer(server, args, "OAUTHBEARER")

    async def _bearer(self, server: SMTP, args: list[str], mechanism: str) -> AuthResult:
        if len(args) == 2:
            try:
                message = base64.b64decode(args[1], validate=True)
            except binascii.Error:
                await server.push("501 5.5.2 Can't decode base64")
                return AuthResult(success=False, handled=True)
        else:
            answer = await server.challenge_auth("")
            if answer is MISSING:
                return AuthResult(success=False, handled=True)
            message = bytes(answer)
        user, token = parse_bearer(message, mechanism)
        reason = self.refusal(user, token) if user and token else "malformed SASL message"
        attempt = AuthAttempt(mechanism, user, token, accepted=not reason, reason=reason)
        self.attempts.append(attempt)
        if not reason:
            return AuthResult(success=True, auth_data=user)
        # RFC 7628 §3.2.2 / Google's XOAUTH2: an error challenge, then the client's abort, then 535.
        answer = await server.challenge_auth(json.dumps(ERROR_STATUS))
        if answer is MISSING:
            return AuthResult(success=False, handled=True)
        attempt.abort = bytes(answer)
        return AuthResult(success=False, handled=False, message=REFUSAL)

    def accepted(self) -> list[AuthAttempt]:
        return [a for a in self.attempts if a.accepted]


def parse_bearer(message: bytes, mechanism: str) -> tuple[str, str]:
    """(user, token) of an XOAUTH2 or OAUTHBEARER client message; ("", "") when malformed."""
    text = message.decode("utf-8", "replace")
    fields = text.split("\x01")
    user = token = ""
    if mechanism == "OAUTHBEARER":
        gs2 = fields.pop(0).split(",") if fields else []
        if len(gs2) < 2 or gs2[0] != "n" or not gs2[1].startswith("a="):
            return "", ""
        user = gs2[1][2:].replace("=2C", ",").replace("=3D", "=")
    for item in fields:
        if item.startswith("user=") and mechanism == "XOAUTH2":
            user = item[5:]
        elif item.startswith("auth=Bearer "):
            token = item[len("auth=Bearer ") :]
    return user, token


class _LongAuthSMTP(SMTP):
    """aiosmtpd's SMTP with room for an AUTH line that carries a real-sized token."""

    line_length_limit = AUTH_LINE_LIMIT

    def __init__(self, handler: Any, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        # The class-level table is shared by every connection; this one is the session's own.
        limits: collections.defaultdict[str, int] = collections.defaultdict(lambda: SMTP.command_size_limit)
        limits["AUTH"] = AUTH_LINE_LIMIT
        self.command_size_limits = limits


class OAuth2Controller(Controller):
    """A Controller whose sessions require AUTH with a bearer token (plain loopback: no TLS needed)."""

    def __init__(
        self, handler: OAuth2Recorder, port: int, mechanisms: tuple[str, ...], **options: Any
    ) -> None:
        excluded = [m for m in ("PLAIN", "LOGIN", "XOAUTH2", "OAUTHBEARER") if m not in mechanisms]
        super().__init__(
            handler,
            hostname="127.0.0.1",
            port=port,
            server_hostname="oauth2.localhost",
            auth_required=True,
            auth_require_tls=False,
            auth_exclude_mechanism=excluded,
            **options,
        )

    def factory(self) -> SMTP:
        return _LongAuthSMTP(self.handler, **self.SMTP_kwargs)


@contextlib.contextmanager
def oauth2_smtp_server(
    key: bytes, senders: dict[str, set[str]], mechanisms: tuple[str, ...] = ("XOAUTH2",), **options: Any
) -> Iterator[tuple[OAuth2Recorder, int]]:
    """An SMTP server on 127.0.0.1 that takes mail only after AUTH with one of `mechanisms`.

    `options` go to aiosmtpd's SMTP, e.g. `timeout` (seconds) to drop idle
    sessions, so that a client must log in again.
    """
    recorder = OAuth2Recorder(key=key, senders=senders)
    port = free_port()
    controller = OAuth2Controller(recorder, port, mechanisms, **options)
    controller.start()
    try:
        yield recorder, port
    finally:
        controller.stop()


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
