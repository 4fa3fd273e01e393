"""The OAuth2 token state of the running daemon, written down for `maild status` (SPEC §9).

Each TokenSource keeps its state (the token's expiry, a refused refresh
with its code and hint, the failures and the next try) in the daemon's
memory; `maild status` is another process. So the daemon writes a row of
`oauth2_state` whenever a source's state changes, and health.py reads it.
The recorder compares with what it last wrote, so an unchanged state costs
no write, and a database that is down only delays the row (it is written
at the next look). Nothing secret is in a TokenState.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.exc import IntegrityError, OperationalError

from maild.app import App, token_source_name
from maild.clock import Clock
from maild.daemon.loops import wait_for_event
from maild.oauth2.tokens import TokenState
from maild.store.db import Database
from maild.store.models import OAuth2State

__all__ = ["AuthStateLoop", "AuthStateRecorder", "row_values"]

log = logging.getLogger("maild.oauth2")

LOOK_EVERY = 1.0  # seconds between looks at the token sources: a comparison in memory each


def row_values(state: TokenState, now: datetime) -> dict[str, object]:
    """The columns of `state`'s row; the hint and code are the provider's words made safe upstream."""
    return {
        "name": state.name,
        "ok": state.ok,
        "code": state.code,
        "hint": state.hint,
        "failures": state.failures,
        "retry_at": state.retry_at,
        "expires_at": state.expires_at,
        "updated_at": now,
    }


class AuthStateRecorder:
    """Writes each token source's state when it differs from what this process last wrote."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self._written: dict[str, TokenState] = {}

    def record(self, states: Iterable[TokenState]) -> int:
        """Write the changed states; returns how many were written (OperationalError: none, try later)."""
        changed = [s for s in states if self._written.get(s.name) != s]
        if not changed:
            return 0
        now = self.clock.now()
        try:
            self._write(changed, now)
        except IntegrityError:
            # Another worker inserted the same name in between: its row exists now, update it.
            self._write(changed, now)
        for state in changed:
            self._written[state.name] = state
        return len(changed)

    def _write(self, states: list[TokenState], now: datetime) -> None:
        with self.db.session() as session:
            for state in states:
                values = row_values(state, now)
                row = session.get(OAuth2State, state.name)
                if row is None:
                    session.add(OAuth2State(**values))
                    continue
                for key, value in values.items():
                    setattr(row, key, value)

    def forget_others(self, names: Iterable[str]) -> None:
        """Drop the rows of clients no longer configured, so status shows no stale entry."""
        keep = set(names)
        with self.db.session() as session:
            for row in session.query(OAuth2State).all():
                if row.name not in keep:
                    session.delete(row)


class AuthStateLoop:
    """The daemon's task that keeps `oauth2_state` in step with the app's token sources."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.recorder = AuthStateRecorder(app.db, app.clock)

    def record_now(self) -> None:
        """One look (blocking: call it in a thread from asyncio); a database error waits for the next."""
        states = [source.state() for source in self.app.token_sources]
        try:
            self.recorder.record(states)
        except OperationalError as exc:
            log.debug("could not record the OAuth2 state yet: %s", exc.orig)

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop`: a look every second, and a last one on the way out. Never raises."""
        try:
            await asyncio.to_thread(self.recorder.forget_others, self._configured_names())
        except OperationalError as exc:
            log.debug("could not tidy the OAuth2 state: %s", exc.orig)
        while True:
            try:
                await asyncio.to_thread(self.record_now)
            except Exception as exc:  # status bookkeeping must never stop the daemon
                log.warning("could not record the OAuth2 state: %s: %s", type(exc).__name__, exc)
            if stop.is_set():
                return
            await wait_for_event(stop, LOOK_EVERY)

    def _configured_names(self) -> list[str]:
        """The names the app gives its token sources: one per client, its first section."""
        names: dict[object, str] = {}
        for owner in self.app.oauth2_owners():
            names.setdefault(owner.oauth2, token_source_name(owner))
        return list(names.values())
