"""The inbox use cases: list tasks, claim, complete. Only holders of the lane's role in the group may act."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import engine
from app.domain.permissions import MANAGER, Identity, may_read_request
from app.errors import Conflict, FieldError, Forbidden, InvalidData, NotFound
from app.services.admin.auth import identity_of
from app.services.context import Context
from app.services.definitions import version_cache
from app.services.notices import events as notice_events
from app.services.requests import projection
from app.services.tasks.forms import group_members, schema_for, validate_submission
from app.services.tasks.taking import Locked, Taken, lock_for_task, may_see, open_task, take_open_task
from app.store import audit, search_index
from app.store.models import ProcessInstance, ServiceRequest, TaskRow, User


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


def _actor(session: Session, who: str | Identity) -> Identity:
    """The acting user: an Identity the entry point has just loaded for this call (its web session or API token,
    active and with its current roles) is used as it is; a username is looked up."""
    return who if isinstance(who, Identity) else identity_of(_user(session, who))


def _view(session: Session, task: TaskRow) -> TaskView:
    candidates = [task.assignee] if task.assignee else (
        group_members(session, task.role_code, task.provider_group) if task.role_code else [])
    return TaskView(task.task_uuid, task.request_id, task.request_number, task.request_title, task.agency,
                    task.bpmn_id, task.name, task.lane, task.role_code, task.provider_group, task.assignee,
                    candidates, task.due_at, task.priority, task.status, task.form_schema, task.instructions)


def list_tasks(services: Context, username: str | None = None, request_id: int | None = None) -> list[TaskView]:
    with services.uow() as uow:
        query = select(TaskRow).where(TaskRow.status == "open").order_by(TaskRow.due_at, TaskRow.id)
        if request_id is not None:
            query = query.where(TaskRow.request_id == request_id)
        rows = list(uow.session.scalars(query))
        if username is not None:
            user = _user(uow.session, username)
            rows = [r for r in rows if may_see(user, r) and r.assignee in (None, username)]
        return [_view(uow.session, r) for r in rows]


def claim(services: Context, task_id: str, who: str | Identity) -> TaskView:
    with services.uow() as uow:
        user = _actor(uow.session, who)
        username = user.username
        task = open_task(uow.session, task_id, user)
        if not may_see(user, task):
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


def task_form(services: Context, task_id: str) -> dict[str, Any]:
    with services.uow() as uow:
        task = open_task(uow.session, task_id)
        instance = uow.session.get(ProcessInstance, task.instance_id)
        assert instance is not None
        return schema_for(uow.session, task, instance.definition_version_id)


# Reads the HTML form of a task: (schema, UI schema, today) -> (data, {field: message}); empty messages mean valid.
FormReader = Callable[[dict[str, Any], dict[str, Any] | None, date], tuple[dict[str, Any], dict[str, str]]]


class FormRejected(InvalidData):
    """The task's form as submitted does not parse or validate: what could be read, and a message per field."""

    def __init__(self, data: dict[str, Any], fields: dict[str, str]) -> None:
        super().__init__("form data is not valid", [FieldError(name, message) for name, message in fields.items()])
        self.data = data
        self.fields = fields


def complete(services: Context, task_id: str, who: str | Identity, data: Any = None, *,
             read_form: FormReader | None = None) -> TaskView:
    """Complete the task with `data` (the API) or with what `read_form` reads from the submitted HTML form (the task
    page): one transaction, one validation, the form and spec of the instance's version from memory.
    `FormRejected` (an InvalidData) when the form does not parse or validate."""
    now = services.clock.now()
    with services.uow() as uow:
        session = uow.session
        user = _actor(session, who)
        username = user.username
        locked = lock_for_task(session, task_id)
        taken = take_open_task(session, task_id, user, now)
        if not may_see(user, taken.task):
            raise Forbidden(f"{username} does not hold the {taken.task.lane} role in {taken.task.provider_group}")
        view = _complete(services, session, taken, locked, username, data, read_form, now)
        uow.commit()
        return view


def complete_on_behalf(services: Context, session: Session, task_id: str, actor: str, data: dict[str, Any]
                       ) -> TaskView:
    """Complete the open task `task_id` in the caller's transaction as `actor`, someone outside the provider group
    (the customer, whose emailed reply answers "Await the customer's reply"): the caller decided that `actor` may.
    NotFound / Conflict when the task is not open; InvalidData when `data` does not fit its form."""
    locked = lock_for_task(session, task_id)
    now = services.clock.now()
    taken = take_open_task(session, task_id, actor, now)
    return _complete(services, session, taken, locked, actor, data, None, now)


def _complete(services: Context, session: Session, taken: Taken, locked: Locked, username: str,
              data: Any, read_form: FormReader | None, now: datetime) -> TaskView:
    """`taken` under the lock of its instance (`taking.lock_for_task`, `taking.take_open_task`)."""
    task = taken.task
    task_id = task.task_uuid
    instance, request = locked.instance, locked.request
    version = version_cache.data_of(session, locked.version)
    schema = schema_for(session, task, instance.definition_version_id, version)
    if read_form is None:
        submitted = validate_submission(schema, data, now.date())
    else:
        ui = copy.deepcopy(version.form(task.ui_schema)) if task.ui_schema else None
        data, errors = read_form(schema, ui, now.date())
        if errors:
            raise FormRejected(data, errors)
        try:  # read_form validated against the schema: only the checks beyond the schema are left
            submitted = validate_submission(schema, data, now.date(), schema_checked=True)
        except InvalidData as err:
            raise FormRejected(data, {e.field: e.message for e in err.errors} or {"": str(err)}) from None
    seen = instance.version
    state = engine.complete_human_task(version.spec_json, instance.state_json, task_id, submitted, now)
    audit.append(session, actor=username, event_type="task_completed", request_id=task.request_id, now=now,
                 payload={"task": task_id, "bpmn_id": task.bpmn_id, "process_id": task.process_id,
                          "name": task.name, "data": submitted})
    try:  # its notes become searchable, with the save
        projection.apply(session, instance, seen, state, now, username, request, taken.open_work,
                         search_index.notes_in(submitted))
    except Conflict:
        raise Conflict(f"task {task.name!r} was completed or changed by someone else meanwhile; "
                       "reload the request") from None
    return _view(session, task)


