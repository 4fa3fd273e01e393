"""The outbox table: queueing rendered notifications, claiming due ones, recording the answer.

Owns every write to `outbox`. notify.Notifier decides who gets what and
renders it; `enqueue` writes the rows (and their thread entries) in the
caller's transaction, so a notification exists exactly when the change that
caused it was committed. Retry state lives in the rows (attempts,
next_attempt_at, last_error), so backoff survives restarts. A claim pushes
next_attempt_at forward by a lease, so a worker that dies mid-send leaves
its rows to be picked up again later rather than lost; on PostgreSQL the
claim uses FOR UPDATE SKIP LOCKED so several workers never take the same
row. Transient failures (4xx, connection trouble) are retried quickly a few
times within a pass, then deferred with exponential backoff; permanent ones
(5xx) are marked failed with the server's answer. A failed SMTP login (a
password, an OAuth2 token) never reached a message: the rows wait without
an attempt counted and are never given up, until the login works again.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import Connection, bindparam, func, or_, select, update

from maild.clock import Clock
from maild.config import OutboxSettings
from maild.outbound.smtp import Envelope, SendResult
from maild.store.db import Database, is_postgres
from maild.store.holders import dead_claimers_here, live_claimers, new_holder_id
from maild.store.models import Outbox, ThreadMessage, table
from maild.vocab import Event, OutboxStatus

log = logging.getLogger("maild.outbox")

CLAIM_LEASE = timedelta(minutes=2)
IN_PASS_RETRY_DELAYS = (0.3, 1.0)


@dataclass(frozen=True, slots=True)
class Notification:
    """One rendered notification for one recipient: what a new outbox row holds."""

    event: Event
    recipient: str
    mail_from: str
    message_id: str
    subject: str
    raw: bytes
    case_id: int | None


@dataclass(frozen=True, slots=True)
class InboundLink:
    """Inbound mail that caused notifications of a case: its Message-IDs join the case's thread.

    Recorded in the same INSERT as the notifications' own ids, so a reply to
    either the customer's message or our notification finds the case.
    """

    case_id: int
    message_ids: Sequence[str]


_INSERT_OUTBOX = table(Outbox).insert()
_INSERT_THREAD = table(ThreadMessage).insert()


def enqueue(
    conn: Connection,
    notifications: Sequence[Notification],
    *,
    now: datetime,
    inbound: InboundLink | None = None,
) -> None:
    """Queue notifications (due at once) and record every Message-ID of a case in its thread.

    Two multi-row INSERTs in the caller's transaction, in Core on its
    connection: the ORM's bulk path would first flush the session and
    rebuild its bookkeeping for every call.
    """
    if notifications:
        conn.execute(
            _INSERT_OUTBOX,
            [
                {
                    "case_id": n.case_id,
                    "event": n.event,
                    "recipient": n.recipient,
                    "mail_from": n.mail_from,
                    "message_id": n.message_id,
                    "subject": n.subject,
                    "raw": n.raw,
                    "status": OutboxStatus.PENDING,
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
                for n in notifications
            ],
        )
    threads = [{"message_id": m, "case_id": inbound.case_id} for m in inbound.message_ids] if inbound else []
    threads += [
        {"message_id": n.message_id, "case_id": n.case_id} for n in notifications if n.case_id is not None
    ]
    if threads:
        conn.execute(_INSERT_THREAD, threads)


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    mail_from: str
    recipient: str
    raw: bytes
    attempts: int
    created_at: datetime
    message_id: str


_OUTBOX = table(Outbox)
# In the order of Claimed's fields.
_CLAIMED_COLUMNS = (
    _OUTBOX.c.id,
    _OUTBOX.c.mail_from,
    _OUTBOX.c.recipient,
    _OUTBOX.c.raw,
    _OUTBOX.c.attempts,
    _OUTBOX.c.created_at,
    _OUTBOX.c.message_id,
)
_LEASED_BY = live_claimers(
    _OUTBOX.c.claimed_by, _OUTBOX.c.next_attempt_at, _OUTBOX.c.status == OutboxStatus.PENDING
)
_TAKE = (
    update(_OUTBOX)
    .where(_OUTBOX.c.id.in_(bindparam("ids", expanding=True)))
    .values(next_attempt_at=bindparam("until"), claimed_by=bindparam("holder"))
)
_MARK_SENT = (
    update(_OUTBOX)
    .where(_OUTBOX.c.id.in_(bindparam("ids", expanding=True)))
    .values(
        status=OutboxStatus.SENT,
        sent_at=bindparam("sent_at_now"),
        attempts=_OUTBOX.c.attempts + 1,
        last_error=None,
        claimed_by=None,
    )
)


def retry_delay(attempts: int, initial: timedelta, maximum: timedelta, jitter: float = 0.1) -> timedelta:
    """Exponential backoff with jitter: initial, 2×, 4× … capped at maximum."""
    base = min(maximum.total_seconds(), initial.total_seconds() * (2 ** max(0, attempts - 1)))
    return timedelta(seconds=base * (1 + random.uniform(-jitter, jitter)))


@dataclass(eq=False)
class OutboxStore:
    """The outbox table as the sender process uses it: claim due rows, record the SMTP answers.

    `holder` names this process on the rows it claims (a fresh id unless the
    caller shares one), so a crashed claimer's rows can be taken over.
    """

    db: Database
    settings: OutboxSettings
    clock: Clock
    holder: str = field(default_factory=new_holder_id)

    def _dead_claimers(self, conn: Connection, now: datetime) -> list[str]:
        """Claimers of still-leased rows whose process is gone (crashed on this host)."""
        return dead_claimers_here(conn, _LEASED_BY, {"now": now}, self.holder)

    def claim(self, limit: int) -> list[Claimed]:
        """Take up to `limit` due rows for this worker (one short transaction)."""
        now = self.clock.now()
        with self.db.transaction() as conn:
            due = _OUTBOX.c.next_attempt_at <= now
            dead = self._dead_claimers(conn, now)
            if dead:
                due = or_(due, _OUTBOX.c.claimed_by.in_(dead))
            query = (
                select(*_CLAIMED_COLUMNS)
                .where(_OUTBOX.c.status == OutboxStatus.PENDING, due)
                .order_by(_OUTBOX.c.next_attempt_at, _OUTBOX.c.id)
                .limit(limit)
            )
            if is_postgres(self.db.engine):
                query = query.with_for_update(skip_locked=True)
            taken = [Claimed(*row) for row in conn.execute(query)]
            if taken:
                conn.execute(
                    _TAKE, {"ids": [c.id for c in taken], "until": now + CLAIM_LEASE, "holder": self.holder}
                )
            return taken

    def record(self, results: Sequence[tuple[Claimed, SendResult]]) -> None:
        """Write the SMTP answers back: one transaction, one UPDATE for all the sent rows."""
        now = self.clock.now()
        sent = [c.id for c, r in results if r.outcome == "sent"]
        with self.db.transaction() as conn:
            if sent:
                conn.execute(_MARK_SENT, {"ids": sent, "sent_at_now": now})
            for claimed, result in results:
                if result.outcome == "sent":
                    continue
                attempts = claimed.attempts + 1
                values: dict[str, object] = {"attempts": attempts, "claimed_by": None}
                if not result.attempted:
                    values.update(
                        attempts=claimed.attempts,
                        next_attempt_at=self._after_login_failure(claimed, result, now),
                        last_error=result.detail,
                    )
                elif result.outcome == "permanent":
                    values.update(status=OutboxStatus.FAILED, last_error=result.detail)
                elif now - claimed.created_at >= self.settings.give_up_after:
                    values.update(
                        status=OutboxStatus.FAILED,
                        last_error=f"gave up after {attempts} attempts: {result.detail}",
                    )
                else:
                    delay = retry_delay(attempts, self.settings.retry_initial, self.settings.retry_max)
                    values.update(next_attempt_at=now + delay, last_error=result.detail)
                conn.execute(update(_OUTBOX).where(_OUTBOX.c.id == claimed.id).values(**values))

    def _after_login_failure(self, claimed: Claimed, result: SendResult, now: datetime) -> datetime:
        """When a message the login kept from the server is due again: no attempt counted, never given up.

        The login failing (a refused grant, an expired secret, a wrong
        password) is the session's fault, not the message's; it waits, with
        the backoff of its attempts so far, or longer if the token source
        will not ask for a new token before then, until a person fixes it.
        """
        settings = self.settings
        due = now + retry_delay(max(1, claimed.attempts), settings.retry_initial, settings.retry_max)
        return max(due, result.retry_at) if result.retry_at is not None else due

    def depth(self) -> int:
        with self.db.reader() as s:
            return int(
                s.scalar(
                    select(func.count()).select_from(Outbox).where(Outbox.status == OutboxStatus.PENDING)
                )
                or 0
            )


@dataclass
class DispatchStats:
    sent: int = 0
    deferred: int = 0
    failed: int = 0


class Sender(Protocol):
    """What the Dispatcher needs of a sender: smtp.SmtpSender, or daemon.pipesender.PipeSender.

    `send_many` never raises for SMTP or network trouble and returns one
    result per envelope, in input order; `connections` is how many
    envelopes it can have in flight at once (a round's size).
    """

    connections: int

    async def send_many(self, envelopes: Sequence[Envelope]) -> list[SendResult]: ...

    async def close(self) -> None: ...


@dataclass(eq=False)
class Dispatcher:
    """Sends what is due, batch after batch, until nothing due is left.

    Results are written back after every round of one message per SMTP
    connection, not once per claimed batch: a crash can then re-send at most
    the messages of one round (the server accepted them, our commit had not
    happened yet), never a whole batch. (Writing a round's results while the
    next round is sent was measured: no faster on two cores, where the
    writes only move CPU from one process to the other, and it doubles that
    window.)
    """

    store: OutboxStore
    sender: Sender
    batch_size: int
    round_size: int = 0  # messages per round; 0: one per SMTP connection
    # Claim and record on the event loop's own thread rather than a worker thread: for a caller
    # whose loop has nothing else to serve meanwhile (a big `run --once` sending through its
    # child), which saves a thread hop per round and that thread's memory.
    inline_db: bool = False

    def __post_init__(self) -> None:
        self.round_size = max(1, self.round_size or self.sender.connections)

    async def run_once(self) -> DispatchStats:
        stats = DispatchStats()
        while True:
            if self.inline_db:
                batch = self.store.claim(self.batch_size)
            else:
                batch = await asyncio.to_thread(self.store.claim, self.batch_size)
            if not batch:
                return stats
            for start in range(0, len(batch), self.round_size):
                results = await self._send_with_quick_retries(batch[start : start + self.round_size])
                refused = all(r.outcome == "transient" for _c, r in results)
                if refused:
                    # The server is refusing everything: the rest of the batch waits with the same backoff.
                    rest = batch[start + self.round_size :]
                    results += [(c, results[0][1]) for c in rest]
                if self.inline_db:
                    self.store.record(results)
                else:
                    await asyncio.to_thread(self.store.record, results)
                self._tally(stats, results)
                if refused:
                    first = results[0][1]
                    why = "SMTP server unavailable" if first.attempted else "SMTP login failed"
                    log.warning("%s: %s; %d notification(s) deferred", why, first.detail, len(results))
                    return stats
            if len(batch) < self.batch_size:
                # The claim took everything that was due: another would come back
                # empty (what is queued meanwhile wakes the caller again).
                return stats

    @staticmethod
    def _tally(stats: DispatchStats, results: Sequence[tuple[Claimed, SendResult]]) -> None:
        for claimed, result in results:
            if result.outcome == "sent":
                stats.sent += 1
            elif result.outcome == "permanent":
                stats.failed += 1
                log.warning(
                    "notification %s to %s failed permanently: %s",
                    claimed.message_id,
                    claimed.recipient,
                    result.detail,
                )
            else:
                stats.deferred += 1

    async def _send_with_quick_retries(self, batch: Sequence[Claimed]) -> list[tuple[Claimed, SendResult]]:
        final: dict[int, SendResult] = {}
        todo = list(batch)
        for delay in (*IN_PASS_RETRY_DELAYS, None):
            answers = await self.sender.send_many([Envelope(c.mail_from, c.recipient, c.raw) for c in todo])
            retry: list[Claimed] = []
            for claimed, result in zip(todo, answers, strict=True):
                final[claimed.id] = result
                # A failed login is not retried within the pass: the token source or the password will
                # not change in a second (a refused token has had its one retry with a new token).
                if result.outcome == "transient" and result.attempted:
                    retry.append(claimed)
            if not retry or delay is None:
                break
            await asyncio.sleep(delay)
            todo = retry
        return [(c, final[c.id]) for c in batch]
