"""Health at a glance: one snapshot of the database, for `maild status` and /metrics.

Read-only queries, each answered by an index, so running it every scrape is
cheap even with many cases. The clock is passed in.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from maild.clock import iso_utc
from maild.safetext import visible
from maild.store.models import (
    Case,
    DeadlineNotice,
    Escalation,
    InboundMessage,
    MailboxLease,
    MailboxWork,
    OAuth2State,
    Outbox,
)
from maild.vocab import CaseStatus, InboundOutcome, OutboxStatus

# The bucket of open cases without a team; no configured team can be named so (not one word).
NO_TEAM = "(no team)"

# "Due soon" without `[escalation] warn_before`: the hour `due_within_1h_unanswered` has always used.
DEFAULT_DUE_SOON = timedelta(hours=1)
# Statuses whose response clocks run (SPEC §11: none while waiting on the customer). Listed, not
# "!= closed", so the database answers from ix_cases_status over the open cases only.
RUNNING = (CaseStatus.NEW, CaseStatus.IN_PROGRESS)
OPEN = (*RUNNING, CaseStatus.WAITING_ON_CUSTOMER)


def due_soon_window(warn_before: timedelta | None) -> timedelta:
    """How near a response deadline counts as "due soon" in `maild status` and the metrics.

    The configured `[escalation] warn_before` when set, so the count is the
    cases whose warning is (about to be) out; otherwise one hour. Measured in
    wall-clock time from now, not business time: a status count, not a timer.
    """
    return warn_before if warn_before is not None and warn_before > timedelta(0) else DEFAULT_DUE_SOON


def span_text(span: timedelta) -> str:
    """A window as config writes it ("15m", "1h30m", "45s"), for the status line."""
    seconds = int(span.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or "0s"


@dataclass
class DeadlineCounts:
    """Open cases near or past one kind of response deadline (SPEC §5, §11)."""

    due_soon: int = 0  # due within the window, not yet passed
    overdue: int = 0  # passed, still unanswered

    def as_json(self) -> dict[str, int]:
        return {"due_soon": self.due_soon, "overdue": self.overdue}


@dataclass
class MailboxHealth:
    name: str
    holder: str | None
    lease_expires_at: datetime | None
    last_fetch_at: datetime | None
    waiting: int = 0  # listed for the workers and not yet done (mailbox_work)


@dataclass
class OAuth2Health:
    """One OAuth2 client as the daemon last wrote it (maild.daemon.authstate): never a token."""

    name: str
    ok: bool
    code: str
    hint: str
    failures: int
    retry_at: datetime | None
    expires_at: datetime | None
    updated_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ok": self.ok,
            "code": self.code,
            "hint": self.hint,
            "failures": self.failures,
            "retry_at": iso_utc(self.retry_at),
            "expires_at": iso_utc(self.expires_at),
            "updated_at": iso_utc(self.updated_at),
        }

    def text(self) -> str:
        """One line of `maild status`: what works, or what failed and what to do."""
        name = visible(self.name)
        if self.ok:
            expiry = iso_utc(self.expires_at)
            token = f"token valid until {expiry}" if expiry else "no token requested yet"
            return f"  oauth2 {name}: ok, {token} (as of {iso_utc(self.updated_at)})"
        retry = iso_utc(self.retry_at) or "soon"
        return (
            f"  oauth2 {name}: FAIL {visible(self.code)}: {visible(self.hint)} "
            f"({self.failures} failed token request(s); next try {retry}; as of {iso_utc(self.updated_at)})"
        )


@dataclass
class Health:
    at: datetime
    mailboxes: list[MailboxHealth] = field(default_factory=list)
    outbox: dict[str, int] = field(default_factory=dict)
    oldest_pending_at: datetime | None = None
    inbound_last_24h: dict[str, int] = field(default_factory=dict)
    quarantined_total: int = 0
    open_by_status: dict[str, int] = field(default_factory=dict)
    open_by_severity: dict[int, int] = field(default_factory=dict)
    past_deadline: int = 0
    due_within_hour: int = 0
    escalations_total: int = 0
    oauth2: list[OAuth2Health] = field(default_factory=list)
    teams: tuple[str, ...] = ()  # configured (SPEC §10), so a team without open cases shows 0
    open_by_team: dict[str | None, int] = field(default_factory=dict)
    unassigned_by_team: dict[str | None, int] = field(default_factory=dict)
    warn_before: timedelta | None = None  # [escalation] warn_before: the "due soon" window when set
    first_response: DeadlineCounts = field(default_factory=DeadlineCounts)
    next_response: DeadlineCounts = field(default_factory=DeadlineCounts)
    waiting: int = 0  # open cases waiting on the customer
    oldest_waiting_since: datetime | None = None
    reminded: int = 0  # of those, reminded during this wait (sla.waiting_reminder)
    waiting_notice_due_soon: int = 0  # of those, whose reminder or automatic close falls in the window

    @property
    def due_soon(self) -> timedelta:
        """What "due soon" means in the deadline counts (due_soon_window)."""
        return due_soon_window(self.warn_before)

    def deadlines_json(self) -> dict[str, Any]:
        """`maild status --json`'s "deadlines": per kind of deadline, the cases near or past it."""
        return {
            "due_soon_seconds": int(self.due_soon.total_seconds()),
            "first_response": self.first_response.as_json(),
            "next_response": self.next_response.as_json(),
            "waiting_on_customer": {
                "waiting": self.waiting,
                "oldest_since": iso_utc(self.oldest_waiting_since),
                "reminded": self.reminded,
                "reminder_or_close_due_soon": self.waiting_notice_due_soon,
            },
        }

    @property
    def unassigned(self) -> int:
        """Open cases without an owner, in all teams."""
        return sum(self.unassigned_by_team.values())

    def cases_by_team(self) -> dict[str, int]:
        """Open cases per team: configured teams first (0 too), then old names cases still carry.

        Cases without a team are counted under NO_TEAM when there are teams to
        tell them apart from; with no teams at all the map is empty, as before SPEC §10.
        """
        counts: dict[str, int] = dict.fromkeys(self.teams, 0)
        for team, count in sorted(self.open_by_team.items(), key=lambda item: item[0] or ""):
            if team is not None:
                counts[team] = counts.get(team, 0) + count
        if counts:
            counts[NO_TEAM] = self.open_by_team.get(None, 0)
        return counts

    def as_json(self) -> dict[str, Any]:
        return {
            "at": iso_utc(self.at),
            "mailboxes": [
                {
                    "name": m.name,
                    "holder": m.holder,
                    "lease_expires_at": iso_utc(m.lease_expires_at),
                    "last_fetch_at": iso_utc(m.last_fetch_at),
                    "waiting": m.waiting,
                }
                for m in self.mailboxes
            ],
            "outbox": {**self.outbox, "oldest_pending_at": iso_utc(self.oldest_pending_at)},
            "inbound": {"last_24h": self.inbound_last_24h, "quarantined_total": self.quarantined_total},
            "cases": {
                "open": sum(self.open_by_status.values()),
                "by_status": self.open_by_status,
                "by_severity": {str(k): v for k, v in sorted(self.open_by_severity.items())},
                "past_deadline_unanswered": self.past_deadline,
                "due_within_1h_unanswered": self.due_within_hour,
                "escalations_total": self.escalations_total,
            },
            "cases_by_team": self.cases_by_team(),
            "unassigned_cases": self.unassigned,
            "deadlines": self.deadlines_json(),
            "oauth2": [o.as_json() for o in self.oauth2],
        }


