"""The inbound record: one row per received message, saying what became of it and why.

Every message that reaches the case writers leaves exactly one record
(`maild inbound list`), whatever it did; processing is idempotent on it.
Also owns what automatic mail does: it is only recorded, and a bounce of
one of our notifications marks that delivery bounced in the outbox.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from maild.cases.env import CaseEnv, insert_row
from maild.inbound.message import InboundMail
from maild.policy.bounces import bounce_targets
from maild.policy.route import Ignore
from maild.store.models import InboundMessage, Outbox, format_case_number, table
from maild.vocab import InboundOutcome, OutboxStatus

__all__ = ["Applied", "RecordAt", "ignore", "record"]


# The outcomes whose record keeps the message's bytes: the others are done with.
KEEPS_BYTES = (InboundOutcome.HELD, InboundOutcome.QUARANTINED)


@dataclass(frozen=True, slots=True)
class Applied:
    """What one message did, for the log line and the tests."""

    outcome: str
    reason: str
    case_number: str | None = None
    notifications: int = 0


@dataclass(frozen=True, slots=True)
class RecordAt:
    """Where an inbound message's record goes: its mailbox key, and what a held message keeps."""

    mailbox: str
    key: str
    raw: bytes | None = None
    record_id: int | None = None


def record(
    env: CaseEnv,
    session: Session,
    mail: InboundMail,
    at: RecordAt,
    outcome: str,
    reason: str,
    case_id: int | None = None,
) -> int:
    """The inbound record; its id.

    Only a held message (processed again on release) and a quarantined one
    (kept for a human to look at) keep their bytes, `at.raw`.

    `at.record_id`: the record of a held message being released, updated in place
    (it keeps its id, so `maild inbound list` shows one line per message).
    """
    values = {
        "mailbox": at.mailbox,
        "source_key": at.key,
        "message_id": mail.message_id,
        "from_addr": mail.from_addr.email if mail.from_addr else "",
        "subject": mail.subject[:2000],
        "outcome": outcome,
        "reason": reason[:2000],
        "case_id": case_id,
        "size": mail.raw_size,
        "sha256": mail.raw_sha256,
        "raw": at.raw if outcome in KEEPS_BYTES else None,
        "received_at": env.now(),
    }
    if at.record_id is not None:
        del values["received_at"]
        update_record = update(InboundMessage).where(InboundMessage.id == at.record_id).values(**values)
        session.connection().execute(update_record)
        return at.record_id
    return insert_row(session, _INSERT_INBOUND, values)


def ignore(env: CaseEnv, session: Session, mail: InboundMail, d: Ignore, at: RecordAt) -> Applied:
    """Automatic mail is only recorded; a bounce of our notification also marks that delivery failed."""
    reason, case_id = d.reason, None
    if d.automatic is not None and d.automatic.kind == "bounce":
        bounced = _mark_bounced(session, mail, d.reason)
        if bounced:
            reason = f"{d.reason}; bounce of {', '.join(f'{o.event} to {o.recipient}' for o in bounced)}"
            case_id = bounced[0].case_id
    record(env, session, mail, at, d.outcome, reason, case_id)
    return Applied(d.outcome, reason, format_case_number(case_id) if case_id else None)


def _mark_bounced(session: Session, mail: InboundMail, reason: str) -> list[Outbox]:
    message_ids, failed = bounce_targets(mail)
    if not message_ids:
        return []
    rows = session.execute(select(Outbox).where(Outbox.message_id.in_(message_ids[:50]))).scalars().all()
    hit = [r for r in rows if not failed or r.recipient in {f.lower() for f in failed}]
    for row in hit:
        row.status = OutboxStatus.BOUNCED
        row.last_error = f"bounced: {reason}"[:2000]
    return list(hit)


_INSERT_INBOUND = table(InboundMessage).insert()
