"""A non-routine enhancement request after Discovery waits on the 60 day schedule like a routine one.

Its process reaches *Wait on the 60 day schedule* (bpmn/request_fulfillment.bpmn), a user task marked
`waitsOn = schedule` and `slaClock = paused`. When the projection sees that task become ready it places the request
on its group's schedule: status `scheduled`, planned for the current week on the business calendar (as a routine
request is when it is logged; a service provider or manager re-plans it), audited as `request_scheduled`. The task
is nobody's inbox work (no role is projected for it): pulling the request from the schedule completes it
(app/services/requests/schedule_queue.py), and the process carries on into *Fulfil enhancement request*.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from app.domain.measures import local_date
from app.services.requests.sla_targets import load_calendar
from app.store import audit
from app.store.models import ServiceRequest

SCHEDULE = "schedule"  # the waitsOn property's value of a task the 60 day schedule's pull completes
SCHEDULE_PAUSE_REASON = "waiting on the 60 day schedule"


def week_of(day: date) -> date:
    """The Monday that starts `day`'s ISO week."""
    return day - timedelta(days=day.weekday())


def this_week(session: Session, now: datetime) -> date:
    return week_of(local_date(now, load_calendar(session)))


def place(session: Session, request: ServiceRequest, bpmn_id: str, now: datetime, actor: str) -> None:
    """The request's process waits on the schedule task `bpmn_id`: put the request on its group's schedule."""
    if request.status in ("closed", "cancelled"):
        return
    request.status = "scheduled"
    request.planned_week = this_week(session, now)
    audit.append(session, actor=actor, event_type="request_scheduled", request_id=request.id, now=now,
                 payload={"request_number": request.number, "planned_week": request.planned_week.isoformat(),
                          "waiting_at": bpmn_id})
