"""Administration of the business calendar (holidays) and of the SLA targets; every change is checked and audited."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import icalendar
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain.business_calendar import CHICAGO, oklahoma_holidays
from app.domain.permissions import ADMINISTRATORS, Identity
from app.domain.vocabulary import PRIORITIES, REQUEST_TYPES
from app.errors import Conflict, FieldError, Forbidden, InvalidData, NotFound
from app.services.context import Context
from app.services.requests import sla_targets as sla
from app.store import audit
from app.store.models import SLA_UNITS, Holiday, HolidayYear, SlaTarget

ICS_MAX_BYTES = 256 * 1024
ICS_MAX_EVENTS = 500
MAX_EVENT_DAYS = 31
YEARS = range(2000, 2101)
MAX_AMOUNT = {"business_hours": 2000, "business_days": 250, "calendar_days": 365}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _require_admin(identity: Identity) -> None:
    if not identity.holds_any(ADMINISTRATORS):
        raise Forbidden("administrators only")


def _local_year(now: datetime) -> int:
    return now.astimezone(CHICAGO).year


# --- seeding (rf init) ---------------------------------------------------------------------------------------------


def _load_statutory(session: Session, year: int, actor: str, now: datetime) -> list[Holiday]:
    """Insert the statutory holidays of `year` (dates already present are kept) and remember the year as loaded."""
    existing = set(session.scalars(select(Holiday.day).where(Holiday.day >= date(year, 1, 1),
                                                             Holiday.day <= date(year, 12, 31))))
    added = [Holiday(day=h.day, name=h.name, source="statute", created_by=actor, created_at=now)
             for h in oklahoma_holidays(year) if h.day not in existing]
    session.add_all(added)
    session.add(HolidayYear(year=year, loaded_by=actor, loaded_at=now))
    session.flush()
    return added


def seed(session: Session, now: datetime, actor: str = "system") -> dict[str, Any]:
    """Statutory holidays of the clock's current and next year (each year once) and the default SLA targets."""
    loaded = set(session.scalars(select(HolidayYear.year)))
    holidays, years = 0, []
    for year in (_local_year(now), _local_year(now) + 1):
        if year not in loaded:
            holidays += len(_load_statutory(session, year, actor, now))
            years.append(year)
    present = {(t.request_type, t.priority) for t in session.scalars(select(SlaTarget))}
    targets = 0
    for request_type, by_priority in sla.DEFAULT_TARGETS.items():
        for priority, target in by_priority.items():
            if (request_type, priority) not in present:
                session.add(SlaTarget(request_type=request_type, priority=priority, amount=target.amount,
                                      unit=target.unit, updated_by=actor, updated_at=now))
                targets += 1
    session.flush()
    return {"holidays_added": holidays, "holiday_years_loaded": years, "sla_targets_added": targets}


# --- the page ------------------------------------------------------------------------------------------------------


def overview(services: Context, identity: Identity) -> dict[str, Any]:
    _require_admin(identity)
    now = services.clock.now()
    this_year = _local_year(now)
    with services.uow() as uow:
        s = uow.session
        holidays: list[dict[str, Any]] = [
            {"id": h.id, "day": h.day, "weekday": h.day.strftime("%A"), "name": h.name, "source": h.source,
             "created_by": h.created_by} for h in s.scalars(select(Holiday).order_by(Holiday.day))]
        loaded = sorted(s.scalars(select(HolidayYear.year)))
        rows = {(t.request_type, t.priority): sla.Target(t.amount, t.unit) for t in s.scalars(select(SlaTarget))}
        changed = {(t.request_type, t.priority): (t.updated_by, t.updated_at) for t in s.scalars(select(SlaTarget))}
        calendar = sla.load_calendar(s, since=now.date() - timedelta(days=1))
    by_year: dict[int, list[dict[str, Any]]] = {}
    for h in holidays:
        by_year.setdefault(h["day"].year, []).append(h)
    targets = []
    for request_type in REQUEST_TYPES:
        for priority in reversed(PRIORITIES):
            current = rows.get((request_type, priority)) or sla.DEFAULT_TARGETS[request_type][priority]
            updated_by, updated_at = changed.get((request_type, priority), (None, None))
            targets.append({"request_type": request_type, "priority": priority, "amount": current.amount,
                            "unit": current.unit, "text": str(current),
                            "default": str(sla.DEFAULT_TARGETS[request_type][priority]),
                            "updated_by": updated_by, "updated_at": updated_at,
                            "due_if_logged_now": current.due(now, calendar).astimezone(CHICAGO)})
    return {
        "holidays_by_year": sorted(by_year.items(), reverse=True), "loaded_years": loaded,
        "missing_years": [y for y in (this_year, this_year + 1) if y not in loaded], "this_year": this_year,
        "targets": targets, "units": [(u, sla.UNIT_LABELS[u]) for u in SLA_UNITS],
        "now": now.astimezone(CHICAGO), "working_hours": f"{calendar.day_start:%H:%M}–{calendar.day_end:%H:%M}",
        "day_start": f"{calendar.day_start:%H:%M}", "day_end": f"{calendar.day_end:%H:%M}",
        "working_days": [WEEKDAY_NAMES[d] for d in sorted(calendar.workdays)],
        "time_zone": str(calendar.tz), "ics_max_kib": ICS_MAX_BYTES // 1024,
    }


