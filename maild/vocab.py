"""The words maild stores and compares: case statuses, inbound outcomes, roles, events.

Each is a `StrEnum`, so a member *is* its string: it goes into the database,
the JSON of CONTRACT.md and the templates unchanged, and a value read back
from a row compares equal to the member. What the types add is that a typo
(`"close"` for `"closed"`) is a mypy error instead of a silent mismatch, and
that every value a column can hold is listed in one place.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

__all__ = ["CaseStatus", "Event", "InboundOutcome", "OutboxStatus", "Role", "Security"]


class CaseStatus(StrEnum):
    """cases.status (SPEC §2): new until an agent answers, closed by agent or contact."""

    NEW = "new"
    IN_PROGRESS = "in_progress"
    WAITING_ON_CUSTOMER = "waiting_on_customer"
    CLOSED = "closed"


class InboundOutcome(StrEnum):
    """inbound_messages.outcome: what became of one received message (`maild inbound list`)."""

    CASE_OPENED = "case_opened"
    COMMENT_ADDED = "comment_added"
    HELPDESK = "helpdesk"
    IGNORED = "ignored"
    REJECTED = "rejected"
    HELD = "held"
    DISCARDED = "discarded"
    QUARANTINED = "quarantined"
    DUPLICATE = "duplicate"


class Role(StrEnum):
    """A person's part in one case (participants.role, and the sender's role when routing)."""

    PRIMARY_CONTACT = "primary_contact"
    COLLABORATOR = "collaborator"
    AGENT = "agent"


class Event(StrEnum):
    """A notification event: one template set per event (templates/<lang>/<event>.*)."""

    CASE_OPENED = "case_opened"
    COMMENT_ADDED = "comment_added"
    STATUS_CHANGED = "status_changed"
    ESCALATED = "escalated"
    CLOSED = "closed"
    REOPENED = "reopened"
    HELPDESK = "helpdesk"
    REJECTED = "rejected"
    ESCALATE_TOO_EARLY = "escalate_too_early"
    ESCALATE_REFUSED = "escalate_refused"
    SEVERITY_CHANGED = "severity_changed"
    HELD = "held"
    # SPEC §10: the team's side of a case, never sent to a contact.
    ASSIGNED = "assigned"
    MOVED = "moved"
    NOTE_ADDED = "note_added"
    COMMANDS_APPLIED = "commands_applied"
    # SPEC §11: the clocks after the first response.
    DEADLINE_WARNING = "deadline_warning"  # to the owner, else the team: a response deadline is near
    WAITING_REMINDER = "waiting_reminder"  # to the primary contact: we still wait for their answer
    AUTO_CLOSED = "auto_closed"  # to everyone: closed after waiting on the customer


class OutboxStatus(StrEnum):
    """outbox.status: pending until the SMTP server's answer is recorded."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    BOUNCED = "bounced"


Security = Literal["tls", "starttls", "none"]
"""How a connection to a mail server is protected (`[mailbox] security`, `[smtp] security`)."""
