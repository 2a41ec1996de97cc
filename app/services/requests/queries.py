"""Read-only views: one request in full, the users and their roles, open incidents.

Reading a request is need-to-know (`app.domain.permissions.may_read_request`): `find_readable` and `readable` are
the one place the services apply it, to one request and to a list's query; an unreadable request is "not found",
exactly like one that does not exist.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from app import engine
from app.domain.input_limits import record_number
from app.domain.permissions import Reader, may_read_request, readable_groups
from app.errors import NotFound
from app.services.context import Context
from app.services.definitions import version_cache
from app.services.requests import sla_clock
from app.services.requests.intake import MAIN_PROCESS
from app.store.models import (
    AsdService,
    AuditEvent,
    BillingCase,
    CrmCase,
    DefinitionVersion,
    Notification,
    ProcessInstance,
    ProviderGroup,
    ServiceJob,
    ServiceRequest,
    TaskRow,
    User,
)


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def find_request(session: Session, ref: str) -> ServiceRequest:
    """The request numbered `ref` (RF-…) or with the id `ref` (any user: check `find_readable` for reading)."""
    ref = ref.strip()
    query = select(ServiceRequest).where(ServiceRequest.number == ref.upper())
    request_id = record_number(ref)
    if request_id is not None:
        query = select(ServiceRequest).where(or_(ServiceRequest.id == request_id, ServiceRequest.number == ref))
    request = session.scalars(query).one_or_none()
    if request is None:
        raise NotFound(f"no request {_shown(ref)}")
    return request


def _shown(ref: str) -> str:
    return ref if len(ref) <= 40 else ref[:40] + "…"


def find_readable(session: Session, ref: str, reader: Reader) -> ServiceRequest:
    """`find_request` for `reader`: a request they may not read is not found (its existence is not revealed)."""
    request = find_request(session, ref)
    if not may_read_request(reader, request.provider_group.code):
        raise NotFound(f"no request {_shown(ref.strip())}")
    return request


def readable(reader: Reader) -> list[ColumnElement[bool]]:
    """WHERE clauses on ServiceRequest keeping the requests `reader` may read (none: every request)."""
    groups = readable_groups(reader)
    if groups is None:
        return []
    groups_ids = select(ProviderGroup.id).where(ProviderGroup.code.in_(sorted(groups)))
    return [ServiceRequest.provider_group_id.in_(groups_ids)]


def readable_by(column: Any, reader: Reader) -> list[ColumnElement[bool]]:
    """`readable` for another table's request id `column` (TaskRow.request_id, ServiceJob.request_id, …)."""
    clauses = readable(reader)
    return [column.in_(select(ServiceRequest.id).where(*clauses))] if clauses else []


def show_request(services: Context, ref: str, *, reader: Reader) -> dict[str, Any]:
    """Everything about one request `reader` may read (NotFound otherwise)."""
    with services.uow() as uow:
        s = uow.session
        request = find_readable(s, ref, reader)
        instance, definition = instance_of(s, request)
        path, data = ([], {}) if instance is None else _path_and_data(definition, instance)
        open_tasks = s.scalars(select(TaskRow).where(TaskRow.request_id == request.id, TaskRow.status == "open"))
        jobs = s.scalars(select(ServiceJob).where(ServiceJob.request_id == request.id,
                                                  ServiceJob.status.in_(["pending", "incident"])))
        case = s.scalars(select(CrmCase).where(CrmCase.case_number == request.crm_case_id)).one_or_none()
        return {
            "id": request.id, "number": request.number, "type": request.request_type, "title": request.title,
            "agency": request.agency, "requester": request.requester_name, "requester_email": request.requester_email,
            "provider_group": request.provider_group.code, "priority": request.priority, "routine": request.routine,
            "status": request.status, "created_at": _iso(request.created_at), "closed_at": _iso(request.closed_at),
            "sla_due_at": _iso(request.sla_due_at),
            "sla": sla_clock.summary(s, request, services.clock.now()),
            "definition": {"process_id": definition.process_id, "version": definition.version},
            "instance": {"status": "scheduled", "version": 0, "next_timer_at": None} if instance is None else {
                "status": instance.status, "version": instance.version, "next_timer_at": _iso(instance.next_timer_at)},
            "planned_week": _iso(request.planned_week),
            "path": path,
            "open_tasks": [{"id": t.task_uuid, "bpmn_id": t.bpmn_id, "name": t.name, "lane": t.lane,
                            "assignee": t.assignee} for t in open_tasks],
            "pending_services": [{"job": j.id, "bpmn_id": j.bpmn_id, "operator": j.operator, "status": j.status,
                                  "attempts": j.attempts, "last_error": j.last_error} for j in jobs],
            "crm_case": None if case is None else {"case": case.case_number, "status": case.status,
                                                   "resolution": case.resolution, "origin": case.origin,
                                                   "cancelled_in_crm_at": _iso(case.cancelled_in_crm_at)},
            "billing_cases": [{"case": b.case_number, "amount": str(b.amount), "billing_code": b.billing_code}
                              for b in s.scalars(select(BillingCase).where(
                                  BillingCase.request_number == request.number))],
            "asd_entries": [{"service": a.service_name, "status": a.status, "live_date": _iso(a.live_date)}
                            for a in s.scalars(select(AsdService).where(AsdService.request_number == request.number))],
            "notifications": [{"kind": n.kind, "to": n.to_addrs, "subject": n.subject, "status": n.status}
                              for n in s.scalars(select(Notification).where(
                                  Notification.request_number == request.number))],
            "audit_events": s.scalar(select(func.count()).select_from(AuditEvent)
                                     .where(AuditEvent.request_id == request.id)),
            "data": data,
        }


def instance_of(session: Session, request: ServiceRequest) -> tuple[ProcessInstance | None, DefinitionVersion]:
    """The request's process instance and its definition version; a request still waiting on the 60 day schedule
    has no instance yet (None) and shows the version it will start on."""
    instance = session.scalars(select(ProcessInstance).where(ProcessInstance.request_id == request.id)).one_or_none()
    if instance is None:
        definition = session.get(DefinitionVersion, version_cache.current_key(session, MAIN_PROCESS).id)
    else:
        definition = session.get(DefinitionVersion, instance.definition_version_id)
    assert definition is not None
    return instance, definition


def _path_and_data(definition: DefinitionVersion, instance: ProcessInstance) -> tuple[list[str], dict[str, Any]]:
    state = engine.inspect(definition.spec_json, instance.state_json)
    return state.path, state.data


def list_users(services: Context) -> list[dict[str, Any]]:
    with services.uow() as uow:
        users = uow.session.scalars(select(User).order_by(User.username)).unique()
        return [{"username": u.username, "full_name": u.full_name, "email": u.email, "active": u.is_active,
                 "roles": sorted(f"{m.role.code}@{m.provider_group.code}" if m.provider_group else m.role.code
                                 for m in u.memberships)} for u in users]


def list_incidents(services: Context) -> list[dict[str, Any]]:
    with services.uow() as uow:
        jobs = uow.session.scalars(select(ServiceJob).where(ServiceJob.status == "incident").order_by(ServiceJob.id))
        return [{"job": j.id, "request_id": j.request_id, "bpmn_id": j.bpmn_id, "operator": j.operator,
                 "attempts": j.attempts, "error": j.last_error, "since": _iso(j.updated_at)} for j in jobs]
