"""After every engine operation: save the instance (optimistic lock) and project its open work into indexed tables."""

from __future__ import annotations

from datetime import datetime
from types import MappingProxyType
from typing import Any, NamedTuple

from sqlalchemy import String, bindparam, cast, func, insert, literal, select, union_all, update
from sqlalchemy.orm import Session, aliased
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from app.engine import InstanceState
from app.errors import Conflict
from app.observability import request_id as request_ids
from app.services.notices import events as notice_events
from app.services.requests import schedule_wait, sla_clock
from app.store import audit, instance_paths, reference_cache, search_index, wakeup
from app.store.db import as_persistent, table_of
from app.store.models import ProcessInstance, Role, ServiceJob, ServiceRequest, TaskRow

_OPEN_JOBS = ("pending", "incident")


# Built once: the statements every projection runs.
_INSTANCES = table_of(ProcessInstance)
_ROLE_LANES = select(table_of(Role).c.lane, table_of(Role).c.code)
_TASKS, _JOBS = table_of(TaskRow), table_of(ServiceJob)
# An instance's open task rows and all its job rows, in one read: (kind, id, task_uuid, status).
_OPEN_WORK = union_all(
    select(literal("task").label("kind"), _TASKS.c.id, _TASKS.c.task_uuid, _TASKS.c.status)
    .where(_TASKS.c.instance_id == bindparam("instance_id"), _TASKS.c.status == "open"),
    select(literal("job").label("kind"), _JOBS.c.id, _JOBS.c.task_uuid, _JOBS.c.status)
    .where(_JOBS.c.instance_id == bindparam("instance_id")))
_CANCEL_TASKS = (update(_TASKS).where(_TASKS.c.id.in_(bindparam("ids", expanding=True)))
                 .values(status="cancelled", completed_at=bindparam("now")))
_CANCEL_JOBS = (update(_JOBS).where(_JOBS.c.id.in_(bindparam("ids", expanding=True)))
                .values(status="cancelled", updated_at=bindparam("now")))
_RUN_AGAIN = (update(_JOBS).where(_JOBS.c.id == bindparam("job_id"))
              .values(status="pending", next_attempt_at=bindparam("now"), updated_at=bindparam("now"),
                      origin_request_id=func.coalesce(bindparam("origin", type_=String), _JOBS.c.origin_request_id)))
_SAVE = (update(_INSTANCES)
         .where(_INSTANCES.c.id == bindparam("instance_id"), _INSTANCES.c.version == bindparam("seen_version"))
         .values(state_json=bindparam("state_json"), serializer_version=bindparam("serializer_version"),
                 status=bindparam("new_status"), version=bindparam("new_version"),
                 next_timer_at=bindparam("next_timer_at"), updated_at=bindparam("now")))
_SAVE_ADDING_NOTES = search_index.adding_notes(_SAVE)  # PostgreSQL: a completion's notes in the same round trip


def _role_of_lane(session: Session, lane: str | None) -> str | None:
    """The role code of `lane` (the role table is reference data: read once per process and reference generation)."""
    roles = reference_cache.cached(session, "lane_roles", None, lambda: MappingProxyType(
        {lane: code for lane, code in session.connection().execute(_ROLE_LANES) if lane}))
    return roles.get(lane or "")


def lock_instance(session: Session, instance_id: int, *, skip_locked: bool = False) -> ProcessInstance | None:
    """Lock the instance row first in every transaction that will write the instance, so that writers always take
    locks in the same order (instance, then task/job rows, then the audit head) and never deadlock.
    Returns None when skip_locked is set and another transaction holds it (SQLite serialises writers anyway)."""
    query = (select(ProcessInstance).where(ProcessInstance.id == instance_id)
             .with_for_update(skip_locked=skip_locked).execution_options(populate_existing=True))
    return session.scalars(query).one_or_none()


class _Save(NamedTuple):
    """An instance's save (`save_state`'s arguments): on PostgreSQL `apply` has the first new task row's insert carry
    it (`_insert_task`), one round trip fewer for most steps."""

    instance: ProcessInstance
    seen_version: int
    state: InstanceState
    now: datetime
    notes: str