def snapshot(
    session: Session, now: datetime, teams: Collection[str] = (), warn_before: timedelta | None = None
) -> Health:
    """`teams`: the configured team names, so that a team with no open case is listed with 0.

    `warn_before`: `[escalation] warn_before`, the "due soon" window (see due_soon_window).
    """
    h = Health(at=now, teams=tuple(teams), warn_before=warn_before)
    listed = select(MailboxWork.mailbox, func.count()).group_by(MailboxWork.mailbox)
    waiting: dict[str, int] = {mailbox: count for mailbox, count in session.execute(listed)}
    for lease in session.execute(select(MailboxLease).order_by(MailboxLease.mailbox)).scalars():
        live = lease.expires_at > now
        h.mailboxes.append(
            MailboxHealth(
                lease.mailbox,
                lease.holder if live else None,
                lease.expires_at,
                lease.last_fetch_at,
                waiting.get(lease.mailbox, 0),
            )
        )
    h.outbox = {status.value: 0 for status in OutboxStatus}
    for status, count in session.execute(select(Outbox.status, func.count()).group_by(Outbox.status)):
        h.outbox[status] = count
    h.oldest_pending_at = session.scalar(
        select(func.min(Outbox.created_at)).where(Outbox.status == OutboxStatus.PENDING)
    )
    since = now - timedelta(hours=24)
    h.inbound_last_24h = dict(
        session.execute(
            select(InboundMessage.outcome, func.count())
            .where(InboundMessage.received_at >= since)
            .group_by(InboundMessage.outcome)
        ).all()
    )
    h.quarantined_total = int(
        session.scalar(select(func.count()).where(InboundMessage.outcome == InboundOutcome.QUARANTINED)) or 0
    )
    # One GROUP BY for every open-case count: a few rows (status x severity x team), never one per case.
    open_cases = select(Case.status, Case.severity, Case.team, func.count(), func.count(Case.owner_id)).where(
        Case.status != CaseStatus.CLOSED
    )
    grouped = open_cases.group_by(Case.status, Case.severity, Case.team)
    for status, severity, team, count, owned in session.execute(grouped):
        h.open_by_status[status] = h.open_by_status.get(status, 0) + count
        h.open_by_severity[severity] = h.open_by_severity.get(severity, 0) + count
        h.open_by_team[team] = h.open_by_team.get(team, 0) + count
        h.unassigned_by_team[team] = h.unassigned_by_team.get(team, 0) + count - owned
    unanswered = select(func.count()).where(
        Case.status != CaseStatus.CLOSED,
        Case.first_responded_at.is_(None),
        Case.first_response_due_at.is_not(None),
    )
    h.past_deadline = int(session.scalar(unanswered.where(Case.first_response_due_at <= now)) or 0)
    h.due_within_hour = int(
        session.scalar(
            unanswered.where(
                Case.first_response_due_at > now, Case.first_response_due_at <= now + timedelta(hours=1)
            )
        )
        or 0
    )
    h.escalations_total = int(session.scalar(select(func.count()).select_from(Escalation)) or 0)
    _deadline_counts(session, h)
    h.oauth2 = oauth2_health(session)
    return h


