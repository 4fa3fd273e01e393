"""Logging in to an IMAP server: with a password, or with an OAuth2 bearer token (SPEC §9).

Kept out of maild.inbound.imap so the folder logic and the login rules each
stay readable; imap (the only module that imports imapclient) passes the
client and imapclient's LoginError in. The token login uses imapclient's own `oauth2_login`
(XOAUTH2) and `oauthbearer_login` (OAUTHBEARER) as the mailbox user, which
may differ from the token's owner (a shared mailbox), through
`maild.oauth2.tokens.with_token`: a token the server refuses is dropped and
the login tried once more with a new one.

No error text built here carries the password or a token: server answers
are passed through `scrub` with both, in case a server echoes what it got.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from maild.errors import MaildError, TransientError
from maild.oauth2.errors import scrub
from maild.oauth2.settings import Mechanism
from maild.oauth2.tokens import TokenSource, refresh_margin, with_token

__all__ = ["SessionToken", "offers_mechanism", "password_login", "token_login"]


@dataclass(frozen=True)
class SessionToken:
    """When the token an IMAP session logged in with should be replaced by a new login.

    Exchange Online ends a session whose token has expired ("BYE Session
    invalidated - AccessTokenExpired"); logging in again shortly before,
    with a fresh token, keeps the session ours and makes the refresh happen
    on our schedule instead of as a dropped connection.
    """

    renew_at: datetime
    expires_at: datetime

    def due(self, now: datetime) -> bool:
        return now >= self.renew_at


def password_login(
    client: Any, login_error: type[Exception], name: str, username: str, password: str
) -> None:
    """LOGIN as `username`; a refusal names the likely cause, a busy server is transient."""
    try:
        client.login(username, password)
    except login_error as exc:
        detail = scrub(str(exc), (password,))
        if "[UNAVAILABLE]" in detail:
            raise TransientError(f"{name}: the server cannot log us in right now: {detail}") from None
        raise MaildError(
            f"{name}: IMAP login as {username!r} failed: authentication "
            f"rejected (wrong username or password?): {detail}"
        ) from None


def offers_mechanism(capabilities: tuple[bytes, ...], mechanism: Mechanism) -> bool:
    """Whether the server lists AUTH=<mechanism>; a server listing no AUTH= at all is given the benefit."""
    listed = {c.upper() for c in capabilities if c.upper().startswith(b"AUTH=")}
    return not listed or b"AUTH=" + mechanism.value.upper().encode() in listed


def token_login(
    client: Any,
    login_error: type[Exception],
    name: str,
    username: str,
    tokens: TokenSource,
    mechanism: Mechanism,
    previous: SessionToken | None = None,
) -> SessionToken:
    """AUTHENTICATE as `username` with a token from `tokens`; once more with a new one if refused.

    A failed token request raises the OAuth2Error (code and hint) as it is;
    a server that refuses a second token raises a MaildError saying what an
    administrator checks first. Returns when to log in again.
    """
    if not offers_mechanism(tuple(client.capabilities()), mechanism):
        raise MaildError(
            f"{name}: the server does not offer AUTH={mechanism.value.upper()}; "
            "set the other mechanism in the oauth2 table"
        )
    used: list[str] = []

    def authenticate(token: str) -> None:
        used.append(token)
        if mechanism is Mechanism.OAUTHBEARER:
            client.oauthbearer_login(username, token)
        else:
            client.oauth2_login(username, token)

    def refused(exc: Exception) -> bool:
        """An IMAP NO to AUTHENTICATE: the token was refused (a try-later [UNAVAILABLE] is not)."""
        return isinstance(exc, login_error) and "[UNAVAILABLE]" not in str(exc)

    try:
        with_token(tokens, authenticate, refused)
    except login_error as exc:
        detail = scrub(str(exc), (*used, tokens.settings.client_secret))
        if "[UNAVAILABLE]" in detail:
            raise TransientError(f"{name}: the server cannot log us in right now: {detail}") from None
        raise MaildError(
            f"{name}: IMAP {mechanism.value.upper()} login as {username!r} failed: the server refused "
            f"the OAuth2 token (does the token's owner have access to this mailbox, and the app the "
            f"IMAP permission or scope?): {detail}"
        ) from None
    return _session_token(tokens, previous)


def _session_token(tokens: TokenSource, previous: SessionToken | None) -> SessionToken:
    """When to renew the session just opened, from the token the source holds (no request).

    Shortly before the token expires, when the source will want a new one.
    If the renewal got the same token again (the endpoint could not give a
    new one and the old one still works), the next renewal waits for its
    very expiry: never a string of logins with the same token.
    """
    now = tokens.clock.now()
    expires_at = tokens.state().expires_at
    if expires_at is None:  # not after a login with its token; be safe and look again soon
        return SessionToken(now + timedelta(minutes=1), now + timedelta(minutes=1))
    if previous is not None and previous.expires_at == expires_at:
        return SessionToken(expires_at, expires_at)
    return SessionToken(expires_at - refresh_margin(max(expires_at - now, timedelta(0))), expires_at)