def save_state(session: Session, instance: ProcessInstance, seen_version: int, state: InstanceState,
               now: datetime, notes: str = "") -> None:
    """Write the new state only if nobody else wrote since we read `seen_version`; else raise Conflict. `notes`:
    words to add to the request's search entry (`search_index.add_words`), in the same statement where it can."""
    _save(session, _Save(instance, seen_version, state, now, notes))


def _save(session: Session, save: _Save, task: dict[str, Any] | None = None) -> int | None:
    """`save_state`; with `task` (PostgreSQL: a new task row's columns, as `_insert_task` takes them) that row
    inserted by the same statement, only if the save wrote: its id."""
    instance, seen_version, state, now, notes = save
    if state.next_timer_at is not None and state.next_timer_at != instance.next_timer_at:
        wakeup.work_due(session)  # a core update: the flush does not see it; the workers re-read their next due time
    values = {
        "instance_id": instance.id, "seen_version": seen_version, "state_json": state.state_json,
        "serializer_version": state.serializer_version, "new_status": "completed" if state.completed else "running",
        "new_version": seen_version + 1, "next_timer_at": state.next_timer_at, "now": now}
    adding_notes = bool(notes) and search_index.adds_notes_with_a_write(session)
    if adding_notes:
        values |= {"notes_request_id": instance.request_id, "notes": notes}
    elif notes:
        search_index.add_words(session, instance.request_id, notes)
    task_id: int | None = None
    if task is None:
        written = session.connection().execute(_SAVE_ADDING_NOTES if adding_notes else _SAVE, values).rowcount == 1
    else:
        task_id = session.connection().execute(_SAVE_INSERTING_TASK[adding_notes], values | _task_values(task)
                                               ).scalar_one_or_none()
        written = task_id is not None
    if not written:
        raise Conflict("someone else changed this request at the same time; reload and try again")
    # What the row now holds, without reading it back (the state JSON is the largest column there is).
    for name, value in (("state_json", state.state_json), ("serializer_version", state.serializer_version),
                        ("status", "completed" if state.completed else "running"), ("version", seen_version + 1),
                        ("next_timer_at", state.next_timer_at), ("updated_at", now)):
        set_committed_value(instance, name, value)
    return task_id


class OpenWork(NamedTuple):
    """An instance's open task rows and all its job rows, by task id: (row id, status)."""

    tasks: dict[str, tuple[int, str]]
    jobs: dict[str, tuple[int, str]]


_OTHER_TASKS, _ITS_JOBS = aliased(TaskRow, name="other_task"), aliased(ServiceJob, name="its_job")


def open_work_columns() -> tuple[Any, Any]:
    """For a statement on one task row (`TaskRow`) run under its instance's lock: that instance's other open task
    rows and all its job rows, as two scalar subqueries (`id:task_uuid` and `id:status:task_uuid`, comma-separated),
    so that a completion reads them with the statement that takes its task (`open_work_of` reads them back). In the
    statement after the lock, not in the lock: on PostgreSQL a statement that waited for the lock still reads other
    rows as they were when it began. On PostgreSQL only (see `tasks.actions._taking`)."""
    tasks = (select(func.aggregate_strings(cast(_OTHER_TASKS.id, String) + ":" + _OTHER_TASKS.task_uuid, ","))
             .where(_OTHER_TASKS.instance_id == TaskRow.instance_id, _OTHER_TASKS.status == "open",
                    _OTHER_TASKS.task_uuid != TaskRow.task_uuid)
             .scalar_subquery())
    jobs = (select(func.aggregate_strings(cast(_ITS_JOBS.id, String) + ":" + _ITS_JOBS.status + ":"
                                          + _ITS_JOBS.task_uuid, ","))
            .where(_ITS_JOBS.instance_id == TaskRow.instance_id)
            .scalar_subquery())
    return tasks, jobs


