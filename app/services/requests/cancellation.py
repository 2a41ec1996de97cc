"""Cancelling a request with a reason, the one way every cancel does it: the process instance (if any) is ended and
marked cancelled with its open tasks and jobs, the request is `cancelled` and closed, its SLA clock stops, its CRM
case is closed as cancelled with the reason (the CRM refusing cancels nothing), the customer is emailed the reason,
and a `request_cancelled` audit event records who, why and where it stood.

- An incident's request (app/services/requests/incidents.py): administrators and the group's managers.
- A request waiting on the 60 day schedule (`cancel_scheduled`): the group's managers. A routine one has no process
  yet; a non-routine one waits after Discovery at *Wait on the 60 day schedule*. The request leaves `scheduled` with
  one conditional UPDATE, so a pull and a cancel at the same moment cannot both happen (the loser gets a 409).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app import engine
from app.domain.permissions import Identity, may_cancel_scheduled
from app.errors import Conflict, ExternalSystemError, FieldError, Forbidden, InvalidData, NotFound
from app.services.context import Context
from app.services.requests import projection, queries, schedule_queue, sla_clock
from app.services.requests.intake import validate
from app.store import audit
from app.store.models import DefinitionVersion, ProcessInstance, ServiceJob, ServiceRequest, TaskRow
from handlers import HandlerError

CANCEL_REASON_MAX = 2000


def checked_reason(reason: str | None) -> str:
    """The reason, stripped; InvalidData (field `reason`) when it is empty, too long or holds control characters."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidData("say why the request is cancelled", [FieldError("reason", "a reason is required")])
    if len(reason) > CANCEL_REASON_MAX:
        raise InvalidData(f"the reason is longer than {CANCEL_REASON_MAX} characters",
                          [FieldError("reason", f"at most {CANCEL_REASON_MAX} characters")])
    validate({"type": "string"}, reason, "the reason")
    return reason


def locked_instance(session: Session, instance_id: int) -> tuple[ProcessInstance, DefinitionVersion]:
    """The instance, locked first as every writer does, and its definition version."""
    instance = projection.lock_instance(session, instance_id)
    definition = session.get(DefinitionVersion, instance.definition_version_id) if instance else None
    if instance is None or definition is None:
        raise NotFound(f"no process instance {instance_id}")
    return instance, definition


def cancel(services: Context, session: Session, request: ServiceRequest,
           instance: tuple[ProcessInstance, DefinitionVersion] | None, reason: str, actor: str, now: datetime,
           payload: dict[str, Any]) -> None:
    """Cancel `request` in the caller's transaction (see the module's doc); `payload`: what the audit event adds."""
    if instance is not None:
        row, definition = instance
        state = engine.cancel(definition.spec_json, row.state_json, now)
        projection.save_state(session, row, row.version, state, now)
        session.execute(update(ProcessInstance).where(ProcessInstance.id == row.id).values(status="cancelled"))
    session.execute(update(TaskRow).where(TaskRow.request_id == request.id, TaskRow.status == "open")
                    .values(status="cancelled"))
    session.execute(update(ServiceJob).where(ServiceJob.request_id == request.id,
                                             ServiceJob.status.in_(["pending", "incident"]))
                    .values(status="cancelled", updated_at=now))
    request.status, request.closed_at = "cancelled", now
    sla_clock.stop(request)
    clients = services.clients(session, now)
    number = request.number or str(request.id)
    if request.crm_case_id:
        try:
            clients.crm.close_case(request.crm_case_id, f"Cancelled: {reason}", "cancelled", now,
                                   f"cancel-{request.id}")
        except HandlerError as err:  # the CRM is down or refused: nothing is cancelled, the user can try again
            raise ExternalSystemError(f"the CRM case could not be closed, so the request was not cancelled: "
                                      f"{err}") from err
    clients.outbox.queue(  # the "Customer: request cancelled" template takes the reason as its own value
        kind="cancelled", to=[request.requester_email], subject=f"Request {number} cancelled",
        body=(f"Your request {number} ({request.title}) has been cancelled.\n\nReason: {reason}\n\n"
              "Reply to your provider group if you have questions."),
        request_number=number, key=f"cancel-{request.id}", values={"reason": reason})
    audit.append(session, actor=actor, event_type="request_cancelled", request_id=request.id, now=now,
                 payload={"reason": reason, **payload, "crm_case": request.crm_case_id})


def cancel_scheduled(services: Context, identity: Identity, ref: str, reason: str | None) -> str:
    """Cancel the request `ref` that waits on the 60 day schedule; its number."""
    reason = checked_reason(reason)
    now = services.clock.now()
    with services.uow() as uow:
        s = uow.session
        request = queries.find_readable(s, ref, identity)
        group = request.provider_group.code
        if not may_cancel_scheduled(identity, group):
            raise Forbidden(f"only a manager of {group} can cancel a request waiting on its schedule")
        if request.status != "scheduled":
            raise Conflict(f"{request.number} is not waiting on the schedule (it is {request.status}); only a "
                           "request waiting on the schedule is cancelled here")
        schedule_queue.leave_schedule(s, request, "cancelled")
        instance_id = s.scalars(select(ProcessInstance.id).where(ProcessInstance.request_id == request.id)).first()
        instance = locked_instance(s, instance_id) if instance_id is not None else None
        cancel(services, s, request, instance, reason, identity.username, now, {
            "request_number": request.number, "was": "scheduled",
            "planned_week": request.planned_week.isoformat() if request.planned_week else None})
        number = request.number or ""
        uow.commit()
    return number
