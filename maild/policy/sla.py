"""Response deadlines and escalation thresholds (SPEC §5), as pure arithmetic on time.

Owns the one definition of "how long is N hours" for every case: on a 24×7
calendar it is plain addition; on a business calendar only the open hours of
the account's time zone count, skipping weekends and holidays. Everything
that needs a deadline — the initial-response due time, each escalation
level's threshold, the moment a customer's `#escalate` becomes acceptable —
is computed here, so the acknowledgement, the deadline scan and the reply to
an early `#escalate` can never disagree. Nothing here reads the clock: `now`
is always passed in, and every instant returned is an aware UTC datetime.

Also owns the duration syntax ("90s", "1h30m", "2d") shared with config.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = [
    "BusinessCalendar",
    "EscalationLevel",
    "add_business_time",
    "business_duration",
    "business_time_before",
    "can_escalate",
    "escalation_possible_at",
    "first_response_due",
    "level_threshold",
    "parse_duration",
]

_UNIT_SECONDS = {"d": 86_400, "h": 3_600, "m": 60, "s": 1}
_UNIT_ORDER = "dhms"
_TOKEN = re.compile(r"([0-9]+)([a-zA-Z]*)")
# A day's last representable second stands for midnight: `time` cannot say 24:00,
# and config.py spells "…-24:00" as 23:59:59.
_END_OF_DAY = time(23, 59, 59)


def parse_duration(text: str) -> timedelta:
    """Read "90s", "15m", "1h30m", "2d", "1d12h" into a timedelta.

    Strict on purpose: a typo in an SLA target silently becoming a different
    deadline is worse than refusing to start. Units run d, h, m, s, each at
    most once, in that order; integers only; no sign; surrounding whitespace
    is tolerated. Raises ValueError whose message names the problem (config.py
    adds the key).
    """
    stripped = text.strip()
    if not stripped:
        raise ValueError("empty duration")
    if stripped[0] in "+-":
        raise ValueError(f"{text!r}: a duration cannot have a sign")
    seconds = 0
    position = 0
    last_unit = -1
    while position < len(stripped):
        match = _TOKEN.match(stripped, position)
        if match is None:
            raise ValueError(f"{text!r}: expected a number followed by d, h, m or s")
        number, unit = match.groups()
        if not unit:
            raise ValueError(f"{text!r}: the number {number} needs a unit (d, h, m or s)")
        if unit not in _UNIT_SECONDS:
            raise ValueError(f"{text!r}: unknown unit {unit!r} (use d, h, m or s)")
        rank = _UNIT_ORDER.index(unit)
        if rank <= last_unit:
            raise ValueError(f"{text!r}: units must appear once each, in the order d, h, m, s")
        last_unit = rank
        if len(number) > 12:
            raise ValueError(f"{text!r}: too long")
        seconds += int(number) * _UNIT_SECONDS[unit]
        position = match.end()
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise ValueError(f"{text!r}: too long") from None


@dataclass(frozen=True)
class BusinessCalendar:
    """When the support team is open, in the account's local wall-clock time.

    `weekly` maps a weekday (0 = Monday) to its open intervals; days not in it
    are closed. `holidays` are local dates that are closed all day. Intervals
    end on the same day they start: a night shift crossing midnight is written
    as two intervals (22:00–23:59:59 and 00:00–06:00), which keeps the walk
    over days simple and exact. An end of 23:59:59 (or later) means midnight.

    The constructor validates, because a calendar with no open time at all
    would make every deadline infinitely far away.
    """

    tz: ZoneInfo | str
    weekly: Mapping[int, tuple[tuple[time, time], ...]]
    holidays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        if isinstance(self.tz, str):
            # The one allowed normalisation: callers may name the zone as text.
            object.__setattr__(self, "tz", ZoneInfo(self.tz))
        total_open = False
        for weekday, spans in self.weekly.items():
            if not 0 <= weekday <= 6:
                raise ValueError(f"weekday {weekday} is not 0 (Monday) … 6 (Sunday)")
            ordered = sorted(spans)
            for index, (start, end) in enumerate(ordered):
                if start.tzinfo is not None or end.tzinfo is not None:
                    raise ValueError("business hours are local wall-clock times without a zone")
                if end <= start:
                    raise ValueError(f"business hours {start}–{end} end before they start")
                if index and ordered[index - 1][1] > start:
                    before = ordered[index - 1]
                    raise ValueError(f"business hours {before[0]}–{before[1]} overlap {start}–{end}")
                total_open = True
        if not total_open:
            raise ValueError("a business calendar needs at least one open interval")

    @property
    def zone(self) -> ZoneInfo:
        """The time zone, always a ZoneInfo once constructed."""
        assert isinstance(self.tz, ZoneInfo)
        return self.tz

    def open_spans(self, day: date) -> list[tuple[datetime, datetime]]:
        """The open intervals of one local date as UTC instants, earliest first.

        Wall-clock times are turned into instants with the zone's rules for
        that date, so a 09:00–17:00 day is 8 hours on a DST change day too.
        Wall-clock times that do not exist or occur twice are read as Python
        does by default (PEP 495, fold=0): with the offset in force before the
        change, so 02:30 on a spring-forward night is 03:30 summer time and an
        ambiguous 02:30 in autumn is its first occurrence. An interval that
        itself spans a change counts the real elapsed time.
        """
        if day in self.holidays:
            return []
        spans: list[tuple[datetime, datetime]] = []
        for start, end in sorted(self.weekly.get(day.weekday(), ())):
            opened = self._instant(day, start)
            closed = (
                self._instant(day + timedelta(days=1), time(0))
                if end >= _END_OF_DAY
                else self._instant(day, end)
            )
            if closed > opened:
                spans.append((opened, closed))
        return spans

    def _instant(self, day: date, wall: time) -> datetime:
        return datetime.combine(day, wall, tzinfo=self.zone).astimezone(UTC)

    def spans_from(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Open intervals that end after `start`, clipped to begin no earlier than it.

        Endless: a validated calendar always opens again, and holidays are a
        finite set, so a caller that consumes time from this stops eventually.
        """
        day = start.astimezone(self.zone).date() - timedelta(days=1)
        while True:
            for opened, closed in self.open_spans(day):
                if closed > start:
                    yield max(opened, start), closed
            day += timedelta(days=1)

    def spans_until(self, end: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Open intervals that begin before `end`, clipped to close no later than it, latest first.

        Endless backwards, like spans_from forwards; the caller stops.
        """
        day = end.astimezone(self.zone).date() + timedelta(days=1)
        while True:
            for opened, closed in reversed(self.open_spans(day)):
                if opened < end:
                    yield opened, min(closed, end)
            day -= timedelta(days=1)


def _utc(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, not naive")
    return moment.astimezone(UTC)


def add_business_time(start: datetime, amount: timedelta, calendar: BusinessCalendar | None) -> datetime:
    """The instant at which `amount` of open time has elapsed since `start`, in UTC.

    With no calendar the clock never stops (24×7) and this is plain addition.
    On a business calendar, time outside open intervals does not count: a
    case opened on Friday evening with a 4-hour target is due at 13:00 on
    Monday (with 9–17 hours). Ending exactly when an interval closes returns
    that closing instant, not the next opening, so "due at 17:00" reads as
    people expect. A zero amount returns `start` itself.
    """
    begin = _utc(start, "start")
    if amount < timedelta(0):
        raise ValueError("cannot add a negative amount of time")
    if calendar is None:
        return begin + amount
    if amount == timedelta(0):
        return begin
    remaining = amount
    for opened, closed in calendar.spans_from(begin):
        available = closed - opened
        if remaining <= available:
            return opened + remaining
        remaining -= available
    raise AssertionError("unreachable: spans_from never ends")  # pragma: no cover


def business_time_before(end: datetime, amount: timedelta, calendar: BusinessCalendar | None) -> datetime:
    """The instant `amount` of open time before `end`: when "15 minutes before the deadline" is.

    The mirror of add_business_time: a warning 15 minutes before a deadline
    at 09:05 on Monday (hours 9–17) falls at 16:50 on Friday, because the
    weekend does not count. Starting exactly when an interval opens returns
    that opening instant, not the previous closing.
    """
    finish = _utc(end, "end")
    if amount < timedelta(0):
        raise ValueError("cannot subtract a negative amount of time")
    if calendar is None:
        return finish - amount
    if amount == timedelta(0):
        return finish
    remaining = amount
    for opened, closed in calendar.spans_until(finish):
        available = closed - opened
        if remaining <= available:
            return closed - remaining
        remaining -= available
    raise AssertionError("unreachable: spans_until never ends")  # pragma: no cover


def business_duration(start: datetime, end: datetime, calendar: BusinessCalendar | None) -> timedelta:
    """How much open time lies between two instants (zero when end is not after start).

    The inverse of add_business_time: it recovers a case's target from its
    stored opening and due times, so escalation levels scale the target the
    case was actually given even after the configuration changed.
    """
    begin, finish = _utc(start, "start"), _utc(end, "end")
    if finish <= begin:
        return timedelta(0)
    if calendar is None:
        return finish - begin
    total = timedelta(0)
    for opened, closed in calendar.spans_from(begin):
        if opened >= finish:
            break
        total += min(closed, finish) - opened
    return total


def first_response_due(
    opened_at: datetime,
    severity: int,
    targets: Mapping[int, timedelta],
    calendar: BusinessCalendar | None,
) -> datetime:
    """When the first agent response is due: opened time plus the severity's target."""
    try:
        target = targets[severity]
    except KeyError:
        known = ", ".join(str(s) for s in sorted(targets)) or "none"
        raise ValueError(f"no response target for severity {severity} (configured: {known})") from None
    return add_business_time(opened_at, target, calendar)


@dataclass(frozen=True)
class EscalationLevel:
    """One escalation step: sent once `percent` of the response target has elapsed."""

    level: int
    percent: int
    recipients: tuple[str, ...]


def level_threshold(
    opened_at: datetime, due_at: datetime, percent: int, calendar: BusinessCalendar | None
) -> datetime:
    """The instant a level falls due: opened time plus `percent`% of the case's target.

    100% is the due time itself, returned exactly rather than recomputed, so
    the first escalation and the breach of the deadline are the same instant.
    """
    if percent < 0:
        raise ValueError("an escalation percentage cannot be negative")
    if percent == 100:
        return _utc(due_at, "due_at")
    target = business_duration(opened_at, due_at, calendar)
    return add_business_time(opened_at, target * percent / 100, calendar)


def escalation_possible_at(due_at: datetime) -> datetime:
    """When a customer's `#escalate` will be accepted: the initial-response deadline.

    Its own function so the reply to an early `#escalate` ("possible from …")
    and the check in can_escalate share one definition of the policy.
    """
    return _utc(due_at, "due_at")


def can_escalate(due_at: datetime, now: datetime) -> bool:
    """Whether a customer's `#escalate` is accepted at `now` (at or after the deadline)."""
    return _utc(now, "now") >= escalation_possible_at(due_at)
