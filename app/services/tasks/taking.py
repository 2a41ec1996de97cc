"""Finding an open task and taking it: the lookup every task action starts from (need-to-know included), and a
completion's lock of its task's instance and its take of the task, one statement each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from app.domain.permissions import Identity, may_read_request, may_work_on
from app.errors import Conflict, Forbidden, NotFound
from app.services.admin.auth import identity_of
from app.services.definitions import version_cache
from app.services.requests import projection
from app.store import reference_cache
from app.store.db import as_persistent, table_of
from app.store.models import DefinitionVersion, ProcessInstance, ProviderGroup, ServiceRequest, TaskRow, User


def may_see(user: User | Identity, task: TaskRow) -> bool:
    return may_work_on(user if isinstance(user, Identity) else identity_of(user), task.role_code, task.provider_group)


# Built once: the hot path's lookup; always the row as it is now (under a completion's instance lock it must show a
# racing completion even when this session loaded the row before).
_TASK = select(TaskRow).where(TaskRow.task_uuid == bindparam("task_uuid")).execution_options(populate_existing=True)


def open_task(session: Session, task_id: str, reader: User | Identity | None = None) -> TaskRow:
    """The open task `task_id`; for a `reader` who may not read its request (need-to-know) it does not exist, as on
    the task page, whatever they try to do with it."""
    task = session.scalars(_TASK, {"task_uuid": task_id}).one_or_none()
    if task is None or (reader is not None and not may_read_request(
            reader if isinstance(reader, Identity) else identity_of(reader), task.provider_group)):
        raise NotFound(f"no task {task_id}")
    return _still_open(task)


def _still_open(task: TaskRow) -> TaskRow:
    if task.status == "completed":
        when = task.completed_at.isoformat(timespec="seconds") if task.completed_at else "earlier"
        raise Conflict(f"task {task.name!r} was already completed by {task.completed_by} at {when}")
    if task.status != "open":
        raise Conflict(f"task {task.name!r} is {task.status}")
    return task


_TASKS = table_of(TaskRow)


def _taking(*where: Any, with_open_work: bool) -> Any:
    """The open task marked completed by `:by` (and given to them if it had no assignee), read back, in one statement
    (under its instance's lock): the rest of the completion (the form's checks, the engine step) fails or succeeds
    with it in the same transaction. `with_open_work` (PostgreSQL): with its instance's other open work
    (`projection.open_work_columns`), which the projection would read next. Not on SQLite: there a subquery in an
    UPDATE's RETURNING that refers to the row updated did not read that row's instance (seen: every instance's jobs).
    A Core statement, built once (the ORM's execution of it cost several times its round trip)."""
    returned = (*_TASKS.c, *projection.open_work_columns()) if with_open_work else tuple(_TASKS.c)
    return (update(_TASKS).where(_TASKS.c.task_uuid == bindparam("taken"), _TASKS.c.status == "open", *where)
            .values(status="completed", completed_by=bindparam("by"), completed_at=bindparam("at"),
                    assignee=func.coalesce(_TASKS.c.assignee, bindparam("by")))
            .returning(*returned))


_MINE_OR_NOBODYS = or_(_TASKS.c.assignee.is_(None), _TASKS.c.assignee == bindparam("by"))
# (on someone's behalf: whoever holds it, on PostgreSQL) -> the statement
_TAKE = {(False, False): _taking(_MINE_OR_NOBODYS, with_open_work=False),
         (False, True): _taking(_MINE_OR_NOBODYS, with_open_work=True),
         (True, False): _taking(with_open_work=False),
         (True, True): _taking(with_open_work=True)}
_TASK_COLUMNS = tuple(column.key for column in _TASKS.c)


@dataclass(frozen=True)
class Taken:
    task: TaskRow
    open_work: projection.OpenWork | None  # its instance's other open tasks and its jobs, when the take read them


def take_open_task(session: Session, task_id: str, user: Identity | str, now: datetime) -> Taken:
    """The open task `task_id`, now marked completed: by `user` (an Identity: if it is theirs or nobody's), or on
    someone's behalf (a name: whoever holds it). Otherwise the error `_open_task` gives (no such task for them, not
    open), or Forbidden when someone else holds it."""
    reader = user if isinstance(user, Identity) else None
    postgresql = session.get_bind().dialect.name == "postgresql"
    statement = _TAKE[reader is None, postgresql]
    by = reader.username if reader is not None else str(user)
    taken = session.connection().execute(statement, {"taken": task_id, "by": by, "at": now}).one_or_none()
    if taken is None:
        task = open_task(session, task_id, reader)  # says why (and raises)
        if reader is None:  # cannot be: an open task is taken on someone's behalf whoever holds it
            raise Conflict(f"task {task.name!r} could not be completed; reload the request")
        if not may_see(reader, task):
            raise Forbidden(f"{by} does not hold the {task.lane} role in {task.provider_group}")
        raise Forbidden(f"task is assigned to {task.assignee}")
    task = as_persistent(session, TaskRow, dict(zip(_TASK_COLUMNS, taken, strict=False)))
    if reader is not None and not may_read_request(reader, task.provider_group):
        raise NotFound(f"no task {task_id}")
    width = len(_TASK_COLUMNS)
    return Taken(task, projection.open_work_of(taken[width], taken[width + 1]) if postgresql else None)


_INSTANCES, _REQUESTS, _GROUPS = table_of(ProcessInstance), table_of(ServiceRequest), table_of(ProviderGroup)
_VERSIONS = table_of(DefinitionVersion)
# The instance of a task locked (only its row), with its request and the request's provider group (each as the ORM
# loads it: every column), its definition version's identity and the reference generation. Core, built once: the
# ORM's execution of this statement (three entities, a joined relationship) cost several times its round trip.
_LOCK_FOR_TASK = (
    select(*_INSTANCES.c, *_REQUESTS.c, *_GROUPS.c, _VERSIONS.c.id, _VERSIONS.c.process_id, _VERSIONS.c.version,
           _VERSIONS.c.sha256, reference_cache.current_column())
    .select_from(_INSTANCES.join(_VERSIONS, _VERSIONS.c.id == _INSTANCES.c.definition_version_id)
                 .join(_REQUESTS, _REQUESTS.c.id == _INSTANCES.c.request_id)
                 .join(_GROUPS, _GROUPS.c.id == _REQUESTS.c.provider_group_id))
    .where(_INSTANCES.c.id == select(_TASKS.c.instance_id).where(_TASKS.c.task_uuid == bindparam("task_uuid"))
           .scalar_subquery())
    .with_for_update(of=_INSTANCES))
_LOCKED_PARTS = tuple((model, tuple(column.key for column in table.c))
                      for model, table in ((ProcessInstance, _INSTANCES), (ServiceRequest, _REQUESTS),
                                           (ProviderGroup, _GROUPS)))


@dataclass(frozen=True)
class Locked:
    instance: ProcessInstance
    request: ServiceRequest
    version: version_cache.VersionKey


def lock_for_task(session: Session, task_id: str) -> Locked:
    """Lock the instance of task `task_id` (as `projection.lock_instance`: only that row) before anything else is
    read, and read its request, its definition version's identity (the spec and forms then come from
    `version_cache`) and the reference generation in the same statement. The task row is read after it, under the
    lock (`take_open_task`), so that a racing completion shows. The caller's pending changes are written first, as
    the ORM's autoflush would: the rows read back replace what the session holds for them."""
    session.flush()
    row = session.connection().execute(_LOCK_FOR_TASK, {"task_uuid": task_id}).one_or_none()
    if row is None:
        raise NotFound(f"no task {task_id}")
    made: list[Any] = []
    start = 0
    for model, keys in _LOCKED_PARTS:
        made.append(as_persistent(session, model, dict(zip(keys, row[start:start + len(keys)], strict=True))))
        start += len(keys)
    instance, request, group = made
    set_committed_value(request, "provider_group", group)
    reference_cache.note_generation(session, row[start + 4])
    return Locked(instance, request, version_cache.VersionKey(*row[start:start + 4]))
