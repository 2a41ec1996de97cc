"""Finding an open task and taking it: the lookup every task action starts from (need-to-know included), and a
completion's take of its task in one statement under its instance's lock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from app.domain.permissions import Identity, may_read_request, may_work_on
from app.errors import Conflict, Forbidden, NotFound
from app.services.admin.auth import identity_of
from app.services.requests import projection
from app.store.db import as_persistent, table_of
from app.store.models import TaskRow, User


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
