"""The measures behind the schedule and the reports (pure functions, no database).

* Durations are business time on the business calendar, in business days of one working window (9 hours).
* p90 is the nearest-rank 90th percentile: the value at rank ceil(0.9 × n) of the sorted values (always a value
  that occurred; no interpolation).
* On time against the 60 day plan: a closed enhancement is "on time" when it closed on or before its planned
  finish (local date); an open one is "late" once its planned finish has passed, "no plan" without a work plan,
  else "on track".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from app.domain.business_calendar import BusinessCalendar

# Age buckets of open requests in completed business days: (label, lowest age, highest age or None).
AGING_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("0–1", 0, 1), ("2–5", 2, 5), ("6–10", 6, 10), ("11–20", 11, 20), (">20", 21, None))
# An open enhancement still without a work plan this many business days after it was logged will miss the plan.
NO_PLAN_LIMIT_DAYS = 5

ON_TIME, LATE, NO_PLAN, ON_TRACK = "on time", "late", "no plan", "on track"


def nearest_rank(values: Sequence[float], pct: float = 90) -> float | None:
    """The nearest-rank percentile of `values` (None for no values)."""
    if not 0 < pct <= 100:
        raise ValueError("the percentile must be in (0, 100]")
    if not values:
        return None
    ordered = sorted(values)
    rank = math.ceil(pct / 100 * len(ordered))
    return ordered[max(rank, 1) - 1]


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def percent(part: int, whole: int) -> float | None:
    """`part` of `whole` as a percentage (None when there is nothing to measure)."""
    return 100 * part / whole if whole else None


def business_days(calendar: BusinessCalendar, start: datetime, end: datetime) -> float:
    """Business time from `start` to `end` in business days (negative when `end` is earlier)."""
    return calendar.between(start, end) / calendar.day_length


def aging_bucket(age_days: float) -> str:
    """The bucket of an age in business days; the age counts completed business days (rounded down)."""
    whole = max(0, math.floor(age_days))
    for label, low, high in AGING_BUCKETS:
        if whole >= low and (high is None or whole <= high):
            return label
    raise AssertionError("unreachable: the last bucket is open-ended")  # pragma: no cover


def local_date(moment: datetime, calendar: BusinessCalendar) -> date:
    return moment.astimezone(calendar.tz).date()


def plan_status(closed_at: datetime | None, planned_finish: date | None, today: date,
                calendar: BusinessCalendar) -> str:
    """On time against the 60 day plan: closed → on time | late | no plan; open → on track | late | no plan."""
    if planned_finish is None:
        return NO_PLAN
    if closed_at is not None:
        return ON_TIME if local_date(closed_at, calendar) <= planned_finish else LATE
    return LATE if today > planned_finish else ON_TRACK


def miss_reason(created_at: datetime, planned_finish: date | None, sla_due_at: datetime | None, now: datetime,
                calendar: BusinessCalendar) -> str | None:
    """Why an open enhancement will miss the 60 day plan, or None when it is on track."""
    today = local_date(now, calendar)
    if planned_finish is None:
        waited = business_days(calendar, created_at, now)
        if waited >= NO_PLAN_LIMIT_DAYS:
            return f"no work plan after {waited:.0f} business days"
        return None
    if planned_finish < today:
        return f"planned finish {planned_finish:%b %d} has passed"
    if sla_due_at is not None and planned_finish > local_date(sla_due_at, calendar):
        return f"planned finish is after the target {local_date(sla_due_at, calendar):%b %d}"
    return None


def spread_hours(hours: float, start: date, finish: date, calendar: BusinessCalendar) -> dict[date, float]:
    """Planned effort spread evenly over the working days from `start` to `finish` (both included).

    A plan without a working day (a weekend, say) puts all its hours on its first day.
    """
    days = [start + timedelta(days=i) for i in range((finish - start).days + 1)]
    working = [d for d in days if calendar.is_working_day(d)] or [start]
    share = hours / len(working)
    return dict.fromkeys(working, share)


def fmt_days(value: float | None) -> str:
    """Business days with one decimal ("" when there is nothing to show)."""
    return "" if value is None else f"{value:.1f}"


def fmt_percent(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}%"
