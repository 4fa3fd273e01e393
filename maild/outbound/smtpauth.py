"""SMTP AUTH for the sender: a password, or an OAuth2 bearer token (SASL XOAUTH2 or OAUTHBEARER).

Split from `smtp` (which owns the session pool) because logging in is its
own protocol with its own failure rules:

* Every failure to log in is a `SessionError` with `login=True`: it says
  something about our credentials or the provider, never about a message,
  so the outbox keeps the messages pending without counting an attempt
  against them (SPEC §9: mail waiting in the outbox is kept).
* With OAuth2 the token comes from the shared `TokenSource`; a token the
  server refuses (535) is dropped and the login tried once more with a new
  one, by `oauth2.tokens.with_token`, the rule the IMAP logins follow too.
  A token request that fails carries the source's retry time, so the
  outbox waits as long as the source does instead of asking again.
* XOAUTH2 goes through aiosmtplib's own `auth_xoauth2`; aiosmtplib has no
  OAUTHBEARER, so that exchange is sent through its command interface:
  `AUTH OAUTHBEARER <base64>`, and on an error challenge (334 with a JSON
  status) the abort message, which draws the final 535.

No token, secret or SASL message is ever put in an error or a log line.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
from dataclasses import dataclass, field
from datetime import datetime

import aiosmtplib

from maild.oauth2 import sasl
from maild.oauth2.errors import OAuth2Error
from maild.oauth2.settings import Mechanism
from maild.oauth2.tokens import TokenSource, with_token

_AUTH_OK = 235
_CHALLENGE = 334
_REFUSED = 535


class SessionError(Exception):
    """Opening, securing or authenticating the session failed.

    That says something about our configuration or the server, never about
    the message, so it is transient whatever the reply code (a 535 must not
    mark a whole outbox permanently failed). `login` marks a failed login
    (credentials, token): no message was tried, so none is charged an
    attempt; `retry_at` is when a new token may be asked for, if known.
    """

    def __init__(
        self, detail: str, code: int | None = None, *, login: bool = False, retry_at: datetime | None = None
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code
        self.login = login
        self.retry_at = retry_at


def one_line(text: str) -> str:
    return " ".join(text.split())


def describe(exc: BaseException) -> str:
    """Render an error as one line, keeping the reply code where there was one."""
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return one_line(f"{exc.code} {exc.message}")
    text = one_line(str(exc)) or type(exc).__name__
    cause = exc.__cause__
    if cause is not None and one_line(str(cause)) not in text:
        text = f"{text}: {one_line(str(cause)) or type(cause).__name__}"
    # asyncio words a refused connection as "Connect call failed"; the
    # operator reading the outbox wants the errno's own name for it.
    for err in (exc, cause):
        if isinstance(err, OSError) and err.errno and os.strerror(err.errno) not in text:
            text = f"{text} ({os.strerror(err.errno)})"
    return text


@dataclass(frozen=True)
class PasswordLogin:
    username: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class OAuth2Login:
    """AUTH as `username` (the mailbox maild sends as, which may differ from the token's owner)."""

    username: str
    tokens: TokenSource
    mechanism: Mechanism = Mechanism.XOAUTH2


Login = PasswordLogin | OAuth2Login


class _TokenRefused(Exception):
    """The server answered the token with a failure (535 and the like): `with_token` asks for a new one."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message


async def authenticate(client: aiosmtplib.SMTP, login: Login, host: str, port: int) -> None:
    """Log in on an open, secured session; SessionError(login=True) if that cannot be done."""
    if isinstance(login, PasswordLogin):
        await _password_login(client, login, f"{host}:{port}")
    else:
        await _oauth2_login(client, login, host, port)


async def _password_login(client: aiosmtplib.SMTP, login: PasswordLogin, where: str) -> None:
    try:
        await client.login(login.username, login.password)
    except aiosmtplib.SMTPAuthenticationError as exc:
        raise SessionError(
            f"authentication as {login.username!r} at {where} failed: {describe(exc)}"
            " (check the SMTP username and password)",
            exc.code,
            login=True,
        ) from exc
    except Exception as exc:
        raise _failed(exc, where) from exc


async def _oauth2_login(client: aiosmtplib.SMTP, login: OAuth2Login, host: str, port: int) -> None:
    """Get a token and AUTH with it, once more with a new token if the server refuses the first.

    `with_token` is the one rule for that retry (IMAP follows it too) and is
    synchronous, since token requests block on HTTP: it runs in a thread,
    and each AUTH exchange it asks for runs back on this event loop, which
    owns the session.
    """
    where = f"{host}:{port}"
    name = sasl.mechanism_name(login.mechanism)
    if name.lower() not in client.server_auth_methods:
        offered = " ".join(m.upper() for m in client.server_auth_methods) or "none"
        raise SessionError(
            f"server {where} does not offer AUTH {name} (it offers: {offered}):"
            " check [smtp.oauth2] mechanism",
            login=True,
        )
    loop = asyncio.get_running_loop()
    running: list[concurrent.futures.Future[None]] = []

    def attempt(token: str) -> None:
        exchange = asyncio.run_coroutine_threadsafe(_sasl_exchange(client, login, token, host, port), loop)
        running.append(exchange)
        exchange.result()

    try:
        await asyncio.to_thread(with_token, login.tokens, attempt, _refused_token)
    except asyncio.CancelledError:
        # The thread waits on the exchange: end it with us, or it would hold the session on.
        for exchange in running:
            exchange.cancel()
        raise
    except OAuth2Error as exc:
        raise SessionError(
            f"no OAuth2 token for the SMTP login as {login.username!r}: {exc}",
            login=True,
            retry_at=login.tokens.state().retry_at,
        ) from exc
    except _TokenRefused as exc:
        raise SessionError(
            f"{where} refused the OAuth2 token for {login.username!r} ({name}): {exc.code} {exc.message}"
            " (check that the app may send as this user, e.g. SMTP.SendAsApp, and the scopes)",
            exc.code,
            login=True,
        ) from exc
    except Exception as exc:
        raise _failed(exc, where) from exc


def _failed(exc: Exception, where: str) -> SessionError:
    """Any other failure during AUTH; a lost or timed-out connection is the network's, not the login's."""
    code = exc.code if isinstance(exc, aiosmtplib.SMTPResponseException) else None
    network = isinstance(exc, aiosmtplib.SMTPServerDisconnected | aiosmtplib.SMTPTimeoutError | OSError)
    return SessionError(f"authentication at {where} failed: {describe(exc)}", code, login=not network)


def _refused_token(exc: Exception) -> bool:
    """535 (RFC 4954: credentials invalid) is the answer to a bad token; other failures are not retried."""
    return isinstance(exc, _TokenRefused) and exc.code == _REFUSED


async def _sasl_exchange(
    client: aiosmtplib.SMTP, login: OAuth2Login, token: str, host: str, port: int
) -> None:
    """One AUTH exchange with `token`; _TokenRefused when the server refuses it."""
    if login.mechanism is Mechanism.XOAUTH2:
        try:
            await client.auth_xoauth2(login.username, token)
        except aiosmtplib.SMTPAuthenticationError as exc:
            raise _TokenRefused(exc.code, one_line(exc.message)) from None
        return
    message = sasl.initial_response(login.mechanism, login.username, token, host, port)
    response = await client.execute_command(
        b"AUTH", sasl.mechanism_name(login.mechanism).encode("ascii"), sasl.encoded(message).encode("ascii")
    )
    if response.code == _CHALLENGE:
        # An error challenge (RFC 7628 §3.2.2): answer with the abort message for the final reply.
        abort = sasl.encoded(sasl.abort_response(login.mechanism)).encode("ascii")
        response = await client.execute_command(abort)
    if response.code != _AUTH_OK:
        raise _TokenRefused(response.code, one_line(response.message))