# --- holidays ------------------------------------------------------------------------------------------------------


def _clean_name(name: str, field: str = "name") -> str:
    cleaned = " ".join(_CONTROL.sub(" ", name or "").split())
    if not 2 <= len(cleaned) <= 200:
        raise InvalidData("the holiday was not saved",
                          [FieldError(field, "give the holiday a name (2-200 characters)")])
    return cleaned


def _parse_day(text: str) -> date:
    try:
        day = date.fromisoformat((text or "").strip())
    except ValueError:
        raise InvalidData("the holiday was not saved",
                          [FieldError("day", f"{text!r} is not a date (YYYY-MM-DD)")]) from None
    if day.year not in YEARS:
        raise InvalidData("the holiday was not saved", [FieldError("day", f"{day} is outside {YEARS[0]}-{YEARS[-1]}")])
    if day.weekday() >= 5:
        raise InvalidData("the holiday was not saved",
                          [FieldError("day", f"{day} is a {day:%A}: weekends are never working days anyway")])
    return day


@dataclass(frozen=True)
class HolidayView:
    id: int
    day: date
    name: str
    source: str


def add_holiday(services: Context, identity: Identity, day_text: str, name: str) -> HolidayView:
    _require_admin(identity)
    day, cleaned = _parse_day(day_text), _clean_name(name)
    now = services.clock.now()
    with services.uow() as uow:
        s = uow.session
        existing = s.scalars(select(Holiday).where(Holiday.day == day)).one_or_none()
        if existing is not None:
            raise Conflict(f"{day} is already a holiday ({existing.name})")
        holiday = Holiday(day=day, name=cleaned, source="manual", created_by=identity.username, created_at=now)
        s.add(holiday)
        audit.append(s, actor=identity.username, event_type="holiday_added", now=now,
                     payload={"day": day.isoformat(), "name": cleaned, "source": "manual"})
        view = HolidayView(holiday.id, day, cleaned, "manual")
        uow.commit()
        return view


def remove_holiday(services: Context, identity: Identity, holiday_id: int) -> HolidayView:
    _require_admin(identity)
    now = services.clock.now()
    with services.uow() as uow:
        s = uow.session
        holiday = s.get(Holiday, holiday_id)
        if holiday is None:
            raise NotFound(f"no holiday {holiday_id}")
        view = HolidayView(holiday.id, holiday.day, holiday.name, holiday.source)
        s.delete(holiday)
        audit.append(s, actor=identity.username, event_type="holiday_removed", now=now,
                     payload={"day": view.day.isoformat(), "name": view.name, "source": view.source})
        uow.commit()
        return view


