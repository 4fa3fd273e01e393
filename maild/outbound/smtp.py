"""Outbound SMTP: the session pool (with smtpauth, which logs in, the only modules importing aiosmtplib).

It owns two things the outbox dispatcher must not have to think about:

* Keeping sessions cheap. Connections are opened lazily, kept in a small
  pool and reused across calls, because a TLS handshake plus AUTH per
  notification would cost far more than the notification itself.
* Turning every way a delivery can end into one typed `SendResult` whose
  `outcome` decides the message's fate: "sent", "transient" (keep it and
  retry later) or "permanent" (mark it failed with the server's answer).
  `send_many` never raises for SMTP or network trouble, so one bad message
  or a dead server can never make the dispatcher lose track of a batch.

Classification is the pure function `classify`, kept separate so its rules
can be tested without a server.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import aiosmtplib
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
)

from maild.oauth2.settings import Mechanism
from maild.oauth2.tokens import TokenSource
from maild.outbound.smtpauth import Login, OAuth2Login, PasswordLogin, SessionError, authenticate
from maild.outbound.smtpauth import describe as _describe
from maild.outbound.smtpauth import one_line as _one_line
from maild.tls import client_context, security_mode
from maild.vocab import Security

__all__ = ["Envelope", "EnvelopeError", "Outcome", "SendResult", "SessionError", "SmtpSender", "classify"]

Outcome = Literal["sent", "transient", "permanent"]

# Connect attempts for one session: quick enough that a dead server turns
# into transient results in about a second, patient enough to ride out a
# server restart.
_CONNECT_ATTEMPTS = 3
_CONNECT_BUDGET = 2.0
_CONNECT_WAIT = wait_exponential_jitter(multiplier=0.1, max=0.5, jitter=0.1)
# A pooled connection idle for longer than this is probed with NOOP before
# use: servers and NAT boxes drop idle sessions silently, and a probe that
# fails fast is cheaper than a message that hangs until the read timeout.
_IDLE_PROBE_AFTER = 10.0
_PROBE_TIMEOUT = 5.0
_QUIT_TIMEOUT = 2.0


@dataclass(frozen=True)
class Envelope:
    """One message for one recipient; `data` is the complete RFC 5322 message with CRLF line ends.

    The envelope addresses are used as given (sendmail-style), never read
    from the headers, so Bcc-like and per-recipient deliveries stay exact.
    """

    mail_from: str
    rcpt: str
    data: bytes


@dataclass(frozen=True)
class SendResult:
    """How one envelope ended: `detail` is the server's answer or the error, on one line, fit to store.

    `attempted` is False when the message never reached the server because
    the login failed (credentials, OAuth2 token): the outbox then keeps it
    without counting an attempt, due again at `retry_at` at the earliest.
    """

    outcome: Outcome
    code: int | None
    detail: str
    attempted: bool = True
    retry_at: datetime | None = None


class EnvelopeError(ValueError):
    """The envelope cannot be expressed to this server (e.g. SMTPUTF8 missing); retrying cannot help."""


def classify(code: int | None, error: BaseException | None) -> Outcome:
    """Decide a delivery's fate from the reply code and the error, if any.

    Session problems are transient whatever their code; otherwise the code
    rules (2xx sent, 4xx transient, 5xx permanent). Without a code, an
    envelope that cannot be expressed is permanent and everything else
    (refused or dropped connections, timeouts, TLS handshakes) is transient,
    because a failure we cannot attribute to the message must not lose it.
    """
    if isinstance(error, SessionError):
        return "transient"
    if code is not None:
        if 200 <= code < 300:
            return "sent"
        if 500 <= code < 600:
            return "permanent"
        return "transient"
    # ssl.SSLCertVerificationError is also a ValueError: network first.
    if isinstance(error, OSError):
        return "transient"
    if isinstance(error, ValueError):
        return "permanent"
    return "transient"


def _tls_failure(exc: BaseException) -> ssl.SSLError | None:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _session_failure(exc: Exception, handshake: str, failed: str) -> SessionError:
    """Name a failed handshake as such (the fix is in ca_file / verify_tls), else say what failed and how."""
    tls = _tls_failure(exc)
    if tls is not None:
        return SessionError(f"{handshake} failed: {_one_line(str(tls))} (check ca_file / verify_tls)")
    code = exc.code if isinstance(exc, aiosmtplib.SMTPResponseException) else None
    return SessionError(f"{failed}: {_describe(exc)}", code)


def _worth_reconnecting(exc: BaseException) -> bool:
    """Retry only what a moment's wait can fix: refused, reset or timed-out connections and 421 greetings.

    Certificate and handshake failures, 5xx greetings and auth failures
    stay as they are on the next attempt, so they are reported at once.
    """
    if _tls_failure(exc) is not None:
        return False
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return exc.code == 421
    return isinstance(
        exc, aiosmtplib.SMTPConnectError | aiosmtplib.SMTPServerDisconnected | aiosmtplib.SMTPTimeoutError
    ) or (isinstance(exc, OSError) and not isinstance(exc, ssl.SSLError))


class _Dropped(Exception):
    """The session broke before the server took the message; `retry` says whether resending is sane."""

    def __init__(self, detail: str, *, retry: bool, code: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retry = retry
        self.code = code


class _Connection:
    """One pooled session; `client` is None until first use and after it broke."""

    def __init__(self) -> None:
        self.client: aiosmtplib.SMTP | None = None
        self.last_used = 0.0

    @property
    def usable(self) -> bool:
        return self.client is not None and self.client.is_connected

    def discard(self) -> None:
        if self.client is not None:
            self.client.close()
        self.client = None


class _Batch:
    """Work of one send_many call, shared by its workers."""

    def __init__(self, envelopes: Sequence[Envelope]) -> None:
        self.envelopes = envelopes
        self.results: list[SendResult | None] = [None] * len(envelopes)
        self.queue: deque[int] = deque(range(len(envelopes)))
        self.progress = False
        self.failure: SessionError | None = None


class SmtpSender:
    """A pool of up to `connections` reusable SMTP sessions to one server.

    Bound to the event loop it is first used in; used from another loop it
    forgets the old sessions (they belong to that loop) and opens new ones.
    `close()` must not run while a `send_many` is in progress.
    """

    def __init__(
        self,
        host: str,
        port: int,
        security: Security,
        *,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        ca_file: str | None = None,
        verify_tls: bool = True,
        local_hostname: str | None = None,
        connections: int = 1,
        tokens: TokenSource | None = None,
        mechanism: Mechanism = Mechanism.XOAUTH2,
    ) -> None:
        security = security_mode(security, "security")
        if not host:
            raise ValueError("host must not be empty")
        if not 0 < port < 65536:
            raise ValueError(f"port must be 1-65535, not {port}")
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, not {timeout}")
        if connections < 1:
            raise ValueError(f"connections must be at least 1, not {connections}")
        self._login = _login(username, password, tokens, mechanism)
        self.host = host
        self.port = port
        self.security: Security = security
        self._tls_context: ssl.SSLContext | None = (
            None if security == "none" else client_context(ca_file, verify_tls)
        )
        self.timeout = timeout
        self.connections = connections
        self._local_hostname = local_hostname
        # Building (not connecting) a client validates the options the
        # library checks itself, e.g. local_hostname, at start-up.
        self._new_client()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._slots: asyncio.Semaphore | None = None
        self._idle: list[_Connection] = []

    @property
    def _where(self) -> str:
        return f"{self.host}:{self.port}"

    def _new_client(self) -> aiosmtplib.SMTP:
        return aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            local_hostname=self._local_hostname,
            timeout=self.timeout,
            use_tls=self.security == "tls",
            # STARTTLS is done by hand below so that "required but not
            # offered" is a clear error and "none" never upgrades on its own.
            start_tls=False,
            tls_context=self._tls_context,
        )

    async def send_many(self, envelopes: Sequence[Envelope]) -> list[SendResult]:
        """Deliver each envelope once; results come back in input order.

        Workers share one queue so a slow session takes fewer messages. A
        worker whose session cannot be (re)opened hands its message back;
        when a round of workers makes no progress at all, what is left gets
        the session error as a transient result instead of waiting forever.
        """
        if not envelopes:
            return []
        self._bind_loop()
        if self._local_hostname is None:
            # getfqdn may wait on DNS; do it once per sender, not per session.
            self._local_hostname = await asyncio.to_thread(socket.getfqdn)
        batch = _Batch(envelopes)
        while batch.queue:
            batch.progress = False
            workers = min(self.connections, len(batch.queue))
            await asyncio.gather(*(self._worker(batch) for _ in range(workers)))
            if batch.queue and not batch.progress:
                result = _unsent(batch.failure or SessionError(f"no session to {self._where}"))
                while batch.queue:
                    batch.results[batch.queue.popleft()] = result
        finished: list[SendResult] = []
        for done in batch.results:
            assert done is not None, "every queued envelope gets a result"
            finished.append(done)
        return finished

    async def close(self) -> None:
        """QUIT every pooled session politely, so servers do not log aborted connections."""
        idle, self._idle = self._idle, []
        for conn in idle:
            client = conn.client
            if client is not None and client.is_connected:
                with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                    await client.quit(timeout=_QUIT_TIMEOUT)
            conn.discard()

    def _bind_loop(self) -> None:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._loop = loop
            self._slots = asyncio.Semaphore(self.connections)
            # Sessions of another loop cannot be used or closed from this one.
            self._idle = []

    async def _worker(self, batch: _Batch) -> None:
        assert self._slots is not None
        async with self._slots:
            conn = self._idle.pop() if self._idle else _Connection()
            # Cancelled or broken mid-transaction, a session may hold half an
            # envelope: only one left between messages goes back to the pool.
            between_messages = False
            try:
                while batch.queue:
                    index = batch.queue.popleft()
                    try:
                        batch.results[index] = await self._deliver(conn, batch.envelopes[index])
                    except SessionError as exc:
                        batch.queue.appendleft(index)
                        batch.failure = exc
                        return
                    batch.progress = True
                between_messages = True
            finally:
                if between_messages and conn.usable:
                    self._idle.append(conn)
                else:
                    conn.discard()

    async def _deliver(self, conn: _Connection, envelope: Envelope) -> SendResult:
        """Send one envelope, reconnecting once if the session turns out to be gone."""
        for attempt in (1, 2):
            client = await self._ready(conn)
            try:
                return await self._transaction(client, envelope)
            except _Dropped as exc:
                conn.discard()
                if not exc.retry or attempt == 2:
                    return SendResult(classify(exc.code, exc), exc.code, exc.detail)
            finally:
                conn.last_used = time.monotonic()
        raise AssertionError("unreachable: the second attempt always returns")

    async def check_login(self) -> None:
        """Open one session (connect, TLS, login) and close it: `maild auth check`; SessionError if not."""
        client = await self._open()
        with contextlib.suppress(aiosmtplib.SMTPException, OSError):
            await client.quit()
        client.close()

    async def _ready(self, conn: _Connection) -> aiosmtplib.SMTP:
        client = conn.client
        if client is not None and client.is_connected:
            if time.monotonic() - conn.last_used < _IDLE_PROBE_AFTER:
                return client
            try:
                await client.noop(timeout=min(self.timeout, _PROBE_TIMEOUT))
                return client
            except (aiosmtplib.SMTPException, OSError):
                pass
        conn.discard()
        conn.client = await self._open()
        return conn.client

    async def _open(self) -> aiosmtplib.SMTP:
        """Open a session ready for MAIL; every failure becomes a SessionError with a clear detail."""
        retrying = AsyncRetrying(
            stop=stop_after_attempt(_CONNECT_ATTEMPTS) | stop_after_delay(_CONNECT_BUDGET),
            wait=_CONNECT_WAIT,
            retry=retry_if_exception(_worth_reconnecting),
            reraise=True,
        )
        try:
            client: aiosmtplib.SMTP = await retrying(self._connect)
        except SessionError:
            raise
        except Exception as exc:
            attempts = retrying.statistics.get("attempt_number", 1)
            tries = f" after {attempts} attempts" if attempts > 1 else ""
            raise _session_failure(
                exc, f"TLS handshake with {self._where}", f"connect to {self._where} failed{tries}"
            ) from exc
        try:
            await self._secure_and_login(client)
        except BaseException:
            client.close()
            raise
        return client

    async def _connect(self) -> aiosmtplib.SMTP:
        client = self._new_client()
        await client.connect()
        return client

    async def _secure_and_login(self, client: aiosmtplib.SMTP) -> None:
        try:
            await client.ehlo()
            if self.security == "starttls":
                if not client.supports_extension("starttls"):
                    raise SessionError(
                        f"server {self._where} does not offer STARTTLS, which security = 'starttls' requires"
                    )
                await client.starttls()
                await client.ehlo()
        except SessionError:
            raise
        except Exception as exc:
            raise _session_failure(
                exc, f"STARTTLS handshake with {self._where}", f"session setup with {self._where} failed"
            ) from exc
        if self._login is not None:
            await authenticate(client, self._login, self.host, self.port)

    async def _transaction(self, client: aiosmtplib.SMTP, envelope: Envelope) -> SendResult:
        """MAIL, RCPT, DATA for one envelope on a ready session.

        A reply is classified and the session kept (after RSET); a broken
        session raises _Dropped. 421 means the server is closing the session
        without having taken the message, so it is a drop, not an answer.
        """
        mail_options: list[str] = []
        utf8 = not (envelope.mail_from.isascii() and envelope.rcpt.isascii())
        if utf8:
            if not client.supports_extension("smtputf8"):
                error = EnvelopeError(
                    f"server {self._where} does not offer SMTPUTF8, needed for a non-ASCII address"
                )
                return SendResult(classify(None, error), None, str(error))
            mail_options.append("SMTPUTF8")
        if not envelope.data.isascii() and client.supports_extension("8bitmime"):
            mail_options.append("BODY=8BITMIME")
        if client.supports_extension("size"):
            mail_options.append(f"SIZE={len(envelope.data)}")
        encoding = "utf-8" if utf8 else "ascii"
        in_data = False
        try:
            await client.mail(envelope.mail_from, options=mail_options, encoding=encoding)
            await client.rcpt(envelope.rcpt, encoding=encoding)
            in_data = True
            response = await client.data(envelope.data)
        except aiosmtplib.SMTPResponseException as exc:
            if exc.code == 421:
                raise _Dropped(_describe(exc), retry=True, code=exc.code) from exc
            # Any other answer stands even if the server hung up after it.
            await self._reset(client)
            return SendResult(classify(exc.code, exc), exc.code, _describe(exc))
        except aiosmtplib.SMTPTimeoutError as exc:
            # A slow answer to DATA may still mean the server took the
            # message: leave the retry to the outbox's backoff.
            raise _Dropped(f"timeout: {_describe(exc)}", retry=not in_data) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise _Dropped(f"connection lost: {_describe(exc)}", retry=True) from exc
        except ValueError as exc:
            await self._reset(client)
            return SendResult(classify(None, exc), None, _one_line(str(exc)))
        return SendResult(classify(response.code, None), response.code, _describe_response(response))

    async def _reset(self, client: aiosmtplib.SMTP) -> None:
        """RSET after a refused transaction so the session can carry the next message, or drop it."""
        if not client.is_connected:
            return
        try:
            await client.rset()
        except (aiosmtplib.SMTPException, OSError):
            client.close()


def _describe_response(response: aiosmtplib.SMTPResponse) -> str:
    return _one_line(f"{response.code} {response.message}")


def _unsent(failure: SessionError) -> SendResult:
    """The result of an envelope no session could take: a failed login charges the message no attempt."""
    return SendResult(
        classify(failure.code, failure),
        failure.code,
        failure.detail,
        attempted=not failure.login,
        retry_at=failure.retry_at,
    )


def _login(
    username: str | None, password: str | None, tokens: TokenSource | None, mechanism: Mechanism
) -> Login | None:
    """How to AUTH: a token from `tokens` as `username` (auth = "oauth2", SPEC §9), a password, or not."""
    if tokens is not None:
        if not username:
            raise ValueError("username is required with OAuth2 (the address maild sends as)")
        return OAuth2Login(username, tokens, mechanism)
    if (username is None) != (password is None):
        raise ValueError("username and password must be given together")
    return None if username is None or password is None else PasswordLogin(username, password)
