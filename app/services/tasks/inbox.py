"""The staff inbox: open tasks a user may see, filtered, sorted and paged, with counts per queue.

Reads only the `task` projection (and the request row for its type); it never loads a workflow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnExpressionArgument, and_, case, false, func, or_, select
from sqlalchemy.sql import ColumnElement

from app.domain.permissions import Identity, task_grants
from app.services.context import Context
from app.store.models import ServiceRequest, SlaEscalation, TaskRow

QUEUES = ("mine", "available", "groups")
SORTS = ("due", "priority", "newest", "request")
PRIORITY_RANK = case({"critical": 0, "high": 1, "medium": 2, "low": 3}, value=TaskRow.priority, else_=4)


@dataclass(frozen=True)
class InboxFilters:
    queue: str = "mine"
    group: str | None = None
    request_type: str | None = None
    priority: str | None = None
    overdue: bool = False
    sort: str = "due"
    page: int = 1
    per_page: int = 25


@dataclass
class InboxRow:
    id: str
    request_number: str
    request_id: int
    request_type: str
    title: str
    agency: str
    name: str
    lane: str | None
    provider_group: str
    assignee: str | None
    priority: str
    due_at: datetime | None
    overdue: bool
    created_at: datetime
    sla: str = ""  # "" | at_risk (75% of the target used) | breached | paused (waiting on the customer)


@dataclass
class InboxPage:
    rows: list[InboxRow]
    total: int
    page: int
    pages: int
    counts: dict[str, int] = field(default_factory=dict)
    groups: list[str] = field(default_factory=list)


def visible_to(identity: Identity) -> ColumnElement[bool]:
    """permissions.may_work_on as an SQL predicate: built from the same grants."""
    pairs = sorted(task_grants(identity))
    if not pairs:
        return false()
    return or_(*(and_(TaskRow.role_code == role, TaskRow.provider_group == group) for role, group in pairs))


def _queue(queue: str, username: str) -> ColumnElement[bool]:
    if queue == "mine":
        return TaskRow.assignee == username
    if queue == "available":
        return TaskRow.assignee.is_(None)
    return TaskRow.id.is_not(None)


def inbox(services: Context, identity: Identity, filters: InboxFilters) -> InboxPage:
    now = services.clock.now()
    me = identity.username
    base = [TaskRow.status == "open", visible_to(identity)]
    with services.uow() as uow:
        s = uow.session
        # one pass over the visible tasks for all four tab counts (was four queries)
        mine, available, in_groups, overdue = s.execute(select(
            func.count().filter(_queue("mine", me)), func.count().filter(_queue("available", me)), func.count(),
            func.count().filter(TaskRow.due_at < now, or_(TaskRow.assignee.is_(None), TaskRow.assignee == me)))
            .where(*base)).one()
        counts = {"mine": int(mine), "available": int(available), "groups": int(in_groups), "overdue": int(overdue)}
        where: list[Any] = [*base, _queue(filters.queue, me)]
        if filters.group:
            where.append(TaskRow.provider_group == filters.group)
        if filters.priority:
            where.append(TaskRow.priority == filters.priority)
        if filters.overdue:
            where.append(TaskRow.due_at < now)
        joined = ServiceRequest.id == TaskRow.request_id
        ids = select(TaskRow.id)
        if filters.request_type:  # join service_request only when filtering on it
            ids = ids.join(ServiceRequest, joined)
            where.append(ServiceRequest.request_type == filters.request_type)
        if filters.group or filters.priority or filters.overdue or filters.request_type:
            total = int(s.scalar(ids.with_only_columns(func.count()).where(*where)) or 0)
        else:
            total = counts[filters.queue]
        orders: dict[str, list[ColumnExpressionArgument[Any]]] = {
            "due": [TaskRow.due_at.asc(), PRIORITY_RANK, TaskRow.id],
            "priority": [PRIORITY_RANK, TaskRow.due_at.asc(), TaskRow.id],
            "newest": [TaskRow.created_at.desc(), TaskRow.id.desc()],
            "request": [TaskRow.request_number, TaskRow.id],
        }
        order = orders[filters.sort if filters.sort in SORTS else "due"]
        per_page = max(1, min(filters.per_page, 200))
        pages = max(1, -(-total // per_page))
        page = min(max(1, filters.page), pages)
        # sort and page narrow rows (ids, from the covering index), then load only the page's rows
        page_ids = list(s.scalars(ids.where(*where).order_by(*order).offset((page - 1) * per_page).limit(per_page)))
        found = s.execute(select(TaskRow, ServiceRequest.request_type, ServiceRequest.sla_breached_at,
                                 ServiceRequest.sla_paused_since).join(ServiceRequest, joined)
                          .where(TaskRow.id.in_(page_ids)).order_by(*order)).all() if page_ids else []
        warned = set(s.scalars(select(SlaEscalation.request_id).where(
            SlaEscalation.level == "warning", SlaEscalation.request_id.in_({t.request_id for t, *_ in found}))))
        rows = [InboxRow(t.task_uuid, t.request_number, t.request_id, rtype, t.request_title, t.agency, t.name, t.lane,
                         t.provider_group, t.assignee, t.priority, t.due_at,
                         bool(t.due_at and t.due_at < now and paused is None), t.created_at,
                         _sla_flag(breached, paused, t.request_id in warned))
                for t, rtype, breached, paused in found]
        groups = sorted({g for _, g in identity.grants if g})
        return InboxPage(rows=rows, total=total, page=page, pages=pages, counts=counts, groups=groups)


def _sla_flag(breached: datetime | None, paused: datetime | None, warned: bool) -> str:
    if paused is not None:
        return "paused"
    if breached is not None:
        return "breached"
    return "at_risk" if warned else ""