def load_year(services: Context, identity: Identity, year_text: str) -> int:
    """Load the statutory holidays of a year that was never loaded; returns how many dates were added."""
    _require_admin(identity)
    try:
        year = int(str(year_text).strip())
    except ValueError:
        raise InvalidData("no holidays were loaded", [FieldError("year", f"{year_text!r} is not a year")]) from None
    if year not in YEARS:
        raise InvalidData("no holidays were loaded", [FieldError("year", f"use a year {YEARS[0]}-{YEARS[-1]}")])
    now = services.clock.now()
    with services.uow() as uow:
        s = uow.session
        if s.get(HolidayYear, year) is not None:
            raise Conflict(f"the statutory holidays of {year} were loaded before; add or remove single dates instead")
        added = _load_statutory(s, year, identity.username, now)
        audit.append(s, actor=identity.username, event_type="holidays_loaded", now=now,
                     payload={"year": year, "source": "statute",
                              "holidays": [{"day": h.day.isoformat(), "name": h.name} for h in added]})
        uow.commit()
        return len(added)


@dataclass(frozen=True)
class IcsHoliday:
    day: date
    name: str


def _ics_date(value: Any, what: str, summary: str) -> date:
    if isinstance(value, datetime) or not isinstance(value, date):
        raise InvalidData("the calendar file was not imported",
                          [FieldError(what, f"event {summary!r} has a time: only all-day events (DATE values) "
                                            "can be holidays")])
    return value


def parse_ics(content: bytes) -> tuple[list[IcsHoliday], int]:
    """All-day events of an iCalendar file as dated holidays, and how many cancelled events were skipped.

    Refuses the whole file, naming the first problem, when it is too large, not iCalendar, has a broken line or
    property, a recurring or timed event, an event longer than MAX_EVENT_DAYS or too many events.
    """

    def refuse(message: str, field: str = "file") -> InvalidData:
        return InvalidData("the calendar file was not imported", [FieldError(field, message)])

    if not content.strip():
        raise refuse("the file is empty")
    if len(content) > ICS_MAX_BYTES:
        raise refuse(f"the file is larger than {ICS_MAX_BYTES // 1024} KiB")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise refuse("the file is not UTF-8 text") from None
    try:
        parsed = icalendar.Calendar.from_ical(text)
    except Exception as err:  # the parser raises ValueError and others on broken input; none may escape
        raise refuse(f"not a valid iCalendar (.ics) file: {str(err)[:200]}") from None
    if not isinstance(parsed, icalendar.Calendar) or parsed.name != "VCALENDAR":
        raise refuse("not an iCalendar file: it must start with BEGIN:VCALENDAR")
    for component in parsed.walk():
        for prop, message in component.errors:
            raise refuse(f"broken {component.name} {prop or 'line'}: {str(message)[:200]}")
    events = list(parsed.walk("VEVENT"))
    if not events:
        raise refuse("the file has no events (VEVENT)")
    if len(events) > ICS_MAX_EVENTS:
        raise refuse(f"the file has {len(events)} events; at most {ICS_MAX_EVENTS} are imported at once")
    found: dict[date, IcsHoliday] = {}
    cancelled = 0
    for event in events:
        summary = " ".join(_CONTROL.sub(" ", str(event.get("SUMMARY") or "")).split())[:200] or "Holiday"
        if str(event.get("STATUS") or "").upper() == "CANCELLED":
            cancelled += 1
            continue
        if event.get("RRULE") is not None or event.get("RDATE") is not None:
            raise refuse(f"event {summary!r} repeats (RRULE/RDATE): list each holiday as its own event")
        if event.get("DTSTART") is None:
            raise refuse(f"event {summary!r} has no DTSTART")
        first = _ics_date(event.decoded("DTSTART"), "file", summary)
        if event.get("DTEND") is not None:
            end = _ics_date(event.decoded("DTEND"), "file", summary)
        elif event.get("DURATION") is not None:
            length = event.decoded("DURATION")
            if not isinstance(length, timedelta) or length.seconds or length.microseconds:
                raise refuse(f"event {summary!r} lasts {length}: only whole days can be holidays")
            end = first + length
        else:
            end = first + timedelta(days=1)
        days = (end - first).days
        if days < 1 or days > MAX_EVENT_DAYS:
            raise refuse(f"event {summary!r} covers {days} days (from {first}); a holiday covers 1-{MAX_EVENT_DAYS}")
        for offset in range(days):
            day = first + timedelta(days=offset)
            if day.year not in YEARS:
                raise refuse(f"event {summary!r} is on {day}, outside {YEARS[0]}-{YEARS[-1]}")
            found.setdefault(day, IcsHoliday(day, summary))
    return sorted(found.values(), key=lambda h: h.day), cancelled


