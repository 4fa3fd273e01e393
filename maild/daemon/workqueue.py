"""One mailbox's messages shared by every worker: listing, thread groups and claims.

The worker holding a mailbox's lease lists the messages waiting there in
mailbox_work (keys and thread ids only, never the bytes); every worker
claims rows and fetches and processes those messages over its own IMAP
connection. So two workers share one busy mailbox instead of one fetching
while the other waits, and a worker that dies leaves its claims to expire
(or, on the same host, to be taken back at once).

Order within a conversation is kept: messages linked by Message-ID,
In-Reply-To or References share a thread group, and only the oldest row of
a group can be claimed (the groups come from maild.policy.threads). A reply
is therefore never processed before the message it answers, and two copies
of one message never race.

Exactly-once still rests on the database: a row is deleted in the very
transaction that records its message, and the inbound unique keys refuse a
second record whatever happens to the claims.

Poison messages (SPEC §8): just before a worker processes a message it adds
one to the row's `attempts` in a short transaction of its own (`start`).
Finishing deletes the row, so `attempts` counts the starts that never
finished: a worker that died, was killed, or hung until systemd's watchdog
killed it. A claim reports them (`Claim.crashes`) and from CRASH_LIMIT on the
worker quarantines the message instead of processing it (maild.daemon.ingest).
Only a start counts: rows claimed and handed back on a clean stop, or whose
claim expired before the worker reached them, keep their count, so a claim
of 25 whose third message kills the worker blames the third alone. A try
that a living worker gave up on a transient failure (the database went away
mid-message) was counted once and does not count again when it retries.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, and_, bindparam, delete, exists, func, or_, select, text, update
from sqlalchemy.orm import Session

from maild.clock import Clock
from maild.daemon.worksignal import announce_work
from maild.inbound.listing import Listed
from maild.policy.threads import thread_groups
from maild.store.db import Database, is_postgres
from maild.store.holders import dead_claimers_here, live_claimers
from maild.store.models import MailboxWork, table

CLAIM_TTL = timedelta(minutes=5)
# Starts without a finish after which a message is quarantined, not tried again.
CRASH_LIMIT = 2
IN_CHUNK = 500  # ids per IN (…) list
# A listing at least this big refreshes the table's statistics (see _refresh_statistics).
ANALYZE_AFTER = 100


@dataclass(frozen=True, slots=True)
class Claim:
    work_id: int
    key: str
    message_id: str | None = None  # as listed from the headers; a hint, the parsed message decides
    crashes: int = 0  # starts of its processing by workers that never finished it


def _chunks(values: Sequence[str], size: int = IN_CHUNK) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


# Built once: this runs in every message's transaction.
_WORK = table(MailboxWork)
_OLDER = _WORK.alias("older")
# Another message of the same thread group listed before: this one waits for it.
_HAS_OLDER = exists().where(
    and_(
        _OLDER.c.mailbox == _WORK.c.mailbox,
        _OLDER.c.thread_group == _WORK.c.thread_group,
        _OLDER.c.id < _WORK.c.id,
    )
)
_CLAIMED_BY = live_claimers(
    _WORK.c.claimed_by, _WORK.c.claimed_until, _WORK.c.mailbox == bindparam("mailbox")
)
_TAKE = (
    update(_WORK)
    .where(_WORK.c.id.in_(bindparam("ids", expanding=True)))
    .values(claimed_by=bindparam("holder"), claimed_until=bindparam("until"))
)
_DELETE_CLAIMED = delete(MailboxWork).where(
    MailboxWork.id == bindparam("work_id"), MailboxWork.claimed_by == bindparam("holder")
)
_START = update(_WORK).where(_WORK.c.id == bindparam("work_id")).values(attempts=_WORK.c.attempts + 1)
_START_MANY = (
    update(_WORK)
    .where(_WORK.c.id.in_(bindparam("ids", expanding=True)))
    .values(attempts=_WORK.c.attempts + 1)
)
# The start mark guards against maild dying, not PostgreSQL: once COMMIT returns it is
# committed and visible whatever becomes of our process, so it need not wait for the
# WAL flush (a server crash within ~0.2 s may lose it: one start not counted).
_NO_FLUSH_WAIT = text("SET LOCAL synchronous_commit = off")


def _refresh_statistics(conn: Connection) -> None:
    """ANALYZE mailbox_work on PostgreSQL, inside the listing's transaction (its own rows count).

    A work queue swings from empty to thousands of rows faster than
    autovacuum looks (once a minute), and a table never analyzed is planned
    as if it held a row or two: the claim's "no older message of the same
    thread" then becomes a nested loop over the whole queue for every row,
    0.9 s per claim with 2,000 messages waiting (measured), against 0.15 ms
    with statistics. Once analyzed, PostgreSQL scales the row count with the
    table's size, so only a big listing needs this, and it costs a few ms.
    Without the table's ownership PostgreSQL skips it with a warning.
    """
    if is_postgres(conn.engine):
        conn.execute(text("ANALYZE mailbox_work"))


def _listed(s: Session, mailbox: str, keys: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(list(keys)):
        query = select(MailboxWork.source_key).where(
            MailboxWork.mailbox == mailbox, MailboxWork.source_key.in_(chunk)
        )
        found.update(s.execute(query).scalars())
    return found


class WorkQueue:
    """mailbox_work for one worker (`holder`)."""

    def __init__(self, db: Database, clock: Clock, holder: str, claim_ttl: timedelta = CLAIM_TTL) -> None:
        self.db = db
        self.clock = clock
        self.holder = holder
        self.claim_ttl = claim_ttl
        # Rows this process started and gave up on a transient failure: counted already.
        self._interrupted: set[int] = set()

    def listed_keys(self, mailbox: str, keys: Sequence[str]) -> set[str]:
        """Which of these keys are listed already."""
        with self.db.reader() as s:
            return _listed(s, mailbox, keys)

    def add(self, mailbox: str, listed: Sequence[Listed]) -> int:
        """List new messages (the lease holder's job); returns how many were added."""
        if not listed:
            return 0
        now = self.clock.now()
        with self.db.session() as s:
            already = _listed(s, mailbox, [m.key for m in listed])
            new = [m for m in listed if m.key not in already]
            if not new:
                return 0
            ids = sorted({i for m in new for i in (m.message_id, *m.refs) if i})
            known: dict[str, str] = {}
            for chunk in _chunks(ids):
                by_id = select(MailboxWork.message_id, MailboxWork.thread_group).where(
                    MailboxWork.mailbox == mailbox, MailboxWork.message_id.in_(chunk)
                )
                known.update({mid: group for mid, group in s.execute(by_id) if mid})
            groups = thread_groups(new, known)
            s.connection().execute(
                table(MailboxWork).insert(),
                [
                    {
                        "mailbox": mailbox,
                        "source_key": m.key,
                        "message_id": m.message_id[:998] if m.message_id else None,
                        "thread_group": groups[m.key][:998],
                        "claimed_by": None,
                        "claimed_until": None,
                        "created_at": now,
                    }
                    for m in new
                ],
            )
            if len(new) >= ANALYZE_AFTER:
                _refresh_statistics(s.connection())
            announce_work(s.connection(), mailbox)
            return len(new)

    def _dead_claimers(self, conn: Connection, mailbox: str, now: datetime) -> list[str]:
        return dead_claimers_here(conn, _CLAIMED_BY, {"mailbox": mailbox, "now": now}, self.holder)

    def claim(self, mailbox: str, limit: int) -> list[Claim]:
        """Up to `limit` messages for this worker, oldest first, one per thread group."""
        now = self.clock.now()
        with self.db.transaction() as conn:
            free = or_(
                _WORK.c.claimed_until.is_(None),
                _WORK.c.claimed_until <= now,
                _WORK.c.claimed_by == self.holder,
            )
            dead = self._dead_claimers(conn, mailbox, now)
            if dead:
                free = or_(free, _WORK.c.claimed_by.in_(dead))
            query = (
                select(_WORK.c.id, _WORK.c.source_key, _WORK.c.message_id, _WORK.c.attempts)
                .where(_WORK.c.mailbox == mailbox, free, ~_HAS_OLDER)
                .order_by(_WORK.c.id)
                .limit(limit)
            )
            if is_postgres(self.db.engine):
                query = query.with_for_update(skip_locked=True, of=_WORK)
            rows = conn.execute(query).all()
            if rows:
                until = now + self.claim_ttl
                conn.execute(_TAKE, {"ids": [r.id for r in rows], "holder": self.holder, "until": until})
            return [
                Claim(r.id, r.source_key, r.message_id, r.attempts - int(r.id in self._interrupted))
                for r in rows
            ]

    def start(self, work_id: int) -> None:
        """Count a start of this message's processing, committed before the processing begins.

        If the worker then dies, is killed or hangs, the count stays with the
        row; finishing deletes the row. Its cost, one short transaction per
        message, measured on a loaded 2-core machine: SQLite 0.2-0.28 ms,
        PostgreSQL 0.6-0.7 ms (of which the WAL flush it skips is none; the
        round trips are the cost), against 5-15 ms for processing a message.
        """
        if work_id in self._interrupted:
            return
        with self.db.transaction() as conn:
            if is_postgres(self.db.engine):
                conn.execute(_NO_FLUSH_WAIT)
            conn.execute(_START, {"work_id": work_id})

    def start_many(self, work_ids: Sequence[int]) -> None:
        """`start` for the messages of a batch processed in one transaction, in one short transaction."""
        ids = [w for w in work_ids if w not in self._interrupted]
        if not ids:
            return
        with self.db.transaction() as conn:
            if is_postgres(self.db.engine):
                conn.execute(_NO_FLUSH_WAIT)
            conn.execute(_START_MANY, {"ids": ids})

    def interrupted(self, work_id: int) -> None:
        """A started message was given up on a transient failure: this living process retries it."""
        self._interrupted.add(work_id)

    def done_in(self, session: Session, work_id: int) -> bool:
        """Inside the message's own transaction: its row goes. False if the claim was lost."""
        result = session.connection().execute(_DELETE_CLAIMED, {"work_id": work_id, "holder": self.holder})
        self._interrupted.discard(work_id)
        return bool(result.rowcount)

    def forget(self, work_ids: Sequence[int]) -> None:
        """Rows whose message is handled already or gone from the mailbox."""
        if not work_ids:
            return
        with self.db.session() as s:
            s.execute(delete(MailboxWork).where(MailboxWork.id.in_(list(work_ids))))

    def release(self, mailbox: str) -> None:
        """Hand back what this worker claimed and did not finish (on a clean stop)."""
        with self.db.transaction() as conn:
            handed_back = conn.execute(
                update(_WORK)
                .where(_WORK.c.mailbox == mailbox, _WORK.c.claimed_by == self.holder)
                .values(claimed_by=None, claimed_until=None)
            )
            if handed_back.rowcount:
                announce_work(conn, mailbox)

    def waiting(self, mailbox: str) -> int:
        """Listed messages not yet done (for `maild status` and the loops)."""
        with self.db.reader() as s:
            return int(
                s.scalar(select(func.count()).select_from(MailboxWork).where(MailboxWork.mailbox == mailbox))
                or 0
            )
