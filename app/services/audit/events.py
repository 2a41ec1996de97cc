"""What auditors see: the chain's verification, the audit events with filters and paging, and the record of an
auditor's own look at a request (every such view is itself an audit event, `auditor_viewed`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.domain.local_time import zone
from app.domain.permissions import Identity, Reader
from app.services.audit import export
from app.services.context import Context
from app.services.requests import queries
from app.store import audit
from app.store.models import AuditEvent, ServiceRequest

PAGE_SIZE = 50


def verify_chain(services: Context) -> audit.ChainReport:
    with services.uow() as uow:
        return audit.verify(uow.session)


@dataclass(frozen=True)
class Checkpoint:
    number: int
    at: datetime
    hash: str
    events: int
    new: bool  # written now (False: nothing changed since this, the latest, one)


def checkpoint(services: Context) -> Checkpoint | None:
    """Write a checkpoint of every chain's head now (`rf audit checkpoint`); the latest one when nothing changed
    since it; None when the log is empty."""
    with services.uow() as uow:
        before = audit.latest_checkpoint(uow.session)
        made = audit.checkpoint(uow.session, services.clock.now())
        uow.commit()
        if made is None:
            return None
        return Checkpoint(made.id, made.at, made.hash, made.events, before is None or made.id != before.id)


def checkpoint_if_due(services: Context, now: datetime) -> int:
    """The worker's periodic checkpoint: 1 when one was written (at most every `audit.CHECKPOINT_EVERY`)."""
    with services.uow() as uow:
        before = audit.latest_checkpoint(uow.session)
        made = audit.checkpoint(uow.session, now, every=audit.CHECKPOINT_EVERY)
        uow.commit()
        return int(made is not None and (before is None or made.id != before.id))


def verify_chain_as(services: Context, reader: Reader) -> audit.ChainReport:
    """`verify_chain` for a signed-in reader: audit readers only (Forbidden)."""
    export.require_audit_reader(reader)
    return verify_chain(services)


@dataclass(frozen=True)
class EventFilters:
    query: export.ExportQuery = field(default_factory=export.ExportQuery)  # request, dates, process version
    event_type: str | None = None
    actor: str | None = None
    page: int = 1


def events_page(services: Context, filters: EventFilters, *, reader: Reader,
                page_size: int = PAGE_SIZE) -> dict[str, Any]:
    """The newest events first, filtered, of what `reader` may read (NotFound for an unknown request number or
    process version; Forbidden for a signed-in reader who is not an audit reader)."""
    export.require_audit_reader(reader)
    with services.uow() as uow:
        s = uow.session
        where = export.conditions(s, filters.query, reader)
        if filters.event_type:
            where.append(AuditEvent.event_type == filters.event_type)
        if filters.actor:
            where.append(AuditEvent.actor == filters.actor)
        total = int(s.scalar(select(func.count()).select_from(AuditEvent).where(*where)) or 0)
        pages = max(1, -(-total // page_size))
        page = min(max(1, filters.page), pages)
        events = list(s.scalars(select(AuditEvent).where(*where).order_by(AuditEvent.seq.desc())
                                .offset((page - 1) * page_size).limit(page_size)))
        rows = export.describe(events, export.event_context(s, events), zone(services.settings.time_zone))
        return {"rows": rows, "total": total, "page": page, "pages": pages, "event_types": _types(s)}


def _types(session: Session) -> list[str]:
    return list(session.scalars(select(AuditEvent.event_type).distinct().order_by(AuditEvent.event_type)))


def event_types(services: Context) -> list[str]:
    with services.uow() as uow:
        return _types(uow.session)


def record_request_view(services: Context, identity: Identity, ref: str, view: str = "request_page") -> None:
    """Log that an auditor looked at a request (nothing is logged for other roles' views)."""
    if not identity.has_role("auditor"):
        return
    with services.uow() as uow:
        request: ServiceRequest = queries.find_readable(uow.session, ref, identity)
        audit.append(uow.session, actor=identity.username, event_type="auditor_viewed", request_id=request.id,
                     now=services.clock.now(), payload={"view": view, "request_number": request.number})
        uow.commit()
