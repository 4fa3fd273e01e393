"""Held messages: an agent releases one into its case, or discards it (SPEC §8).

A reply that would act without proof of its sender is held: recorded with
its raw bytes and nothing else. Releasing parses those bytes again and routes
them as if proven (the agent vouches for the sender), in one transaction that
updates the held record in place, so the message keeps its id and is still
handled exactly once. Discarding keeps the record and the bytes, marked
`discarded`, so nothing that arrived is ever lost.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from maild.cases.admin import require_agent
from maild.cases.facts import DbFacts
from maild.cases.recording import Applied
from maild.cases.service import CaseService
from maild.clock import Clock
from maild.errors import NotFound, UsageError
from maild.inbound.parse import parse_message
from maild.policy.route import RoutingPolicy, route
from maild.store.db import Database
from maild.store.models import InboundMessage
from maild.vocab import InboundOutcome


@dataclass(frozen=True, slots=True)
class Released:
    inbound_id: int
    applied: Applied


def _held(session: Session, inbound_id: int) -> InboundMessage:
    row = session.get(InboundMessage, inbound_id, with_for_update=True)
    if row is None:
        raise NotFound(f"inbound message {inbound_id} does not exist")
    if row.outcome != InboundOutcome.HELD:
        raise UsageError(f"inbound message {inbound_id} is not held (its outcome is {row.outcome})")
    return row


def release(
    db: Database,
    service: CaseService,
    policy: RoutingPolicy,
    clock: Clock,
    inbound_id: int,
    agent_email: str,
    *,
    max_attachment_bytes: int,
) -> Released:
    """Process a held message as if its sender were proven; its record says who released it."""
    with db.session() as s:
        row = _held(s, inbound_id)
        agent = require_agent(s, agent_email).email
        if row.raw is None:
            raise NotFound(f"inbound message {inbound_id} has no stored bytes to release")
        mail = parse_message(row.raw, max_attachment_bytes=max_attachment_bytes)
        facts = DbFacts(s)
        decision = route(mail, facts, policy, clock.now(), released=True)
        applied = service.apply(
            s, mail, decision, row.mailbox, row.source_key, facts.loaded, record_id=row.id
        )
        # apply() rewrote the record (outcome, case; the bytes go, as for any processed message).
        reason = f"released by {agent}: {applied.reason}"[:2000]
        row.reason = reason
    return Released(inbound_id, Applied(applied.outcome, reason, applied.case_number, applied.notifications))


def discard(db: Database, inbound_id: int, agent_email: str | None) -> str:
    """Take a held message out of the case flow; it stays on record (with its bytes) as discarded."""
    with db.session() as s:
        row = _held(s, inbound_id)
        who = require_agent(s, agent_email).email if agent_email else "an operator"
        row.outcome = InboundOutcome.DISCARDED
        row.reason = f"discarded by {who} (held: {row.reason})"[:2000]
        return row.reason
