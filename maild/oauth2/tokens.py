"""Access tokens kept in memory, refreshed before they expire, shared by every thread that logs in.

One TokenSource per configured OAuth2 client. The ingest threads and the
asyncio sender (through `asyncio.to_thread`) ask it for a token before each
login; it answers from its cache until the token nears its expiry (a margin
of a tenth of its lifetime, at most five minutes: Zammad refreshes hourly
tokens after 50 minutes), then makes one token request while the others
wait on its lock, so a refresh happens once, not once per thread.

When a server refuses a token the caller `invalidate`s it and the next
request gets a new one, once (`with_token`). A failed request is remembered
with a growing delay before the next one: callers in a loop get the same
error back at once instead of hammering the endpoint, a token that is still
valid keeps being used while the refresh fails, and `state()` says what is
wrong for `maild status`. A refresh token written by `maild auth login`
after a refused grant is picked up at once, without waiting for the delay.

Tokens and secrets live in memory only (the refresh token in its file);
none is ever logged or put in an error.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from maild.clock import Clock
from maild.oauth2 import settings as oauth2_settings
from maild.oauth2.endpoint import post_form
from maild.oauth2.errors import LOGIN_COMMAND, OAuth2Error
from maild.oauth2.refreshfile import read_refresh_token, write_refresh_token
from maild.oauth2.settings import Flow, OAuth2Settings

log = logging.getLogger("maild.oauth2")

T = TypeVar("T")

MAX_MARGIN = timedelta(minutes=5)
DEFAULT_LIFETIME = timedelta(hours=1)  # when the answer has no expires_in


@dataclass(frozen=True)
class AccessToken:
    value: str = field(repr=False)
    obtained_at: datetime
    expires_at: datetime

    def usable_at(self, now: datetime) -> bool:
        """Not yet expired: still worth presenting to a server when no fresher one can be had."""
        return now < self.expires_at

    def fresh_at(self, now: datetime) -> bool:
        """Far enough from expiry that a login started now will not race it."""
        return now < self.expires_at - refresh_margin(self.expires_at - self.obtained_at)


def refresh_margin(lifetime: timedelta) -> timedelta:
    """How long before expiry a token is replaced: a tenth of its lifetime, at most five minutes."""
    return min(MAX_MARGIN, lifetime / 10)


@dataclass(frozen=True)
class TokenState:
    """What `maild status` shows for one OAuth2 client."""

    name: str
    ok: bool
    expires_at: datetime | None = None
    code: str = ""
    hint: str = ""
    failures: int = 0
    retry_at: datetime | None = None


class TokenSource:
    """The access token of one OAuth2 client: cached, refreshed early, safe to share between threads."""

    def __init__(
        self,
        settings: OAuth2Settings,
        clock: Clock,
        *,
        name: str = "oauth2",
        login_command: str = LOGIN_COMMAND,
        retry_initial: timedelta = timedelta(seconds=5),
        retry_max: timedelta = timedelta(minutes=5),
        reissue_after: timedelta = timedelta(seconds=30),
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.name = name
        self.login_command = login_command
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        self.reissue_after = reissue_after
        self.requests = 0  # token requests made, for status and tests
        self._refresh_lock = threading.Lock()
        self._lock = threading.Lock()
        self._cached: AccessToken | None = None
        self._failure: OAuth2Error | None = None
        self._failures = 0
        self._retry_at: datetime | None = None
        self._file_stamp: tuple[int, int] | None = None

    # ------------------------------------------------------------ public

    def token(self) -> str:
        """A valid access token, requested anew near expiry; OAuth2Error when none can be had."""
        return self.current().value

    def current(self) -> AccessToken:
        # One token request at a time: the other callers wait for its result instead of
        # making their own. `_lock` guards the fields only, so state() never waits on the network.
        with self._refresh_lock:
            now = self.clock.now()
            with self._lock:
                cached, failure = self._cached, self._failure
                if cached is not None and cached.fresh_at(now):
                    return cached
                if failure is not None and not self._may_retry(now):
                    if cached is not None and cached.usable_at(now):
                        return cached
                    raise failure
            try:
                fresh = self._request(now)
            except OAuth2Error as exc:
                with self._lock:
                    self._remember_failure(exc, now)
                if cached is not None and cached.usable_at(now):
                    return cached
                raise
            with self._lock:
                self._recovered()
                self._cached = fresh
            return fresh

    def invalidate(self, refused_token: str | None = None) -> bool:
        """A server refused `refused_token` (or the current one): drop it so the next call gets a new one.

        Returns False, keeping the cache, when another thread has already
        replaced that token, or when it was issued less than
        `reissue_after` ago: a token the endpoint has just issued and the
        server refuses will not be fixed by asking again at once.
        """
        with self._lock:
            cached = self._cached
            if cached is None:
                return True
            if refused_token is not None and cached.value != refused_token:
                return True  # already replaced: the caller's retry gets the new one
            if self.clock.now() - cached.obtained_at < self.reissue_after:
                return False
            self._cached = None
            return True

    def state(self) -> TokenState:
        with self._lock:
            cached, failure = self._cached, self._failure
            if failure is None:
                return TokenState(self.name, ok=True, expires_at=cached.expires_at if cached else None)
            return TokenState(
                self.name,
                ok=False,
                expires_at=cached.expires_at if cached else None,
                code=failure.code,
                hint=failure.hint,
                failures=self._failures,
                retry_at=self._retry_at,
            )

    # ----------------------------------------------------------- requests

    def _request(self, now: datetime) -> AccessToken:
        settings = self.settings
        fields = {"client_id": settings.client_id}
        if settings.client_secret:
            fields["client_secret"] = settings.client_secret
        wanted = oauth2_settings.scopes(settings)
        if wanted:
            # Sent on refresh too: Microsoft answers a refresh without scope with a token for Graph.
            fields["scope"] = " ".join(wanted)
        refresh_token = ""
        if settings.flow is Flow.REFRESH_TOKEN:
            refresh_token = self._stored_refresh_token()
            fields.update(grant_type="refresh_token", refresh_token=refresh_token)
        else:
            fields["grant_type"] = "client_credentials"
        self.requests += 1
        answer = post_form(
            oauth2_settings.token_url(settings),
            fields,
            provider=settings.provider.value,
            timeout=settings.timeout,
            secrets=(settings.client_secret, refresh_token),
            login=self.login_command,
        )
        token = parse_token_answer(answer, now, settings.provider.value)
        rotated = answer.get("refresh_token")
        # FreeScout's lesson: an answer without a refresh token keeps the old one.
        if refresh_token and isinstance(rotated, str) and rotated and rotated != refresh_token:
            self._store_rotated(rotated)
        return token

    def _store_rotated(self, rotated: str) -> None:
        """Keep the provider's new refresh token; failing to is logged, not fatal for this token."""
        path = self.settings.refresh_token_file
        assert path is not None  # the refresh_token flow read its token from it
        try:
            write_refresh_token(path, rotated)
        except OSError as exc:
            log.error(
                "%s: could not store the new refresh token in %s (%s); the old one may stop working: run %s",
                self.name,
                path,
                exc.strerror or type(exc).__name__,
                self.login_command,
            )
            return
        self._file_stamp = self._refresh_file_stamp()

    def _stored_refresh_token(self) -> str:
        path = self.settings.refresh_token_file
        self._file_stamp = self._refresh_file_stamp()
        stored = read_refresh_token(path) if path is not None else None
        if stored is None:
            raise OAuth2Error(
                self.settings.provider.value,
                "no_refresh_token",
                f"there is no refresh token yet: run {self.login_command}",
                str(path),
            )
        return stored

    # ----------------------------------------------------------- failures

    def _may_retry(self, now: datetime) -> bool:
        if self._retry_at is None or now >= self._retry_at:
            return True
        # `maild auth login` has written a new refresh token since the failure: try it now.
        return self.settings.flow is Flow.REFRESH_TOKEN and self._refresh_file_stamp() != self._file_stamp

    def _remember_failure(self, exc: OAuth2Error, now: datetime) -> None:
        repeated = self._failure is not None and self._failure.code == exc.code
        self._failures += 1
        delay = min(self.retry_max, self.retry_initial * (2 ** min(self._failures - 1, 20)))
        self._retry_at = now + delay
        self._failure = exc
        if not repeated:  # one line per kind of failure, not one per retry
            level = logging.WARNING if exc.transient else logging.ERROR
            log.log(
                level,
                "%s: token request failed: %s (retrying in %ds)",
                self.name,
                exc,
                int(delay.total_seconds()),
            )

    def _recovered(self) -> None:
        if self._failure is not None:
            log.info("%s: token request succeeded again after %d failures", self.name, self._failures)
        self._failure, self._failures, self._retry_at = None, 0, None

    def _refresh_file_stamp(self) -> tuple[int, int] | None:
        path = self.settings.refresh_token_file
        if path is None:
            return None
        try:
            stat = path.stat()
        except OSError:
            return None
        return (stat.st_mtime_ns, stat.st_size)


def parse_token_answer(answer: dict[str, object], now: datetime, provider: str) -> AccessToken:
    """The access token of a successful token answer, its expiry counted from `now`."""
    value = answer.get("access_token")
    if not isinstance(value, str) or not value:
        raise OAuth2Error(provider, "bad_response", "the token endpoint answered without an access_token")
    lifetime = DEFAULT_LIFETIME
    expires_in = answer.get("expires_in")
    if isinstance(expires_in, int | float | str):
        with contextlib.suppress(ValueError, OverflowError):
            lifetime = timedelta(seconds=max(1.0, float(expires_in)))
    return AccessToken(value=value, obtained_at=now, expires_at=now + lifetime)


def with_token(source: TokenSource, action: Callable[[str], T], refused: Callable[[Exception], bool]) -> T:
    """`action(token)`, and once more with a new token when the server refused the first.

    `refused` tells a refused token (an IMAP NO to AUTHENTICATE, SMTP 535)
    from any other failure, which is raised as it is.
    """
    token = source.token()
    try:
        return action(token)
    except Exception as exc:
        if not refused(exc) or not source.invalidate(token):
            raise
    return action(source.token())