def open_work_of(tasks: str | None, jobs: str | None) -> OpenWork:
    """What the two `open_work_columns` read: the instance's open task rows (but the one taken) and its job rows."""
    rows = OpenWork({}, {})
    for item in (tasks or "").split(","):
        if item:
            row_id, task_uuid = item.split(":", 1)
            rows.tasks[task_uuid] = (int(row_id), "open")
    for item in (jobs or "").split(","):
        if item:
            row_id, status, task_uuid = item.split(":", 2)
            rows.jobs[task_uuid] = (int(row_id), status)
    return rows


def _open_work(session: Session, instance_id: int) -> OpenWork:
    session.flush()  # a Core read: what the caller changed through the ORM (a job it ran) must be written first
    rows = OpenWork({}, {})
    for kind, row_id, task_uuid, status in session.connection().execute(_OPEN_WORK, {"instance_id": instance_id}):
        (rows.tasks if kind == "task" else rows.jobs)[task_uuid] = (row_id, status)
    return rows


def _written(session: Session, model: type[TaskRow] | type[ServiceJob], ids: list[int], **values: object) -> None:
    """Rows just updated with Core: what they now hold, in the objects of this session that stand for them."""
    for row_id in ids:
        loaded = session.identity_map.get(identity_key(model, row_id))
        if loaded is not None:
            for name, value in values.items():
                set_committed_value(loaded, name, value)


_TASK_COLUMNS = tuple(column.key for column in _TASKS.columns if column.key != "id")
_TASK_VALUES = {name: bindparam(f"task_{name}", type_=_TASKS.c[name].type) for name in _TASK_COLUMNS}
_INSERT_TASK = insert(_TASKS).values(_TASK_VALUES).returning(_TASKS.c.id)


def _inserting_task_if_saved(save: Any) -> Any:
    """PostgreSQL: the instance's save (`_SAVE`…) and a new task row's insert in one statement, the row inserted only
    if the save wrote (from its RETURNING, a data-modifying WITH): the row's id back, or no row when it did not."""
    saved = save.returning(_INSTANCES.c.id).cte("saved")
    return (insert(_TASKS).from_select(_TASK_COLUMNS, select(*_TASK_VALUES.values()).select_from(saved))
            .add_cte(saved).returning(_TASKS.c.id))


_SAVE_INSERTING_TASK = {False: _inserting_task_if_saved(_SAVE), True: _inserting_task_if_saved(_SAVE_ADDING_NOTES)}


def _task_values(values: dict[str, Any]) -> dict[str, Any]:
    return {f"task_{name}": value for name, value in values.items()}


def _insert_task(session: Session, values: dict[str, Any], save: _Save | None = None) -> TaskRow:
    """Insert the new task row (`values`: every column but its id) with a prebuilt Core statement (no unit of work
    for one row), with the instance's `save` when it is still to be done (`_save`): the row as now stored, a
    persistent object of the session with its id (nothing left to load)."""
    if save is not None:
        row_id = _save(session, save, values)
    else:
        row_id = session.connection().execute(_INSERT_TASK, _task_values(values)).scalar_one()
    return as_persistent(session, TaskRow, {"id": row_id, **values})


