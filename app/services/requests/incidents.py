"""Repairing incidents: a service task that failed its last retry stops its request until someone acts.

Administrators and the managers of the request's provider group act on an incident: retry it as it is, correct the
data the failing step reads (validated against the forms that define those fields, audited with before and after)
and retry, or cancel the request with a reason (its CRM case is closed as cancelled and the customer is told why).
Process owners see incidents and their details but do not act (they change the process, not the request).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import engine
from app.domain.permissions import Identity, may_list_incidents, may_repair_incidents, may_see_incidents
from app.engine.repair import ServiceInputs
from app.errors import Forbidden, InvalidData, NotFound
from app.services import job_failures
from app.services.context import Context
from app.services.requests import cancellation, projection
from app.services.requests.intake import validate
from app.store import audit
from app.store.models import (
    AuditEvent,
    DefinitionVersion,
    ProcessInstance,
    ServiceJob,
    ServiceRequest,
)

CANCEL_REASON_MAX = cancellation.CANCEL_REASON_MAX
# Keys that name the request rather than describe the work: shown, never edited from an incident.
IDENTIFIERS = frozenset({"request_number", "request_id", "provider_group", "request_type", "crm_case_id"})


@dataclass(frozen=True)
class IncidentRow:
    job: int
    request_number: str
    title: str
    provider_group: str
    step: str
    operator: str
    error: str
    attempts: int
    since: datetime


@dataclass(frozen=True)
class Repair:
    """What a repair did: the step of `job` will run again (`changed`: the data keys corrected first)."""

    job: int
    request_number: str
    action: Literal["retry", "edit and retry"]
    changed: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class IncidentDetail:
    row: IncidentRow
    request_type: str
    requester_email: str
    inputs: ServiceInputs
    used: dict[str, Any]  # the parameters the last attempt was called with
    edit_schema: dict[str, Any]  # one property per data key the step reads
    may_act: bool
    history: list[dict[str, Any]] = field(default_factory=list)


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "string"


def edit_schema(files: dict[str, str], reads: dict[str, Any]) -> dict[str, Any]:
    """A JSON Schema for the data a failed step reads: each field as the deployed forms define it (so the same
    rules apply), else by the type of its current value."""
    properties: dict[str, Any] = {}
    for name in sorted(files):
        if not name.endswith(".schema.json"):
            continue
        try:
            schema = json.loads(files[name])
        except ValueError:
            continue
        for key, prop in (schema.get("properties") or {}).items():
            if key in reads and key not in properties and isinstance(prop, dict):
                properties[key] = {k: v for k, v in copy.deepcopy(prop).items() if k != "x-choices"}
    for key in IDENTIFIERS & set(properties):
        del properties[key]
    for key, value in reads.items():
        if key in IDENTIFIERS:
            continue
        properties.setdefault(key, {"type": [_json_type(value), "null"] if value is None else _json_type(value),
                                    "title": key.replace("_", " ").capitalize()})
    required = [key for key, value in reads.items() if value is not None and key not in IDENTIFIERS]
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


def _row(job: ServiceJob, request: ServiceRequest, step: str) -> IncidentRow:
    return IncidentRow(job.id, request.number or str(request.id), request.title, request.provider_group.code, step,
                       job.operator, job.last_error or "", job.attempts, job.updated_at)


def list_incidents(services: Context, identity: Identity) -> list[IncidentRow]:
    """Open incidents of the requests this user may see them for, oldest first (Forbidden for those the list is
    not for at all)."""
    if not may_list_incidents(identity):
        raise Forbidden("incidents are for administrators, process owners and provider group managers")
    with services.uow() as uow:
        found = uow.session.execute(
            select(ServiceJob, ServiceRequest).join(ServiceRequest, ServiceRequest.id == ServiceJob.request_id)
            .where(ServiceJob.status == "incident").order_by(ServiceJob.updated_at, ServiceJob.id)).all()
        return [_row(job, request, job.bpmn_id) for job, request in found
                if may_see_incidents(identity, request.provider_group.code)]


def _load(session: Session, identity: Identity, job_id: int) -> tuple[ServiceJob, ServiceRequest]:
    job = session.get(ServiceJob, job_id)
    request = session.get(ServiceRequest, job.request_id) if job is not None else None
    if job is None or request is None or not may_see_incidents(identity, request.provider_group.code):
        raise NotFound(f"no incident {job_id}")
    if job.status != "incident":
        raise NotFound(f"incident {job_id} is not open any more (the step is {job.status})")
    return job, request


def _last_params(session: Session, job: ServiceJob) -> dict[str, Any]:
    events = session.scalars(select(AuditEvent).where(
        AuditEvent.request_id == job.request_id,
        AuditEvent.event_type.in_(["incident_raised", "service_failed"])).order_by(AuditEvent.seq.desc()))
    for event in events:
        payload = event.payload if isinstance(event.payload, dict) else {}
        if payload.get("task") == job.task_uuid and isinstance(payload.get("params"), dict):
            return dict(payload["params"])
    return {}


def incident(services: Context, identity: Identity, job_id: int) -> IncidentDetail:
    with services.uow() as uow:
        session = uow.session
        job, request = _load(session, identity, job_id)
        instance = session.get(ProcessInstance, job.instance_id)
        definition = session.get(DefinitionVersion, instance.definition_version_id) if instance else None
        if instance is None or definition is None:
            raise NotFound(f"no instance for incident {job_id}")
        if job.operator == job_failures.TIMER_OPERATOR:  # a timer pass that failed: no data of its own to correct
            inputs = ServiceInputs(bpmn_id=job.bpmn_id, name="Timers of this request", operator=job.operator,
                                   parameters={}, reads={})
        else:
            inputs = engine.service_inputs(definition.spec_json, instance.state_json, job.task_uuid)
        history = [{"at": e.at, "actor": e.actor, "event_type": e.event_type, "payload": e.payload}
                   for e in session.scalars(select(AuditEvent).where(
                       AuditEvent.request_id == request.id,
                       AuditEvent.event_type.in_(["service_failed", "incident_raised", "incident_resolved",
                                                  "incident_data_edited"])).order_by(AuditEvent.seq))
                   if isinstance(e.payload, dict) and e.payload.get("task") == job.task_uuid]
        return IncidentDetail(
            row=_row(job, request, inputs.name), request_type=request.request_type,
            requester_email=request.requester_email, inputs=inputs, used=_last_params(session, job),
            edit_schema=edit_schema(definition.files, inputs.reads),
            may_act=may_repair_incidents(identity, request.provider_group.code), history=history)


def _acting(session: Session, identity: Identity, job_id: int) -> tuple[ServiceJob, ServiceRequest]:
    job, request = _load(session, identity, job_id)
    if not may_repair_incidents(identity, request.provider_group.code):
        raise Forbidden(f"only administrators and the managers of {request.provider_group.code} act on its incidents")
    return job, request


def _locked_instance(session: Session, job: ServiceJob) -> tuple[ProcessInstance, DefinitionVersion]:
    """The incident's instance, locked first as every writer does, and its definition version."""
    return cancellation.locked_instance(session, job.instance_id)


