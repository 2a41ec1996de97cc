"""Times as people read them: the one place that turns a stored instant into the words a page or an email shows.

Storage, the REST API, CSV and XES keep ISO 8601 instants in UTC (machines read those); people read local time. The
installation has a zone (`RF_TIME_ZONE`, default America/Chicago: the Oklahoma clock) and each user may choose their
own (the Preferences page). Everything a person reads is written here, in one of two shapes:

* a moment: ``Tue 3 Dec 2026, 11:07 CST`` (weekday, day, month, year, 24-hour time, the zone's abbreviation, which
  also says whether daylight saving time is in force: CST or CDT); never seconds or microseconds;
* a date: ``3 Dec 2026`` (a date is a date: it has no zone and is never shifted).

A stored instant without an offset is UTC (SQLite keeps none): it is never read as the machine's local time.

Timers that name a date (the service-live wait) fire at the start of the business day of that date in the
installation's zone (`business_start`), not at midnight UTC, which is the evening before in Oklahoma.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

DEFAULT_ZONE = "America/Chicago"
BUSINESS_DAY_START = time(8)  # the business calendar's working day starts at 08:00 local
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")  # English whatever the process locale
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_ZONE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*")


class UnknownTimeZone(ValueError):
    """A name that is not an IANA time zone (America/Chicago, Europe/Berlin, UTC…)."""


@lru_cache(maxsize=1)
def _known() -> frozenset[str]:
    """IANA names; never the machine's own `localtime` (a different zone on every server) or tzdata's helpers."""
    return frozenset(available_timezones()) - {"localtime", "posixrules", "Factory"}


def zone_names() -> list[str]:
    """Every IANA zone name this installation knows (from the tzdata package, so the same on every machine)."""
    return sorted(_known())


def zone(name: str) -> ZoneInfo:
    """The zone called `name`, else UnknownTimeZone saying what a valid name looks like."""
    cleaned = name.strip()
    if not cleaned or len(cleaned) > 64 or not _ZONE_NAME.fullmatch(cleaned) or cleaned not in _known():
        raise UnknownTimeZone(f"{name[:80]!r} is not an IANA time zone name such as America/Chicago or Europe/Berlin")
    try:
        return _load(cleaned)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise UnknownTimeZone(f"the time zone {cleaned!r} cannot be loaded") from None


@lru_cache(maxsize=64)
def _load(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def instant(value: datetime | str | None) -> datetime | None:
    """A stored time as an aware UTC instant: a datetime (naive means UTC) or an ISO 8601 string; None for none."""
    if value is None or value == "":
        return None
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    if when.tzinfo is None or when.utcoffset() is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


def moment(value: datetime | str | None, where: tzinfo, *, year: bool = True) -> str:
    """``Tue 3 Dec 2026, 11:07 CST``: an instant in the reader's zone (``year=False`` for crowded columns)."""
    when = instant(value)
    if when is None:
        return ""
    local = when.astimezone(where)
    day_part = f"{_WEEKDAYS[local.weekday()]} {local.day} {_MONTHS[local.month - 1]}"
    if year:
        day_part += f" {local.year}"
    return f"{day_part}, {local:%H:%M} {local.tzname()}"


def calendar_date(value: date | datetime | str | None, where: tzinfo | None = None) -> str:
    """``3 Dec 2026``. A date stays as it is; an instant becomes the date it is in `where` (required then)."""
    if value is None or value == "":
        return ""
    parsed = (date.fromisoformat(value) if len(value) == 10 else instant(value)) if isinstance(value, str) else value
    found: date | datetime | None = parsed
    if isinstance(found, datetime):
        if where is None:
            raise ValueError("an instant needs a zone to become a date")
        found = found.astimezone(where).date()
    if found is None:
        return ""
    return f"{found.day} {_MONTHS[found.month - 1]} {found.year}"


def iso_utc(value: datetime | str | None) -> str:
    """The exact instant for machines (`<time datetime>`): ISO 8601 in UTC, whole seconds, ``Z``."""
    when = instant(value)
    if when is None:
        return ""
    return when.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def business_start(day: date, where: tzinfo, start: time = BUSINESS_DAY_START) -> datetime:
    """The moment (UTC) a local date's business day starts: what a timer that names only a date waits for.
    Built from the local wall-clock time, so 08:00 stays 08:00 across daylight saving changes."""
    return datetime.combine(day, start, tzinfo=where).astimezone(UTC)


def local_wall_time(value: datetime, where: tzinfo) -> datetime:
    """A date and time written without an offset (``2026-12-10T09:30``) read as wall-clock time in `where`.
    A time skipped by a spring-forward change moves on by the gap; an hour repeated in autumn is its first pass."""
    # zoneinfo's fold=0 reads a skipped time with the offset before the change (so 02:30 becomes 03:30 daylight
    # time) and a repeated time as its first pass (PEP 495)
    return value.replace(tzinfo=where, fold=0).astimezone(UTC)
