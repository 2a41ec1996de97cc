"""SLA targets per request type and priority, measured on the business calendar kept in the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from app.domain.business_calendar import BusinessCalendar, oklahoma_holidays
from app.store import reference_cache
from app.store.db import table_of
from app.store.models import SLA_UNITS, Holiday, SlaTarget

UNIT_LABELS = {"business_hours": "business hours", "business_days": "business days", "calendar_days": "calendar days"}


@dataclass(frozen=True)
class Target:
    amount: int
    unit: str  # one of SLA_UNITS

    def __post_init__(self) -> None:
        if self.unit not in SLA_UNITS:
            raise ValueError(f"unknown SLA unit {self.unit!r}")

    def __str__(self) -> str:
        label = UNIT_LABELS[self.unit]
        return f"{self.amount} {label[:-1] if self.amount == 1 else label}"

    def due(self, start: datetime, calendar: BusinessCalendar) -> datetime:
        if self.unit == "calendar_days":
            return start + timedelta(days=self.amount)
        hours = timedelta(hours=self.amount) if self.unit == "business_hours" else calendar.business_days(self.amount)
        return calendar.add(start, hours)


# The agreed defaults, seeded by `rf init` and used for any pair missing from the table. Enhancements follow the
# 60 day plan: 60 calendar days are about 40 business days (30 and 45 calendar days for critical and high: 20, 30).
DEFAULT_TARGETS: dict[str, dict[str, Target]] = {
    "assistance": {"critical": Target(4, "business_hours"), "high": Target(1, "business_days"),
                   "medium": Target(3, "business_days"), "low": Target(5, "business_days")},
    "enhancement": {"critical": Target(20, "business_days"), "high": Target(30, "business_days"),
                    "medium": Target(40, "business_days"), "low": Target(40, "business_days")},
}


_HOLIDAYS = table_of(Holiday)
_ALL_HOLIDAYS = select(_HOLIDAYS.c.day)
_HOLIDAYS_SINCE = select(_HOLIDAYS.c.day).where(_HOLIDAYS.c.day >= bindparam("since"))


def load_calendar(session: Session, since: date | None = None) -> BusinessCalendar:
    """The business calendar with the holiday table (from `since` on, when given: earlier dates never matter).
    Reference data: read once per process, reference generation and `since`."""
    def load() -> BusinessCalendar:
        days = session.connection().execute(_ALL_HOLIDAYS if since is None else _HOLIDAYS_SINCE, {"since": since})
        return BusinessCalendar(holidays=frozenset(day for (day,) in days))

    return reference_cache.cached(session, "calendar", since, load)


def target(session: Session, request_type: str, priority: str) -> Target:
    def load() -> Target:
        row = session.execute(select(SlaTarget.amount, SlaTarget.unit).where(
            SlaTarget.request_type == request_type, SlaTarget.priority == priority)).one_or_none()
        return Target(row.amount, row.unit) if row is not None else DEFAULT_TARGETS[request_type][priority]

    return reference_cache.cached(session, "sla_target", (request_type, priority), load)


def due_at(session: Session, request_type: str, priority: str, start: datetime) -> datetime:
    calendar = load_calendar(session, since=start.date() - timedelta(days=1))
    return target(session, request_type, priority).due(start, calendar)


def statutory_calendar(years: range) -> BusinessCalendar:
    """A calendar with the statutory Oklahoma holidays of `years` (for tools that have no database at hand)."""
    return BusinessCalendar(holidays=frozenset(h.day for y in years for h in oklahoma_holidays(y)))


def default_due(request_type: str, priority: str, start: datetime) -> datetime:
    calendar = statutory_calendar(range(start.year - 1, start.year + 3))
    return DEFAULT_TARGETS[request_type][priority].due(start, calendar)