@dataclass(frozen=True)
class ImportResult:
    added: list[IcsHoliday]
    already_present: list[date]
    weekend: list[date]
    cancelled: int


def import_ics(services: Context, identity: Identity, content: bytes, filename: str = "") -> ImportResult:
    """Add every weekday date of the file that is not a holiday yet, in one transaction (all or nothing)."""
    _require_admin(identity)
    holidays, cancelled = parse_ics(content)
    now = services.clock.now()
    with services.uow() as uow:
        s = uow.session
        existing = set(s.scalars(select(Holiday.day).where(Holiday.day.in_([h.day for h in holidays]))))
        weekend = [h.day for h in holidays if h.day.weekday() >= 5]
        present = [h.day for h in holidays if h.day in existing]
        added = [h for h in holidays if h.day.weekday() < 5 and h.day not in existing]
        s.add_all(Holiday(day=h.day, name=h.name, source="ics", created_by=identity.username, created_at=now)
                  for h in added)
        audit.append(s, actor=identity.username, event_type="holidays_imported", now=now,
                     payload={"file": _CONTROL.sub("", filename)[:200], "bytes": len(content),
                              "added": [{"day": h.day.isoformat(), "name": h.name} for h in added],
                              "already_present": [d.isoformat() for d in present],
                              "weekend_skipped": [d.isoformat() for d in weekend], "cancelled_skipped": cancelled})
        uow.commit()
    return ImportResult(added, present, weekend, cancelled)


# --- SLA targets ---------------------------------------------------------------------------------------------------


def set_targets(services: Context, identity: Identity, form: dict[str, str]) -> list[dict[str, Any]]:
    """Save the target table from fields `amount-TYPE-PRIORITY` and `unit-TYPE-PRIORITY`; only changes are written
    (each one audited), and nothing is written when any field is wrong. Existing requests keep their due dates."""
    _require_admin(identity)
    wanted: dict[tuple[str, str], sla.Target] = {}
    errors: list[FieldError] = []
    for request_type in REQUEST_TYPES:
        for priority in PRIORITIES:
            key = f"{request_type}-{priority}"
            amount_text, unit = form.get(f"amount-{key}"), form.get(f"unit-{key}")
            if amount_text is None and unit is None:
                continue
            if unit not in SLA_UNITS:
                errors.append(FieldError(f"unit-{key}", f"choose one of {', '.join(SLA_UNITS)}"))
                continue
            try:
                amount = int((amount_text or "").strip())
            except ValueError:
                errors.append(FieldError(f"amount-{key}", f"{amount_text!r} is not a whole number"))
                continue
            if not 1 <= amount <= MAX_AMOUNT[unit]:
                errors.append(FieldError(f"amount-{key}", f"use 1-{MAX_AMOUNT[unit]} {sla.UNIT_LABELS[unit]}"))
                continue
            wanted[(request_type, priority)] = sla.Target(amount, unit)
    if errors:
        raise InvalidData("the SLA targets were not saved", errors)
    if not wanted:
        raise InvalidData("the SLA targets were not saved", [FieldError("targets", "no targets were sent")])
    now = services.clock.now()
    changes = []
    with services.uow() as uow:
        s = uow.session
        rows = {(t.request_type, t.priority): t for t in s.scalars(select(SlaTarget))}
        for (request_type, priority), target in wanted.items():
            row = rows.get((request_type, priority))
            before = sla.Target(row.amount, row.unit) if row else sla.DEFAULT_TARGETS[request_type][priority]
            if before == target:
                continue
            if row is None:
                row = SlaTarget(request_type=request_type, priority=priority)
                s.add(row)
            row.amount, row.unit, row.updated_by, row.updated_at = target.amount, target.unit, identity.username, now
            change = {"request_type": request_type, "priority": priority, "before": str(before), "after": str(target)}
            audit.append(s, actor=identity.username, event_type="sla_target_changed", now=now, payload=change)
            changes.append(change)
        uow.commit()
    return changes
