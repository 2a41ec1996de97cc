"""Business-time arithmetic (weekends, holidays, observed holidays, DST, pauses) and the Oklahoma holiday list."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from app.domain.business_calendar import (
    CHICAGO,
    BusinessCalendar,
    add_business_time,
    business_time_between,
    merge_intervals,
    oklahoma_holidays,
)
from app.services.requests.sla_targets import DEFAULT_TARGETS, Target

H = timedelta(hours=1)
OK = BusinessCalendar(holidays=frozenset(h.day for y in (2025, 2026, 2027, 2028) for h in oklahoma_holidays(y)))


def ct(*args: int) -> datetime:
    """A wall-clock time in Oklahoma (America/Chicago)."""
    return datetime(*args, tzinfo=CHICAGO)


# --- the Oklahoma holidays, date by date ---------------------------------------------------------------------------

def test_oklahoma_holidays_2026():
    assert [(h.day, h.name) for h in oklahoma_holidays(2026)] == [
        (date(2026, 1, 1), "New Year's Day"),                      # Thursday
        (date(2026, 1, 19), "Martin Luther King, Jr.'s Birthday"),  # third Monday of January
        (date(2026, 2, 16), "Presidents' Day"),                     # third Monday of February
        (date(2026, 5, 25), "Memorial Day"),                        # last Monday of May
        (date(2026, 7, 3), "Independence Day (observed)"),         # July 4 is a Saturday → Friday before
        (date(2026, 9, 7), "Labor Day"),                            # first Monday of September
        (date(2026, 11, 11), "Veterans' Day"),                      # Wednesday
        (date(2026, 11, 26), "Thanksgiving Day"),                   # fourth Thursday of November
        (date(2026, 11, 27), "Day after Thanksgiving"),
        (date(2026, 12, 24), "Christmas Eve"),                      # Christmas is a Friday → the day before
        (date(2026, 12, 25), "Christmas Day"),
    ]


def test_oklahoma_holidays_2027():
    assert [(h.day, h.name) for h in oklahoma_holidays(2027)] == [
        (date(2027, 1, 1), "New Year's Day"),                      # Friday
        (date(2027, 1, 18), "Martin Luther King, Jr.'s Birthday"),
        (date(2027, 2, 15), "Presidents' Day"),
        (date(2027, 5, 31), "Memorial Day"),
        (date(2027, 7, 5), "Independence Day (observed)"),         # July 4 is a Sunday → Monday after
        (date(2027, 9, 6), "Labor Day"),
        (date(2027, 11, 11), "Veterans' Day"),                      # Thursday
        (date(2027, 11, 25), "Thanksgiving Day"),
        (date(2027, 11, 26), "Day after Thanksgiving"),
        (date(2027, 12, 23), "Christmas (Thursday before)"),       # Christmas is a Saturday → Thursday and Friday
        (date(2027, 12, 24), "Christmas (Friday before)"),
        (date(2027, 12, 31), "New Year's Day 2028 (observed)"),    # January 1, 2028 is a Saturday
    ]


def test_executive_order_2014_19a_for_2015_is_reproduced():
    """The Governor's order for 2015 (the public one the notes cite) lists exactly these dates."""
    assert [h.day for h in oklahoma_holidays(2015)] == [
        date(2015, 1, 1), date(2015, 1, 19), date(2015, 2, 16), date(2015, 5, 25), date(2015, 7, 3),
        date(2015, 9, 7), date(2015, 11, 11), date(2015, 11, 26), date(2015, 11, 27), date(2015, 12, 24),
        date(2015, 12, 25)]


@pytest.mark.parametrize(("year", "extra"), [
    (2028, [date(2028, 12, 25), date(2028, 12, 26)]),  # Monday: the day before is a Sunday → the day after
    (2029, [date(2029, 12, 24), date(2029, 12, 25)]),  # Tuesday: the day before by default
    (2022, [date(2022, 12, 26), date(2022, 12, 27)]),  # Sunday: Monday and Tuesday after
    (2026, [date(2026, 12, 24), date(2026, 12, 25)]),  # Friday: the day before
])
def test_christmas_days(year, extra):
    assert [h.day for h in oklahoma_holidays(year) if h.day.month == 12 and h.day.day > 20] == extra


