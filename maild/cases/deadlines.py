"""The deadline scan's work on one case: escalations, warnings, the reminder and the automatic close.

maild.policy.followup decides which timers are due; this module does them,
each with its once-only row (escalations or deadline_notices) written in
the same transaction as the notices it queues, and then stores when the
case must next be looked at. The caller (maild.daemon.deadline_loop) holds
the case's row lock.
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from maild.cases.actions import close, escalate, reschedule
from maild.cases.clocks import clocks_of, done_keys, rules
from maild.cases.env import CaseEnv
from maild.outbound.notify import Recipient
from maild.policy.followup import FIRST_RESPONSE, Timer, TimerKind, deadline_kind, due_timers, timers
from maild.store.models import Case, DeadlineNotice
from maild.vocab import CaseStatus, Event, Role

__all__ = ["AUTO_CLOSE_ACTOR", "scan_case"]

log = logging.getLogger("maild.cases")

AUTO_CLOSE_ACTOR = "maild"  # who closed a case that waited on the customer long enough


def scan_case(env: CaseEnv, session: Session, case: Case) -> int:
    """Do every timer of `case` that is due now; how many notifications were queued."""
    plan = case.account.plan if case.account else None
    queued = 0
    for timer in due_timers(clocks_of(case), rules(env, plan), done_keys(session, case.id), env.now()):
        if case.status == CaseStatus.CLOSED:
            break
        queued += _do(env, session, case, timer)
    reschedule(env, session, case)
    return queued


def _do(env: CaseEnv, session: Session, case: Case, timer: Timer) -> int:
    if timer.kind is TimerKind.ESCALATION:
        reason = "deadline" if timer.deadline == FIRST_RESPONSE else deadline_kind(timer.deadline)
        deadline, due_at = timer.deadline, timer.due_at
        return escalate(
            env, session, case, timer.level, reason, None, deadline=deadline, due_at=due_at, scanning=True
        )
    session.add(
        DeadlineNotice(case_id=case.id, kind=timer.kind, deadline=timer.deadline, created_at=env.now())
    )
    session.flush()  # the unique row first: a second worker stops here, before queuing anything
    if timer.kind is TimerKind.WARNING:
        return _warn(env, session, case, timer)
    if timer.kind is TimerKind.REMINDER:
        return _remind(env, session, case, timer)
    log.info("case %s: closed after waiting on the customer since %s", case.number, case.waiting_since)
    extra = {"waiting_since": case.waiting_since}
    return close(env, session, case, AUTO_CLOSE_ACTOR, Event.AUTO_CLOSED, extra)


def _warn(env: CaseEnv, session: Session, case: Case, timer: Timer) -> int:
    """One warning before a response deadline: to the owner, else the team's address (SPEC §11)."""
    owner = case.owner.email if case.owner else None
    email = owner or env.notifier.team_address(case.team)
    if not email:
        log.warning("case %s: no owner, team address or agent_address to warn", case.number)
        return 0
    recipient = Recipient(email, "", env.notifier.language(None), "owner" if owner else "team")
    extra = {"deadline": deadline_kind(timer.deadline), "due_at": timer.due_at}
    return int(
        env.notifier.enqueue(session, Event.DEADLINE_WARNING, recipient, case=case, extra=extra) is not None
    )


def _remind(env: CaseEnv, session: Session, case: Case, timer: Timer) -> int:
    """One reminder to the primary contact, with the case's reply address, in their language."""
    contacts = [r for r in env.notifier.case_recipients(session, case) if r.role == Role.PRIMARY_CONTACT]
    every = timers(clocks_of(case), rules(env, case.account.plan if case.account else None))
    closes = [t.at for t in every if t.kind is TimerKind.AUTO_CLOSE and t.deadline == timer.deadline]
    closes_at = closes[0] if closes else None
    extra = {"waiting_since": case.waiting_since, "closes_at": closes_at}
    return env.tell_case(session, case, Event.WAITING_REMINDER, extra=extra, recipients=contacts)
