"""Ingest: mailbox -> parse -> route -> persist, each message atomic with its record.

Owns the exactly-once rule for inbound mail. The messages of a claim that
no worker started before are processed together in one transaction (one
commit instead of one per message, the heaviest fixed cost of a message);
the others, and every message of a batch that failed, one transaction each.
A message is marked done in the mailbox only after its transaction committed; a message whose
(mailbox, source key) or Message-ID is already recorded is not processed
again, only marked. So a crash at any point followed by a restart neither
loses nor duplicates anything. A message that cannot be processed is kept
(raw bytes in the database, the message itself moved to the failed folder)
with its reason, and the batch goes on.

A message that kills the worker instead (a crash, an out-of-memory kill, a
hang ended by systemd's watchdog) cannot be caught here: each start of its
processing is counted in its work row first (maild.daemon.workqueue), and a
message started CRASH_LIMIT times without finishing is quarantined, reason
"crashed the worker", by the next worker that claims it (the restarted
daemon's first claim), without being processed again.

Test seam: with MAILD_FAULT_HANG_SUBJECT set in the environment at start-up,
processing a message whose subject contains its value hangs (as an endless
loop would) until the process is killed. It exists for the tests that kill
a real daemon in the middle of a message; unset, it costs one test of an
empty value per message.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import KW_ONLY, dataclass, field, replace

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from maild.cases.facts import DbFacts, Directory
from maild.cases.recording import Applied
from maild.cases.service import CaseService
from maild.clock import Clock
from maild.daemon.ingest_copies import earlier_copy, recorded_keys, same_message, unrecorded_ids
from maild.daemon.ingest_hooks import IngestHooks, IngestStats, NoHooks
from maild.daemon.quarantine import Keeper
from maild.daemon.workqueue import CRASH_LIMIT, Claim, WorkQueue
from maild.errors import TransientError
from maild.inbound.message import InboundMail
from maild.inbound.parse import parse_message
from maild.inbound.source import FetchedMessage, MailSource
from maild.policy.route import RoutingPolicy, route
from maild.store.db import Database, is_conflict
from maild.vocab import InboundOutcome

log = logging.getLogger("maild.ingest")

CLAIM_LOST = "claim_lost"  # not an outcome: another worker has the message and records it
LISTING_CHUNK = 500
CRASHED = "crashed the worker"

# The test seam described above, read once at start-up.
_HANG_SUBJECT = os.environ.get("MAILD_FAULT_HANG_SUBJECT", "")


def _hang(key: str) -> None:
    log.warning("message %s: hanging on purpose (MAILD_FAULT_HANG_SUBJECT) until killed", key)
    while True:
        time.sleep(3600)


def _unavailable(e: OperationalError) -> TransientError:
    return TransientError(f"database unavailable: {str(e.orig).strip().splitlines()[0]}")


@contextlib.contextmanager
def database_up() -> Iterator[None]:
    """A database that went away is a transient error: the loop keeps its work and retries."""
    try:
        yield
    except OperationalError as e:
        raise _unavailable(e) from e


class ClaimLost(Exception):
    """Our claim on a message expired and another worker took it: roll back, leave it."""


@dataclass
class _Finished:
    """What a batch did with its messages: keys to mark done or quarantine, work rows to forget."""

    done: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    handled: list[int] = field(default_factory=list)

    def skipped(self, key: str, work_id: int | None) -> None:
        self.done.append(key)
        if work_id is not None:
            self.handled.append(work_id)


@dataclass(frozen=True)
class ClaimedMessage:
    """One claimed message with what its batch knows about it: what `process` needs, as one."""

    mailbox: str
    message: FetchedMessage
    directory: Directory
    work_id: int | None
    unrecorded: set[str] | None


@dataclass(eq=False)
class Ingestor:
    """One worker's ingest: claims messages of a mailbox and records each exactly once (see above)."""

    db: Database
    service: CaseService
    policy: RoutingPolicy
    clock: Clock
    _: KW_ONLY
    max_attachment_bytes: int
    queue: WorkQueue
    batch_size: int = 100
    hooks: IngestHooks = field(default_factory=NoHooks)
    _directory: Directory = field(init=False, default_factory=Directory)
    claim_size: int = field(init=False)
    keeper: Keeper = field(init=False)

    def __post_init__(self) -> None:
        self.keeper = Keeper(self.db, self.service, self.queue)
        # Claims smaller than a fetch batch: workers sharing a mailbox finish together.
        self.claim_size = max(10, self.batch_size // 4)

    def run_once(self, source: MailSource, *, lister: bool = True) -> IngestStats:
        """List what waits in `source` (the lease holder's job), then process claims until none are left.

        Every worker claims, so several share one mailbox (maild.daemon.workqueue);
        the source is open and each worker fetches what it claimed itself.
        """
        stats = IngestStats()
        if lister:
            self.list_waiting(source)
        while not self._stop_requested():
            claims = self._claim(source.name)
            if not claims:
                break
            self._claimed(source, claims, stats)
            self.hooks.claim_finished()
        return stats

    def _stop_requested(self) -> bool:
        """Asked between units of work, each of which is progress the watchdog may count."""
        self.hooks.making_progress()
        return self.hooks.stop_requested()

    def list_waiting(self, source: MailSource) -> int:
        """Put the mailbox's new messages in the work queue; returns how many were added."""
        keys = source.pending()
        self.hooks.pending_listed(len(keys))
        with database_up():
            known = self.queue.listed_keys(source.name, keys)
            new = [k for k in keys if k not in known]
            added = 0
            for start in range(0, len(new), LISTING_CHUNK):
                added += self.queue.add(source.name, source.listing(new[start : start + LISTING_CHUNK]))
        return added

    def _claim(self, mailbox: str) -> list[Claim]:
        with database_up():
            return self.queue.claim(mailbox, self.claim_size)

    def _claimed(self, source: MailSource, claims: list[Claim], stats: IngestStats) -> None:
        crashed = [c for c in claims if c.crashes >= CRASH_LIMIT]
        if crashed:
            self._crashed(source, crashed, stats)
            claims = [c for c in claims if c.crashes < CRASH_LIMIT]
            if not claims:
                return
        work = {c.key: c.work_id for c in claims}
        messages = source.fetch(list(work))
        present = {m.key for m in messages}
        # Gone from the mailbox meanwhile (deleted, moved, a new UIDVALIDITY): nothing to do.
        self._forget([w for key, w in work.items() if key not in present])
        unrecorded = self._unrecorded_ids(c.message_id for c in claims if c.key in present)
        fresh = {c.work_id for c in claims if c.crashes == 0}
        done, failed = self._batch(source, messages, stats, work, unrecorded, fresh)
        if done:
            source.mark_done(done)
        if failed:
            source.quarantine(failed)

    def _crashed(self, source: MailSource, claims: list[Claim], stats: IngestStats) -> None:
        """Quarantine messages whose processing killed workers, without processing them again.

        They are kept with their bytes when the mailbox still gives them; a
        fetch that fails (short of a lost connection) leaves a record without
        them, and the mailbox's failed folder still has the message.
        """
        work = {c.key: c.work_id for c in claims}
        raw: dict[str, bytes] | None
        try:
            raw = {m.key: m.raw for m in source.fetch(list(work))}
        except TransientError:
            raise
        except Exception as e:
            log.warning("fetching messages that crashed the worker failed, kept without their bytes: %s", e)
            raw = None
        if raw is not None:
            self._forget([w for key, w in work.items() if key not in raw])
            work = {key: w for key, w in work.items() if key in raw}
        recorded = self.recorded(source.name, list(work))
        done: list[str] = []
        failed: list[str] = []
        for claim in claims:
            if claim.key not in work:
                continue
            if claim.key in recorded:
                stats.skipped += 1
                done.append(claim.key)
                self._forget([claim.work_id])
                continue
            started = time.perf_counter()
            reason = f"{CRASHED}: its processing started {claim.crashes} times and never finished"
            kept = None if raw is None else raw[claim.key]
            self.keeper.keep(source.name, claim.key, kept, reason, claim.work_id)
            stats.count(InboundOutcome.QUARANTINED)
            stats.quarantined += 1
            self.hooks.message_finished(InboundOutcome.QUARANTINED, time.perf_counter() - started)
            failed.append(claim.key)
        if done:
            source.mark_done(done)
        if failed:
            source.quarantine(failed)

    def _forget(self, work_ids: list[int]) -> None:
        with database_up():
            self.queue.forget(work_ids)

    def _batch(
        self,
        source: MailSource,
        messages: list[FetchedMessage],
        stats: IngestStats,
        work: dict[str, int],
        unrecorded: set[str] | None = None,
        fresh: set[int] | None = None,
    ) -> tuple[list[str], list[str]]:
        """Process a claim's messages; returns the keys to mark done and to quarantine.

        Messages never started before (`fresh` work rows) are processed together
        in one transaction (`_together`); the others, which some worker started
        and never finished, one transaction each, so a message that kills the
        worker is the only one whose start count reaches CRASH_LIMIT.
        """
        finished = _Finished()
        recorded = self.recorded(source.name, [m.key for m in messages])
        if self._directory.stale():
            self._directory = Directory()
        directory = self._directory
        together: list[ClaimedMessage] = []
        alone: list[ClaimedMessage] = []
        for message in messages:
            if message.key in recorded:
                # Processed before a crash between our commit and the mailbox flag.
                stats.skipped += 1
                finished.skipped(message.key, work[message.key])
                continue
            work_id = work.get(message.key)
            claimed = ClaimedMessage(source.name, message, directory, work_id, unrecorded)
            (together if fresh is not None and work_id in fresh else alone).append(claimed)
        try:
            if len(together) > 1 and not self._stop_requested():
                alone[:0] = self._together(together, stats, finished)
            else:
                alone[:0] = together
            for claimed in alone:
                if self._stop_requested():
                    break
                self._one(claimed, stats, finished)
        except TransientError:
            # The database went away: keep what is done, leave the rest pending.
            if finished.done:
                source.mark_done(finished.done)
            if finished.failed:
                source.quarantine(finished.failed)
            raise
        self._forget(finished.handled)
        return finished.done, finished.failed

    def _together(
        self, batch: list[ClaimedMessage], stats: IngestStats, finished: _Finished
    ) -> list[ClaimedMessage]:
        """Several messages in one transaction; returns those left to process one by one.

        Each message's effects are still atomic with its record: they commit
        together or not at all, and nothing is flagged done in the mailbox
        before the commit. The starts of the whole batch are counted first, in
        one short transaction (a crash from then on counts against each of
        them once). Anything one message raises rolls the batch back and
        hands every message to the one-transaction path, counted as started
        already; so does a deadlock with another worker's batch.
        """
        started = time.perf_counter()
        with database_up():
            self.queue.start_many([c.work_id for c in batch if c.work_id is not None])
        for claimed in batch:
            if claimed.work_id is not None:
                self.queue.interrupted(claimed.work_id)  # counted: the one-by-one path won't again
        results: list[tuple[ClaimedMessage, InboundMail, Applied]] = []
        try:
            mails = [self._parse(claimed) for claimed in batch]
            with self.db.session() as s:
                for claimed, mail in zip(batch, mails, strict=True):
                    self.hooks.making_progress()
                    key = claimed.message.key
                    if claimed.work_id is not None and not self.queue.done_in(s, claimed.work_id):
                        raise ClaimLost(key)
                    raw, directory, unrecorded = claimed.message.raw, claimed.directory, claimed.unrecorded
                    applied = self._apply(s, claimed.mailbox, key, mail, directory, unrecorded, raw)
                    results.append((claimed, mail, applied))
        except OperationalError as e:
            if not is_conflict(e):
                raise _unavailable(e) from e
            log.info("a batch of %d met another worker's: each message on its own", len(batch))
            return batch
        except Exception as e:  # MemoryError and RecursionError included, as in process()
            log.info("a batch of %d messages rolled back (%s): each message on its own", len(batch), e)
            return batch
        each = (time.perf_counter() - started) / len(batch)
        for claimed, mail, applied in results:
            _log_applied(claimed.message.key, mail, applied)
            self._count(claimed, applied, stats, finished, each)
        return []

    def _parse(self, claimed: ClaimedMessage) -> InboundMail:
        mail = parse_message(claimed.message.raw, max_attachment_bytes=self.max_attachment_bytes)
        if _HANG_SUBJECT and _HANG_SUBJECT in mail.subject:
            _hang(claimed.message.key)
        return mail

    def _one(self, claimed: ClaimedMessage, stats: IngestStats, finished: _Finished) -> None:
        """Process one claimed message in a transaction of its own and count what became of it."""
        started = time.perf_counter()
        applied = self._process_claimed(claimed)
        if applied is None:
            stats.skipped += 1
            finished.skipped(claimed.message.key, claimed.work_id)
            return
        self._count(claimed, applied, stats, finished, time.perf_counter() - started)

    def _count(
        self,
        claimed: ClaimedMessage,
        applied: Applied,
        stats: IngestStats,
        finished: _Finished,
        seconds: float,
    ) -> None:
        if applied.outcome == CLAIM_LOST:
            return  # another worker has it now and will mark it
        key = claimed.message.key
        stats.count(applied.outcome)
        self.hooks.message_finished(applied.outcome, seconds)
        stats.notifications += applied.notifications
        if applied.outcome == InboundOutcome.QUARANTINED:
            stats.quarantined += 1
            finished.failed.append(key)
        else:
            stats.processed += 1
            finished.done.append(key)
        if applied.notifications:
            self.hooks.notifications_queued()

    def _process_claimed(self, claimed: ClaimedMessage) -> Applied | None:
        """`process`, with the start counted first: a crash from then on counts against the message."""
        work_id = claimed.work_id
        if work_id is not None:
            with database_up():
                self.queue.start(work_id)  # committed first: a crash from here on counts
        try:
            return self.process(claimed)
        except TransientError:
            if work_id is not None:
                self.queue.interrupted(work_id)  # counted once; this living worker retries it
            raise

    def _unrecorded_ids(self, listed: Iterable[str | None]) -> set[str]:
        """Which of a claim's listed Message-IDs have no processed record yet (one query per claim).

        Each message's own check for an earlier copy is then skipped when its
        parsed Message-ID is among these; a race with another worker still
        ends at the unique index (see process).
        """
        with database_up(), self.db.reader() as s:
            return unrecorded_ids(s, {m for m in listed if m})

    def recorded(self, mailbox: str, keys: list[str]) -> set[str]:
        """Which of these mailbox keys already have a record (one query per batch)."""
        with database_up(), self.db.reader() as s:
            return recorded_keys(s, mailbox, keys)

    def process(self, claimed: ClaimedMessage) -> Applied | None:
        """Handle one message in one transaction; None when another worker already recorded it.

        The (mailbox, key) and Message-ID unique keys make this exactly-once even
        if two workers race: the loser's transaction fails and changes nothing.
        It then runs once more with every check inside its transaction, where it
        sees the winner's record: a copy is recorded as a duplicate, a message
        that only reuses the id is processed under an id of its own.
        """
        key, raw = claimed.message.key, claimed.message.raw
        mailbox, work_id, unrecorded = claimed.mailbox, claimed.work_id, claimed.unrecorded
        try:
            mail = self._parse(claimed)
            for attempt in (1, 2):
                try:
                    with self.db.session() as s:
                        if work_id is not None and not self.queue.done_in(s, work_id):
                            raise ClaimLost(key)
                        applied = self._apply(s, mailbox, key, mail, claimed.directory, unrecorded, raw)
                    break
                except IntegrityError:
                    if attempt == 2:
                        raise
                    unrecorded = None
        except ClaimLost:
            log.info("message %s: claim expired and taken by another worker; left to it", key)
            return Applied(CLAIM_LOST, "claim lost")
        except OperationalError as e:
            raise _unavailable(e) from e
        except IntegrityError as e:
            if self.recorded(mailbox, [key]):
                log.info("message already recorded by another worker key=%s", key)
                return None
            # Refused for another reason (say its Message-ID is one of our own
            # notifications'): kept, with the reason, never marked done unrecorded.
            return self.keeper.quarantine(
                mailbox, key, raw, e.orig if isinstance(e.orig, Exception) else e, work_id
            )
        except Exception as e:  # MemoryError and RecursionError included: the stack is unwound by now
            return self.keeper.quarantine(mailbox, key, raw, e, work_id)
        _log_applied(key, mail, applied)
        return applied

    def _apply(
        self,
        s: Session,
        mailbox: str,
        key: str,
        mail: InboundMail,
        directory: Directory | None,
        unrecorded: set[str] | None = None,
        raw: bytes | None = None,
    ) -> Applied:
        if unrecorded is not None and mail.message_id in unrecorded:
            # Known to have no record when the claim was made; a second message of
            # the batch with this id is checked (the set forgets it here).
            unrecorded.discard(mail.message_id)
            original = None
        else:
            original = earlier_copy(s, mail)
        if original is not None and same_message(original, mail):
            return self._duplicate(s, mailbox, key, mail, original.id)
        if original is not None:
            # Another message already uses this Message-ID (broken software reuses
            # ids like <0@localhost>): it is a message of its own, under an id of ours.
            mail = replace(
                mail,
                message_id=f"<{mail.raw_sha256[:32]}.reused-id@maild.invalid>",
                message_id_synthesized=True,
                defects=(*mail.defects, f"Message-ID {mail.message_id} already used by another message"),
            )
            if (again := earlier_copy(s, mail)) is not None:
                return self._duplicate(s, mailbox, key, mail, again.id)
        facts = DbFacts(s, directory)  # apply() reuses the cases routing read
        decision = route(mail, facts, self.policy, self.clock.now())
        return self.service.apply(s, mail, decision, mailbox, key, facts.loaded, raw=raw)

    def _duplicate(self, s: Session, mailbox: str, key: str, mail: InboundMail, original_id: int) -> Applied:
        """The same message again (another copy, another folder, a resend): recorded, no effect."""
        reason = f"duplicate of inbound message #{original_id}"
        self.service.record(s, mail, mailbox, key, InboundOutcome.DUPLICATE, reason)
        return Applied(InboundOutcome.DUPLICATE, reason)


def _log_applied(key: str, mail: InboundMail, applied: Applied) -> None:
    """One line per message, after its commit."""
    log.info(
        "message %s outcome=%s case=%s notifications=%d reason=%s message_id=%s",
        key,
        applied.outcome,
        applied.case_number or "-",
        applied.notifications,
        applied.reason,
        mail.message_id,
        extra={"case": applied.case_number, "message_id": mail.message_id, "outcome": applied.outcome},
    )
