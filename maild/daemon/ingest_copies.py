"""Which messages have a record already: the exactly-once checks ingest makes before routing.

A Message-ID seen before is either a copy of the same message (recorded as
a duplicate, no effect) or a reuse of the id by other software (processed
under an id of its own). These are the queries that tell the two apart,
kept apart from the ingest loop so the loop reads as its steps.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from maild.inbound.message import InboundMail
from maild.store.models import InboundMessage
from maild.vocab import InboundOutcome

__all__ = ["EarlierCopy", "earlier_copy", "recorded_keys", "same_message", "unrecorded_ids"]


@dataclass(frozen=True, slots=True)
class EarlierCopy:
    id: int
    from_addr: str
    subject: str


_EARLIER_COPY = select(InboundMessage.id, InboundMessage.from_addr, InboundMessage.subject).where(
    InboundMessage.message_id == bindparam("message_id"), InboundMessage.outcome != InboundOutcome.DUPLICATE
)

_RECORDED_IDS = select(InboundMessage.message_id).where(
    InboundMessage.message_id.in_(bindparam("ids", expanding=True)),
    InboundMessage.outcome != InboundOutcome.DUPLICATE,
)


def earlier_copy(s: Session, mail: InboundMail) -> EarlierCopy | None:
    """The processed record with this Message-ID, if any (Core: runs once per message)."""
    row = s.connection().execute(_EARLIER_COPY, {"message_id": mail.message_id}).first()
    return None if row is None else EarlierCopy(row.id, row.from_addr, row.subject)


def same_message(earlier: EarlierCopy, mail: InboundMail) -> bool:
    """Same Message-ID, sender and subject: a copy of one message, not a reuse of its id."""
    sender = mail.from_addr.email if mail.from_addr else ""
    return earlier.from_addr == sender and earlier.subject == mail.subject[:2000]


def unrecorded_ids(s: Session, ids: set[str]) -> set[str]:
    """Which of these Message-IDs have no processed record (one query for a whole claim)."""
    if not ids:
        return set()
    return ids - set(s.execute(_RECORDED_IDS, {"ids": sorted(ids)}).scalars())


def recorded_keys(s: Session, mailbox: str, keys: list[str]) -> set[str]:
    """Which of these mailbox keys already have a record."""
    if not keys:
        return set()
    query = select(InboundMessage.source_key).where(
        InboundMessage.mailbox == mailbox, InboundMessage.source_key.in_(keys)
    )
    return set(s.execute(query).scalars())
