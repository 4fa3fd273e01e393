"""Every response clock of a case after it opened (SPEC §5, §11), as pure data.

A case has at most a handful of timers at once: the escalation levels of
its first-response deadline, the escalation of a missed next response,
one warning before each response deadline, and, while it waits on the
customer, one reminder and the automatic close. This module says which
timers the case's state implies, which of them are due at `now`, and when
the next one falls due (the one indexed column the deadline scan reads,
`cases.next_escalation_at`), so the scan, the comment path and the command
line cannot disagree about when something must happen.

Each timer has a key — its kind, the deadline it belongs to and a level —
and the database keeps the keys already acted on (escalations and
deadline_notices, both unique per key), which is what makes every timer go
out exactly once across restarts and workers. A deadline's key names its
due instant (or, for waiting, the instant the wait began), so a new
follow-up after an agent's answer is a new deadline with its own warning
and escalation, while a restart or a second worker sees the same keys.

Nothing here reads the clock or the database; every instant is aware UTC.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from maild.policy.lifecycle import CaseChange
from maild.policy.sla import (
    BusinessCalendar,
    EscalationLevel,
    add_business_time,
    business_duration,
    business_time_before,
    level_threshold,
)
from maild.vocab import CaseStatus

__all__ = [
    "FIRST_RESPONSE",
    "Clocks",
    "FollowupRules",
    "Timer",
    "TimerKind",
    "deadline_kind",
    "due_timers",
    "next_check_at",
    "restarted_clocks",
    "resumed_due",
    "timers",
]

FIRST_RESPONSE = "first_response"
NEXT_RESPONSE = "next_response"
WAITING = "waiting"


class TimerKind(StrEnum):
    """What happens when a timer falls due."""

    ESCALATION = "escalation"  # a response deadline passed: the managers are told
    WARNING = "warning"  # a response deadline is near: the owner (else the team) is told
    REMINDER = "reminder"  # waiting on the customer: the primary contact is reminded once
    AUTO_CLOSE = "auto_close"  # waited long enough: the case closes, everyone is told


@dataclass(frozen=True)
class FollowupRules:
    """The configuration that shapes a case's timers, on its account's plan."""

    levels: Sequence[EscalationLevel]
    calendar: BusinessCalendar | None
    next_response: Mapping[int, timedelta]  # per severity; a severity not in it has no next-response clock
    warn_before: timedelta | None = None
    waiting_reminder: timedelta | None = None
    auto_close_after: timedelta | None = None


@dataclass(frozen=True)
class Clocks:
    """The parts of a case its timers depend on (models.Case and CaseRow both provide them)."""

    status: str
    severity: int
    created_at: datetime
    first_response_due_at: datetime | None
    first_responded_at: datetime | None
    next_response_due_at: datetime | None = None
    waiting_since: datetime | None = None


@dataclass(frozen=True, order=True)
class Timer:
    """One thing to do at `at`; (kind, deadline, level) is its once-only key."""

    at: datetime
    kind: TimerKind
    deadline: str  # "first_response", "next_response:<due>" or "waiting:<since>"
    level: int = 0  # the escalation level; 0 for the other kinds
    due_at: datetime | None = None  # the response deadline it belongs to (none for waiting)

    @property
    def key(self) -> tuple[str, str, int]:
        return (str(self.kind), self.deadline, self.level)


def deadline_kind(deadline: str) -> str:
    """ "first_response", "next_response" or "waiting": what a timer's deadline key is about."""
    return deadline.split(":", 1)[0]


def _stamp(moment: datetime) -> str:
    """A deadline's instant in its key: fixed-width UTC, the same from every worker."""
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%S.%fZ")


def timers(clocks: Clocks, rules: FollowupRules) -> list[Timer]:
    """Every timer the case's state implies, acted on or not, earliest first.

    A closed case has none; while it waits on the customer no response clock
    runs (SPEC §11), only the reminder and the automatic close.
    """
    if clocks.status == CaseStatus.CLOSED:
        return []
    if clocks.status == CaseStatus.WAITING_ON_CUSTOMER:
        return sorted(_waiting_timers(clocks, rules))
    found: list[Timer] = []
    due = clocks.first_response_due_at
    if due is not None and clocks.first_responded_at is None:
        for level in rules.levels:
            at = level_threshold(clocks.created_at, due, level.percent, rules.calendar)
            found.append(Timer(at, TimerKind.ESCALATION, FIRST_RESPONSE, level.level, due))
        found.extend(_warning(FIRST_RESPONSE, due, rules))
    next_due = clocks.next_response_due_at
    if next_due is not None and clocks.first_responded_at is not None:
        deadline = f"{NEXT_RESPONSE}:{_stamp(next_due)}"
        found.append(Timer(next_due, TimerKind.ESCALATION, deadline, 1, next_due))
        found.extend(_warning(deadline, next_due, rules))
    return sorted(found)


