"""Keeping a message that cannot be processed: its record, its reason and its bytes.

A message that raised, or that killed workers before (maild.daemon.ingest),
is never processed again and never lost: it is recorded as quarantined with
its reason, in a transaction of its own that also ends its work row, and
the mailbox moves it to the failed folder.
"""

from __future__ import annotations

import hashlib
import logging
import traceback
from dataclasses import dataclass

from sqlalchemy.exc import OperationalError

from maild.cases.recording import Applied
from maild.cases.service import CaseService
from maild.daemon.workqueue import WorkQueue
from maild.errors import TransientError
from maild.inbound.message import InboundMail
from maild.store.db import Database
from maild.vocab import InboundOutcome

__all__ = ["Keeper"]

log = logging.getLogger("maild.ingest")


@dataclass(frozen=True, eq=False)
class Keeper:
    """Records quarantined messages for one worker's ingest."""

    db: Database
    service: CaseService
    queue: WorkQueue

    def quarantine(
        self, mailbox: str, key: str, raw: bytes, error: Exception, work_id: int | None = None
    ) -> Applied:
        """A message whose processing raised `error`: kept, with the error as its reason."""
        reason = f"{type(error).__name__}: {error}"[:1000]
        log.debug("%s", traceback.format_exc())
        return self.keep(mailbox, key, raw, reason, work_id)

    def keep(self, mailbox: str, key: str, raw: bytes | None, reason: str, work_id: int | None) -> Applied:
        """Record a message as quarantined with its reason (and its bytes when we have them)."""
        log.error("message %s quarantined: %s", key, reason, extra={"outcome": InboundOutcome.QUARANTINED})
        digest = hashlib.sha256(raw if raw is not None else b"").hexdigest()
        # Named after its place in the mailbox, not its bytes: two copies of one
        # message can both be quarantined (Message-IDs are unique among records).
        place = hashlib.sha256(f"{mailbox}\0{key}".encode()).hexdigest()
        stub = InboundMail(
            message_id=f"<quarantined.{place[:32]}@maild.invalid>",
            from_addr=None,
            subject="",
            text="",
            raw_size=len(raw) if raw is not None else 0,
            raw_sha256=digest if raw is not None else "",
        )
        try:
            with self.db.session() as s:
                if work_id is not None:
                    self.queue.done_in(s, work_id)
                self.service.record(s, stub, mailbox, key, InboundOutcome.QUARANTINED, reason, raw=raw)
        except OperationalError as e:
            raise TransientError(f"database unavailable: {e}") from e
        return Applied(InboundOutcome.QUARANTINED, reason)
