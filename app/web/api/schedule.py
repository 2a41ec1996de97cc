"""The 60 day schedule as a queue: pull a scheduled enhancement request (start its work) or re-plan it to another
week; the same services as the *60 day schedule* page's Pull and Re-plan buttons."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from flask_openapi3.blueprint import APIBlueprint
from pydantic import BaseModel, Field

from app.services.requests import cancellation, schedule_queue
from app.web.api.common import SECURITY, WRITE_ERRORS, caller, respond, tag
from app.web.context import services

bp = APIBlueprint("api_schedule", __name__, url_prefix="/api/v1", abp_tags=[tag(
    "60 day schedule", "Routine enhancement requests logged with `schedule` wait on their provider group's 60 day "
                       "schedule with a planned week (ISO week, named by its Monday) until a service provider or "
                       "manager of the group pulls one, which starts its process; non-routine ones wait there after "
                       "Discovery, and the pull continues their process.")], abp_security=SECURITY)


class ScheduledRef(BaseModel):
    ref: str = Field(max_length=40, description="The request number (RF-000123) or its id")


class Week(BaseModel):
    week: str = Field(min_length=8, max_length=10, pattern=r"^(\d{4}-W\d{2}|\d{4}-\d{2}-\d{2})$",
                      description="An ISO week (2026-W50) or any date of the week (2026-12-07); from this week "
                                  f"to {schedule_queue.MAX_WEEKS_AHEAD} weeks ahead",
                      json_schema_extra={"example": "2027-W02"})


class Cancellation(BaseModel):
    reason: str = Field(min_length=1, max_length=cancellation.CANCEL_REASON_MAX,
                        description="Why the request is cancelled: emailed to the customer and written on the CRM "
                                    "case")


class Cancelled(BaseModel):
    number: str
    status: Literal["cancelled"] = "cancelled"
    url: str


class Pulled(BaseModel):
    number: str
    status: str
    first_task: str | None = Field(description="The first open task (*Draw up work plan and estimates*) when the "
                                               "caller works it; null otherwise")
    url: str


class Planned(BaseModel):
    number: str
    status: str
    planned_week: date = Field(description="The Monday of the planned week")
    url: str


@bp.post("/requests/<ref>/pull", summary="Pull a scheduled request from the 60 day schedule",
         responses={200: Pulled, **WRITE_ERRORS},
         description="Starts the request's process, or continues it after Discovery (either way the enhancement's "
                     "first task, *Draw up work plan and estimates*, goes to the group's service providers). "
                     "Service providers of the request's group from its "
                     "planned week on; managers of the group at any time. A request not waiting on the schedule "
                     "(pulled already, by someone else at the same time too) is 409; the process starts once.")
def pull(path: ScheduledRef) -> tuple[dict[str, Any], int]:
    pulled = schedule_queue.pull(services(), caller(), path.ref)
    return respond(Pulled(number=pulled.number, status="open", first_task=pulled.first_task,
                          url=f"/api/v1/requests/{pulled.number}"))


@bp.post("/requests/<ref>/plan", summary="Re-plan a scheduled request to another week",
         responses={200: Planned, **WRITE_ERRORS},
         description="Moves a request waiting on the 60 day schedule to another week (audited). Service providers "
                     "and managers of the request's group. A week that has passed or is more than a year ahead is "
                     "422; a request no longer on the schedule is 409.")
def plan(path: ScheduledRef, body: Week) -> tuple[dict[str, Any], int]:
    planned = schedule_queue.replan(services(), caller(), path.ref, body.week)
    return respond(Planned(number=planned.number, status="scheduled", planned_week=planned.week,
                           url=f"/api/v1/requests/{planned.number}"))


@bp.post("/requests/<ref>/cancel", summary="Cancel a request waiting on the 60 day schedule",
         responses={200: Cancelled, **WRITE_ERRORS},
         description="Cancels a request that waits on the 60 day schedule (routine, or non-routine after Discovery: "
                     "its process is ended), with a reason that is emailed to the customer and written on its CRM "
                     "case, which is closed as cancelled (audited as `request_cancelled`). Managers of the request's "
                     "group (403 otherwise); a request not waiting on the schedule, or pulled at the same moment, is "
                     "409; a missing or blank reason is 422. A request stopped by an incident is cancelled from its "
                     "incident (`POST /api/v1/incidents/{id}/cancel`).")
def cancel(path: ScheduledRef, body: Cancellation) -> tuple[dict[str, Any], int]:
    number = cancellation.cancel_scheduled(services(), caller(), path.ref, body.reason)
    return respond(Cancelled(number=number, url=f"/api/v1/requests/{number}"))
