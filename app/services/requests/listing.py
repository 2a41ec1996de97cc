"""A list of requests for a reader: full-text search, filters, sorting and paging.

Need-to-know applies through `queries.readable`, the one rule the pages use. `q` is searched in the request search
index (`app.store.search_index`: number, title, description, agency, requester, CRM case and staff notes) as word
prefixes, all required; a request number typed exactly (`RF-000123`, `123`) is found whatever else matches and
comes first by relevance.

Two ways to page: the REST API's opaque cursor (the id of the last request of the previous page, newest first, so a
page stays stable while new requests arrive), and numbered pages (offset) for the Requests page, which needs a total
("Showing 51–100 of 1,234") and other sort orders; every order ends on the id, so pages never overlap or skip.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, and_, case, func, literal, not_, select
from sqlalchemy.orm import Session

from app.domain.permissions import Reader, readable_groups
from app.domain.search_terms import request_number, terms
from app.errors import FieldError, InvalidData
from app.services.context import Context
from app.services.requests.queries import readable
from app.store import search_index
from app.store.models import ProviderGroup, ServiceRequest, SlaEscalation

LIMIT_MAX = 200
STATUSES = ("scheduled", "open", "closed", "cancelled")
SORTS = ("relevance", "newest", "oldest", "due", "priority")
SLA_STATES = ("on_time", "warning", "breached", "paused")
PRIORITY_RANK = case({"critical": 0, "high": 1, "medium": 2, "low": 3}, value=ServiceRequest.priority, else_=4)


@dataclass(frozen=True)
class RequestFilters:
    q: str | None = None
    group: str | None = None
    request_type: str | None = None
    status: str | None = None
    priority: str | None = None
    sla: str | None = None  # on_time | warning (75% of the target used) | breached | paused (waiting on the customer)
    created_from: date | None = None
    created_to: date | None = None
    closed_from: date | None = None
    closed_to: date | None = None
    sort: str | None = None  # None: newest first (relevance must be asked for)
    cursor: str | None = None  # keyset paging, newest first only
    page: int | None = None  # numbered pages (counts the total)
    limit: int = 50


@dataclass(frozen=True)
class RequestList:
    items: list[dict[str, Any]]
    next_cursor: str | None
    total: int | None = None  # counted for numbered pages only
    page: int = 1
    pages: int = 1
    offset: int = 0


def _cursor(value: str) -> int:
    if not value.isdigit() or len(value) > 12:
        raise InvalidData("bad cursor", [FieldError("cursor", "use the next_cursor of the previous page")])
    return int(value)


def _start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _check(filters: RequestFilters) -> None:
    errors = [FieldError(name, f"{value!r}: use one of {', '.join(allowed)}") for name, value, allowed in (
        ("status", filters.status, STATUSES), ("sort", filters.sort, SORTS), ("sla", filters.sla, SLA_STATES))
        if value and value not in allowed]
    for name, first, last in (("created", filters.created_from, filters.created_to),
                              ("closed", filters.closed_from, filters.closed_to)):
        if first and last and first > last:
            errors.append(FieldError(f"{name}_to", f"{last.isoformat()} is before {name}_from {first.isoformat()}"))
    if filters.cursor and (filters.sort or "newest") != "newest":
        errors.append(FieldError("cursor", "a cursor pages the newest-first order only; use page for other orders"))
    if errors:
        raise InvalidData("bad filter", errors)


def sla_state(request: ServiceRequest, warned: bool) -> str:
    if request.sla_paused_since is not None and request.status == "open":
        return "paused"
    if request.sla_breached_at is not None:
        return "breached"
    return "warning" if warned else "on_time"


def summary(request: ServiceRequest, group: str, warned: bool = False) -> dict[str, Any]:
    return {"id": request.id, "number": request.number, "type": request.request_type, "title": request.title,
            "agency": request.agency, "requester": request.requester_name, "provider_group": group,
            "priority": request.priority, "status": request.status, "crm_case_id": request.crm_case_id,
            "created_at": request.created_at, "closed_at": request.closed_at, "sla_due_at": request.sla_due_at,
            "sla_breached_at": request.sla_breached_at, "sla": sla_state(request, warned)}


def _sla_clause(state: str) -> Any:
    # the few warned requests as one set (not a probe per request): `on_time` and `warning` scan many requests
    warned = ServiceRequest.id.in_(select(SlaEscalation.request_id).where(SlaEscalation.level == "warning"))
    return {"paused": and_(ServiceRequest.status == "open", ServiceRequest.sla_paused_since.is_not(None)),
            "breached": ServiceRequest.sla_breached_at.is_not(None),
            "warning": and_(ServiceRequest.sla_breached_at.is_(None), warned),
            "on_time": and_(ServiceRequest.sla_breached_at.is_(None), not_(warned))}[state]


def _found(session: Session, query: str) -> tuple[Any, Any] | None:
    """(WHERE clause, rank) of the requests `query` finds, or None when it holds no word at all."""
    words = terms(query)
    if not words:
        return None
    return search_index.search(session, words, request_number(query))


def _filtered(session: Session, reader: Reader, filters: RequestFilters) -> tuple[list[Any], Any]:
    """The WHERE clauses of `filters` for `reader`, and the search's rank (None without a search)."""
    where: list[Any] = readable(reader)
    rank = None
    if filters.q and filters.q.strip():
        found = _found(session, filters.q)
        if found is None:
            where.append(literal(False))  # only punctuation: nothing to look for, nothing found
        else:
            where.append(found[0])
            rank = found[1]
    if filters.group:
        where.append(ServiceRequest.provider_group_id.in_(
            select(ProviderGroup.id).where(ProviderGroup.code == filters.group)))
    equal: tuple[tuple[Any, str | None], ...] = (
        (ServiceRequest.request_type, filters.request_type), (ServiceRequest.status, filters.status),
        (ServiceRequest.priority, filters.priority))
    for column, value in equal:
        if value:
            where.append(column == value)
    if filters.sla:
        where.append(_sla_clause(filters.sla))
    spans: tuple[tuple[Any, date | None, date | None], ...] = (
        (ServiceRequest.created_at, filters.created_from, filters.created_to),
        (ServiceRequest.closed_at, filters.closed_from, filters.closed_to))
    for column, first, last in spans:
        if first:
            where.append(column >= _start(first))
        if last:
            where.append(column < _start(last) + timedelta(days=1))
    return where, rank