def test_christmas_choice_on_a_midweek_christmas_follows_the_executive_order():
    assert [h.day for h in oklahoma_holidays(2030, christmas_extra="after") if h.day.month == 12] == [
        date(2030, 12, 25), date(2030, 12, 26)]  # Wednesday
    assert [h.day for h in oklahoma_holidays(2026, christmas_extra="after") if h.day.month == 12] == [
        date(2026, 12, 24), date(2026, 12, 25)]  # Friday: the day after is a Saturday, so still the 24th


@pytest.mark.parametrize("year", range(2000, 2061))
def test_every_year_has_eleven_or_twelve_weekday_holidays(year):
    days = [h.day for h in oklahoma_holidays(year)]
    assert all(d.year == year and d.weekday() < 5 for d in days)
    assert len(set(days)) == len(days)
    # New Year's Day of the following year observed on December 31 adds one; one observed on December 31 of the
    # year before removes one.
    expected = 11 + (date(year + 1, 1, 1).weekday() == 5) - (date(year, 1, 1).weekday() == 5)
    assert len(days) == expected


# --- adding business time ------------------------------------------------------------------------------------------

def test_within_one_day():
    assert OK.add(ct(2026, 12, 1, 9), 4 * H) == ct(2026, 12, 1, 13)
    assert OK.add(ct(2026, 12, 1, 9), 8 * H) == ct(2026, 12, 1, 17)  # ends at the close, not the next morning


def test_one_business_day_is_the_same_time_the_next_working_day():
    assert OK.add(ct(2026, 12, 1, 10), OK.business_days(1)) == ct(2026, 12, 2, 10)
    assert OK.business_days(1) == 9 * H


def test_over_a_weekend():
    assert OK.add(ct(2026, 12, 4, 15), 4 * H) == ct(2026, 12, 7, 10)  # Friday 15:00 + 4h → Monday 10:00


def test_start_outside_working_hours():
    assert OK.add(ct(2026, 12, 1, 6, 30), H) == ct(2026, 12, 1, 9)       # before opening
    assert OK.add(ct(2026, 12, 1, 18), H) == ct(2026, 12, 2, 9)          # after closing
    assert OK.add(ct(2026, 12, 5, 12), H) == ct(2026, 12, 7, 9)          # Saturday
    assert OK.add(ct(2026, 12, 1, 17), H) == ct(2026, 12, 2, 9)          # exactly at closing


def test_observed_independence_day_2026_is_skipped():
    # July 4, 2026 is a Saturday, observed Friday July 3: Thursday 16:00 + 2h → Monday July 6, 09:00.
    assert OK.add(ct(2026, 7, 2, 16), 2 * H) == ct(2026, 7, 6, 9)
    assert OK.between(ct(2026, 7, 2, 8), ct(2026, 7, 7, 8)) == 18 * H


def test_thanksgiving_and_christmas():
    # Wednesday before Thanksgiving 2026 + 1 business day → Monday Nov 30 (Thu and Fri are holidays).
    assert OK.add(ct(2026, 11, 25, 12), OK.business_days(1)) == ct(2026, 11, 30, 12)
    # Christmas 2027: Thu 23 and Fri 24 off, and Fri 31 (New Year's Day 2028 observed).
    assert OK.add(ct(2027, 12, 22, 12), OK.business_days(1)) == ct(2027, 12, 27, 12)
    assert OK.add(ct(2027, 12, 30, 12), OK.business_days(1)) == ct(2028, 1, 3, 12)


def test_dst_changes_do_not_shift_working_hours():
    # DST starts Sunday March 8, 2026 and ends Sunday November 1, 2026 in Chicago.
    assert OK.add(ct(2026, 3, 6, 16), 2 * H) == ct(2026, 3, 9, 9)
    assert OK.add(ct(2026, 10, 30, 16), 2 * H) == ct(2026, 11, 2, 9)
    assert OK.add(ct(2026, 3, 6, 16), 2 * H).utcoffset() == timedelta(hours=-5)  # CDT
    assert OK.between(ct(2026, 3, 6, 8), ct(2026, 3, 10, 8)) == 18 * H
    assert OK.between(ct(2026, 10, 30, 8), ct(2026, 11, 3, 8)) == 18 * H


def test_a_dst_change_inside_working_hours_keeps_the_wall_clock_window():
    """In a zone where the clock changes at noon (made up), that day's window is an hour shorter in real time."""
    from datetime import tzinfo

    class Noon(tzinfo):
        def utcoffset(self, dt):
            return timedelta(hours=-6) if (dt.replace(tzinfo=None) < datetime(2026, 3, 9, 12)) else timedelta(hours=-5)

        def dst(self, dt):
            return timedelta(0)

        def tzname(self, dt):
            return "NOON"

    cal = BusinessCalendar(tz=Noon())  # type: ignore[arg-type]
    monday = datetime(2026, 3, 9, 8, tzinfo=Noon())
    assert cal.between(monday, datetime(2026, 3, 9, 17, tzinfo=Noon())) == 8 * H