def project(session: Session, instance: ProcessInstance, request: ServiceRequest, state: InstanceState,
            now: datetime, actor: str, *, new: bool = False, rows: OpenWork | None = None,
            save: _Save | None = None) -> None:
    """`new`: the instance was inserted in this transaction, so it has no task or job rows to read yet; `rows`: its
    open task and job rows as the caller read them under the instance's lock (`open_work_of`), else read here;
    `save`: the instance's save, still to be done (by the first new task row's insert, else on its own)."""
    if rows is None:
        rows = OpenWork({}, {}) if new else _open_work(session, instance.id)
    ready_ids = {task.task_id for task in state.human_tasks}
    # left the ready set without a completion through us: cancelled
    cancelled = [row_id for task_uuid, (row_id, _) in rows.tasks.items() if task_uuid not in ready_ids]
    if cancelled:
        session.connection().execute(_CANCEL_TASKS, {"ids": cancelled, "now": now})
        _written(session, TaskRow, cancelled, status="cancelled", completed_at=now)
    for task in state.human_tasks:
        if task.task_id in rows.tasks:
            continue
        assignee = task.data.get(task.assignee_variable) if task.assignee_variable else None
        from_schedule = task.waits_on == schedule_wait.SCHEDULE  # the pull completes it, nobody's inbox work
        row = _insert_task(session, save=save, values=dict(
            task_uuid=task.task_id, instance_id=instance.id, request_id=request.id, bpmn_id=task.bpmn_id,
            process_id=task.process_id, name=task.name, lane=task.lane,
            role_code=None if from_schedule else _role_of_lane(session, task.lane),
            provider_group=request.provider_group.code, assignee=assignee if isinstance(assignee, str) else None,
            status="open", completed_by=None, completed_at=None,
            priority=request.priority, due_at=sla_clock.task_due(request), form_schema=task.form_schema,
            ui_schema=task.ui_schema, instructions=task.instructions, request_number=request.number or "",
            request_title=request.title, agency=request.agency, created_at=now))
        save = None
        audit.append(session, actor=actor, event_type="task_ready", request_id=request.id, now=now,
                     payload={"task": task.task_id, "bpmn_id": task.bpmn_id, "name": task.name, "lane": task.lane,
                              "assignee": assignee})
        notice_events.new_ready_task(session, row, request, now, actor)
        if from_schedule:
            schedule_wait.place(session, request, task.bpmn_id, now, actor)
    if save is not None:
        _save(session, save)
    _project_jobs(session, instance, request, state, now, rows.jobs)
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
                  now: datetime, jobs: dict[str, tuple[int, str]]) -> None:
    """One job row per service task, ever (task_uuid is unique): a ready service task keeps the row it has, whatever
    its status (a pending job, or an incident an operator has to look at), and gets one only when it has none; an open
    job (pending or incident) whose task is no longer ready is cancelled. `jobs`: the instance's job rows, by task."""
    ready_services = {call.task_id for call in state.service_calls}
    cancelled = [row_id for task_uuid, (row_id, status) in jobs.items()
                 if status in _OPEN_JOBS and task_uuid not in ready_services]
    if cancelled:
        session.connection().execute(_CANCEL_JOBS, {"ids": cancelled, "now": now})
        _written(session, ServiceJob, cancelled, status="cancelled", updated_at=now)
    for call in state.service_calls:
        existing = jobs.get(call.task_id)
        if existing is None:
            session.add(ServiceJob(instance_id=instance.id, request_id=request.id, task_uuid=call.task_id,
                                   bpmn_id=call.bpmn_id, operator=call.operator, next_attempt_at=now,
                                   origin_request_id=request_ids.current(), created_at=now, updated_at=now))
        elif existing[1] == "cancelled":  # ready again (not by itself; kept safe): run it again
            session.connection().execute(_RUN_AGAIN, {"job_id": existing[0], "now": now,
                                                      "origin": request_ids.current()})
            loaded = session.identity_map.get(identity_key(ServiceJob, existing[0]))
            if loaded is not None:  # its origin may have been kept: read again when used
                session.expire(loaded)


def apply(session: Session, instance: ProcessInstance, seen_version: int, state: InstanceState, now: datetime,
          actor: str, request: ServiceRequest | None = None, rows: OpenWork | None = None, notes: str = "") -> None:
    """Save the state (optimistic lock, with the search `notes` of a completion) and project it; `request`, when the
    caller has it loaded, saves a read, and so do `rows` (see `project`). On PostgreSQL the save is written by the
    statement that inserts the first new task row (else after the task rows); on SQLite first, on its own. Either
    way before the transaction commits: a save that finds the instance changed fails the whole step (Conflict)."""
    save = _Save(instance, seen_version, state, now, notes)
    carried = session.get_bind().dialect.name == "postgresql"
    if not carried:
        _save(session, save)
    request = request or session.get(ServiceRequest, instance.request_id)
    assert request is not None
    project(session, instance, request, state, now, actor, rows=rows, save=save if carried else None)


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
