"""Incidents: service tasks that failed their last retry, and the three ways out (retry as it is, correct the data
the step reads and retry, cancel the request with a reason), as on the *Incidents* pages."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from flask_openapi3.blueprint import APIBlueprint
from pydantic import BaseModel, Field

from app.domain.input_limits import MAX_RECORD_NUMBER
from app.services.requests import incidents
from app.web.api.common import ERRORS, SECURITY, WRITE_ERRORS, caller, respond, tag
from app.web.context import services

bp = APIBlueprint("api_incidents", __name__, url_prefix="/api/v1", abp_tags=[tag(
    "Incidents", "Steps that failed every retry and stopped their request. Administrators and the managers of the "
                 "request's provider group see and repair them; process owners see them; for everyone else an "
                 "incident does not exist.")], abp_security=SECURITY)


class IncidentId(BaseModel):
    job_id: int = Field(ge=1, le=MAX_RECORD_NUMBER, description="The incident's id (its service job)")


class IncidentSummary(BaseModel):
    id: int = Field(description="The incident's id (its service job)")
    request_number: str
    title: str
    provider_group: str
    step: str = Field(description="The failing step (its BPMN id in the list, its name in the detail)")
    operator: str = Field(description="The service operator the step calls")
    error: str
    attempts: int
    since: datetime


class IncidentList(BaseModel):
    items: list[IncidentSummary]


class FailedCall(BaseModel):
    bpmn_id: str
    name: str
    operator: str
    parameters: dict[str, str] = Field(description="Each parameter with the expression it is computed from")
    reads: dict[str, Any] = Field(description="The data keys the expressions read, with their current values")
    used: dict[str, Any] = Field(description="The parameter values of the last attempt")


class HistoryEntry(BaseModel):
    at: datetime
    actor: str
    event_type: str
    payload: dict[str, Any]


class IncidentDetail(BaseModel):
    incident: IncidentSummary
    request_type: str
    requester_email: str
    call: FailedCall
    edit_schema: dict[str, Any] = Field(description="The JSON Schema of the data that can be corrected (built from "
                                                    "the deployed forms that define those fields); the request's "
                                                    "identifiers are never in it")
    may_act: bool = Field(description="Whether the caller may retry, correct or cancel")
    history: list[HistoryEntry] = Field(description="The step's failures, incidents and repairs, oldest first")


class Corrections(BaseModel):
    changes: dict[str, Any] = Field(description="The data keys to correct with their new values; keys not given "
                                                "keep their current values, and the whole is validated by "
                                                "`edit_schema` as the incident page validates its form")


class Repaired(BaseModel):
    incident: int
    request_number: str
    action: Literal["retry", "edit and retry"]
    changed: list[str] = Field(description="The data keys corrected (empty for a plain retry)")
    status: Literal["pending"] = Field("pending", description="The step waits for the worker to run it again")


class Cancellation(BaseModel):
    reason: str = Field(min_length=1, max_length=incidents.CANCEL_REASON_MAX,
                        description="Why the request is cancelled: emailed to the customer and written on the CRM "
                                    "case")


class Cancelled(BaseModel):
    request_number: str
    status: Literal["cancelled"] = "cancelled"


def _summary(row: incidents.IncidentRow) -> IncidentSummary:
    return IncidentSummary(id=row.job, request_number=row.request_number, title=row.title,
                           provider_group=row.provider_group, step=row.step, operator=row.operator, error=row.error,
                           attempts=row.attempts, since=row.since)


def _repaired(done: incidents.Repair) -> tuple[dict[str, Any], int]:
    return respond(Repaired(incident=done.job, request_number=done.request_number,
                            action=done.action, changed=done.changed, status="pending"))


@bp.get("/incidents", summary="List the open incidents", responses={200: IncidentList, **ERRORS})
def list_incidents() -> tuple[dict[str, Any], int]:
    """The open incidents the caller may see, oldest first: all of them for administrators and process owners,
    those of their groups' requests for managers. Anyone else is refused (403), as the *Incidents* page is."""
    return respond(IncidentList(items=[_summary(row) for row in incidents.list_incidents(services(), caller())]))


@bp.get("/incidents/<job_id>", summary="Read an incident with its editable data",
        responses={200: IncidentDetail, **ERRORS})
def read_incident(path: IncidentId) -> tuple[dict[str, Any], int]:
    """The failing step, its error, the call it made (each parameter's expression, the data it read and the values
    it used), its history, and the JSON Schema of the data `edit-and-retry` accepts."""
    d = incidents.incident(services(), caller(), path.job_id)
    return respond(IncidentDetail(
        incident=_summary(d.row), request_type=d.request_type, requester_email=d.requester_email,
        call=FailedCall(bpmn_id=d.inputs.bpmn_id, name=d.inputs.name, operator=d.inputs.operator,
                        parameters=d.inputs.parameters, reads=d.inputs.reads, used=d.used),
        edit_schema=d.edit_schema, may_act=d.may_act, history=[HistoryEntry(**entry) for entry in d.history]))


@bp.post("/incidents/<job_id>/edit-and-retry", summary="Correct the data the step reads and retry it",
         responses={200: Repaired, **WRITE_ERRORS})
def edit_and_retry(path: IncidentId, body: Corrections) -> tuple[dict[str, Any], int]:
    """Administrators and the group's managers. The corrected data must pass `edit_schema` (the same rules as the
    forms that define those fields; 422 naming each field otherwise) and change something; the before and after
    values are audited (`incident_data_edited`) and the step runs again with the worker's next pass."""
    return _repaired(incidents.correct_and_retry(services(), caller(), path.job_id, body.changes))


@bp.post("/incidents/<job_id>/retry", summary="Retry the step as it is", responses={200: Repaired, **WRITE_ERRORS})
def retry(path: IncidentId) -> tuple[dict[str, Any], int]:
    """Administrators and the group's managers, when the cause was outside (a system that was down): the step runs
    again with the worker's next pass (`incident_resolved`, action `retry`)."""
    return _repaired(incidents.retry(services(), caller(), path.job_id))


@bp.post("/incidents/<job_id>/cancel", summary="Cancel the incident's request",
         responses={200: Cancelled, **WRITE_ERRORS})
def cancel(path: IncidentId, body: Cancellation) -> tuple[dict[str, Any], int]:
    """Administrators and the group's managers: the process ends, open tasks and jobs are cancelled, the SLA clock
    stops, the CRM case (if any) is closed as `cancelled` and the customer is emailed the reason
    (`request_cancelled`)."""
    return respond(Cancelled(request_number=incidents.cancel_request(services(), caller(), path.job_id,
                                                                     body.reason)))
