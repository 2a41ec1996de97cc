"""The measures behind the schedule and the reports: percentiles, means, percentages, business-time durations,
age buckets, on time against the 60 day plan, and effort spread over a plan."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from app.domain import measures as m
from app.domain.business_calendar import CHICAGO, BusinessCalendar
from app.services.reports.filters import BadFilter, parse_filters
from app.services.reports.tables import Column, Report, Table, to_csv
from app.web.charts import grouped_bars
from app.web.reports import display

CALENDAR = BusinessCalendar(holidays=frozenset({date(2026, 12, 24), date(2026, 12, 25)}))


def chicago(*args: int) -> datetime:
    return datetime(*args, tzinfo=CHICAGO)


def test_p90_is_the_nearest_rank_value_never_an_interpolation():
    assert m.nearest_rank(list(range(1, 11)), 90) == 9  # rank ceil(0.9 * 10) = 9
    assert m.nearest_rank(list(range(1, 12)), 90) == 10  # rank ceil(9.9) = 10
    assert m.nearest_rank([5.0], 90) == 5.0
    assert m.nearest_rank([3, 1, 2], 90) == 3
    assert m.nearest_rank([], 90) is None


def test_a_percentile_outside_zero_to_a_hundred_is_refused():
    with pytest.raises(ValueError):
        m.nearest_rank([1, 2], 0)


def test_mean_and_percent_are_none_when_there_is_nothing_to_measure():
    assert m.mean([1.0, 2.0, 4.5]) == pytest.approx(2.5)
    assert m.mean([]) is None
    assert m.percent(2, 3) == pytest.approx(66.666, abs=0.01)
    assert m.percent(0, 0) is None
    assert m.fmt_days(2.26) == "2.3"
    assert m.fmt_days(None) == "" and m.fmt_percent(50) == "50.0%"


def test_business_days_count_working_hours_only_in_days_of_nine_hours():
    tuesday_10 = chicago(2026, 12, 1, 10)
    assert m.business_days(CALENDAR, tuesday_10, chicago(2026, 12, 2, 10)) == pytest.approx(1.0)
    assert m.business_days(CALENDAR, tuesday_10, chicago(2026, 12, 1, 14, 30)) == pytest.approx(0.5)
    # Friday 16:00 to Monday 09:00 is two working hours
    assert m.business_days(CALENDAR, chicago(2026, 12, 4, 16), chicago(2026, 12, 7, 9)) == pytest.approx(2 / 9)


def test_business_days_skip_the_holidays_of_the_calendar():
    # Wednesday Dec 23 10:00 to Monday Dec 28 10:00: the 24th and 25th are holidays, then a weekend
    assert m.business_days(CALENDAR, chicago(2026, 12, 23, 10), chicago(2026, 12, 28, 10)) == pytest.approx(1.0)


@pytest.mark.parametrize(("age", "bucket"), [(0, "0–1"), (1.99, "0–1"), (2, "2–5"), (5.9, "2–5"), (6, "6–10"),
                                             (10.5, "6–10"), (11, "11–20"), (20.99, "11–20"), (21, ">20"),
                                             (300, ">20")])
def test_open_requests_are_bucketed_by_completed_business_days(age, bucket):
    assert m.aging_bucket(age) == bucket


def test_a_closed_enhancement_is_on_time_when_it_closed_by_its_planned_finish_in_oklahoma():
    finish = date(2026, 12, 18)
    today = date(2027, 1, 5)
    assert m.plan_status(chicago(2026, 12, 18, 16, 59), finish, today, CALENDAR) == m.ON_TIME
    # 23:30 in Oklahoma on the 18th is already the 19th in UTC: still on time
    assert m.plan_status(chicago(2026, 12, 18, 23, 30), finish, today, CALENDAR) == m.ON_TIME
    assert m.plan_status(chicago(2026, 12, 19, 0, 1), finish, today, CALENDAR) == m.LATE
    assert m.plan_status(chicago(2026, 12, 10), None, today, CALENDAR) == m.NO_PLAN


def test_an_open_enhancement_is_on_track_until_its_planned_finish_has_passed():
    finish = date(2026, 12, 18)
    assert m.plan_status(None, finish, date(2026, 12, 18), CALENDAR) == m.ON_TRACK
    assert m.plan_status(None, finish, date(2026, 12, 19), CALENDAR) == m.LATE
    assert m.plan_status(None, None, date(2026, 12, 19), CALENDAR) == m.NO_PLAN


def test_an_open_enhancement_will_miss_the_plan_when_late_unplanned_too_long_or_planned_past_its_target():
    logged = chicago(2026, 12, 1, 9)
    target = chicago(2027, 1, 29, 9)
    now = chicago(2026, 12, 7, 12)  # four business days and three hours after logging
    assert m.miss_reason(logged, None, target, now, CALENDAR) is None
    later = chicago(2026, 12, 8, 9)  # five business days
    assert m.miss_reason(logged, None, target, later, CALENDAR) == "no work plan after 5 business days"
    assert "has passed" in (m.miss_reason(logged, date(2026, 12, 7), target, later, CALENDAR) or "")
    assert "after the target" in (m.miss_reason(logged, date(2027, 2, 1), target, later, CALENDAR) or "")
    assert m.miss_reason(logged, date(2027, 1, 29), target, later, CALENDAR) is None


def test_planned_hours_are_spread_evenly_over_the_working_days_of_the_plan():
    spread = m.spread_hours(18, date(2026, 12, 4), date(2026, 12, 8), CALENDAR)  # Fri, (weekend), Mon, Tue
    assert spread == {date(2026, 12, 4): 6, date(2026, 12, 7): 6, date(2026, 12, 8): 6}
    assert m.spread_hours(9, date(2026, 12, 5), date(2026, 12, 6), CALENDAR) == {date(2026, 12, 5): 9}


def test_report_filters_default_to_the_last_ninety_days_and_refuse_what_they_cannot_read():
    filters = parse_filters(date(2026, 12, 31))
    assert (filters.since, filters.until, filters.group, filters.request_type) == (
        date(2026, 10, 3), date(2026, 12, 31), None, None)
    lo, hi = parse_filters(date(2026, 12, 31), "2026-12-01", "2026-12-01").window
    assert (lo, hi) == (datetime(2026, 12, 1, 6, tzinfo=UTC), datetime(2026, 12, 2, 6, tzinfo=UTC))
    for args, field in ((("2026-13-01",), "since"), (("", "yesterday"), "until"),
                        (("2026-12-02", "2026-12-01"), "until"), (("", "", "", "incident"), "type")):
        with pytest.raises(BadFilter) as refused:
            parse_filters(date(2026, 12, 31), *args)
        assert refused.value.status == 400 and refused.value.errors[0].field == field


def test_a_chart_escapes_its_text_and_describes_itself():
    svg = str(grouped_bars("Load <per> week", "A & B", ["Dec 01", "<x>"], [("net&work", [1.0, 2.5])], "days"))
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "<title id=\"load-per-week-title\">Load &lt;per&gt; week</title>" in svg
    assert "<desc id=\"load-per-week-desc\">A &amp; B</desc>" in svg
    assert "&lt;x&gt;" in svg and "net&amp;work" in svg and "<x>" not in svg
    assert svg.count("<rect") == 3  # two bars and one legend swatch
    assert "net&amp;work, &lt;x&gt;: 2.5 days" in svg


def test_a_chart_without_data_says_so():
    assert "No data" in str(grouped_bars("Empty", "Nothing", [], [], "requests"))
    assert "No data" in str(grouped_bars("Zeros", "Nothing", ["a"], [("g", [0])], "requests"))


def test_csv_cells_a_spreadsheet_would_run_as_formulas_get_a_leading_apostrophe():
    table = Table("by_agency", "Per agency", [Column("agency", "Agency"), Column("amount", "Amount", "money")],
                  [{"agency": "=HYPERLINK(\"x\")", "amount": 12.5}, {"agency": "-1+2", "amount": None}],
                  {"agency": "All", "amount": 12.5})
    assert to_csv(Report("billing", "Billing", [table])).splitlines() == [
        "agency,amount", "\"'=HYPERLINK(\"\"x\"\")\",12.50", "'-1+2,", "All,12.50"]


def test_cells_on_a_page_show_units_and_a_dash_for_nothing_to_measure():
    assert [display(v, k) for v, k in ((66.666, "percent"), (1062.5, "money"), (0.75, "days"), (None, "days"),
                                       (date(2026, 12, 1), "date"), (3, "int"), (None, "text"))] == [
        "66.7%", "$1,062.50", "0.8", "—", "1 Dec 2026", "3", ""]


@pytest.mark.parametrize(("value", "label"), [(3.0, "3"), (0.5, "0.5"), (1.25, "1.25"), (1.999, "2"), (1.10, "1.1"),
                                              (0.004, "<0.01"), (0.01, "0.01")])
def test_chart_labels_read_as_people_write_numbers_never_a_bare_point(value, label):
    svg = str(grouped_bars("Hours", "Hours a week", ["Dec 01"], [("network", [value])], "hours"))
    assert f">{label}</text>" in svg.replace("&lt;", "<")
    assert "0.<" not in svg
    axis = [t for t in svg.split("</text>") if 'text-anchor="end"' in t]
    assert len({t.rsplit(">", 1)[1] for t in axis}) == len(axis)  # every gridline has its own label
