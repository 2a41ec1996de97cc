"""The provider groups' rolling 60 day schedule of enhancement requests.

Planned start, planned finish and estimated hours come from the work plan step, as recorded on the work list.
Each request is measured against its plan (see :func:`app.domain.measures.plan_status`), and the weekly load
spreads each open request's estimated hours evenly over the working days of its plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import select

from app.domain.business_calendar import BusinessCalendar
from app.domain.measures import LATE, local_date, miss_reason, plan_status, spread_hours
from app.domain.permissions import (
    Identity,
    may_cancel_scheduled,
    may_plan_schedule,
    may_pull_scheduled,
    sees_every_group,
)
from app.errors import FieldError, Forbidden
from app.services.context import Context
from app.services.reports.filters import BadFilter
from app.services.reports.tables import Chart
from app.services.requests import sla_targets as sla
from app.store.models import ProviderGroup, ServiceJob, ServiceRequest, TaskRow, WorkListEntry

WINDOW_DAYS = 60


@dataclass
class ScheduleRow:
    number: str
    title: str
    agency: str
    group: str
    priority: str
    status: str
    stage: str
    planned_start: date | None
    planned_finish: date | None
    estimated_hours: float | None
    target: date | None
    offset_days: int
    span_days: int
    plan: str  # on time | late (closed); on track | late | no plan (open)
    miss: str | None  # why an open request will miss the plan
    incident: int | None = None  # the job of a service task that failed its last retry: the request is stopped

    @property
    def late(self) -> bool:
        return self.plan == LATE


@dataclass
class WeekLoad:
    start: date
    end: date
    requests: dict[str, int] = field(default_factory=dict)  # group → open requests planned in the week
    days: dict[str, float] = field(default_factory=dict)  # group → planned business days of work


@dataclass
class QueuedRequest:
    """A scheduled enhancement request waiting to be pulled, with what the viewer may do with it."""

    number: str
    title: str
    agency: str
    group: str
    priority: str
    planned_week: date
    may_pull: bool
    may_replan: bool
    may_cancel: bool = False  # the group's managers cancel it (with a reason)


@dataclass
class QueueWeek:
    start: date  # the Monday
    this_week: bool
    overdue: bool  # a week that has passed with requests still waiting
    requests: list[QueuedRequest]

    @property
    def sunday(self) -> date:
        return self.start + timedelta(days=6)


@dataclass
class Schedule:
    start: date
    days: int
    groups: list[str]  # the groups shown
    group: str | None  # the group filter
    visible: list[str]  # every group the user may see
    rows: list[ScheduleRow]
    weeks: list[WeekLoad]
    chart: Chart
    queue: list[QueueWeek] = field(default_factory=list)  # scheduled requests by planned week, earliest first
    this_week: date | None = None

    @property
    def flagged(self) -> list[ScheduleRow]:
        return [r for r in self.rows if r.miss]


def _groups(services: Context, identity: Identity, group: str | None) -> tuple[list[str], list[str]]:
    with services.uow() as uow:
        known = list(uow.session.scalars(select(ProviderGroup.code).order_by(ProviderGroup.code)))
    mine = known if sees_every_group(identity) else sorted({g for _, g in identity.grants if g})
    if group is None:
        return mine, mine
    if group not in known:
        raise BadFilter("unknown provider group", [FieldError("group", f"no provider group {group!r}")])
    if group not in mine:
        raise Forbidden(f"you see the schedule of {', '.join(mine) or 'no provider group'} only")
    return [group], mine


def schedule(services: Context, identity: Identity, now: datetime, group: str | None = None,
             days: int = WINDOW_DAYS) -> Schedule:
    """Enhancement requests of the user's groups (every group for auditors, admins and process owners)."""
    groups, visible = _groups(services, identity, group)
    with services.uow() as uow:
        s = uow.session
        calendar = sla.load_calendar(s)
        start = local_date(now, calendar)
        end = start + timedelta(days=days - 1)
        query = (select(ServiceRequest).join(ServiceRequest.provider_group)
                 .where(ServiceRequest.request_type == "enhancement", ProviderGroup.code.in_(groups)))
        found = list(s.scalars(query))
        requests = [r for r in found if r.status != "scheduled"]
        this_week = start - timedelta(days=start.weekday())
        queue = _queue(identity, [r for r in found if r.status == "scheduled"], this_week)
        numbers = [r.number for r in requests if r.number]
        entries = {e.request_number: e for e in s.scalars(
            select(WorkListEntry).where(WorkListEntry.request_number.in_(numbers)))}
        stages: dict[int, list[str]] = {}
        for task in s.scalars(select(TaskRow).where(TaskRow.status == "open",
                                                    TaskRow.request_id.in_([r.id for r in requests]))):
            stages.setdefault(task.request_id, []).append(task.name)
        incidents = {job.request_id: job for job in s.scalars(select(ServiceJob).where(
            ServiceJob.status == "incident", ServiceJob.request_id.in_([r.id for r in requests])))}
        rows: list[ScheduleRow] = []
        for r in requests:
            entry = entries.get(r.number or "")
            ps, pf = (entry.planned_start, entry.planned_finish) if entry else (None, None)
            if r.status == "cancelled" or (r.status == "closed" and not (ps and pf and ps <= end and pf >= start)):
                continue  # closed work is shown only while its plan is in the window
            closed_at = r.closed_at if r.status == "closed" else None
            rows.append(ScheduleRow(
                number=r.number or "", title=r.title, agency=r.agency, group=r.provider_group.code,
                priority=r.priority, status=r.status,
                stage="closed" if r.status == "closed" else (
                    f"incident at {incidents[r.id].bpmn_id}" if r.id in incidents
                    else ", ".join(sorted(stages.get(r.id, []))) or "in the worker"),
                planned_start=ps, planned_finish=pf,
                estimated_hours=float(entry.estimated_hours) if entry else None,
                target=local_date(r.sla_due_at, calendar) if r.sla_due_at else None,
                offset_days=max(0, (ps - start).days) if ps else 0,
                span_days=max(1, (min(pf, end) - max(ps, start)).days + 1) if ps and pf and pf >= start else 0,
                plan=plan_status(closed_at, pf, start, calendar),
                miss=None if closed_at else miss_reason(r.created_at, pf, r.sla_due_at, now, calendar),
                incident=incidents[r.id].id if r.id in incidents else None))
        rows.sort(key=lambda row: (row.planned_start or end + timedelta(days=1), row.number))
        weeks = _weeks(rows, start, end, groups, calendar)
    return Schedule(start, days, groups, group, visible, rows, weeks, _chart(weeks, groups, calendar.day_length),
                    queue, this_week)


