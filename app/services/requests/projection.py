"""After every engine operation: save the instance (optimistic lock) and project its open work into indexed tables."""

from __future__ import annotations

from datetime import datetime
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, bindparam, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from app.engine import InstanceState
from app.errors import Conflict
from app.observability import request_id as request_ids
from app.services.notices import events as notice_events
from app.services.requests import schedule_wait, sla_clock
from app.store import audit, instance_paths, wakeup
from app.store.db import table_of
from app.store.models import ProcessInstance, Role, ServiceJob, ServiceRequest, TaskRow

_OPEN_JOBS = ("pending", "incident")


# Built once: the statements every projection runs.
_INSTANCES = table_of(ProcessInstance)
_ROLE_LANES = select(table_of(Role).c.lane, table_of(Role).c.code)
_OPEN_TASKS = select(TaskRow).where(TaskRow.instance_id == bindparam("instance_id"), TaskRow.status == "open")
_JOBS = select(ServiceJob).where(ServiceJob.instance_id == bindparam("instance_id"))
_SAVE = (update(_INSTANCES)
         .where(_INSTANCES.c.id == bindparam("instance_id"), _INSTANCES.c.version == bindparam("seen_version"))
         .values(state_json=bindparam("state_json"), serializer_version=bindparam("serializer_version"),
                 status=bindparam("new_status"), version=bindparam("new_version"),
                 next_timer_at=bindparam("next_timer_at"), updated_at=bindparam("now")))


# Each database's lane -> role code map, as last read. Roles are reference data that is only ever added to (the seed
# adds missing ones; none is renamed, moved to another lane or removed), so a lane found here is right, and a lane
# not found is looked up again.
_LANE_ROLES: WeakKeyDictionary[Engine | Connection, dict[str, str]] = WeakKeyDictionary()


def lane_roles(session: Session) -> dict[str, str]:
    return {lane: code for lane, code in session.connection().execute(_ROLE_LANES) if lane}


def _role_of_lane(session: Session, lane: str | None) -> str | None:
    """The role code of `lane`, read from the database only when it is not known yet."""
    bind = session.get_bind()
    known = _LANE_ROLES.get(bind)
    if known is None or (lane or "") not in known:
        known = _LANE_ROLES[bind] = lane_roles(session)
    return known.get(lane or "")


def lock_instance(session: Session, instance_id: int, *, skip_locked: bool = False) -> ProcessInstance | None:
    """Lock the instance row first in every transaction that will write the instance, so that writers always take
    locks in the same order (instance, then task/job rows, then the audit head) and never deadlock.
    Returns None when skip_locked is set and another transaction holds it (SQLite serialises writers anyway)."""
    query = (select(ProcessInstance).where(ProcessInstance.id == instance_id)
             .with_for_update(skip_locked=skip_locked).execution_options(populate_existing=True))
    return session.scalars(query).one_or_none()


def save_state(session: Session, instance: ProcessInstance, seen_version: int, state: InstanceState,
               now: datetime) -> None:
    """Write the new state only if nobody else wrote since we read `seen_version`; else raise Conflict."""
    if state.next_timer_at is not None and state.next_timer_at != instance.next_timer_at:
        wakeup.work_due(session)  # a core update: the flush does not see it; the workers re-read their next due time
    result = session.connection().execute(_SAVE, {
        "instance_id": instance.id, "seen_version": seen_version, "state_json": state.state_json,
        "serializer_version": state.serializer_version, "new_status": "completed" if state.completed else "running",
        "new_version": seen_version + 1, "next_timer_at": state.next_timer_at, "now": now})
    if result.rowcount != 1:
        raise Conflict("someone else changed this request at the same time; reload and try again")
    # What the row now holds, without reading it back (the state JSON is the largest column there is).
    for name, value in (("state_json", state.state_json), ("serializer_version", state.serializer_version),
                        ("status", "completed" if state.completed else "running"), ("version", seen_version + 1),
                        ("next_timer_at", state.next_timer_at), ("updated_at", now)):
        set_committed_value(instance, name, value)


