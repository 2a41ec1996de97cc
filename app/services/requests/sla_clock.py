"""The SLA clock of a request: business time used against its target, paused while the request waits on the
customer, and escalated at 75% and at 100% of the target, each exactly once.

The clock lives on the request row (target in business seconds, business seconds spent paused, the moment a pause
began, the next threshold to check). A task marked `slaClock = paused` in the BPMN pauses it for as long as the
task is open. The worker raises due escalations (`raise_due`): each one is a row with a unique (request, level),
its emails go through the outbox in the same transaction, and an audit event records it, so an escalation is never
lost when the worker stops and never raised or sent twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.domain.business_calendar import BusinessCalendar
from app.domain.local_time import DEFAULT_ZONE, moment, zone
from app.services.notices import events as notice_events
from app.services.requests.sla_targets import load_calendar
from app.store import audit
from app.store.models import SlaEscalation, TaskRow
from app.store.models.service_request import ServiceRequest
from handlers import Clients

WARNING_SHARE = 0.75
ACTOR = "sla-clock"
LEVEL_WORDS = {"warning": "75% of the SLA target used", "breach": "SLA target passed"}


@dataclass(frozen=True)
class ClockReading:
    """Where a request's SLA clock stands at a moment (for pages, the inbox and the worker)."""

    state: str  # running | at_risk | breached | paused | met | missed | none
    target: timedelta | None
    used: timedelta
    paused_total: timedelta
    paused_since: datetime | None
    warn_at: datetime | None
    due_at: datetime | None
    breached_at: datetime | None

    @property
    def remaining(self) -> timedelta | None:
        return None if self.target is None else self.target - self.used

    @property
    def share_used(self) -> float | None:
        if not self.target:
            return None
        return self.used / self.target


def _calendar(session: Session, request: ServiceRequest) -> BusinessCalendar:
    return load_calendar(session, since=request.created_at.date() - timedelta(days=1))


def _seconds(value: timedelta) -> int:
    return round(value.total_seconds())


def thresholds(calendar: BusinessCalendar, request: ServiceRequest) -> tuple[datetime, datetime] | None:
    """When the clock reaches 75% and 100% of the target, given the pauses so far (None: no target)."""
    if request.sla_target_seconds is None:
        return None
    target, paused = request.sla_target_seconds, request.sla_paused_seconds or 0
    warn = calendar.add(request.created_at, timedelta(seconds=round(target * WARNING_SHARE) + paused))
    due = calendar.add(request.created_at, timedelta(seconds=target + paused))
    return warn, due


def start(session: Session, request: ServiceRequest) -> None:
    """Arm the clock of a new request: its target is the business time from creation to `sla_due_at`."""
    if request.sla_due_at is None:
        return
    calendar = _calendar(session, request)
    request.sla_target_seconds = max(0, _seconds(calendar.between(request.created_at, request.sla_due_at)))
    request.sla_paused_seconds = 0
    found = thresholds(calendar, request)
    request.sla_next_check_at = found[0] if found else None


def _levels_raised(session: Session, request_id: int) -> set[str]:
    return set(session.scalars(select(SlaEscalation.level).where(SlaEscalation.request_id == request_id)))


def _next_check(request: ServiceRequest, found: tuple[datetime, datetime], raised: set[str]) -> datetime | None:
    if request.status == "closed" or request.sla_paused_since is not None:
        return None
    warn, due = found
    if "warning" not in raised:
        return warn
    return due if "breach" not in raised else None


def sync_pause(session: Session, request: ServiceRequest, paused: bool, now: datetime, actor: str,
               reason: str | None = None) -> None:
    """Pause or resume the clock to match whether a task marked `slaClock = paused` is open (after a projection);
    `reason`: what the request waits on (default: the customer)."""
    if request.sla_target_seconds is None or request.status == "closed":
        return
    if paused and request.sla_paused_since is None:
        request.sla_paused_since, request.sla_next_check_at = now, None
        _set_task_due(session, request.id, None)  # no due time while paused: never overdue, sorted last
        audit.append(session, actor=actor, event_type="sla_paused", request_id=request.id, now=now,
                     payload={"reason": reason or "waiting on the customer"})
    elif not paused and request.sla_paused_since is not None:
        calendar = _calendar(session, request)
        spent = calendar.between(request.sla_paused_since, now)
        request.sla_paused_seconds = (request.sla_paused_seconds or 0) + max(0, _seconds(spent))
        request.sla_paused_since = None
        found = thresholds(calendar, request)
        assert found is not None
        request.sla_due_at = found[1]
        request.sla_next_check_at = _next_check(request, found, _levels_raised(session, request.id))
        _set_task_due(session, request.id, request.sla_due_at)
        audit.append(session, actor=actor, event_type="sla_resumed", request_id=request.id, now=now,
                     payload={"paused_business_seconds": _seconds(spent),
                              "paused_total_business_seconds": request.sla_paused_seconds,
                              "sla_due_at": request.sla_due_at.isoformat()})


def _set_task_due(session: Session, request_id: int, due: datetime | None) -> None:
    session.flush()  # rows projected in this transaction too
    session.execute(update(TaskRow).where(TaskRow.request_id == request_id, TaskRow.status == "open")
                    .values(due_at=due).execution_options(synchronize_session=False))


def task_due(request: ServiceRequest) -> datetime | None:
    """The due time of a new task of the request: none while its clock is paused."""
    return None if request.sla_paused_since is not None else request.sla_due_at


def stop(request: ServiceRequest) -> None:
    """The request closed: nothing more to check (a pause still open is simply over)."""
    request.sla_next_check_at = None