def retry(services: Context, identity: Identity, job_id: int) -> Repair:
    """Retry the failed step as it is."""
    with services.uow() as uow:
        _, request = _acting(uow.session, identity, job_id)
        number = request.number or str(request.id)
    job_failures.retry_incident(services, job_id, identity.username)
    return Repair(job_id, number, "retry")


def edit_and_retry(services: Context, identity: Identity, job_id: int, changes: dict[str, Any]) -> list[str]:
    """Correct data the failed step reads, then retry it; the before and after values are audited. Returns the
    keys that changed."""
    detail = incident(services, identity, job_id)
    if not detail.may_act:
        raise Forbidden("only administrators and the group's managers act on an incident")
    validate(detail.edit_schema, changes, "the corrected data")
    changed = {key: value for key, value in changes.items() if detail.inputs.reads.get(key) != value}
    if not changed:
        raise InvalidData("nothing was changed: use Retry to run the step again as it is")
    now = services.clock.now()
    with services.uow() as uow:
        session = uow.session
        job, request = _acting(session, identity, job_id)
        instance, definition = _locked_instance(session, job)
        seen = instance.version
        state = engine.edit_service_inputs(definition.spec_json, instance.state_json, job.task_uuid, changed, now)
        projection.save_state(session, instance, seen, state, now)
        audit.append(session, actor=identity.username, event_type="incident_data_edited", request_id=request.id,
                     now=now, payload={"task": job.task_uuid, "bpmn_id": job.bpmn_id, "operator": job.operator,
                                       "before": {k: detail.inputs.reads.get(k) for k in changed}, "after": changed})
        job.status, job.attempts, job.next_attempt_at, job.updated_at = "pending", 0, now, now
        audit.append(session, actor=identity.username, event_type="incident_resolved", request_id=request.id,
                     now=now, payload={"task": job.task_uuid, "operator": job.operator, "action": "edit and retry",
                                       "changed": sorted(changed)})
        uow.commit()
    return sorted(changed)


def correct_and_retry(services: Context, identity: Identity, job_id: int, changes: dict[str, Any]) -> Repair:
    """`edit_and_retry` with only the keys to change: the others keep the values the step reads now, and the whole
    is validated as the incident page validates its form (an identifier among `changes` is refused)."""
    detail = incident(services, identity, job_id)
    current = {key: value for key, value in detail.inputs.reads.items() if key not in IDENTIFIERS}
    changed = edit_and_retry(services, identity, job_id, {**current, **changes})
    return Repair(job_id, detail.row.request_number, "edit and retry", changed)


def cancel_request(services: Context, identity: Identity, job_id: int, reason: str) -> str:
    """Cancel the request of an incident: the process ends, open tasks and jobs are cancelled, the CRM case is
    closed as cancelled and the customer is emailed the reason (app/services/requests/cancellation.py). Returns
    the request number."""
    reason = cancellation.checked_reason(reason)
    now = services.clock.now()
    with services.uow() as uow:
        session = uow.session
        job, request = _acting(session, identity, job_id)
        instance = cancellation.locked_instance(session, job.instance_id)
        cancellation.cancel(services, session, request, instance, reason, identity.username, now,
                            {"task": job.task_uuid, "bpmn_id": job.bpmn_id})
        number = request.number or str(request.id)
        uow.commit()
        return number
