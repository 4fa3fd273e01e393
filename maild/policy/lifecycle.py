"""A case's life (SPEC §2, §4, §5): who may close or escalate it, and what status it takes next.

PURE, and the only place these rules are written: the e-mail commands
(`#close`, `#escalate`), the command line (`maild case close --as`, `maild
case reply`) and the deadline scan all ask these functions, so a rule cannot
hold on one path and not on another. Nothing here reads the clock or the
database: the caller passes the case's status and its first-response time
(the timers after a case opened are policy.followup's).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from maild.vocab import CaseStatus, Role

__all__ = [
    "AGENT_COMMANDS",
    "CaseChange",
    "command_refusal",
    "may_close",
    "may_escalate",
    "next_status",
    "unanswered_and_open",
]


class CaseChange(StrEnum):
    """Something that happens to a case and may move its status."""

    AGENT_REPLIED = "agent_replied"
    AGENT_ASKED = "agent_asked"  # an agent's reply that waits for the customer (`case reply --waiting`)
    CONTACT_REPLIED = "contact_replied"
    REOPENED = "reopened"  # a contact's reply to a closed case within the reopen window
    CLOSED = "closed"


def may_close(role: str | None) -> bool:
    """Who may close a case, by e-mail or on the command line: the primary contact or an agent.

    A collaborator may comment but not close: closing ends the case for its
    owner, who may not even have seen the collaborator's message.
    """
    return role in (Role.AGENT, Role.PRIMARY_CONTACT)


def may_escalate(role: str | None, designated: bool) -> bool:
    """Who may ask for an escalation by `#escalate`: a designated contact of the account.

    Agents escalate through their own tools, not by mailing the case; a
    contact who may not open cases may not summon managers either.
    """
    return role is not None and role != Role.AGENT and designated


AGENT_COMMANDS = frozenset({"note", "assign", "team", "severity", "waiting"})


def command_refusal(name: str, role: str | None, designated: bool) -> str | None:
    """Why this person may not use the reply command `name` (a refusal code), or None if they may.

    The agents' commands of SPEC §10 are the support team's tools: a
    contact's `#note` or `#severity 1` changes nothing. `#close` and
    `#escalate` follow may_close and may_escalate, so a command by e-mail
    and the command line cannot disagree.
    """
    if name in AGENT_COMMANDS:
        return None if role == Role.AGENT else "agent_command"
    if name == "close":
        return None if may_close(role) else "close_not_allowed"
    if name == "escalate":
        return None if may_escalate(role, designated) else "escalate_refused"
    return "unknown_command"


def unanswered_and_open(status: str, first_responded_at: datetime | None) -> bool:
    """Whether a case still awaits its first answer: its deadline and escalations still count."""
    return first_responded_at is None and status != CaseStatus.CLOSED


def next_status(current: str, change: CaseChange, *, answered: bool) -> CaseStatus:
    """The status a case takes after `change`; `answered`: an agent has replied to it before.

    A closed case stays closed on anything but a reopening or a new close:
    an agent's note on a closed case does not open it again, and a contact's
    reply reopens it only when routing says so (within the reopen window).
    A contact's reply answers the agent's question (waiting_on_customer →
    in_progress); otherwise it leaves the status as it is.
    """
    status = CaseStatus(current)
    if change is CaseChange.CLOSED:
        return CaseStatus.CLOSED
    if change is CaseChange.REOPENED:
        return _back_to_work(answered)
    if status is CaseStatus.CLOSED:
        return status
    if change is CaseChange.AGENT_REPLIED:
        return CaseStatus.IN_PROGRESS
    if change is CaseChange.AGENT_ASKED:
        return CaseStatus.WAITING_ON_CUSTOMER
    if status is CaseStatus.WAITING_ON_CUSTOMER:
        # SPEC §11: any contact's reply returns a waiting case to in_progress, answered or not
        # (an agent asked the customer something, so the case is being worked on).
        return CaseStatus.IN_PROGRESS
    return status


def _back_to_work(answered: bool) -> CaseStatus:
    """An open case that needs an agent: in progress once answered, new until then."""
    return CaseStatus.IN_PROGRESS if answered else CaseStatus.NEW