def test_results_keep_the_time_zone_of_the_start():
    due = OK.add(datetime(2026, 12, 1, 15, tzinfo=UTC), 4 * H)
    assert due == datetime(2026, 12, 1, 19, tzinfo=UTC) and due.tzinfo is UTC


def test_zero_and_bad_input():
    saturday = ct(2026, 12, 5, 12)
    assert OK.add(saturday, timedelta(0)) == saturday
    assert OK.between(saturday, saturday) == timedelta(0)
    with pytest.raises(ValueError, match="negative"):
        OK.add(saturday, -H)
    with pytest.raises(ValueError, match="timezone-aware"):
        OK.add(datetime(2026, 12, 1, 9), H)
    with pytest.raises(ValueError, match="workdays"):
        BusinessCalendar(workdays=frozenset())
    with pytest.raises(ValueError, match="start before"):
        BusinessCalendar(day_start=time(17), day_end=time(8))


def test_between_is_negative_when_the_end_is_earlier():
    assert OK.between(ct(2026, 12, 2, 10), ct(2026, 12, 1, 10)) == -9 * H


def test_module_functions_default_to_the_plain_weekday_calendar():
    assert add_business_time(ct(2026, 7, 2, 16), 2 * H) == ct(2026, 7, 3, 9)  # no holidays given
    assert add_business_time(ct(2026, 7, 2, 16), 2 * H, OK) == ct(2026, 7, 6, 9)
    assert business_time_between(ct(2026, 7, 2, 8), ct(2026, 7, 7, 8), OK) == 18 * H


def test_another_calendar_shape():
    """Working hours, days and zone are parameters: a Sunday-Thursday 09:00-13:00 week in UTC."""
    cal = BusinessCalendar(tz=ZoneInfo("UTC"), workdays=frozenset({6, 0, 1, 2, 3}), day_start=time(9),
                           day_end=time(13))
    thursday = datetime(2026, 12, 3, 12, tzinfo=UTC)
    assert cal.add(thursday, 2 * H) == datetime(2026, 12, 6, 10, tzinfo=UTC)  # Sunday 10:00


# --- pauses --------------------------------------------------------------------------------------------------------

def test_pauses_are_excluded():
    start, end = ct(2026, 12, 1, 8), ct(2026, 12, 3, 17)  # Tue 08:00 → Thu 17:00: 27 business hours
    assert OK.between(start, end) == 27 * H
    paused = [(ct(2026, 12, 1, 15), ct(2026, 12, 2, 10))]  # Tue 15-17 and Wed 8-10: 4 business hours
    assert OK.between(start, end, paused) == 23 * H
    assert OK.add(start, 23 * H, paused) == end
    # Overlapping, touching and out-of-range pauses count once; a pause over a weekend costs nothing extra.
    paused += [(ct(2026, 12, 1, 16), ct(2026, 12, 1, 18)), (ct(2026, 12, 2, 10), ct(2026, 12, 2, 11)),
               (ct(2026, 11, 1), ct(2026, 11, 2)), (ct(2026, 12, 5), ct(2026, 12, 7))]
    assert OK.between(start, end, paused) == 22 * H


def test_a_pause_open_at_the_start_delays_the_clock():
    paused = [(ct(2026, 11, 30, 12), ct(2026, 12, 1, 12))]
    assert OK.add(ct(2026, 12, 1, 9), H, paused) == ct(2026, 12, 1, 13)


def test_merge_intervals_validates():
    with pytest.raises(ValueError, match="ends before"):
        merge_intervals([(ct(2026, 12, 2), ct(2026, 12, 1))])
    assert merge_intervals([(ct(2026, 12, 1), ct(2026, 12, 1))]) == []


# --- the default SLA targets ---------------------------------------------------------------------------------------

