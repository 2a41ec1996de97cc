"""Who may read the reports, which provider groups they see, and the report filters as typed in a page's form.

Reports are read by provider group managers and customer account representatives (for the groups in which they
hold that role) and by auditors, administrators and process owners (every group). Specialists and service
providers work from their inbox and the 60 day schedule instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain.business_calendar import CHICAGO
from app.domain.permissions import REPORT_READERS, Identity, sees_every_group
from app.domain.vocabulary import REQUEST_TYPES
from app.errors import FieldError, Forbidden, InvalidData
from app.store.models import ProviderGroup

DEFAULT_PERIOD_DAYS = 90
MAX_PERIOD_DAYS = 366 * 5


class BadFilter(InvalidData):
    """A report filter that cannot be understood: the page answers 400 and names the field."""

    status = 400


def may_read_reports(identity: Identity) -> bool:
    return identity.holds_any(REPORT_READERS)


def _all_groups(session: Session) -> dict[str, str]:
    return {g.code: g.name for g in session.scalars(select(ProviderGroup).order_by(ProviderGroup.code))}


def readable_groups(session: Session, identity: Identity) -> dict[str, str]:
    """Provider group code → name of the groups whose reports `identity` may read."""
    if not may_read_reports(identity):
        raise Forbidden("reports are for provider group managers, customer account representatives, auditors, "
                        "administrators and process owners")
    groups = _all_groups(session)
    if sees_every_group(identity):
        return groups
    mine = {g for role in REPORT_READERS for g in identity.groups_with(role)}
    return {code: name for code, name in groups.items() if code in mine}


def covered_groups(session: Session, visible: dict[str, str], group: str | None) -> dict[str, str]:
    """The groups a report covers: all visible ones, or the one asked for (unknown: 400; not visible: 403)."""
    if group is None:
        return visible
    if group not in _all_groups(session):
        raise BadFilter("unknown provider group", [FieldError("group", f"no provider group {group!r}")])
    if group not in visible:
        raise Forbidden(f"you read the reports of {', '.join(sorted(visible)) or 'no provider group'} only")
    return {group: visible[group]}


@dataclass(frozen=True)
class ReportFilters:
    since: date
    until: date
    group: str | None = None
    request_type: str | None = None

    @property
    def window(self) -> tuple[datetime, datetime]:
        """The period as UTC instants: from `since` 00:00 to the day after `until` 00:00, Oklahoma time."""
        lo = datetime.combine(self.since, time(0), tzinfo=CHICAGO).astimezone(UTC)
        hi = datetime.combine(self.until + timedelta(days=1), time(0), tzinfo=CHICAGO).astimezone(UTC)
        return lo, hi

    def contains(self, moment: datetime) -> bool:
        lo, hi = self.window
        return lo <= moment.astimezone(UTC) < hi

    def args(self) -> dict[str, str]:
        """The filters as query arguments (for links such as the CSV download)."""
        found = {"since": self.since.isoformat(), "until": self.until.isoformat()}
        if self.group:
            found["group"] = self.group
        if self.request_type:
            found["type"] = self.request_type
        return found


def _date(raw: str, name: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BadFilter(f"{name} is not a date", [FieldError(name, f"{raw!r} is not a date (YYYY-MM-DD)")]) from None


def parse_filters(today: date, since: str | None = None, until: str | None = None, group: str | None = None,
                  request_type: str | None = None) -> ReportFilters:
    """The filters of a report page; blank ones take their defaults (the last 90 days, every group and type)."""
    raw_since, raw_until = (since or "").strip(), (until or "").strip()
    stop = _date(raw_until, "until") if raw_until else today
    start = _date(raw_since, "since") if raw_since else stop - timedelta(days=DEFAULT_PERIOD_DAYS - 1)
    if stop < start:
        raise BadFilter("empty period", [FieldError("until", f"{stop} is before the start {start}")])
    if (stop - start).days > MAX_PERIOD_DAYS:
        raise BadFilter("period too long", [FieldError("since", f"a period covers at most {MAX_PERIOD_DAYS} days")])
    kind = (request_type or "").strip() or None
    if kind is not None and kind not in REQUEST_TYPES:
        raise BadFilter("unknown request type",
                        [FieldError("type", f"{kind!r}: use {' or '.join(REQUEST_TYPES)}")])
    return ReportFilters(start, stop, (group or "").strip() or None, kind)
