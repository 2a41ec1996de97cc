"""A list of requests for a reader: search, filters and keyset (cursor) pagination, newest first.

Need-to-know applies through `queries.readable`, the one rule the pages use. The cursor is opaque to clients: the id
of the last request of the previous page, so a page stays stable while new requests arrive.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import or_, select

from app.domain.permissions import Reader
from app.errors import FieldError, InvalidData
from app.services.context import Context
from app.services.requests.queries import readable
from app.store.models import ProviderGroup, ServiceRequest

LIMIT_MAX = 200
_SEARCHED = (ServiceRequest.number, ServiceRequest.title, ServiceRequest.description, ServiceRequest.agency,
             ServiceRequest.requester_name, ServiceRequest.requester_email, ServiceRequest.crm_case_id)


@dataclass(frozen=True)
class RequestFilters:
    q: str | None = None
    group: str | None = None
    request_type: str | None = None
    status: str | None = None
    priority: str | None = None
    created_from: date | None = None
    created_to: date | None = None
    cursor: str | None = None
    limit: int = 50


@dataclass(frozen=True)
class RequestList:
    items: list[dict[str, Any]]
    next_cursor: str | None


def _cursor(value: str) -> int:
    if not value.isdigit() or len(value) > 12:
        raise InvalidData("bad cursor", [FieldError("cursor", "use the next_cursor of the previous page")])
    return int(value)


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def summary(request: ServiceRequest, group: str) -> dict[str, Any]:
    return {"id": request.id, "number": request.number, "type": request.request_type, "title": request.title,
            "agency": request.agency, "requester": request.requester_name, "provider_group": group,
            "priority": request.priority, "status": request.status, "crm_case_id": request.crm_case_id,
            "created_at": request.created_at, "closed_at": request.closed_at, "sla_due_at": request.sla_due_at,
            "sla_breached_at": request.sla_breached_at}


def list_requests(services: Context, reader: Reader, filters: RequestFilters) -> RequestList:
    limit = max(1, min(filters.limit, LIMIT_MAX))
    where: list[Any] = readable(reader)
    if filters.q and filters.q.strip():
        pattern = _like(filters.q.strip())
        where.append(or_(*(column.ilike(pattern, escape="\\") for column in _SEARCHED)))
    if filters.group:
        where.append(ProviderGroup.code == filters.group)
    if filters.request_type:
        where.append(ServiceRequest.request_type == filters.request_type)
    if filters.status:
        where.append(ServiceRequest.status == filters.status)
    if filters.priority:
        where.append(ServiceRequest.priority == filters.priority)
    if filters.created_from:
        where.append(ServiceRequest.created_at >= _start(filters.created_from))
    if filters.created_to:
        where.append(ServiceRequest.created_at < _start(filters.created_to) + timedelta(days=1))
    if filters.cursor:
        where.append(ServiceRequest.id < _cursor(filters.cursor))
    with services.uow() as uow:
        rows = uow.session.execute(
            select(ServiceRequest, ProviderGroup.code).join(ProviderGroup, ProviderGroup.id ==
                                                            ServiceRequest.provider_group_id)
            .where(*where).order_by(ServiceRequest.id.desc()).limit(limit + 1)).all()
        items = [summary(request, group) for request, group in rows[:limit]]
    more = len(rows) > limit
    return RequestList(items, str(items[-1]["id"]) if more and items else None)
