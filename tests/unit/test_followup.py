"""maild.policy.followup and sla.business_time_before: every timer of a case after it opened.

Exact instants on 24×7 and business calendars (weekends, holidays, a night
shift split over midnight, DST days in Berlin and New York), the once-only
keys, which timers are due at `now` and in what order, when the scan must
look next, and how each change restarts the clocks. Hypothesis checks that
business_time_before is the inverse of add_business_time and that the
table-driven rules hold for every status and change.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maild.policy.followup import (
    FIRST_RESPONSE,
    Clocks,
    FollowupRules,
    Timer,
    TimerKind,
    deadline_kind,
    due_timers,
    next_check_at,
    restarted_clocks,
    resumed_due,
    timers,
)
from maild.policy.lifecycle import CaseChange, next_status, unanswered_and_open
from maild.policy.sla import (
    BusinessCalendar,
    EscalationLevel,
    add_business_time,
    business_duration,
    business_time_before,
)
from maild.vocab import CaseStatus

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
H = timedelta(hours=1)
M = timedelta(minutes=1)
US = timedelta(microseconds=1)
NEW, IN_PROGRESS, WAITING, CLOSED = (
    CaseStatus.NEW,
    CaseStatus.IN_PROGRESS,
    CaseStatus.WAITING_ON_CUSTOMER,
    CaseStatus.CLOSED,
)
ESC, WARN, REMIND, AUTO = TimerKind.ESCALATION, TimerKind.WARNING, TimerKind.REMINDER, TimerKind.AUTO_CLOSE


def local(zone: tzinfo, year: int, month: int, day: int, *hms: int, fold: int = 0) -> datetime:
    hour, minute, second, micro = (*hms, 0, 0, 0, 0)[:4]
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=zone, fold=fold)


def utc(year: int, month: int, day: int, *hms: int) -> datetime:
    return local(UTC, year, month, day, *hms)


def nights(zone: ZoneInfo) -> BusinessCalendar:
    """A night shift every day, 22:00 to 06:00, written as two intervals split at midnight."""
    return BusinessCalendar(
        tz=zone, weekly={d: ((time(22), time(23, 59, 59)), (time(0), time(6))) for d in range(7)}
    )


HOLIDAYS = frozenset({date(2026, 12, 24), date(2026, 12, 25), date(2027, 1, 1)})
OFFICE = BusinessCalendar(tz=BERLIN, weekly={d: ((time(9), time(17)),) for d in range(5)}, holidays=HOLIDAYS)
NY_OFFICE = BusinessCalendar(tz=NEW_YORK, weekly={d: ((time(9), time(17)),) for d in range(5)})
BERLIN_NIGHTS, NY_NIGHTS = nights(BERLIN), nights(NEW_YORK)
WEEKENDS = BusinessCalendar(tz=BERLIN, weekly={5: ((time(0), time(23, 59, 59)),), 6: ((time(0), time(6)),)})

LEVELS = (EscalationLevel(1, 100, ("m@example.com",)), EscalationLevel(2, 200, ("d@example.com",)))
RULES = FollowupRules(
    levels=LEVELS,
    calendar=None,
    next_response={1: 1 * H, 2: 2 * H},
    warn_before=15 * M,
    waiting_reminder=48 * H,
    auto_close_after=120 * H,
)
OPENED = utc(2026, 11, 2, 9)
DUE = OPENED + 8 * H
ANSWERED_AT = OPENED + H


def clocks(
    status: str = NEW,
    *,
    severity: int = 2,
    created: datetime = OPENED,
    due: datetime | None = DUE,
    responded: datetime | None = None,
    next_due: datetime | None = None,
    waiting: datetime | None = None,
) -> Clocks:
    return Clocks(status, severity, created, due, responded, next_due, waiting)


def kinds(found: list[Timer]) -> list[tuple[TimerKind, int]]:
    return [(t.kind, t.level) for t in found]


# ------------------------------------------------------------------ business_time_before


@pytest.mark.parametrize(
    ("calendar", "end", "amount", "expected"),
    [
        # Monday 09:05 deadline, 15 minutes' warning: Friday 16:50, the weekend does not count
        (OFFICE, local(BERLIN, 2026, 11, 23, 9, 5), 15 * M, local(BERLIN, 2026, 11, 20, 16, 50)),
        (OFFICE, local(BERLIN, 2026, 11, 23, 9, 5), 9 * H, local(BERLIN, 2026, 11, 19, 16, 5)),
        (OFFICE, local(BERLIN, 2026, 11, 23, 10), H, local(BERLIN, 2026, 11, 23, 9)),  # the opening itself
        (OFFICE, local(BERLIN, 2026, 11, 23, 9), 15 * M, local(BERLIN, 2026, 11, 20, 16, 45)),
        (OFFICE, local(BERLIN, 2026, 11, 21, 12), 15 * M, local(BERLIN, 2026, 11, 20, 16, 45)),  # Saturday
        # Christmas Thursday and Friday are holidays: Monday 28 Dec 09:05 warns on Wednesday 23rd
        (OFFICE, local(BERLIN, 2026, 12, 28, 9, 5), 15 * M, local(BERLIN, 2026, 12, 23, 16, 50)),
        # spring forward (Sunday 29 March) lies in the weekend: Friday still ends at 17:00 CET
        (OFFICE, local(BERLIN, 2026, 3, 30, 9, 5), 15 * M, utc(2026, 3, 27, 15, 50)),
        (NY_OFFICE, local(NEW_YORK, 2026, 3, 9, 9, 5), 15 * M, utc(2026, 3, 6, 21, 50)),
        # the night shift runs on over midnight: 00:10 minus 15 minutes is 23:55 the evening before
        (BERLIN_NIGHTS, local(BERLIN, 2026, 11, 24, 0, 10), 15 * M, local(BERLIN, 2026, 11, 23, 23, 55)),
        (BERLIN_NIGHTS, local(BERLIN, 2026, 11, 24, 22, 5), 15 * M, local(BERLIN, 2026, 11, 24, 5, 50)),
        (BERLIN_NIGHTS, local(BERLIN, 2026, 11, 24, 12), 15 * M, local(BERLIN, 2026, 11, 24, 5, 45)),
        # Berlin spring forward: 03:30 CEST minus one open hour is 01:30 CET (02:00–03:00 never was)
        (BERLIN_NIGHTS, local(BERLIN, 2026, 3, 29, 3, 30), H, local(BERLIN, 2026, 3, 29, 1, 30)),
        (BERLIN_NIGHTS, local(BERLIN, 2026, 3, 29, 3, 10), 15 * M, utc(2026, 3, 29, 0, 55)),
        # Berlin fall back: the second 02:30 (CET) minus an hour is the first 02:30 (CEST)
        (BERLIN_NIGHTS, local(BERLIN, 2026, 10, 25, 2, 30, fold=1), H, utc(2026, 10, 25, 0, 30)),
        # New York spring forward (8 March) and fall back (1 November)
        (NY_NIGHTS, local(NEW_YORK, 2026, 3, 8, 3, 30), H, local(NEW_YORK, 2026, 3, 8, 1, 30)),
        (NY_NIGHTS, local(NEW_YORK, 2026, 11, 1, 1, 30, fold=1), H, utc(2026, 11, 1, 5, 30)),
        (None, local(BERLIN, 2026, 3, 29, 3, 30), H, utc(2026, 3, 29, 0, 30)),  # 24×7: real time
        (None, utc(2026, 11, 23, 9, 5), 15 * M, utc(2026, 11, 23, 8, 50)),
        (OFFICE, local(BERLIN, 2026, 11, 21, 12), timedelta(0), local(BERLIN, 2026, 11, 21, 12)),
    ],
)
def test_business_time_before_at_exact_instants(
    calendar: BusinessCalendar | None, end: datetime, amount: timedelta, expected: datetime
) -> None:
    found = business_time_before(end, amount, calendar)
    assert found == expected
    assert found.tzinfo is UTC


def test_fall_back_wall_clock_instants_are_an_hour_apart() -> None:
    # guards the two fall-back cases above: they really are different instants
    first, second = local(BERLIN, 2026, 10, 25, 2, 30), local(BERLIN, 2026, 10, 25, 2, 30, fold=1)
    assert second.astimezone(UTC) - first.astimezone(UTC) == H
    assert utc(2026, 10, 25, 0, 30) == first.astimezone(UTC)  # the first 02:30 is CEST
    assert utc(2026, 11, 1, 5, 30) == local(NEW_YORK, 2026, 11, 1, 1, 30).astimezone(UTC)  # EDT


def test_business_time_before_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="negative"):
        business_time_before(utc(2026, 11, 23), -M, OFFICE)
    with pytest.raises(ValueError, match="aware"):
        business_time_before(datetime(2026, 11, 23, 9), M, None)


CALENDARS = [None, OFFICE, NY_OFFICE, BERLIN_NIGHTS, NY_NIGHTS, WEEKENDS]
# around the DST changes of 2026 (Berlin: 29 March, 25 October; New York: 8 March, 1 November) and more
instants = st.one_of(
    st.datetimes(min_value=datetime(2026, 3, 5), max_value=datetime(2026, 4, 1), timezones=st.just(UTC)),
    st.datetimes(min_value=datetime(2026, 10, 22), max_value=datetime(2026, 11, 4), timezones=st.just(UTC)),
    st.datetimes(
        min_value=datetime(2025, 1, 1),
        max_value=datetime(2028, 12, 31),
        timezones=st.sampled_from([UTC, BERLIN, NEW_YORK]),
    ),
)
amounts = st.one_of(
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=20)),
    st.sampled_from([timedelta(0), US, 15 * M, H, 8 * H, 24 * H]),
)


def in_open_time(moment: datetime, calendar: BusinessCalendar) -> bool:
    """Whether `moment` lies inside an open interval, its closing instant included, its opening not."""
    day = moment.astimezone(calendar.zone).date()
    return any(
        opened < moment <= closed
        for d in (day - timedelta(days=1), day, day + timedelta(days=1))
        for opened, closed in calendar.open_spans(d)
    )


@settings(max_examples=200, deadline=None)
@given(instants, amounts, st.sampled_from(CALENDARS))
def test_business_time_before_is_exactly_that_much_open_time_earlier(
    end: datetime, amount: timedelta, calendar: BusinessCalendar | None
) -> None:
    start = business_time_before(end, amount, calendar)
    assert start <= end
    assert business_duration(start, end, calendar) == amount


@settings(max_examples=200, deadline=None)
@given(instants, amounts, st.sampled_from(CALENDARS))
def test_adding_back_lands_at_the_same_open_time_position(
    end: datetime, amount: timedelta, calendar: BusinessCalendar | None
) -> None:
    end = end.astimezone(UTC)  # a gap or fold wall time never compares equal across zones (PEP 495)
    back = add_business_time(business_time_before(end, amount, calendar), amount, calendar)
    assert back <= end
    assert business_duration(back, end, calendar) == timedelta(0)
    if calendar is None or amount == timedelta(0) or in_open_time(end, calendar):
        assert back == end


@settings(max_examples=150, deadline=None)
@given(instants, amounts, amounts, st.sampled_from(CALENDARS))
def test_business_time_before_is_monotonic(
    end: datetime, a: timedelta, b: timedelta, calendar: BusinessCalendar | None
) -> None:
    low, high = sorted((a, b))
    assert business_time_before(end, high, calendar) <= business_time_before(end, low, calendar)
    assert business_time_before(end, low, calendar) <= business_time_before(end + low, low, calendar)


@settings(max_examples=100, deadline=None)
@given(instants, amounts)
def test_24x7_before_is_plain_subtraction(end: datetime, amount: timedelta) -> None:
    assert business_time_before(end, amount, None) == end.astimezone(UTC) - amount


# ------------------------------------------------------------------ the timers a case has


def test_an_unanswered_case_has_its_levels_and_one_warning() -> None:
    found = timers(clocks(), RULES)
    assert found == [
        Timer(DUE - 15 * M, WARN, FIRST_RESPONSE, 0, DUE),
        Timer(DUE, ESC, FIRST_RESPONSE, 1, DUE),
        Timer(OPENED + 16 * H, ESC, FIRST_RESPONSE, 2, DUE),
    ]
    assert [t.key for t in found] == [
        ("warning", "first_response", 0),
        ("escalation", "first_response", 1),
        ("escalation", "first_response", 2),
    ]


def test_warning_on_a_business_calendar_is_open_time_before_the_deadline() -> None:
    opened = local(BERLIN, 2026, 11, 20, 16)  # Friday
    due = local(BERLIN, 2026, 11, 23, 9, 5)
    found = timers(clocks(created=opened, due=due), replace(RULES, calendar=OFFICE))
    assert found[0] == Timer(local(BERLIN, 2026, 11, 20, 16, 50), WARN, FIRST_RESPONSE, 0, due)
    late = due_timers(clocks(created=opened, due=due), replace(RULES, calendar=OFFICE), (), utc(2026, 11, 21))
    assert kinds(late) == [(WARN, 0)]  # due on Saturday already, two days before the deadline


def test_an_answered_case_has_only_its_next_response_clock() -> None:
    next_due = utc(2026, 11, 3, 10)
    found = timers(clocks(IN_PROGRESS, responded=ANSWERED_AT, next_due=next_due), RULES)
    deadline = "next_response:20261103T100000.000000Z"
    assert found == [
        Timer(next_due - 15 * M, WARN, deadline, 0, next_due),
        Timer(next_due, ESC, deadline, 1, next_due),
    ]
    assert {deadline_kind(t.deadline) for t in found} == {"next_response"}
    assert timers(clocks(IN_PROGRESS, responded=ANSWERED_AT), RULES) == []


@pytest.mark.parametrize("status", [NEW, IN_PROGRESS, WAITING])
def test_a_closed_case_has_no_timers_whatever_it_stored(status: str) -> None:
    full = clocks(status, next_due=DUE, waiting=OPENED)
    assert timers(full, RULES) != []
    closed = replace(full, status=CLOSED)
    assert timers(closed, RULES) == []
    assert due_timers(closed, RULES, (), utc(2030, 1, 1)) == []
    assert next_check_at(closed, RULES, (), OPENED) is None


def test_waiting_stops_the_response_clocks_and_runs_the_wait() -> None:
    since = utc(2026, 11, 2, 12)
    for responded in (None, ANSWERED_AT):
        found = timers(clocks(WAITING, responded=responded, next_due=DUE, waiting=since), RULES)
        deadline = "waiting:20261102T120000.000000Z"
        assert found == [Timer(since + 48 * H, REMIND, deadline), Timer(since + 120 * H, AUTO, deadline)]
        assert deadline_kind(found[0].deadline) == "waiting"
    assert timers(clocks(WAITING, waiting=None), RULES) == []


def test_waiting_reminder_and_auto_close_count_open_time() -> None:
    since = local(BERLIN, 2026, 11, 20, 16)  # Friday, one hour before closing
    rules = replace(RULES, calendar=OFFICE, waiting_reminder=2 * H, auto_close_after=8 * H)
    found = timers(clocks(WAITING, waiting=since), rules)
    assert [(t.kind, t.at) for t in found] == [
        (REMIND, local(BERLIN, 2026, 11, 23, 10)),
        (AUTO, local(BERLIN, 2026, 11, 23, 16)),
    ]
    assert next_check_at(clocks(WAITING, waiting=since), rules, (), since) == local(BERLIN, 2026, 11, 23, 10)


def test_nothing_configured_means_no_timers() -> None:
    bare = FollowupRules(levels=(), calendar=None, next_response={})
    for case in (
        clocks(),
        clocks(IN_PROGRESS, responded=ANSWERED_AT),
        clocks(WAITING, waiting=OPENED),
    ):
        assert timers(case, bare) == []
        assert next_check_at(case, bare, (), OPENED) is None
    # a deadline already stored still counts after its target left the configuration
    stored = clocks(IN_PROGRESS, responded=ANSWERED_AT, next_due=DUE)
    assert kinds(timers(stored, bare)) == [(ESC, 1)]
    only_reminder = replace(bare, waiting_reminder=H)
    assert kinds(timers(clocks(WAITING, waiting=OPENED), only_reminder)) == [(REMIND, 0)]


# ------------------------------------------------------------------ keys


def test_keys_are_stable_for_the_same_stored_instants() -> None:
    next_due = utc(2026, 11, 3, 10, 0, 0, 7)
    first = timers(clocks(IN_PROGRESS, responded=ANSWERED_AT, next_due=next_due), RULES)
    # the same instant read back in another zone (a driver may hand back any offset)
    again = timers(clocks(IN_PROGRESS, responded=ANSWERED_AT, next_due=next_due.astimezone(BERLIN)), RULES)
    assert [t.key for t in first] == [t.key for t in again]
    assert first[0].deadline == "next_response:20261103T100000.000007Z"
    waited = [t.key for t in timers(clocks(WAITING, waiting=next_due.astimezone(NEW_YORK)), RULES)]
    assert waited == [t.key for t in timers(clocks(WAITING, waiting=next_due), RULES)]


def test_a_new_follow_up_deadline_gets_new_keys() -> None:
    one = timers(clocks(IN_PROGRESS, responded=ANSWERED_AT, next_due=utc(2026, 11, 3, 10)), RULES)
    two = timers(clocks(IN_PROGRESS, responded=ANSWERED_AT, next_due=utc(2026, 11, 4, 10)), RULES)
    assert {t.key for t in one}.isdisjoint({t.key for t in two})
    done = {t.key for t in one}
    assert kinds(
        due_timers(
            clocks(IN_PROGRESS, responded=ANSWERED_AT, next_due=utc(2026, 11, 4, 10)),
            RULES,
            done,
            utc(2026, 11, 4, 10),
        )
    ) == [(ESC, 1)]
    a = timers(clocks(WAITING, waiting=utc(2026, 11, 3)), RULES)
    b = timers(clocks(WAITING, waiting=utc(2026, 11, 3, 0, 0, 1)), RULES)
    assert {t.key for t in a}.isdisjoint({t.key for t in b})


# ------------------------------------------------------------------ what is due now


def test_warning_due_before_its_deadline_and_dropped_once_it_passed() -> None:
    case = clocks()
    assert due_timers(case, RULES, (), DUE - 15 * M - US) == []
    assert kinds(due_timers(case, RULES, (), DUE - 15 * M)) == [(WARN, 0)]
    assert kinds(due_timers(case, RULES, (), DUE - US)) == [(WARN, 0)]
    # a scan that wakes at the deadline sends the escalation, not a stale warning
    assert kinds(due_timers(case, RULES, (), DUE)) == [(ESC, 1)]
    assert next_check_at(case, RULES, (), DUE) == DUE
    assert next_check_at(case, RULES, {("escalation", FIRST_RESPONSE, 1)}, DUE) == OPENED + 16 * H


def test_warnings_first_then_escalations_by_level() -> None:
    levels = (EscalationLevel(2, 50, ()), EscalationLevel(1, 75, ()), EscalationLevel(3, 100, ()))
    rules = replace(RULES, levels=levels, warn_before=H)
    now = DUE - M  # levels 2 (at 4 h) and 1 (at 6 h) have passed, the warning (7 h) too; not level 3
    assert kinds(due_timers(clocks(), rules, (), now)) == [(WARN, 0), (ESC, 1), (ESC, 2)]
    assert kinds(due_timers(clocks(), rules, {("warning", FIRST_RESPONSE, 0)}, now)) == [(ESC, 1), (ESC, 2)]


def test_reminder_due_then_dropped_once_auto_close_is_due() -> None:
    since = utc(2026, 11, 2, 12)
    case = clocks(WAITING, waiting=since)
    assert due_timers(case, RULES, (), since + 48 * H - US) == []
    assert next_check_at(case, RULES, (), since) == since + 48 * H
    assert kinds(due_timers(case, RULES, (), since + 48 * H)) == [(REMIND, 0)]
    reminded = {t.key for t in due_timers(case, RULES, (), since + 48 * H)}
    assert next_check_at(case, RULES, reminded, since + 48 * H) == since + 120 * H
    # a late scan after both instants: only the close, no reminder just before it
    assert kinds(due_timers(case, RULES, (), since + 120 * H)) == [(AUTO, 0)]
    assert next_check_at(case, RULES, (), since + 200 * H) == since + 120 * H
    closed_key = {("auto_close", f"waiting:{since:%Y%m%dT%H%M%S.%fZ}", 0)}
    assert next_check_at(case, RULES, closed_key, since + 200 * H) is None


def test_next_check_is_the_earliest_pending_timer() -> None:
    case = clocks(IN_PROGRESS, responded=ANSWERED_AT, next_due=utc(2026, 11, 3, 10))
    assert next_check_at(case, RULES, (), ANSWERED_AT) == utc(2026, 11, 3, 9, 45)
    warned = {t.key for t in timers(case, RULES) if t.kind is WARN}
    assert next_check_at(case, RULES, warned, ANSWERED_AT) == utc(2026, 11, 3, 10)
    assert next_check_at(case, RULES, {t.key for t in timers(case, RULES)}, ANSWERED_AT) is None
    assert next_check_at(clocks(IN_PROGRESS, responded=ANSWERED_AT), RULES, (), ANSWERED_AT) is None


moments = st.datetimes(
    min_value=datetime(2026, 3, 20), max_value=datetime(2026, 4, 20), timezones=st.just(UTC)
)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(list(CaseStatus)),
    st.one_of(st.none(), moments),
    st.one_of(st.none(), moments),
    st.one_of(st.none(), moments),
    moments,
    st.sampled_from([None, OFFICE, BERLIN_NIGHTS]),
    st.sets(st.integers(0, 5)),
)
def test_the_scan_index_and_the_due_timers_agree(
    status: CaseStatus,
    responded: datetime | None,
    next_due: datetime | None,
    waiting: datetime | None,
    now: datetime,
    calendar: BusinessCalendar | None,
    acted: set[int],
) -> None:
    opened = utc(2026, 3, 20)
    rules = replace(RULES, calendar=calendar)
    case = clocks(status, created=opened, due=add_business_time(opened, 4 * H, calendar), responded=responded)
    case = replace(case, next_response_due_at=next_due, waiting_since=waiting)
    every = timers(case, rules)
    done = {t.key for i, t in enumerate(every) if i in acted}
    due = due_timers(case, rules, done, now)
    check = next_check_at(case, rules, done, now)
    # the index selects the case exactly when something is due
    assert bool(due) == (check is not None and check <= now)
    assert all(t.at <= now and t.key not in done for t in due)
    # once the scan acted on what was due, the index points into the future (or nowhere)
    after = next_check_at(case, rules, done | {t.key for t in due}, now)
    assert after is None or after > now
    assert len({t.key for t in every}) == len(every)


# Ported from test_sla.py (due_levels): levels 1 at 100 %, 2 at 200 %, no warning.
NO_WARNING = replace(RULES, warn_before=None)


def escalations(case: Clocks, rules: FollowupRules, done: set[int], now: datetime) -> list[int]:
    sent = {("escalation", FIRST_RESPONSE, level) for level in done}
    found = due_timers(case, rules, sent, now)
    assert all(t.kind is ESC and t.deadline == FIRST_RESPONSE for t in found)
    return [t.level for t in found]


def test_levels_at_exact_instants_on_24x7() -> None:
    opened, due = utc(2026, 11, 21, 10), utc(2026, 11, 21, 12)
    case = clocks(created=opened, due=due)
    assert escalations(case, NO_WARNING, set(), due - US) == []
    assert escalations(case, NO_WARNING, set(), due) == [1]
    assert escalations(case, NO_WARNING, set(), due + US) == [1]
    second = utc(2026, 11, 21, 14)
    assert escalations(case, NO_WARNING, set(), second - US) == [1]
    assert escalations(case, NO_WARNING, set(), second) == [1, 2]
    assert escalations(case, NO_WARNING, {1}, second) == [2]
    assert escalations(case, NO_WARNING, {1, 2}, second) == []


def test_levels_come_back_lowest_first_whatever_the_configured_order() -> None:
    case = clocks(created=utc(2026, 11, 21, 10), due=utc(2026, 11, 21, 12))
    rules = replace(NO_WARNING, levels=tuple(reversed(LEVELS)))
    assert escalations(case, rules, set(), utc(2026, 12, 1)) == [1, 2]


def test_levels_due_in_business_time() -> None:
    opened = local(BERLIN, 2026, 11, 20, 16)  # Friday
    due = add_business_time(opened, 4 * H, OFFICE)  # Monday 12:00
    rules = replace(NO_WARNING, levels=(*LEVELS, EscalationLevel(3, 50, ())), calendar=OFFICE)
    case = clocks(created=opened, due=due)
    # a weekend hour is not business time: nothing is due on Saturday
    assert escalations(case, rules, set(), local(BERLIN, 2026, 11, 21, 12)) == []
    assert escalations(case, rules, set(), local(BERLIN, 2026, 11, 23, 10)) == [3]
    assert escalations(case, rules, set(), due) == [1, 3]
    assert escalations(case, rules, {3, 1}, local(BERLIN, 2026, 11, 23, 16) - US) == []
    assert escalations(case, rules, {3, 1}, local(BERLIN, 2026, 11, 23, 16)) == [2]


# Ported from test_lifecycle.py (next_escalation_at): levels at 50, 100 and 150 % of an 8-hour target.
THREE = FollowupRules(
    levels=(EscalationLevel(1, 50, ()), EscalationLevel(2, 100, ()), EscalationLevel(3, 150, ())),
    calendar=None,
    next_response={},
)


def check(case: Clocks, rules: FollowupRules, sent: set[int]) -> datetime | None:
    return next_check_at(case, rules, {("escalation", FIRST_RESPONSE, lv) for lv in sent}, OPENED)


def test_next_check_is_the_first_unsent_levels_threshold() -> None:
    assert check(clocks(), THREE, set()) == OPENED + 4 * H
    assert check(clocks(), THREE, {1}) == DUE
    assert check(clocks(), THREE, {1, 2}) == OPENED + 12 * H


def test_next_check_is_the_earliest_unsent_level_whatever_the_configured_order() -> None:
    # next_escalation_at took the configured order; next_check_at takes the earliest instant
    levels = (EscalationLevel(2, 100, ()), EscalationLevel(1, 50, ()))
    rules = replace(THREE, levels=levels)
    assert check(clocks(), rules, set()) == OPENED + 4 * H
    assert check(clocks(), rules, {2}) == OPENED + 4 * H
    assert check(clocks(), rules, {1}) == DUE


@pytest.mark.parametrize(
    ("status", "responded", "due", "sent"),
    [
        (CLOSED, None, DUE, set()),
        (IN_PROGRESS, ANSWERED_AT, DUE, set()),
        (WAITING, ANSWERED_AT, DUE, set()),
        (NEW, None, None, set()),
        (NEW, None, DUE, {1, 2, 3}),
    ],
)
def test_no_next_check(status: str, responded: datetime | None, due: datetime | None, sent: set[int]) -> None:
    assert check(clocks(status, responded=responded, due=due), THREE, sent) is None


def test_no_levels_no_check() -> None:
    assert check(clocks(), replace(THREE, levels=()), set()) is None


@given(
    st.sampled_from(list(CaseStatus)),
    st.one_of(st.none(), st.just(ANSWERED_AT)),
    st.one_of(st.none(), st.just(DUE)),
    st.sets(st.sampled_from([1, 2, 3])),
)
def test_a_first_response_check_exists_only_while_unanswered_and_open(
    status: CaseStatus, responded: datetime | None, due: datetime | None, sent: set[int]
) -> None:
    at = check(clocks(status, responded=responded, due=due), THREE, sent)
    if at is not None:
        assert unanswered_and_open(status, responded) and status is not WAITING
        assert due is not None and sent != {1, 2, 3}
        assert at >= OPENED
    elif due is not None and unanswered_and_open(status, responded) and status is not WAITING:
        assert sent == {1, 2, 3}


# ------------------------------------------------------------------ restarting the clocks

NOW = utc(2026, 11, 5, 10)
SINCE = utc(2026, 11, 4, 8)
RUNNING = utc(2026, 11, 5, 11)
A, ASK, C, RE, CL = (
    CaseChange.AGENT_REPLIED,
    CaseChange.AGENT_ASKED,
    CaseChange.CONTACT_REPLIED,
    CaseChange.REOPENED,
    CaseChange.CLOSED,
)


@pytest.mark.parametrize(
    ("change", "status", "responded", "next_due", "waiting", "severity", "expected"),
    [
        (A, IN_PROGRESS, ANSWERED_AT, RUNNING, None, 2, (None, None)),  # an agent's reply stops it
        (A, IN_PROGRESS, ANSWERED_AT, None, None, 2, (None, None)),
        (ASK, WAITING, ANSWERED_AT, RUNNING, None, 2, (None, NOW)),  # asking starts the wait
        (ASK, WAITING, ANSWERED_AT, None, SINCE, 2, (None, NOW)),  # asking again restarts it
        (C, IN_PROGRESS, ANSWERED_AT, None, None, 2, (NOW + 2 * H, None)),  # a follow-up starts it
        (C, IN_PROGRESS, ANSWERED_AT, None, None, 1, (NOW + H, None)),
        (C, IN_PROGRESS, ANSWERED_AT, RUNNING, None, 2, (RUNNING, None)),  # unless one runs
        (C, IN_PROGRESS, ANSWERED_AT, None, SINCE, 2, (NOW + 2 * H, None)),  # the answer ends the wait
        (C, IN_PROGRESS, ANSWERED_AT, None, None, 3, (None, None)),  # no target for severity 3
        (C, NEW, None, None, None, 2, (None, None)),  # unanswered: the first-response clock rules
        (RE, IN_PROGRESS, ANSWERED_AT, None, None, 2, (NOW + 2 * H, None)),
        (RE, NEW, None, None, None, 2, (None, None)),
        (CL, CLOSED, ANSWERED_AT, RUNNING, SINCE, 2, (None, None)),  # a close clears everything
        (C, CLOSED, ANSWERED_AT, RUNNING, SINCE, 2, (None, None)),  # a comment on a closed case
        (None, WAITING, ANSWERED_AT, None, SINCE, 2, (None, SINCE)),  # status set again: same wait
        (None, WAITING, ANSWERED_AT, RUNNING, None, 2, (None, NOW)),  # entering waiting by status
        (None, IN_PROGRESS, ANSWERED_AT, None, SINCE, 2, (None, None)),  # leaving it by status
        (None, IN_PROGRESS, ANSWERED_AT, RUNNING, None, 2, (RUNNING, None)),
    ],
)
def test_restarted_clocks(
    change: CaseChange | None,
    status: str,
    responded: datetime | None,
    next_due: datetime | None,
    waiting: datetime | None,
    severity: int,
    expected: tuple[datetime | None, datetime | None],
) -> None:
    case = clocks(status, severity=severity, responded=responded, next_due=next_due, waiting=waiting)
    assert restarted_clocks(change, case, RULES, NOW) == expected


def test_next_response_due_counts_open_time_from_the_contacts_reply() -> None:
    friday = local(BERLIN, 2026, 11, 20, 16, 30)
    rules = replace(RULES, calendar=OFFICE)
    case = clocks(IN_PROGRESS, responded=ANSWERED_AT)
    assert restarted_clocks(C, case, rules, friday) == (local(BERLIN, 2026, 11, 23, 10, 30), None)
    christmas_eve = local(BERLIN, 2026, 12, 23, 16, 30)
    assert restarted_clocks(C, case, rules, christmas_eve) == (local(BERLIN, 2026, 12, 28, 10, 30), None)
    night = replace(RULES, calendar=BERLIN_NIGHTS)
    assert restarted_clocks(C, case, night, local(BERLIN, 2026, 11, 20, 23)) == (
        local(BERLIN, 2026, 11, 21, 1),
        None,
    )


@given(
    st.sampled_from(list(CaseStatus)),
    st.sampled_from([None, *CaseChange]),
    st.booleans(),
    st.one_of(st.none(), st.just(RUNNING)),
    st.one_of(st.none(), st.just(SINCE)),
    st.integers(1, 4),
)
def test_restarted_clocks_for_every_status_and_change(
    before: CaseStatus,
    change: CaseChange | None,
    answered: bool,
    next_due: datetime | None,
    waiting: datetime | None,
    severity: int,
) -> None:
    after = before if change is None else next_status(before, change, answered=answered)
    responded = ANSWERED_AT if answered else None
    case = clocks(after, severity=severity, responded=responded, next_due=next_due, waiting=waiting)
    new_due, new_since = restarted_clocks(change, case, RULES, NOW)
    if after is CLOSED:
        assert (new_due, new_since) == (None, None)
    elif after is WAITING:
        assert new_due is None and new_since in (NOW, waiting)
    else:
        assert new_since is None
    if change in (A, ASK):
        assert new_due is None
    if new_due is not None and new_due not in (next_due, RUNNING):
        assert answered and change in (C, RE) and new_due == NOW + RULES.next_response[severity]
    if not answered:
        assert new_due in (None, next_due)
    # whatever the clocks become, the case's timers follow from them
    restarted = replace(case, next_response_due_at=new_due, waiting_since=new_since)
    if after is CLOSED:
        assert timers(restarted, RULES) == []


# ------------------------------------------------------------------ a wait pauses the first response


def test_a_wait_gives_back_the_open_time_that_was_left_on_24x7() -> None:
    due = utc(2026, 12, 7, 12)
    began, ended = utc(2026, 12, 7, 11), utc(2026, 12, 7, 15)
    assert resumed_due(due, began, ended, None) == utc(2026, 12, 7, 16)


def test_a_wait_gives_back_the_open_time_that_was_left_on_office_hours() -> None:
    # 30 open minutes left on Friday 16:30; the customer answers on Monday 10:00 -> due Monday 10:30.
    due = local(BERLIN, 2026, 12, 4, 17)
    began, ended = local(BERLIN, 2026, 12, 4, 16, 30), local(BERLIN, 2026, 12, 7, 10)
    assert resumed_due(due, began, ended, OFFICE) == local(BERLIN, 2026, 12, 7, 10, 30)
    # answered outside hours (Saturday): the 30 minutes start when the office opens on Monday
    assert resumed_due(due, began, local(BERLIN, 2026, 12, 5, 12), OFFICE) == local(
        BERLIN, 2026, 12, 7, 9, 30
    )


def test_a_deadline_missed_before_the_wait_stays_missed() -> None:
    due = utc(2026, 12, 7, 12)
    assert resumed_due(due, due, utc(2026, 12, 9), None) == due
    assert resumed_due(due, due + H, utc(2026, 12, 9), None) == due
    assert resumed_due(None, due, utc(2026, 12, 9), None) is None


@settings(max_examples=200)
@given(
    st.integers(min_value=1, max_value=600),
    st.integers(min_value=0, max_value=600),
    st.integers(min_value=0, max_value=10_000),
)
def test_the_time_left_after_a_wait_is_the_time_left_before_it(left: int, waited: int, later: int) -> None:
    began = local(BERLIN, 2026, 3, 27, 16) + M * waited  # around the spring-forward weekend
    due = add_business_time(began, M * left, OFFICE)
    ended = began + M * later
    resumed = resumed_due(due, began, ended, OFFICE)
    assert resumed is not None and resumed >= ended
    assert business_duration(ended, resumed, OFFICE) == business_duration(began, due, OFFICE)