def _queue(identity: Identity, scheduled: list[ServiceRequest], this_week: date) -> list[QueueWeek]:
    by_week: dict[date, list[QueuedRequest]] = {}
    for r in sorted(scheduled, key=lambda r: (r.planned_week or this_week, r.number or "")):
        week = r.planned_week or this_week
        group = r.provider_group.code
        by_week.setdefault(week, []).append(QueuedRequest(
            r.number or "", r.title, r.agency, group, r.priority, week,
            may_pull=may_plan_schedule(identity, group) and may_pull_scheduled(identity, group, week, this_week),
            may_replan=may_plan_schedule(identity, group), may_cancel=may_cancel_scheduled(identity, group)))
    return [QueueWeek(week, week == this_week, week < this_week, rows) for week, rows in by_week.items()]


def _weeks(rows: list[ScheduleRow], start: date, end: date, groups: list[str],
           calendar: BusinessCalendar) -> list[WeekLoad]:
    weeks = []
    day = start
    while day <= end:
        weeks.append(WeekLoad(day, min(day + timedelta(days=6), end), dict.fromkeys(groups, 0),
                              dict.fromkeys(groups, 0.0)))
        day += timedelta(days=7)
    hours_per_day = calendar.day_length.total_seconds() / 3600
    for row in rows:
        if row.status == "closed" or not (row.planned_start and row.planned_finish):
            continue
        spread = spread_hours(row.estimated_hours or 0.0, row.planned_start, row.planned_finish, calendar)
        for week in weeks:
            if row.planned_start <= week.end and row.planned_finish >= week.start:
                week.requests[row.group] += 1
                hours = sum(h for d, h in spread.items() if week.start <= d <= week.end)
                week.days[row.group] += hours / hours_per_day
    for week in weeks:
        week.days = {g: round(v, 1) for g, v in week.days.items()}
    return weeks


def _chart(weeks: list[WeekLoad], groups: list[str], day_length: timedelta) -> Chart:
    hours = day_length.total_seconds() / 3600
    return Chart(
        "Planned work per week",
        f"Business days of planned work ({hours:.0f} hours each) per provider group, week by week over the "
        "next 60 days, from the estimates of open enhancement requests.",
        [f"{w.start:%b %d}" for w in weeks], [(g, [w.days[g] for w in weeks]) for g in groups], "business days")