@dataclass
class TaskDetail:
    task: TaskView
    schema: dict[str, Any]
    ui_schema: dict[str, Any] | None
    request: dict[str, Any]
    history: list[dict[str, Any]]
    may_complete: bool
    may_claim: bool
    may_unclaim: bool
    may_assign: bool
    colleagues: list[str]


def _is_manager(user: User, group: str) -> bool:
    return identity_of(user).has_role(MANAGER, group)


def task_detail(services: Context, task_id: str, username: str) -> TaskDetail:
    """Everything the task page shows; 403 for anyone who may not see the task."""
    from app.store.models import AuditEvent

    with services.uow() as uow:
        s = uow.session
        task = s.scalars(select(TaskRow).where(TaskRow.task_uuid == task_id)).one_or_none()
        if task is None:
            raise NotFound(f"no task {task_id}")
        user = _user(s, username)
        if not may_read_request(identity_of(user), task.provider_group):  # need-to-know: no such task for them
            raise NotFound(f"no task {task_id}")
        manager = _is_manager(user, task.provider_group)
        if not (may_see(user, task) or manager):
            raise Forbidden(f"{username} does not hold the {task.lane} role in {task.provider_group}")
        instance = s.get(ProcessInstance, task.instance_id)
        request = s.get(ServiceRequest, task.request_id)
        assert instance is not None and request is not None
        ui = None
        if task.ui_schema:
            from app.services.definitions.deploy import form_file

            ui = form_file(s, instance.definition_version_id, task.ui_schema)
        history = [{"name": e.payload.get("name"), "by": e.actor, "at": e.at, "data": e.payload.get("data", {})}
                   for e in s.scalars(select(AuditEvent).where(AuditEvent.request_id == task.request_id,
                                                               AuditEvent.event_type == "task_completed")
                                      .order_by(AuditEvent.seq))]
        is_open = task.status == "open"
        mine_or_free = task.assignee in (None, username)
        return TaskDetail(
            task=_view(s, task), schema=schema_for(s, task, instance.definition_version_id), ui_schema=ui,
            history=history,
            request={"number": request.number, "title": request.title, "type": request.request_type,
                     "agency": request.agency, "requester": request.requester_name,
                     "requester_email": request.requester_email, "priority": request.priority,
                     "description": request.description, "crm_case_id": request.crm_case_id,
                     "sla_due_at": request.sla_due_at, "provider_group": request.provider_group.name},
            may_complete=is_open and may_see(user, task) and mine_or_free,
            may_claim=is_open and may_see(user, task) and task.assignee is None,
            may_unclaim=is_open and (task.assignee == username or (manager and task.assignee is not None)),
            may_assign=is_open and manager,
            colleagues=group_members(s, task.role_code, task.provider_group) if task.role_code else [],
        )


def release(session: Session, user: User, task: TaskRow, now: datetime) -> None:
    """`task` back to its group queue: by its assignee, or by a manager of its group."""
    if task.assignee != user.username and not _is_manager(user, task.provider_group):
        raise Forbidden("only the assignee or a manager of the group can release this task")
    previous, task.assignee = task.assignee, None
    audit.append(session, actor=user.username, event_type="task_unclaimed", request_id=task.request_id,
                 now=now, payload={"task": task.task_uuid, "previous_assignee": previous})


def hand_to(session: Session, manager: User, task: TaskRow, assignee: str, now: datetime) -> None:
    """A manager of the task's provider group hands it to a colleague holding the lane's role."""
    if not _is_manager(manager, task.provider_group):
        raise Forbidden(f"only a manager of {task.provider_group} can assign this task")
    if not task.role_code or assignee not in group_members(session, task.role_code, task.provider_group):
        raise Forbidden(f"{assignee} does not hold the {task.lane} role in {task.provider_group}")
    previous, task.assignee = task.assignee, assignee
    audit.append(session, actor=manager.username, event_type="task_assigned", request_id=task.request_id,
                 now=now, payload={"task": task.task_uuid, "assignee": assignee, "previous_assignee": previous})
    request = session.get(ServiceRequest, task.request_id)
    if assignee != manager.username and request is not None:
        notice_events.task_assigned(session, task, request, now, by=manager)


def open_task_for(session: Session, task_id: str, user: User) -> TaskRow:
    """The open task `task_id` as `user` may name it (need-to-know: NotFound for a request they may not read)."""
    return open_task(session, task_id, user)


def active_user(session: Session, username: str) -> User:
    return _user(session, username)


def unclaim(services: Context, task_id: str, username: str) -> TaskView:
    with services.uow() as uow:
        user = _user(uow.session, username)
        task = open_task(uow.session, task_id, user)
        release(uow.session, user, task, services.clock.now())
        view = _view(uow.session, task)
        uow.commit()
        return view


def assign(services: Context, task_id: str, username: str, assignee: str) -> TaskView:
    """A manager of the task's provider group hands it to a colleague holding the lane's role."""
    with services.uow() as uow:
        s = uow.session
        manager = _user(s, username)
        task = open_task(s, task_id, manager)
        hand_to(s, manager, task, assignee, services.clock.now())
        view = _view(s, task)
        uow.commit()
        return view
