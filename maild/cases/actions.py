"""What agents, contacts' commands and the deadline scan do to a case: close, severity, escalation.

These change more than a status and are rare next to comments, so they
work on the ORM `models.Case`. The same functions serve every path: an
e-mail `#close` or `#escalate` (through `command_close`/`command_escalate`,
which ask maild.policy.lifecycle who may), the command line, and the
daemon's deadline scan (maild.cases.deadlines). Each escalation is
recorded in a row unique per (case, deadline, level), which is what makes
it go out once only.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from maild.cases.clocks import done_keys, first_response_levels, follow_up_started, next_check
from maild.cases.env import CaseEnv
from maild.cases.notices import notice, refuse
from maild.inbound.language import sender_language
from maild.inbound.message import InboundMail
from maild.outbound.notify import Recipient
from maild.policy.followup import FIRST_RESPONSE
from maild.policy.lifecycle import CaseChange, may_close, may_escalate, next_status, unanswered_and_open
from maild.policy.route import AddComment
from maild.policy.sla import add_business_time, can_escalate, first_response_due
from maild.store.models import Case, Escalation
from maild.vocab import CaseStatus, Event

__all__ = ["change_severity", "close", "command_close", "command_escalate", "escalate", "reschedule"]

CUSTOMER_REQUEST = "customer_request"  # the escalation reason of a contact's #escalate


def close(
    env: CaseEnv,
    session: Session,
    case: Case,
    actor: str,
    event: Event = Event.CLOSED,
    more: Mapping[str, Any] | None = None,
) -> int:
    """Close `case` and tell its people; the caller has checked that `actor` may (lifecycle.may_close).

    `event`: AUTO_CLOSED when the deadline scan closes a case that waited
    on the customer long enough (SPEC §11); its notice says why (`more`).
    """
    if case.status == CaseStatus.CLOSED:
        return 0
    now = env.now()
    old = case.status
    case.status = next_status(old, CaseChange.CLOSED, answered=case.first_responded_at is not None)
    case.closed_at = now
    case.updated_at = now
    case.next_escalation_at = case.next_response_due_at = case.waiting_since = None
    session.flush()
    extra = {
        "old_status": old,
        "new_status": case.status,
        "closed_by": actor,
        "reopen_until": now + env.settings.support.reopen_window,  # a reply until then reopens it
        **(more or {}),
    }
    return env.tell_case(session, case, event, extra=extra)


def change_severity(
    env: CaseEnv, session: Session, case: Case, severity: int, actor: str, reason: str = ""
) -> int:
    """A new severity moves the running response deadline and says so.

    An unanswered case's first-response deadline counts from its opening; a
    running next-response clock from the follow-up that started it, with the
    new severity's target (none if it has none).
    """
    old = case.severity
    if severity == old:
        return 0
    case.severity = severity
    case.severity_note = None
    case.updated_at = env.now()
    if unanswered_and_open(case.status, case.first_responded_at):
        plan = env.settings.sla.plan(case.account.plan)
        case.first_response_due_at = first_response_due(
            case.created_at, severity, plan.targets, plan.calendar
        )
        reschedule(env, session, case)
    elif case.next_response_due_at is not None:
        started = follow_up_started(session, case.id)
        if started is not None:
            plan = env.settings.sla.plan(case.account.plan)
            target = plan.next_response.get(severity)
            case.next_response_due_at = (
                None if target is None else add_business_time(started, target, plan.calendar)
            )
            reschedule(env, session, case)
    session.flush()
    extra = {"old_severity": old, "new_severity": severity, "reason": reason, "changed_by": actor}
    return env.tell_case(session, case, Event.SEVERITY_CHANGED, extra=extra)


def command_close(env: CaseEnv, session: Session, mail: InboundMail, case: Case, d: AddComment) -> int:
    """An e-mail `#close`: the same rule as `maild case close --as`."""
    if may_close(d.role):
        return close(env, session, case, d.author)
    language = d.contact.language if d.contact else None
    return refuse(env, session, mail, "close_not_allowed", language, case, commented=True)


def command_escalate(env: CaseEnv, session: Session, mail: InboundMail, case: Case, d: AddComment) -> int:
    """An e-mail `#escalate`: a designated contact, once the deadline has passed, once per case."""
    language = sender_language(d.contact.language if d.contact else None, mail)
    if not may_escalate(d.role, d.contact is not None and d.contact.designated):
        return notice(env, session, mail, Event.ESCALATE_REFUSED, {}, language, case=case)
    due = case.first_response_due_at
    if due is not None and not can_escalate(due, env.now()):
        return notice(env, session, mail, Event.ESCALATE_TOO_EARLY, {"possible_at": due}, language, case=case)
    by_customer = Escalation.reason == CUSTOMER_REQUEST
    asked_before = session.scalar(select(Escalation.id).where(Escalation.case_id == case.id, by_customer))
    if asked_before:
        return refuse(env, session, mail, "already_escalated", language, case, commented=True)
    level = max(first_response_levels(session, case.id), default=0) + 1
    return escalate(env, session, case, level, CUSTOMER_REQUEST, d.author)


def escalate(
    env: CaseEnv,
    session: Session,
    case: Case,
    level: int,
    reason: str,
    requested_by: str | None,
    *,
    deadline: str = FIRST_RESPONSE,
    due_at: datetime | None = None,
    scanning: bool = False,
) -> int:
    """Record one escalation and notify; the unique (case, deadline, level) row makes it once only.

    `deadline`/`due_at`: a missed next response (SPEC §11) is its own
    deadline, told to the same people as a missed first response.
    `scanning`: the deadline scan, which reschedules the case once at its end.
    """
    session.add(
        Escalation(
            case_id=case.id,
            deadline=deadline,
            level=level,
            reason=reason,
            requested_by=requested_by,
            created_at=env.now(),
        )
    )
    session.flush()
    settings = env.settings.escalation
    config = {lv.level: lv for lv in settings.levels}.get(level)
    # A level with its own recipients (e.g. the head of support at 200%) goes to them whatever the
    # team; at the others the case's team's managers stand in for the general list (SPEC §10).
    own = config.recipients if config and config.recipients != settings.recipients else ()
    managers = env.notifier.managers(case, settings.recipients, instead=own)
    extra = {
        "level": level,
        "reason": reason,
        "due_at": due_at or case.first_response_due_at,
        "requested_by": requested_by,
    }
    ctx = env.notifier.case_context(case)
    sent = 0
    for email in managers:
        manager = Recipient(email, "", env.notifier.language(None), "manager")
        row = env.notifier.enqueue(session, Event.ESCALATED, manager, case=case, case_ctx=ctx, extra=extra)
        sent += row is not None
    if settings.notify_contacts:
        recipients = [r for r in env.notifier.case_recipients(session, case) if r.email not in managers]
        sent += env.tell_case(session, case, Event.ESCALATED, extra=extra, recipients=recipients)
    if not scanning:
        reschedule(env, session, case)
    return sent


def reschedule(env: CaseEnv, session: Session, case: Case) -> None:
    """Store when the deadline scan must next look at `case`, from its clocks and what was done."""
    plan = case.account.plan if case.account else None
    case.next_escalation_at = next_check(env, case, plan, done_keys(session, case.id))
