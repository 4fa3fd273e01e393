"""A case's response clocks as the database keeps them (SPEC §5, §11).

The decisions are maild.policy.followup's; this module feeds them: the
rules of the case's plan, the case's clock columns, and the timers
already acted on (escalations and deadline_notices rows). Every path that
changes a case's clocks — a new case, a comment, `#waiting`, a new
severity, a close, the deadline scan — ends by storing next_check()'s
answer in `cases.next_escalation_at`, the one indexed column the scan reads.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from maild.cases.env import CaseEnv
from maild.policy.followup import FIRST_RESPONSE, Clocks, FollowupRules, next_check_at
from maild.store.models import Comment, DeadlineNotice, Escalation
from maild.vocab import Role

__all__ = [
    "ClockColumns",
    "clocks_of",
    "done_keys",
    "first_response_levels",
    "follow_up_started",
    "next_check",
    "rules",
]


class ClockColumns(Protocol):
    """What the clocks depend on: models.Case and CaseRow both have it."""

    @property
    def status(self) -> str: ...
    @property
    def severity(self) -> int: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def first_response_due_at(self) -> datetime | None: ...
    @property
    def first_responded_at(self) -> datetime | None: ...
    @property
    def next_response_due_at(self) -> datetime | None: ...
    @property
    def waiting_since(self) -> datetime | None: ...


def rules(env: CaseEnv, plan_name: str | None) -> FollowupRules:
    """The timers' configuration on the account's plan (the default plan when it names none)."""
    settings = env.settings
    plan = settings.sla.plan(plan_name)
    return FollowupRules(
        levels=settings.escalation.levels,
        calendar=plan.calendar,
        next_response=plan.next_response,
        warn_before=settings.escalation.warn_before,
        waiting_reminder=settings.sla.waiting_reminder,
        auto_close_after=settings.sla.auto_close_after,
    )


def clocks_of(case: ClockColumns) -> Clocks:
    return Clocks(
        status=case.status,
        severity=case.severity,
        created_at=case.created_at,
        first_response_due_at=case.first_response_due_at,
        first_responded_at=case.first_responded_at,
        next_response_due_at=case.next_response_due_at,
        waiting_since=case.waiting_since,
    )


def done_keys(session: Session, case_id: int) -> set[tuple[str, str, int]]:
    """The keys of the timers already acted on (policy.followup.Timer.key)."""
    conn = session.connection()
    escalated = select(Escalation.deadline, Escalation.level).where(Escalation.case_id == case_id)
    noticed = select(DeadlineNotice.kind, DeadlineNotice.deadline).where(DeadlineNotice.case_id == case_id)
    done = {("escalation", deadline, level) for deadline, level in conn.execute(escalated)}
    done.update((kind, deadline, 0) for kind, deadline in conn.execute(noticed))
    return done


def first_response_levels(session: Session, case_id: int) -> set[int]:
    """The escalation levels of the first-response deadline already recorded for a case."""
    query = select(Escalation.level).where(
        Escalation.case_id == case_id, Escalation.deadline == FIRST_RESPONSE
    )
    return set(session.connection().execute(query).scalars())


def next_check(
    env: CaseEnv, case: ClockColumns, plan_name: str | None, done: set[tuple[str, str, int]]
) -> datetime | None:
    """When the deadline scan must next look at the case; `done`: done_keys(), or empty for new clocks."""
    return next_check_at(clocks_of(case), rules(env, plan_name), done, env.now())


def follow_up_started(session: Session, case_id: int) -> datetime | None:
    """When the running next-response clock started: the first public contact comment after the
    last public agent reply (a new severity re-targets the clock from there)."""
    public = (Comment.case_id == case_id, Comment.internal.is_(False))
    last_answer = select(func.max(Comment.created_at)).where(*public, Comment.role == Role.AGENT)
    query = select(func.min(Comment.created_at)).where(
        *public, Comment.role != Role.AGENT, Comment.created_at > last_answer.scalar_subquery()
    )
    started: datetime | None = session.connection().execute(query).scalar()
    return started