def project(session: Session, instance: ProcessInstance, request: ServiceRequest, state: InstanceState,
            now: datetime, actor: str, *, new: bool = False) -> None:
    """`new`: the instance was inserted in this transaction, so it has no task or job rows to read yet."""
    open_rows = {} if new else {row.task_uuid: row for row in session.scalars(
        _OPEN_TASKS, {"instance_id": instance.id})}
    ready_ids = {task.task_id for task in state.human_tasks}
    for task_uuid, row in open_rows.items():
        if task_uuid not in ready_ids:  # left the ready set without a completion through us: cancelled
            row.status, row.completed_at = "cancelled", now
    for task in state.human_tasks:
        if task.task_id in open_rows:
            continue
        assignee = task.data.get(task.assignee_variable) if task.assignee_variable else None
        from_schedule = task.waits_on == schedule_wait.SCHEDULE  # the pull completes it, nobody's inbox work
        row = TaskRow(
            task_uuid=task.task_id, instance_id=instance.id, request_id=request.id, bpmn_id=task.bpmn_id,
            process_id=task.process_id, name=task.name, lane=task.lane,
            role_code=None if from_schedule else _role_of_lane(session, task.lane),
            provider_group=request.provider_group.code, assignee=assignee if isinstance(assignee, str) else None,
            status="open", completed_by=None, completed_at=None,
            priority=request.priority, due_at=sla_clock.task_due(request), form_schema=task.form_schema,
            ui_schema=task.ui_schema, instructions=task.instructions, request_number=request.number or "",
            request_title=request.title, agency=request.agency, created_at=now)
        session.add(row)
        audit.append(session, actor=actor, event_type="task_ready", request_id=request.id, now=now,
                     payload={"task": task.task_id, "bpmn_id": task.bpmn_id, "name": task.name, "lane": task.lane,
                              "assignee": assignee})
        notice_events.new_ready_task(session, row, request, now, actor)
        if from_schedule:
            schedule_wait.place(session, request, task.bpmn_id, now, actor)
    _project_jobs(session, instance, request, state, now, new)
    for timer in state.fired_timers:
        audit.append(session, actor="timer", event_type="timer_fired", request_id=request.id, now=now,
                     payload={"bpmn_id": timer})
    pausing = [task for task in state.human_tasks if task.pauses_sla]
    sla_clock.sync_pause(session, request, bool(pausing), now, actor,
                         reason=schedule_wait.SCHEDULE_PAUSE_REASON if any(
                             task.waits_on == schedule_wait.SCHEDULE for task in pausing) else None)
    if state.completed and request.status != "closed":
        request.status, request.closed_at = "closed", now
        sla_clock.stop(request)
        audit.append(session, actor=actor, event_type="request_closed", request_id=request.id, now=now,
                     payload={"path": state.path})
        instance_paths.record(session, request.id)  # its steps for the insights, now that it has taken its last
    session.flush()


def _project_jobs(session: Session, instance: ProcessInstance, request: ServiceRequest, state: InstanceState,
                  now: datetime, new: bool = False) -> None:
    """One job row per service task, ever (task_uuid is unique): a ready service task keeps the row it has, whatever
    its status (a pending job, or an incident an operator has to look at), and gets one only when it has none; an open
    job (pending or incident) whose task is no longer ready is cancelled."""
    jobs = {} if new else {job.task_uuid: job for job in session.scalars(_JOBS, {"instance_id": instance.id})}
    ready_services = {call.task_id for call in state.service_calls}
    for task_uuid, job in jobs.items():
        if job.status in _OPEN_JOBS and task_uuid not in ready_services:
            job.status, job.updated_at = "cancelled", now
    for call in state.service_calls:
        existing = jobs.get(call.task_id)
        if existing is None:
            session.add(ServiceJob(instance_id=instance.id, request_id=request.id, task_uuid=call.task_id,
                                   bpmn_id=call.bpmn_id, operator=call.operator, next_attempt_at=now,
                                   origin_request_id=request_ids.current(), created_at=now, updated_at=now))
        elif existing.status == "cancelled":  # ready again (not by itself; kept safe): run it again
            existing.status, existing.next_attempt_at, existing.updated_at = "pending", now, now
            existing.origin_request_id = request_ids.current() or existing.origin_request_id


def apply(session: Session, instance: ProcessInstance, seen_version: int, state: InstanceState, now: datetime,
          actor: str, request: ServiceRequest | None = None) -> None:
    """Save the state (optimistic lock) and project it; `request`, when the caller has it loaded, saves a read."""
    save_state(session, instance, seen_version, state, now)
    request = request or session.get(ServiceRequest, instance.request_id)
    assert request is not None
    project(session, instance, request, state, now, actor)


def new_instance(session: Session, request: ServiceRequest, definition_version_id: int, state: InstanceState,
                 now: datetime, actor: str) -> ProcessInstance:
    """Insert the instance of a new request as its first save leaves it (version 1, as `save_state` of version 0
    would: one INSERT instead of an INSERT and an UPDATE that writes the state again) and project it."""
    instance = ProcessInstance(request_id=request.id, definition_version_id=definition_version_id,
                               state_json=state.state_json, serializer_version=state.serializer_version,
                               status="completed" if state.completed else "running", version=1,
                               next_timer_at=state.next_timer_at, created_at=now, updated_at=now)
    session.add(instance)
    session.flush()
    if state.next_timer_at is not None:
        wakeup.work_due(session)
    project(session, instance, request, state, now, actor, new=True)
    return instance
