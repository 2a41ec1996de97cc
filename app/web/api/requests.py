"""Requests: create (the same schema as the *New request* page and `rf request`), list, read."""

from __future__ import annotations

import copy
from datetime import date, datetime
from typing import Any, Literal

from flask_openapi3.blueprint import APIBlueprint
from pydantic import BaseModel, ConfigDict, Field

from app.domain.vocabulary import PRIORITIES, REQUEST_SCHEMA, REQUEST_TYPES
from app.services.audit import events as audit_views
from app.services.requests import crm_queue, diagram, listing, queries
from app.web.api.common import ERRORS, SECURITY, WRITE_ERRORS, caller, idempotent, respond, tag
from app.web.context import services

bp = APIBlueprint("api_requests", __name__, url_prefix="/api/v1", abp_tags=[tag(
    "Requests", "Assistance and enhancement requests: log one, find them, read one with its tasks, path and "
                "timeline. Reading is need-to-know: a request of a group you are not in is not found.")],
    abp_security=SECURITY)

RequestType = Literal["assistance", "enhancement"]
Priority = Literal["low", "medium", "high", "critical"]
assert set(REQUEST_TYPES) == {"assistance", "enhancement"} and set(PRIORITIES) == {"low", "medium", "high", "critical"}


EXAMPLE_REQUEST = {"request_type": "assistance", "data": {
    "title": "VPN access for the field office", "agency": "Oklahoma Department of Tourism",
    "requester_name": "Ann Agency", "requester_email": "ann@tourism.example", "provider_group": "network",
    "priority": "high", "description": "Two new rangers need VPN profiles before Monday."}}


class NewRequest(BaseModel):
    model_config = ConfigDict(openapi_extra={"example": EXAMPLE_REQUEST})  # type: ignore[typeddict-unknown-key]

    request_type: RequestType
    data: dict[str, Any] = Field(description="The request's fields, validated by the request schema (the one the "
                                             "*New request* page renders and `rf request` checks)",
                                 json_schema_extra=copy.deepcopy(REQUEST_SCHEMA))
    schedule: bool = Field(False, description="Put a routine enhancement request on its group's 60 day schedule "
                                              "(status `scheduled`, planned for this week) instead of starting it; "
                                              "a service provider pulls it (`POST /requests/{ref}/pull`). Other "
                                              "requests start at once either way; a non-routine enhancement waits "
                                              "on the schedule after Discovery whatever this says.")


class RequestSummary(BaseModel):
    id: int
    number: str | None
    type: str
    title: str
    agency: str
    requester: str
    provider_group: str
    priority: str
    status: str
    crm_case_id: str | None
    created_at: datetime
    closed_at: datetime | None
    sla_due_at: datetime | None
    sla_breached_at: datetime | None


class RequestPage(BaseModel):
    items: list[RequestSummary]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")


class RequestQuery(BaseModel):
    q: str | None = Field(None, max_length=200, description="Words, each matched as a word prefix and all required, "
                                                            "in the number, title, description, agency, requester, "
                                                            "requester email, CRM case or staff notes")
    group: str | None = Field(None, max_length=64)
    type: RequestType | None = None
    status: Literal["scheduled", "open", "closed", "cancelled"] | None = None
    priority: Priority | None = None
    created_from: date | None = None
    created_to: date | None = None
    sla: Literal["on_time", "warning", "breached", "paused"] | None = Field(
        None, description="The SLA clock: on time, warning (75% of the target used), breached, paused (waiting on "
                          "the customer)")
    closed_from: date | None = None
    closed_to: date | None = None
    cursor: str | None = Field(None, max_length=12)
    limit: int = Field(50, ge=1, le=listing.LIMIT_MAX)


class RequestRef(BaseModel):
    ref: str = Field(max_length=40, description="The request number (RF-000123) or its id")


class OpenTask(BaseModel):
    id: str
    bpmn_id: str
    name: str
    lane: str | None
    assignee: str | None


class TimelineEntry(BaseModel):
    seq: int
    at: datetime
    actor: str
    event_type: str
    what: str
    summary: str
    bpmn_id: str | None


class RequestDetail(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: int
    number: str | None
    type: str
    title: str
    agency: str
    requester: str
    requester_email: str
    provider_group: str
    priority: str
    routine: bool
    status: str
    planned_week: date | None = Field(None, description="A scheduled request's planned week (its Monday)")
    created_at: datetime
    closed_at: datetime | None
    sla_due_at: datetime | None
    path: list[str] = Field(description="The BPMN elements the request has completed, in order")
    open_tasks: list[OpenTask]
    timeline: list[TimelineEntry]
    data: dict[str, Any]


class Created(BaseModel):
    id: int
    number: str
    status: str
    url: str


@bp.post("/requests", summary="Log a new request", responses={201: Created, **WRITE_ERRORS})
@idempotent
def create_request(body: NewRequest) -> tuple[dict[str, Any], int]:
    """Log a request for a provider group (managers and CARs of that group). Honours `Idempotency-Key`."""
    created = crm_queue.new_request_as(services(), caller(), body.request_type, body.data, schedule=body.schedule)
    number = str(created.number)
    return respond(Created(id=created.id, number=number, status=created.status, url=f"/api/v1/requests/{number}"),
                   201)


@bp.get("/requests", summary="Find requests", responses={200: RequestPage, **ERRORS})
def list_requests(query: RequestQuery) -> tuple[dict[str, Any], int]:
    """Newest first; `q` searches; filters combine; page on with `cursor`."""
    found = listing.list_requests(services(), caller(), listing.RequestFilters(
        q=query.q, group=query.group, request_type=query.type, status=query.status, priority=query.priority,
        created_from=query.created_from, created_to=query.created_to, sla=query.sla, closed_from=query.closed_from,
        closed_to=query.closed_to, cursor=query.cursor, limit=query.limit))
    return respond(RequestPage(items=[RequestSummary(**item) for item in found.items], next_cursor=found.next_cursor))


@bp.get("/requests/<ref>", summary="Read a request", responses={200: RequestDetail, **ERRORS})
def read_request(path: RequestRef) -> tuple[dict[str, Any], int]:
    """The request, its open tasks, the path it has taken and its timeline (reading it is audited for auditors)."""
    shown = queries.show_request(services(), path.ref, reader=caller())
    audit_views.record_request_view(services(), caller(), path.ref, view="api")
    timeline = diagram.request_timeline(services(), path.ref, list(shown.get("path") or []), reader=caller())
    return respond(RequestDetail(**shown, timeline=[TimelineEntry(**entry) for entry in timeline]))