def _warning(deadline: str, due: datetime, rules: FollowupRules) -> list[Timer]:
    if rules.warn_before is None:
        return []
    at = business_time_before(due, rules.warn_before, rules.calendar)
    return [Timer(at, TimerKind.WARNING, deadline, 0, due)]


def _waiting_timers(clocks: Clocks, rules: FollowupRules) -> list[Timer]:
    since = clocks.waiting_since
    if since is None:
        return []
    deadline = f"{WAITING}:{_stamp(since)}"
    found = []
    if rules.waiting_reminder is not None:
        at = add_business_time(since, rules.waiting_reminder, rules.calendar)
        found.append(Timer(at, TimerKind.REMINDER, deadline))
    if rules.auto_close_after is not None:
        at = add_business_time(since, rules.auto_close_after, rules.calendar)
        found.append(Timer(at, TimerKind.AUTO_CLOSE, deadline))
    return found


def _pending(
    clocks: Clocks, rules: FollowupRules, done: Collection[tuple[str, str, int]], now: datetime
) -> list[Timer]:
    """Timers not yet acted on that still make sense at `now`.

    A warning whose deadline has already passed is dropped (the escalation
    says it better), and so is a reminder once the automatic close is due:
    a scan that ran late, after a restart, sends the notice that matters,
    not a stale one before it.
    """
    every = timers(clocks, rules)
    closing_due = any(t.kind is TimerKind.AUTO_CLOSE and t.at <= now for t in every)
    pending = []
    for timer in every:
        if timer.key in done:
            continue
        if timer.kind is TimerKind.WARNING and timer.due_at is not None and timer.due_at <= now:
            continue
        if timer.kind is TimerKind.REMINDER and closing_due:
            continue
        pending.append(timer)
    return pending


_ORDER = {TimerKind.WARNING: 0, TimerKind.ESCALATION: 1, TimerKind.REMINDER: 2, TimerKind.AUTO_CLOSE: 3}


def due_timers(
    clocks: Clocks, rules: FollowupRules, done: Collection[tuple[str, str, int]], now: datetime
) -> list[Timer]:
    """What to do now, in order: warnings, escalations (lowest level first), reminder, close.

    A scan that ran late returns everything it missed at once, so a restart
    never skips an escalation level; the automatic close comes last because
    it stops every other clock.
    """
    moment = now.astimezone(UTC)
    due = [t for t in _pending(clocks, rules, done, moment) if t.at <= moment]
    return sorted(due, key=lambda t: (_ORDER[t.kind], t.level, t.at))


def next_check_at(
    clocks: Clocks, rules: FollowupRules, done: Collection[tuple[str, str, int]], now: datetime
) -> datetime | None:
    """When the deadline scan must next look at the case (indexed), or None when nothing is left."""
    pending = _pending(clocks, rules, done, now.astimezone(UTC))
    return min((t.at for t in pending), default=None)


def restarted_clocks(
    change: CaseChange | None, clocks: Clocks, rules: FollowupRules, now: datetime
) -> tuple[datetime | None, datetime | None]:
    """The case's (next_response_due_at, waiting_since) after `change`; `clocks` has the new status.

    - An agent's public reply stops the next-response clock; one that asks the
      customer (`#waiting`, `case reply --waiting`) starts the wait anew.
    - A contact's comment on an answered, open case starts the next-response
      clock, unless one already runs (the customer's first unanswered
      follow-up is what the target measures), and ends any wait.
    - A close stops everything. `change` None: only a status was set (the
      case entered or left waiting without a comment).
    """
    status = clocks.status
    if status == CaseStatus.CLOSED:
        return None, None
    if status == CaseStatus.WAITING_ON_CUSTOMER:
        keep = clocks.waiting_since is not None and change is None
        return None, clocks.waiting_since if keep else now
    if change in (CaseChange.AGENT_REPLIED, CaseChange.AGENT_ASKED):
        return None, None
    if change in (CaseChange.CONTACT_REPLIED, CaseChange.REOPENED) and clocks.first_responded_at is not None:
        if clocks.next_response_due_at is not None:
            return clocks.next_response_due_at, None
        target = rules.next_response.get(clocks.severity)
        return (None if target is None else add_business_time(now, target, rules.calendar)), None
    return clocks.next_response_due_at, None


def resumed_due(
    due: datetime | None, waiting_since: datetime, now: datetime, calendar: BusinessCalendar | None
) -> datetime | None:
    """An unanswered case's first-response deadline when its wait on the customer ends at `now`.

    The wait paused the clock (SPEC §11: no response clock runs while
    waiting): the open time that was left when the wait began is left again
    from now. A deadline already missed before the wait stays where it was.
    """
    if due is None or due <= waiting_since:
        return due
    return add_business_time(now, business_duration(waiting_since, due, calendar), calendar)