def _near_or_past(session: Session, due: Any, now: datetime, soon: timedelta, *where: Any) -> DeadlineCounts:
    """One aggregate row over the cases whose `due` falls before now + soon: never a row per case."""
    query = select(
        func.count(case((due <= now, 1))),
        func.count(case((due > now, 1))),
    ).where(due.is_not(None), due <= now + soon, *where)
    overdue, due_soon = session.execute(query).one()
    return DeadlineCounts(due_soon=int(due_soon or 0), overdue=int(overdue or 0))


def _deadline_counts(session: Session, h: Health) -> None:
    """SPEC §11's counts, each one aggregate query over an index.

    First response: open (not closed), unanswered cases, read through the
    status index (open cases only). Next response: cases whose clock runs
    (new or in progress), read through ix_cases_next_response_due_at.
    Waiting: the status index again.
    """
    now, soon = h.at, h.due_soon
    h.first_response = _near_or_past(
        session,
        Case.first_response_due_at,
        now,
        soon,
        Case.status.in_(OPEN),
        Case.first_responded_at.is_(None),
    )
    h.next_response = _near_or_past(session, Case.next_response_due_at, now, soon, Case.status.in_(RUNNING))
    waiting = select(func.count(), func.min(Case.waiting_since)).where(
        Case.status == CaseStatus.WAITING_ON_CUSTOMER
    )
    count, oldest = session.execute(waiting).one()
    h.waiting, h.oldest_waiting_since = int(count or 0), oldest
    if h.waiting:
        _waiting_counts(session, h)