def reading(session: Session, request: ServiceRequest, now: datetime,
            calendar: BusinessCalendar | None = None) -> ClockReading:
    paused_total = timedelta(seconds=request.sla_paused_seconds or 0)
    if request.sla_target_seconds is None:
        return ClockReading("none", None, timedelta(0), paused_total, request.sla_paused_since, None,
                            request.sla_due_at, request.sla_breached_at)
    calendar = calendar or _calendar(session, request)
    end = request.closed_at or now
    if request.sla_paused_since is not None:
        end = min(end, request.sla_paused_since)
    used = max(timedelta(0), calendar.between(request.created_at, end) - paused_total)
    target = timedelta(seconds=request.sla_target_seconds)
    found = thresholds(calendar, request)
    assert found is not None
    if request.status == "closed":
        state = "missed" if request.sla_breached_at or used > target else "met"
    elif request.sla_paused_since is not None:
        state = "paused"
    elif request.sla_breached_at is not None or used >= target:
        state = "breached"
    elif used >= target * WARNING_SHARE:
        state = "at_risk"
    else:
        state = "running"
    return ClockReading(state, target, used, paused_total, request.sla_paused_since, found[0], found[1],
                        request.sla_breached_at)


def _message(request: ServiceRequest, level: str, threshold: datetime, due: datetime, used: timedelta,
             target: timedelta, where: tzinfo) -> tuple[str, str]:
    """The escalation email. Its times are in the installation's zone, in the words the pages use (no seconds), and
    its due time is the request's (`sla_due_at`, what the request page and the inbox show)."""
    number = request.number or ""
    if level == "warning":
        subject = f"SLA at risk: {number} has used 75% of its target"
        lead = f"Request {number} ({request.title}) has used 75% of its agreed time and is still open."
    else:
        subject = f"SLA target passed: {number}"
        lead = f"The agreed time schedule for request {number} ({request.title}) ended and the request is still open."
    hours = used.total_seconds() / 3600
    body = (f"{lead}\n\nProvider group: {request.provider_group.code}\nPriority: {request.priority}\n"
            f"Target: {target.total_seconds() / 3600:g} business hours; used: {hours:.1f}\n"
            f"Reached at: {moment(threshold, where)}\nDue: {moment(request.sla_due_at or due, where)}\n\n"
            "Please review it in the Request Fulfillment inbox.")
    return subject, body


def escalate(session: Session, request: ServiceRequest, now: datetime, clients: Clients,
             where: tzinfo | None = None) -> list[str]:
    """Raise every level the clock has reached and not raised yet; the levels raised, in order. `where`: the zone
    the emails write times in (the installation's; default America/Chicago)."""
    if request.status == "closed" or request.sla_paused_since is not None or request.sla_target_seconds is None:
        return []
    calendar = _calendar(session, request)
    found = thresholds(calendar, request)
    assert found is not None
    raised = _levels_raised(session, request.id)
    due_levels = [(level, at) for level, at in zip(("warning", "breach"), found, strict=True)
                  if level not in raised and at <= now]
    reading_ = reading(session, request, now, calendar)
    target = reading_.target or timedelta(0)
    recipients = clients.directory.escalation_recipients(request.provider_group.code, request.number or "")
    done: list[str] = []
    for level, at in due_levels:
        superseded = level == "warning" and any(lv == "breach" for lv, _ in due_levels)
        to = [] if superseded else notice_events.escalated(session, request, level, LEVEL_WORDS[level], recipients, now)
        session.add(SlaEscalation(request_id=request.id, level=level, threshold_at=at, raised_at=now,
                                  recipients=to))
        if to:
            subject, body = _message(request, level, at, found[1], reading_.used, target,
                                     where or zone(DEFAULT_ZONE))
            clients.outbox.queue(kind=f"sla_{level}", to=to, subject=subject, body=body,
                                    request_number=request.number, key=f"sla-{request.id}-{level}")
        if level == "breach":
            request.sla_breached_at = at
        payload: dict[str, Any] = {"level": level, "what": LEVEL_WORDS[level], "threshold_at": at.isoformat(),
                                   "sla_due_at": found[1].isoformat(), "recipients": to,
                                   "used_business_seconds": _seconds(reading_.used),
                                   "target_business_seconds": request.sla_target_seconds}
        if superseded:
            payload["note"] = "reached together with the breach; only the breach was emailed"
        audit.append(session, actor=ACTOR, event_type="sla_breached" if level == "breach" else "sla_warning",
                     request_id=request.id, now=now, payload=payload)
        done.append(level)
    request.sla_next_check_at = _next_check(request, found, raised | set(done))
    session.flush()
    return done


def summary(session: Session, request: ServiceRequest, now: datetime) -> dict[str, Any]:
    """The clock as JSON-native data (`rf show`, the request page)."""
    clock = reading(session, request, now)
    escalations = session.scalars(select(SlaEscalation).where(SlaEscalation.request_id == request.id)
                                  .order_by(SlaEscalation.threshold_at, SlaEscalation.id))

    def hours(value: timedelta | None) -> float | None:
        return None if value is None else round(value.total_seconds() / 3600, 2)

    return {
        "state": clock.state, "target_business_hours": hours(clock.target), "used_business_hours": hours(clock.used),
        "remaining_business_hours": hours(clock.remaining), "paused_business_hours": hours(clock.paused_total),
        "paused_since": clock.paused_since.isoformat() if clock.paused_since else None,
        "warn_at": clock.warn_at.isoformat() if clock.warn_at else None,
        "due_at": clock.due_at.isoformat() if clock.due_at else None,
        "breached_at": clock.breached_at.isoformat() if clock.breached_at else None,
        "escalations": [{"level": e.level, "what": LEVEL_WORDS.get(e.level, e.level),
                         "threshold_at": e.threshold_at.isoformat(), "raised_at": e.raised_at.isoformat(),
                         "recipients": e.recipients} for e in escalations],
    }
