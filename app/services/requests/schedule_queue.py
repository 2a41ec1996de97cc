"""The 60 day schedule as a queue: enhancement requests wait on their provider group's schedule with a planned week
until a service provider (or a manager) pulls one, which starts its process (a routine request) or completes its
process's *Wait on the 60 day schedule* after Discovery (a non-routine one, see schedule_wait.py), so the same
instance carries on into *Fulfil enhancement request*.

- `replan`: the group's managers and service providers move a scheduled request to another week (audited).
- `pull`: from its planned week on, a service provider of the group pulls it; a manager may pull it earlier. The
  request leaves `scheduled` with one conditional UPDATE (… WHERE status = 'scheduled'), so of two people pulling
  at once exactly one starts the process and the other gets a Conflict (409).

Weeks are ISO weeks on the business calendar's dates, named by their Monday.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.domain.permissions import Identity, may_plan_schedule, may_pull_scheduled, may_work_on
from app.errors import Conflict, FieldError, Forbidden, InvalidData
from app.services.context import Context
from app.services.requests import intake, queries, schedule_wait
from app.services.requests.schedule_wait import week_of
from app.services.tasks.actions import complete_on_behalf
from app.store import audit
from app.store.models import ProcessInstance, ServiceRequest, TaskRow

MAX_WEEKS_AHEAD = 52  # a plan further out than a year is a typing mistake
_ISO_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


@dataclass(frozen=True)
class Pulled:
    number: str
    first_task: str | None  # the first open task (draw up the work plan), when the puller may work on it


def parse_week(text: str) -> date:
    """An ISO week ("2026-W50", what a week picker sends) or a date ("2026-12-07": its week) as the week's Monday;
    InvalidData (field `week`) otherwise."""
    text = (text or "").strip()
    match = _ISO_WEEK.match(text)
    try:
        if match:
            return date.fromisocalendar(int(match.group(1)), int(match.group(2)), 1)
        if len(text) == 10:
            return week_of(date.fromisoformat(text))
    except ValueError:
        pass
    raise InvalidData("the week is not valid", [FieldError("week", f"{text[:40]!r} is not a week (2026-W50) "
                                                                   "or a date (2026-12-07)")])


def this_week(services: Context) -> date:
    with services.uow() as uow:
        return schedule_wait.this_week(uow.session, services.clock.now())


def _scheduled(request: ServiceRequest) -> None:
    if request.status != "scheduled":
        raise Conflict(f"{request.number} is not waiting on the schedule any more (it is {request.status}); "
                       "someone may have pulled it already")


@dataclass(frozen=True)
class Planned:
    number: str
    week: date  # the Monday of the planned week


def replan(services: Context, identity: Identity, ref: str, week_text: str) -> Planned:
    """Move the scheduled request `ref` to the week of `week_text`."""
    week = parse_week(week_text)
    current = this_week(services)
    if week < current:
        raise InvalidData("the week has passed", [FieldError("week", f"the week of {week:%d %b %Y} has passed; "
                                                                     f"plan this week ({current:%d %b}) or later")])
    if week > current + timedelta(weeks=MAX_WEEKS_AHEAD):
        raise InvalidData("the week is too far ahead",
                          [FieldError("week", f"plan at most {MAX_WEEKS_AHEAD} weeks ahead")])
    now = services.clock.now()
    with services.uow() as uow:
        s = uow.session
        request = queries.find_readable(s, ref, identity)
        if not may_plan_schedule(identity, request.provider_group.code):
            raise Forbidden(f"only a manager or service provider of {request.provider_group.code} can re-plan it")
        _scheduled(request)
        before = request.planned_week
        result = s.execute(update(ServiceRequest).where(ServiceRequest.id == request.id,
                                                        ServiceRequest.status == "scheduled")
                           .values(planned_week=week).execution_options(synchronize_session=False))
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise Conflict(f"{request.number} was pulled meanwhile; it is not on the schedule any more")
        audit.append(s, actor=identity.username, event_type="request_replanned", request_id=request.id, now=now,
                     payload={"request_number": request.number, "from_week": before.isoformat() if before else None,
                              "planned_week": week.isoformat()})
        number = request.number or ""
        uow.commit()
    return Planned(number, week)


def _schedule_task(session: Session, request: ServiceRequest) -> TaskRow | None:
    """The open *Wait on the 60 day schedule* of a request whose process waits on the schedule (None: the request has
    no process yet). Only that task is projected without a role (projection.py)."""
    if session.scalars(select(ProcessInstance.id).where(ProcessInstance.request_id == request.id)).first() is None:
        return None
    task = session.scalars(select(TaskRow).where(TaskRow.request_id == request.id, TaskRow.status == "open",
                                                 TaskRow.role_code.is_(None))).first()
    if task is None:
        raise Conflict(f"{request.number} has a process that does not wait on the schedule; reload the request")
    return task


def leave_schedule(session: Session, request: ServiceRequest, status: str) -> None:
    """Take `request` off the schedule into `status` (open: pulled; cancelled). The conditional UPDATE is the lock:
    of two pulls, or a pull and a cancel, at once exactly one changes the row; the other gets Conflict."""
    result = session.execute(update(ServiceRequest).where(ServiceRequest.id == request.id,
                                                          ServiceRequest.status == "scheduled")
                             .values(status=status).execution_options(synchronize_session=False))
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(f"{request.number} was pulled or cancelled by someone else at the same time; it is "
                       "taken off the schedule once")
    request.status = status


def pull(services: Context, identity: Identity, ref: str) -> Pulled:
    """Pull the scheduled request `ref` off the schedule: start its process (the enhancement branch), or continue the
    process that waits on the schedule after Discovery."""
    current = this_week(services)
    now = services.clock.now()
    with services.uow() as uow:
        s = uow.session
        request = queries.find_readable(s, ref, identity)
        group = request.provider_group.code
        if not may_plan_schedule(identity, group):
            raise Forbidden(f"only a service provider or manager of {group} can pull it from the schedule")
        _scheduled(request)
        if not may_pull_scheduled(identity, group, request.planned_week, current):
            assert request.planned_week is not None
            raise Forbidden(f"{request.number} is planned for the week of {request.planned_week:%d %b %Y}: a "
                            "service provider pulls it from that week on (a manager may pull it earlier, or "
                            "re-plan it)")
        leave_schedule(s, request, "open")
        audit.append(s, actor=identity.username, event_type="request_pulled", request_id=request.id, now=now,
                     payload={"request_number": request.number,
                              "planned_week": request.planned_week.isoformat() if request.planned_week else None})
        waiting = _schedule_task(s, request)
        if waiting is None:
            intake.start_process(s, request, identity.username, now)
        else:
            data: dict[str, str] = {"pulled_by": identity.username}
            if request.planned_week:
                data["planned_week"] = request.planned_week.isoformat()
            complete_on_behalf(services, s, waiting.task_uuid, identity.username, data)
        number = request.number or ""
        task = s.scalars(select(TaskRow).where(TaskRow.request_id == request.id, TaskRow.status == "open")).first()
        first = task.task_uuid if task and may_work_on(identity, task.role_code, group) else None
        uow.commit()
    return Pulled(number, first)
