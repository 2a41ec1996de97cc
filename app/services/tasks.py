"""The inbox use cases: list tasks, claim, complete. Only holders of the lane's role in the group may act."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import audit, engine
from app.bootstrap import Services
from app.errors import Conflict, Forbidden, NotFound
from app.models import DefinitionVersion, ProcessInstance, ServiceRequest, TaskRow, User
from app.services import projection
from app.services.forms import group_members, schema_for, validate_submission


@dataclass(frozen=True)
class TaskView:
    id: str
    request_id: int
    request_number: str
    title: str
    agency: str
    bpmn_id: str
    name: str
    lane: str | None
    role: str | None
    provider_group: str
    assignee: str | None
    candidates: list[str]
    due_at: datetime | None
    priority: str
    status: str
    form_schema: str | None
    instructions: str | None

    def as_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["due_at"] = self.due_at.isoformat() if self.due_at else None
        return d


def _user(session: Session, username: str) -> User:
    user = session.scalars(select(User).where(User.username == username)).one_or_none()
    if user is None or not user.is_active:
        raise NotFound(f"no active user {username!r}")
    return user


def _grants(user: User) -> set[tuple[str, str | None]]:
    return {(m.role.code, m.provider_group.code if m.provider_group else None) for m in user.memberships}


def _may_see(user: User, task: TaskRow) -> bool:
    return (task.role_code, task.provider_group) in _grants(user)


def _view(session: Session, task: TaskRow) -> TaskView:
    candidates = [task.assignee] if task.assignee else (
        group_members(session, task.role_code, task.provider_group) if task.role_code else [])
    return TaskView(task.task_uuid, task.request_id, task.request_number, task.request_title, task.agency,
                    task.bpmn_id, task.name, task.lane, task.role_code, task.provider_group, task.assignee,
                    candidates, task.due_at, task.priority, task.status, task.form_schema, task.instructions)


def list_tasks(services: Services, username: str | None = None, request_id: int | None = None) -> list[TaskView]:
    with services.uow() as uow:
        query = select(TaskRow).where(TaskRow.status == "open").order_by(TaskRow.due_at, TaskRow.id)
        if request_id is not None:
            query = query.where(TaskRow.request_id == request_id)
        rows = list(uow.session.scalars(query))
        if username is not None:
            user = _user(uow.session, username)
            rows = [r for r in rows if _may_see(user, r) and r.assignee in (None, username)]
        return [_view(uow.session, r) for r in rows]


def _open_task(session: Session, task_id: str) -> TaskRow:
    task = session.scalars(select(TaskRow).where(TaskRow.task_uuid == task_id)).one_or_none()
    if task is None:
        raise NotFound(f"no task {task_id}")
    if task.status == "completed":
        when = task.completed_at.isoformat(timespec="seconds") if task.completed_at else "earlier"
        raise Conflict(f"task {task.name!r} was already completed by {task.completed_by} at {when}")
    if task.status != "open":
        raise Conflict(f"task {task.name!r} is {task.status}")
    return task


def claim(services: Services, task_id: str, username: str) -> TaskView:
    with services.uow() as uow:
        task = _open_task(uow.session, task_id)
        user = _user(uow.session, username)
        if not _may_see(user, task):
            raise Forbidden(f"{username} does not hold the {task.lane} role in {task.provider_group}")
        if task.assignee not in (None, username):
            raise Conflict(f"task is already assigned to {task.assignee}")
        if task.assignee is None:
            task.assignee = username
            audit.append(uow.session, actor=username, event_type="task_claimed", request_id=task.request_id,
                         now=services.clock.now(), payload={"task": task.task_uuid, "bpmn_id": task.bpmn_id})
        view = _view(uow.session, task)
        uow.commit()
        return view


def task_form(services: Services, task_id: str) -> dict[str, Any]:
    with services.uow() as uow:
        task = _open_task(uow.session, task_id)
        instance = uow.session.get(ProcessInstance, task.instance_id)
        assert instance is not None
        return schema_for(uow.session, task, instance.definition_version_id)


def complete(services: Services, task_id: str, username: str, data: Any) -> TaskView:
    now = services.clock.now()
    with services.uow() as uow:
        session = uow.session
        task = _open_task(session, task_id)
        user = _user(session, username)
        if not _may_see(user, task):
            raise Forbidden(f"{username} does not hold the {task.lane} role in {task.provider_group}")
        if task.assignee not in (None, username):
            raise Forbidden(f"task is assigned to {task.assignee}")
        instance = session.get(ProcessInstance, task.instance_id)
        assert instance is not None
        submitted = validate_submission(schema_for(session, task, instance.definition_version_id), data)
        definition = session.get(DefinitionVersion, instance.definition_version_id)
        assert definition is not None
        seen = instance.version
        state = engine.complete_human_task(definition.spec_json, instance.state_json, task_id, submitted, now)
        task.status, task.completed_by, task.completed_at = "completed", username, now
        task.assignee = task.assignee or username
        audit.append(session, actor=username, event_type="task_completed", request_id=task.request_id, now=now,
                     payload={"task": task_id, "bpmn_id": task.bpmn_id, "name": task.name, "data": submitted})
        projection.apply(session, instance, seen, state, now, username)
        view = _view(session, task)
        uow.commit()
        return view


def request_of(services: Services, request_id: int) -> ServiceRequest:
    with services.uow() as uow:
        request = uow.session.get(ServiceRequest, request_id)
        if request is None:
            raise NotFound(f"no request {request_id}")
        return request
