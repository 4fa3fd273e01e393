"""Deadlines at exact instants: 24×7, business hours, weekends, holidays, DST days."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maild.policy.sla import (
    BusinessCalendar,
    add_business_time,
    business_duration,
    can_escalate,
    escalation_possible_at,
    first_response_due,
    level_threshold,
    parse_duration,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
TOKYO = ZoneInfo("Asia/Tokyo")
H = timedelta(hours=1)
US = timedelta(microseconds=1)
NINE_TO_FIVE = ((time(9), time(17)),)
WEEKDAYS_9_17 = {d: NINE_TO_FIVE for d in range(5)}
TARGETS = {1: 1 * H, 2: 2 * H, 3: 4 * H, 4: 8 * H}


def local(zone: tzinfo, year: int, month: int, day: int, *hms: int) -> datetime:
    hour, minute, second, micro = (*hms, 0, 0, 0, 0)[:4]
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=zone)


def utc(year: int, month: int, day: int, *hms: int) -> datetime:
    return local(UTC, year, month, day, *hms)


def berlin_office(holidays: frozenset[date] = frozenset()) -> BusinessCalendar:
    return BusinessCalendar(tz=BERLIN, weekly=WEEKDAYS_9_17, holidays=holidays)


# ------------------------------------------------------------------ durations


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("15m", timedelta(minutes=15)),
        ("1h", H),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("2d", timedelta(days=2)),
        ("1d12h", timedelta(days=1, hours=12)),
        ("1d2h3m4s", timedelta(days=1, hours=2, minutes=3, seconds=4)),
        ("0s", timedelta(0)),
        ("  4h ", 4 * H),
        ("007m", timedelta(minutes=7)),
    ],
)
def test_parse_duration_accepts(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("90", "needs a unit"),
        ("-5m", "sign"),
        ("+5m", "sign"),
        ("5x", "unknown unit 'x'"),
        ("1w", "unknown unit 'w'"),
        ("1H", "unknown unit 'H'"),
        ("1m1h", "order"),
        ("1h1h", "order"),
        ("1.5h", "needs a unit"),
        ("1h 30m", "number followed by"),
        ("h", "number followed by"),
        ("1hour", "unknown unit 'hour'"),
        ("9999999999999d", "too long"),
        ("99999999999d", "too long"),
        ("１h", "number followed by"),
    ],
)
def test_parse_duration_rejects_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_duration(text)


@given(st.integers(0, 400), st.integers(0, 23), st.integers(0, 59), st.integers(0, 59))
def test_parse_duration_round_trips(days: int, hours: int, minutes: int, seconds: int) -> None:
    text = f"{days}d{hours}h{minutes}m{seconds}s"
    assert parse_duration(text) == timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


# ------------------------------------------------------------------ calendar validation


def test_calendar_accepts_zone_name_as_text() -> None:
    calendar = BusinessCalendar(tz="Asia/Tokyo", weekly=WEEKDAYS_9_17)
    assert calendar.zone == TOKYO


@pytest.mark.parametrize(
    ("weekly", "message"),
    [
        ({}, "at least one open interval"),
        ({0: ()}, "at least one open interval"),
        ({0: ((time(17), time(9)),)}, "end before they start"),
        ({0: ((time(9), time(9)),)}, "end before they start"),
        ({0: ((time(9), time(13)), (time(12), time(17)))}, "overlap"),
        ({7: NINE_TO_FIVE}, "weekday 7"),
        ({-1: NINE_TO_FIVE}, "weekday -1"),
        ({0: ((time(9, tzinfo=UTC), time(17)),)}, "wall-clock"),
    ],
)
def test_calendar_rejects_unusable_hours(
    weekly: dict[int, tuple[tuple[time, time], ...]], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        BusinessCalendar(tz=BERLIN, weekly=weekly)


def test_calendar_rejects_unknown_zone() -> None:
    with pytest.raises(ZoneInfoNotFoundError):
        BusinessCalendar(tz="Mars/Nowhere", weekly=WEEKDAYS_9_17)


# ------------------------------------------------------------------ 24×7


def test_no_calendar_is_plain_addition_in_utc() -> None:
    start = local(TOKYO, 2026, 11, 21, 19, 0)
    due = add_business_time(start, 2 * H, None)
    assert due == utc(2026, 11, 21, 12, 0)
    assert due.tzinfo is UTC


def test_no_calendar_counts_real_time_across_a_dst_change() -> None:
    # 01:30 EDT on the fall-back night + 1 h of real time is 01:30 EST: wall clock shows the same hour.
    start = local(NEW_YORK, 2026, 11, 1, 1, 30)
    assert add_business_time(start, H, None) == utc(2026, 11, 1, 6, 30)


def test_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        add_business_time(datetime(2026, 11, 21, 10), H, None)
    with pytest.raises(ValueError, match="aware"):
        add_business_time(datetime(2026, 11, 21, 10), H, berlin_office())


def test_negative_amount_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        add_business_time(utc(2026, 11, 21), -US, None)
    with pytest.raises(ValueError, match="negative"):
        add_business_time(utc(2026, 11, 21), -H, berlin_office())


def test_zero_amount_is_the_start_even_when_closed() -> None:
    saturday = local(BERLIN, 2026, 11, 21, 12)
    assert add_business_time(saturday, timedelta(0), berlin_office()) == saturday.astimezone(UTC)


# ------------------------------------------------------------------ business hours


@pytest.mark.parametrize(
    ("start", "amount", "due"),
    [
        # inside hours, same day
        (local(BERLIN, 2026, 11, 23, 10), 2 * H, local(BERLIN, 2026, 11, 23, 12)),
        # before opening: the clock starts at 09:00
        (local(BERLIN, 2026, 11, 23, 7), H, local(BERLIN, 2026, 11, 23, 10)),
        # landing exactly on closing time stays at 17:00, not next morning
        (local(BERLIN, 2026, 11, 23, 13), 4 * H, local(BERLIN, 2026, 11, 23, 17)),
        # one microsecond more rolls over to the next morning
        (local(BERLIN, 2026, 11, 23, 13), 4 * H + US, local(BERLIN, 2026, 11, 24, 9) + US),
        # after closing: next morning
        (local(BERLIN, 2026, 11, 23, 18), H, local(BERLIN, 2026, 11, 24, 10)),
        # Friday afternoon over the weekend
        (local(BERLIN, 2026, 11, 20, 16), 4 * H, local(BERLIN, 2026, 11, 23, 12)),
        # opened exactly at Friday's close
        (local(BERLIN, 2026, 11, 20, 17), H, local(BERLIN, 2026, 11, 23, 10)),
        # opened on Saturday
        (local(BERLIN, 2026, 11, 21, 11), 8 * H, local(BERLIN, 2026, 11, 23, 17)),
        # a full week of business time is five days of eight hours
        (local(BERLIN, 2026, 11, 23, 9), 40 * H, local(BERLIN, 2026, 11, 27, 17)),
        # start given in UTC
        (utc(2026, 11, 23, 8, 0), H, local(BERLIN, 2026, 11, 23, 10)),
    ],
)
def test_berlin_office_hours(start: datetime, amount: timedelta, due: datetime) -> None:
    assert add_business_time(start, amount, berlin_office()) == due
    assert add_business_time(start, amount, berlin_office()).tzinfo is UTC


def test_holidays_are_closed_all_day() -> None:
    # Christmas 2026: Thursday 24th (half day in many firms, here a full holiday), Friday 25th.
    calendar = berlin_office(frozenset({date(2026, 12, 24), date(2026, 12, 25)}))
    start = local(BERLIN, 2026, 12, 23, 16)
    assert add_business_time(start, 2 * H, calendar) == local(BERLIN, 2026, 12, 28, 10)
    assert add_business_time(start, 2 * H, berlin_office()) == local(BERLIN, 2026, 12, 24, 10)


def test_opened_on_a_holiday_starts_at_the_next_open_day() -> None:
    calendar = berlin_office(frozenset({date(2026, 11, 23)}))
    assert add_business_time(local(BERLIN, 2026, 11, 23, 10), H, calendar) == local(BERLIN, 2026, 11, 24, 10)


def test_many_consecutive_holidays_are_skipped() -> None:
    # Closed 2026-12-01 … 2027-01-29 (a Friday): one hour on Monday Nov 30, the next on Monday Feb 1.
    closed = frozenset(date(2026, 12, 1) + timedelta(days=i) for i in range(60))
    calendar = berlin_office(closed)
    due = add_business_time(local(BERLIN, 2026, 11, 30, 16), 2 * H, calendar)
    assert due == local(BERLIN, 2027, 2, 1, 10)


def test_spring_forward_weekend_in_berlin() -> None:
    # 2026-03-29 02:00 CET → 03:00 CEST. Friday 16:00 CET is 15:00Z; Monday 10:00 CEST is 08:00Z.
    due = add_business_time(local(BERLIN, 2026, 3, 27, 16), 2 * H, berlin_office())
    assert due == utc(2026, 3, 30, 8, 0)
    assert due.astimezone(BERLIN).hour == 10


def test_fall_back_weekend_in_berlin() -> None:
    # 2026-10-25 03:00 CEST → 02:00 CET. Monday 10:00 CET is 09:00Z.
    due = add_business_time(local(BERLIN, 2026, 10, 23, 16), 2 * H, berlin_office())
    assert due == utc(2026, 10, 26, 9, 0)


@pytest.mark.parametrize(
    ("day", "open_utc", "close_utc"),
    [
        (date(2026, 3, 8), utc(2026, 3, 8, 13), utc(2026, 3, 8, 21)),  # spring forward: EDT
        (date(2026, 11, 1), utc(2026, 11, 1, 14), utc(2026, 11, 1, 22)),  # fall back: EST
        (date(2026, 3, 7), utc(2026, 3, 7, 14), utc(2026, 3, 7, 22)),  # the day before: EST
    ],
)
def test_new_york_nine_to_five_is_eight_hours_on_dst_days(
    day: date, open_utc: datetime, close_utc: datetime
) -> None:
    calendar = BusinessCalendar(tz=NEW_YORK, weekly={d: NINE_TO_FIVE for d in range(7)})
    start = datetime.combine(day, time(9), tzinfo=NEW_YORK)
    assert start.astimezone(UTC) == open_utc
    assert add_business_time(start, 8 * H, calendar) == close_utc
    assert business_duration(open_utc, close_utc, calendar) == 8 * H
    # the next hour of business time is the next morning, in that morning's offset
    next_morning = datetime.combine(day + timedelta(days=1), time(10), tzinfo=NEW_YORK)
    assert add_business_time(start, 9 * H, calendar) == next_morning


def test_an_interval_spanning_the_change_counts_real_elapsed_time() -> None:
    # Sunday 2026-03-29 00:00–06:00 in Berlin is five real hours (02:00–03:00 does not exist).
    calendar = BusinessCalendar(tz=BERLIN, weekly={6: ((time(0), time(6)),)})
    start = local(BERLIN, 2026, 3, 29, 0)
    assert business_duration(start, local(BERLIN, 2026, 3, 29, 6), calendar) == 5 * H
    assert add_business_time(start, 5 * H, calendar) == local(BERLIN, 2026, 3, 29, 6)
    # and the autumn Sunday 00:00–06:00 is seven
    autumn = local(BERLIN, 2026, 10, 25, 0)
    assert business_duration(autumn, local(BERLIN, 2026, 10, 25, 6), calendar) == 7 * H


def test_wall_times_inside_the_spring_gap_use_the_offset_before_the_change() -> None:
    calendar = BusinessCalendar(tz=NEW_YORK, weekly={6: ((time(2, 30), time(4)),)})
    # 02:30 does not exist on 2026-03-08; read as 02:30 EST it is 07:30Z (03:30 EDT), so the
    # interval is the half hour up to 04:00 EDT (08:00Z).
    start = local(NEW_YORK, 2026, 3, 8, 0)
    assert add_business_time(start, timedelta(minutes=1), calendar) == utc(2026, 3, 8, 7, 31)
    assert add_business_time(start, timedelta(minutes=30), calendar) == utc(2026, 3, 8, 8, 0)
    assert business_duration(start, local(NEW_YORK, 2026, 3, 9, 0), calendar) == timedelta(minutes=30)
    # the week after, the same interval is the full 90 minutes
    week_later = business_duration(local(NEW_YORK, 2026, 3, 15), local(NEW_YORK, 2026, 3, 16), calendar)
    assert week_later == timedelta(minutes=90)


def test_all_day_calendar_equals_plain_addition() -> None:
    always = BusinessCalendar(tz=NEW_YORK, weekly={d: ((time(0), time(23, 59, 59)),) for d in range(7)})
    start = local(NEW_YORK, 2026, 10, 31, 12)
    for hours in (1, 12, 24, 36, 49, 24 * 9):
        assert add_business_time(start, hours * H, always) == start.astimezone(UTC) + hours * H


def tokyo_plan() -> BusinessCalendar:
    # Weekdays with a lunch break; Culture Day and Labour Thanksgiving Day 2026 are holidays.
    return BusinessCalendar(
        tz="Asia/Tokyo",
        weekly={d: ((time(9), time(12)), (time(13), time(18))) for d in range(5)},
        holidays=frozenset({date(2026, 11, 3), date(2026, 11, 23)}),
    )


@pytest.mark.parametrize(
    ("start", "amount", "due"),
    [
        (local(TOKYO, 2026, 11, 2, 11, 30), H, local(TOKYO, 2026, 11, 2, 13, 30)),  # over lunch
        (local(TOKYO, 2026, 11, 2, 12, 15), H, local(TOKYO, 2026, 11, 2, 14, 0)),  # opened at lunch
        (local(TOKYO, 2026, 11, 2, 17), 4 * H, local(TOKYO, 2026, 11, 4, 12)),  # over the holiday
        (local(TOKYO, 2026, 11, 20, 17), 2 * H, local(TOKYO, 2026, 11, 24, 10)),  # weekend + Monday holiday
        (local(TOKYO, 2026, 11, 2, 9), 8 * H, local(TOKYO, 2026, 11, 2, 18)),  # a whole day is 8 h
    ],
)
def test_tokyo_plan(start: datetime, amount: timedelta, due: datetime) -> None:
    assert add_business_time(start, amount, tokyo_plan()) == due


def test_end_of_day_means_midnight() -> None:
    late = BusinessCalendar(tz=TOKYO, weekly={0: ((time(22), time(23, 59, 59)),), 1: ((time(0), time(6)),)})
    # Monday 22:00 + 3 h = 2 h Monday night (to midnight, not to 23:59:59) + 1 h Tuesday.
    assert add_business_time(local(TOKYO, 2026, 11, 23, 22), 3 * H, late) == local(TOKYO, 2026, 11, 24, 1)


# ------------------------------------------------------------------ business_duration


def test_business_duration_counts_only_open_time() -> None:
    calendar = berlin_office()
    friday = local(BERLIN, 2026, 11, 20, 16)
    assert business_duration(friday, local(BERLIN, 2026, 11, 23, 12), calendar) == 4 * H
    assert business_duration(friday, local(BERLIN, 2026, 11, 21, 12), calendar) == H
    assert business_duration(friday, friday, calendar) == timedelta(0)
    assert business_duration(friday, friday - H, calendar) == timedelta(0)
    assert business_duration(friday, friday + H, None) == H


# ------------------------------------------------------------------ first response


@pytest.mark.parametrize(
    ("severity", "due"),
    [
        (1, utc(2026, 11, 21, 11)),
        (2, utc(2026, 11, 21, 12)),
        (3, utc(2026, 11, 21, 14)),
        (4, utc(2026, 11, 21, 18)),
    ],
)
def test_first_response_due_on_24x7(severity: int, due: datetime) -> None:
    assert first_response_due(utc(2026, 11, 21, 10), severity, TARGETS, None) == due


def test_first_response_due_on_business_hours() -> None:
    # Opened Saturday 2026-11-21 10:00Z (11:00 Berlin) at severity 2: due Monday 11:00 Berlin.
    due = first_response_due(utc(2026, 11, 21, 10), 2, TARGETS, berlin_office())
    assert due == local(BERLIN, 2026, 11, 23, 11)


def test_first_response_due_unknown_severity() -> None:
    with pytest.raises(ValueError, match="severity 5"):
        first_response_due(utc(2026, 11, 21, 10), 5, TARGETS, None)
    with pytest.raises(ValueError, match="configured: none"):
        first_response_due(utc(2026, 11, 21, 10), 1, {}, None)


# ------------------------------------------------------------------ escalation


def test_level_thresholds_in_business_time() -> None:
    # when each level falls due (the scan's view) is tested in test_followup.py
    calendar = berlin_office()
    opened = local(BERLIN, 2026, 11, 20, 16)  # Friday
    due = add_business_time(opened, 4 * H, calendar)  # Monday 12:00
    assert level_threshold(opened, due, 50, calendar) == local(BERLIN, 2026, 11, 23, 10)
    assert level_threshold(opened, due, 100, calendar) == due == local(BERLIN, 2026, 11, 23, 12)
    assert level_threshold(opened, due, 200, calendar) == local(BERLIN, 2026, 11, 23, 16)


def test_level_threshold_at_100_percent_is_the_stored_due_time() -> None:
    opened = utc(2026, 11, 21, 10)
    odd_due = utc(2026, 11, 21, 12, 0, 0, 7)
    assert level_threshold(opened, odd_due, 100, berlin_office()) == odd_due
    with pytest.raises(ValueError, match="negative"):
        level_threshold(opened, odd_due, -1, None)


def test_customer_escalation_possible_only_from_the_deadline() -> None:
    due = local(TOKYO, 2026, 11, 21, 21)
    assert escalation_possible_at(due) == utc(2026, 11, 21, 12)
    assert escalation_possible_at(due).tzinfo is UTC
    assert not can_escalate(due, due - US)
    assert can_escalate(due, due)
    assert can_escalate(due, due + H)
    with pytest.raises(ValueError, match="aware"):
        can_escalate(due, datetime(2026, 11, 21, 13))


# ------------------------------------------------------------------ properties

CALENDARS = [
    None,
    berlin_office(frozenset({date(2026, 12, 24), date(2026, 12, 25), date(2027, 1, 1)})),
    BusinessCalendar(tz=NEW_YORK, weekly={d: NINE_TO_FIVE for d in range(7)}),
    tokyo_plan(),
    BusinessCalendar(tz=BERLIN, weekly={5: ((time(0), time(23, 59, 59)),), 6: ((time(0), time(6)),)}),
]
starts = st.datetimes(
    min_value=datetime(2025, 1, 1),
    max_value=datetime(2028, 12, 31),
    timezones=st.sampled_from([UTC, BERLIN, NEW_YORK, TOKYO]),
)
amounts = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=30))


@settings(max_examples=150, deadline=None)
@given(starts, amounts, amounts, st.sampled_from(CALENDARS))
def test_add_business_time_is_monotonic_in_amount(
    start: datetime, a: timedelta, b: timedelta, calendar: BusinessCalendar | None
) -> None:
    low, high = sorted((a, b))
    assert add_business_time(start, low, calendar) <= add_business_time(start, high, calendar)
    assert add_business_time(start, low, calendar) >= start


@settings(max_examples=150, deadline=None)
@given(starts, amounts)
def test_24x7_is_plain_addition(start: datetime, amount: timedelta) -> None:
    # real elapsed time: Python's same-zone `start + amount` would be wall-clock arithmetic
    assert add_business_time(start, amount, None) == start.astimezone(UTC) + amount


@settings(max_examples=150, deadline=None)
@given(starts, amounts, st.sampled_from(CALENDARS))
def test_business_duration_inverts_add_business_time(
    start: datetime, amount: timedelta, calendar: BusinessCalendar | None
) -> None:
    due = add_business_time(start, amount, calendar)
    assert business_duration(start, due, calendar) == amount


@settings(max_examples=100, deadline=None)
@given(starts, amounts, amounts, st.sampled_from(CALENDARS))
def test_adding_in_two_steps_equals_adding_once(
    start: datetime, a: timedelta, b: timedelta, calendar: BusinessCalendar | None
) -> None:
    in_two_steps = add_business_time(add_business_time(start, a, calendar), b, calendar)
    assert in_two_steps == add_business_time(start, a + b, calendar)