def _order(sort: str, rank: Any) -> list[Any]:
    if sort == "relevance" and rank is not None:
        return [rank, ServiceRequest.id.desc()]
    orders: dict[str, list[Any]] = {
        "oldest": [ServiceRequest.id.asc()],
        "due": [ServiceRequest.sla_due_at.is_(None), ServiceRequest.sla_due_at.asc(), ServiceRequest.id.asc()],
        "priority": [PRIORITY_RANK, ServiceRequest.id.desc()]}
    return orders.get(sort, [ServiceRequest.id.desc()])


def _page_ids(rank: Any, where: list[Any], sort: str, offset: int, limit: int) -> Select[Any]:
    """The ids of one page, and one more (to know whether another follows)."""
    return select(ServiceRequest.id).where(*where).order_by(*_order(sort, rank)).offset(offset).limit(limit + 1)


def list_requests(services: Context, reader: Reader, filters: RequestFilters) -> RequestList:
    _check(filters)
    limit = max(1, min(filters.limit, LIMIT_MAX))
    sort = filters.sort or "newest"
    with services.uow() as uow:
        s = uow.session
        where, rank = _filtered(s, reader, filters)
        total, page, pages, offset = None, 1, 1, 0
        ids: list[int] = []
        if filters.page is not None and rank is not None and search_index.counts_with_the_page(s):
            # a text search counts its matches in the same pass that picks the page (one index search, not two)
            offset = (max(1, filters.page) - 1) * limit
            counted = s.execute(_page_ids(rank, where, sort, offset, limit).add_columns(func.count().over())).all()
            if counted:
                ids, total = [row[0] for row in counted], int(counted[0][1])
        if filters.page is not None and total is None:  # no text search, or a page past the end
            total = int(s.scalar(select(func.count()).select_from(ServiceRequest).where(*where)) or 0)
        if filters.page is not None:
            assert total is not None
            pages = max(1, -(-total // limit))
            page = min(max(1, filters.page), pages)
            offset = (page - 1) * limit
        elif filters.cursor:
            where.append(ServiceRequest.id < _cursor(filters.cursor))
        if not ids:  # narrow to the page's ids first (no wide rows sorted), then load those rows
            ids = list(s.scalars(_page_ids(rank, where, sort, offset, limit)))
        more = len(ids) > limit
        ids = ids[:limit]
        rows = {r.id: (r, code) for r, code in s.execute(
            select(ServiceRequest, ProviderGroup.code).join(ProviderGroup, ProviderGroup.id ==
                                                            ServiceRequest.provider_group_id)
            .where(ServiceRequest.id.in_(ids)))} if ids else {}
        warned = set(s.scalars(select(SlaEscalation.request_id).where(
            SlaEscalation.level == "warning", SlaEscalation.request_id.in_(ids)))) if ids else set()
        items = [summary(rows[i][0], rows[i][1], i in warned) for i in ids]
    cursor = str(items[-1]["id"]) if more and items and filters.page is None and sort == "newest" else None
    return RequestList(items, cursor, total, page, pages, offset)


def groups_for(services: Context, reader: Reader) -> list[tuple[str, str]]:
    """(code, name) of the provider groups whose requests `reader` may read: the choices of the group filter."""
    groups = readable_groups(reader)
    with services.uow() as uow:
        query = select(ProviderGroup.code, ProviderGroup.name).order_by(ProviderGroup.name)
        if groups is not None:
            query = query.where(ProviderGroup.code.in_(sorted(groups)))
        return [(code, name) for code, name in uow.session.execute(query)]