def _waiting_counts(session: Session, h: Health) -> None:
    """Waiting cases reminded during this wait, and those whose next notice is near.

    A reminder row written since the wait began belongs to this wait; the
    case's next timer (cases.next_escalation_at) is its reminder or its
    automatic close, the only clocks that run while it waits.
    """
    is_waiting = Case.status == CaseStatus.WAITING_ON_CUSTOMER
    reminded = (
        select(func.count(func.distinct(Case.id)))
        .join(DeadlineNotice, DeadlineNotice.case_id == Case.id)
        .where(is_waiting, DeadlineNotice.kind == "reminder", DeadlineNotice.created_at >= Case.waiting_since)
    )
    h.reminded = int(session.scalar(reminded) or 0)
    soon = select(func.count()).where(is_waiting, Case.next_escalation_at <= h.at + h.due_soon)
    h.waiting_notice_due_soon = int(session.scalar(soon) or 0)


def oauth2_health(session: Session) -> list[OAuth2Health]:
    """Every OAuth2 client's state as the daemon last wrote it, by name."""
    rows = session.execute(select(OAuth2State).order_by(OAuth2State.name)).scalars()
    return [
        OAuth2Health(r.name, r.ok, r.code, r.hint, r.failures, r.retry_at, r.expires_at, r.updated_at)
        for r in rows
    ]


def health_text(h: Health) -> str:
    """`maild status`: names and keys come from the database, so they are shown through `visible`."""
    lines = [f"maild status at {iso_utc(h.at)}"]
    if not h.mailboxes:
        lines.append("  mailbox: none fetched yet (no worker has held a mailbox lease)")
    for m in h.mailboxes:
        holder = visible(m.holder) if m.holder else "nobody (no worker running)"
        lines.append(
            f"  mailbox {visible(m.name)}: listed by {holder}; "
            f"last fetch {iso_utc(m.last_fetch_at) or 'never'}; {m.waiting} waiting for a worker"
        )
    order = (OutboxStatus.PENDING, OutboxStatus.SENT, OutboxStatus.FAILED, OutboxStatus.BOUNCED)
    pending, sent, failed, bounced = (h.outbox.get(status, 0) for status in order)
    oldest = iso_utc(h.oldest_pending_at) or "-"
    lines.append(
        f"  outbox: {pending} pending (oldest {oldest}), {sent} sent, {failed} failed, {bounced} bounced"
    )
    inbound = ", ".join(f"{visible(k)} {v}" for k, v in sorted(h.inbound_last_24h.items())) or "none"
    lines.append(f"  inbound last 24h: {inbound}; quarantined in all: {h.quarantined_total}")
    by_status = ", ".join(f"{visible(k)} {v}" for k, v in sorted(h.open_by_status.items())) or "none"
    lines.append(f"  open cases: {sum(h.open_by_status.values())} ({by_status})")
    by_team = h.cases_by_team()
    if by_team:
        teams = ", ".join(f"{visible(k)} {v}" for k, v in by_team.items())
        lines.append(f"  open cases by team: {teams}; unassigned: {h.unassigned}")
    else:
        lines.append(f"  unassigned open cases: {h.unassigned}")
    lines.append(
        f"  unanswered past deadline: {h.past_deadline}; due within the hour: {h.due_within_hour}; "
        f"escalations in all: {h.escalations_total}"
    )
    lines.extend(_deadline_lines(h))
    lines.extend(o.text() for o in h.oauth2)
    return "\n".join(lines)


def _deadline_lines(h: Health) -> list[str]:
    """The response clocks of open cases; says what "due soon" means, since it depends on the config."""
    fr, nr = h.first_response, h.next_response
    oldest = iso_utc(h.oldest_waiting_since)
    window = span_text(h.due_soon)
    source = "[escalation] warn_before" if h.due_soon == h.warn_before else "[escalation] warn_before unset"
    waiting = f"  waiting on the customer: {h.waiting}" + (f" (oldest since {oldest})" if oldest else "")
    if h.waiting:
        waiting += f"; {h.reminded} reminded, {h.waiting_notice_due_soon} reminder or close due soon"
    return [
        f"  response deadlines (due soon = within {window}: {source}): "
        f"first response {fr.overdue} overdue, {fr.due_soon} due soon; "
        f"next response {nr.overdue} overdue, {nr.due_soon} due soon",
        waiting,
    ]
