"""The CRM Pending Queue (provider group managers): the assistance cases waiting in the CRM for the groups one
manages, and pulling one into a request; the same service as the *CRM queue* page."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from flask_openapi3.blueprint import APIBlueprint
from pydantic import BaseModel, Field

from app.domain.vocabulary import PRIORITIES
from app.services.requests import crm_queue
from app.web.api.common import ERRORS, SECURITY, WRITE_ERRORS, caller, idempotent, respond, tag
from app.web.context import services

bp = APIBlueprint("api_crm_queue", __name__, url_prefix="/api/v1", abp_tags=[tag(
    "CRM Pending Queue", "Assistance cases waiting in the CRM for a provider group, and pulling one into a request "
                         "(managers of the case's group).")], abp_security=SECURITY)

Priority = Literal["low", "medium", "high", "critical"]
assert set(PRIORITIES) == {"low", "medium", "high", "critical"}


class CasePath(BaseModel):
    case: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$",
                      description="The CRM case number (CRM-000123)")


class PendingCase(BaseModel):
    case: str
    subject: str
    description: str
    agency: str
    requester: str
    email: str
    group: str = Field(description="The provider group the case is for")
    opened_at: datetime


class PendingQueue(BaseModel):
    items: list[PendingCase] = Field(description="Oldest first")


class Pull(BaseModel):
    priority: Priority = Field("medium", description="The new request's priority")
    request_type: Literal["assistance", "enhancement"] = Field(
        "assistance", description="`enhancement`: the case is a Request for Change; it waits on the 60 day schedule "
                                  "(status `scheduled`) until a service provider pulls it")


class Pulled(BaseModel):
    id: int
    number: str
    status: str
    crm_case_id: str
    provider_group: str
    priority: str
    url: str


@bp.get("/crm/pending", summary="List the CRM Pending Queue", responses={200: PendingQueue, **ERRORS},
        description="The cases waiting in the CRM for the provider groups the caller manages, oldest first. Only "
                    "provider group managers work the queue (403 for anyone else).")
def pending() -> tuple[dict[str, Any], int]:
    return respond(PendingQueue(items=[PendingCase(**case)
                                       for case in crm_queue.pending_cases(services(), caller())]))


@bp.post("/crm/pending/<case>/pull", summary="Pull a case into a request",
         responses={201: Pulled, **WRITE_ERRORS},
         description="Logs an assistance request from the case (its subject, description, agency and requester) "
                     "with the given priority; the case leaves the queue and the request's first task, *Assign to a "
                     "specialist*, goes to the group's managers. With `request_type` `enhancement` the case is a "
                     "Request for Change and waits on the 60 day schedule instead. Managers of the case's group "
                     "only. A case already pulled is 422. Honours `Idempotency-Key`.")
@idempotent
def pull(path: CasePath, body: Pull) -> tuple[dict[str, Any], int]:
    created = crm_queue.pull_case(services(), caller(), path.case, body.priority, body.request_type)
    number = str(created.number)
    return respond(Pulled(id=created.id, number=number, status=created.status, crm_case_id=str(created.crm_case_id),
                          provider_group=created.provider_group.code, priority=created.priority,
                          url=f"/api/v1/requests/{number}"), 201)