def test_default_targets_from_the_test_clock_start():
    start = datetime(2026, 12, 1, 15, tzinfo=UTC)  # Tuesday 09:00 in Oklahoma
    due = {p: t.due(start, OK).astimezone(CHICAGO) for p, t in DEFAULT_TARGETS["assistance"].items()}
    assert due == {"critical": ct(2026, 12, 1, 13), "high": ct(2026, 12, 2, 9), "medium": ct(2026, 12, 4, 9),
                   "low": ct(2026, 12, 8, 9)}
    # 40 business days skip Dec 24-25, Jan 1 and MLK day (Jan 18): a little over the 60 calendar days.
    assert DEFAULT_TARGETS["enhancement"]["medium"].due(start, OK) == ct(2027, 2, 1, 9)
    assert Target(60, "calendar_days").due(start, OK) == start + timedelta(days=60)
    assert str(Target(1, "business_days")) == "1 business day"
    assert str(Target(4, "business_hours")) == "4 business hours"


# --- properties ----------------------------------------------------------------------------------------------------

HOLIDAY_SETS = st.sets(st.dates(date(2026, 1, 1), date(2027, 12, 31)), max_size=40).map(frozenset)
MOMENTS = st.datetimes(datetime(2026, 1, 1), datetime(2027, 6, 30), timezones=st.sampled_from(
    [UTC, CHICAGO, ZoneInfo("Asia/Tokyo")]), allow_imaginary=False)
DURATIONS = st.timedeltas(timedelta(0), timedelta(days=60))


def calendar(holidays: frozenset[date]) -> BusinessCalendar:
    return BusinessCalendar(holidays=holidays | OK.holidays)


@settings(max_examples=300, deadline=None)
@given(holidays=HOLIDAY_SETS, start=MOMENTS, duration=DURATIONS)
def test_add_then_measure_round_trips(holidays, start, duration):
    cal = calendar(holidays)
    end = cal.add(start, duration)
    assert end >= start
    assert cal.between(start, end) == duration
    if duration:
        assert cal.is_working_time(end - timedelta(microseconds=1))  # the earliest such moment: it ends in work


@settings(max_examples=200, deadline=None)
@given(holidays=HOLIDAY_SETS, start=MOMENTS, span=st.timedeltas(timedelta(0), timedelta(days=90)))
def test_measure_then_add_lands_on_or_before_the_end(holidays, start, span):
    cal = calendar(holidays)
    end = start + span
    measured = cal.between(start, end)
    assert timedelta(0) <= measured <= span
    landed = cal.add(start, measured)
    assert landed <= end
    assert cal.between(landed, end) == timedelta(0)  # nothing but non-working time in between


@settings(max_examples=200, deadline=None)
@given(holidays=HOLIDAY_SETS, a=MOMENTS, b=MOMENTS, c=MOMENTS)
def test_between_is_additive(holidays, a, b, c):
    a, b, c = sorted((a, b, c))
    cal = calendar(holidays)
    assert cal.between(a, c) == cal.between(a, b) + cal.between(b, c)


@settings(max_examples=200, deadline=None)
@given(start=MOMENTS, d1=DURATIONS, d2=DURATIONS)
def test_add_is_monotonic_and_composes(start, d1, d2):
    d1, d2 = sorted((d1, d2))
    assert OK.add(start, d1) <= OK.add(start, d2)
    assert OK.add(OK.add(start, d1), d2) == OK.add(start, d1 + d2)


@settings(max_examples=200, deadline=None)
@example(start=datetime(2026, 1, 1, tzinfo=UTC), duration=timedelta(microseconds=1),  # a pause in the repeated hour
         pauses=[(datetime(2026, 11, 1, 1, 0, fold=1, tzinfo=CHICAGO), timedelta(0))])
@given(start=MOMENTS, duration=DURATIONS,
       pauses=st.lists(st.tuples(MOMENTS, st.timedeltas(timedelta(0), timedelta(days=10))), max_size=5))
def test_pauses_round_trip_and_only_ever_remove_time(start, duration, pauses):
    # in UTC, as the SLA clock stores them: local wall-time arithmetic drops `fold` and can end a pause that starts
    # in the repeated hour of a DST change an hour before it starts
    paused = [(p.astimezone(UTC), p.astimezone(UTC) + length) for p, length in pauses]
    end = OK.add(start, duration, paused)
    assert OK.between(start, end, paused) == duration
    assert end >= OK.add(start, duration)  # pausing never brings a due date forward
    assume(end > start)
    assert OK.between(start, end, paused) <= OK.between(start, end)
    # what the pauses removed is exactly the business time inside them
    inside = sum((OK.between(max(lo, start), min(hi, end)) for lo, hi in merge_intervals(paused)
                  if hi > start and lo < end), timedelta(0))
    assert OK.between(start, end) - OK.between(start, end, paused) == inside
