"""A manager's Team queue: the open tasks of the groups they manage, whoever holds them, with each person's load,
and the bulk release and reassignment a manager does when someone is away or overloaded.

Bulk actions are all or nothing: every selected task is checked first (it exists for the manager, is open, is in a
group they manage, and the new assignee holds the task's role there); one refusal refuses the whole batch and
changes nothing, with a message per refused task.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import select

from app.domain.permissions import MANAGER, Identity
from app.errors import AppError, FieldError, Forbidden, InvalidData
from app.services.admin.auth import identity_of
from app.services.context import Context
from app.services.tasks.actions import active_user, hand_to, open_task_for, release
from app.services.tasks.inbox import InboxRow
from app.store.models import Membership, ProviderGroup, ServiceRequest, TaskRow, User

MAX_BATCH = 200  # tasks in one bulk action: a page of the Team queue and then some


@dataclass(frozen=True)
class Load:
    username: str
    full_name: str
    open: int
    overdue: int


@dataclass
class TeamPage:
    groups: list[str]
    people: list[Load]
    tasks: list[InboxRow]  # the inbox's rows: the same columns, one template vocabulary
    unassigned: int
    person: str | None = None  # the person the list is narrowed to
    colleagues: list[tuple[str, str]] = field(default_factory=list)  # (username, full name): who can be assigned


def team(services: Context, identity: Identity, person: str | None = None) -> TeamPage:
    """Open tasks of the groups `identity` manages (every role's, assigned or not), the load per member."""
    groups = identity.groups_with(MANAGER)
    if not groups:
        raise Forbidden("the Team queue is for managers of a provider group")
    now = services.clock.now()
    with services.uow() as uow:
        s = uow.session
        rows = s.execute(select(TaskRow, ServiceRequest.request_type)
                         .join(ServiceRequest, ServiceRequest.id == TaskRow.request_id)
                         .where(TaskRow.status == "open", TaskRow.provider_group.in_(groups))
                         .order_by(TaskRow.assignee, TaskRow.due_at, TaskRow.id)).all()
        members = s.execute(select(User.username, User.full_name).join(Membership).join(ProviderGroup)
                            .where(ProviderGroup.code.in_(groups), User.is_active)
                            .distinct().order_by(User.username)).all()
        tasks = [InboxRow(t.task_uuid, t.request_number, t.request_id, rtype, t.request_title, t.agency, t.name,
                          t.lane, t.provider_group, t.assignee, t.priority, t.due_at,
                          bool(t.due_at and t.due_at < now), t.created_at) for t, rtype in rows]
    load = Counter(t.assignee for t in tasks if t.assignee)
    late = Counter(t.assignee for t in tasks if t.assignee and t.overdue)
    names = dict(members)
    people = sorted((Load(u, names.get(u, u), load[u], late[u]) for u in set(names) | set(load)),
                    key=lambda p: (-p.open, p.username))
    shown = [t for t in tasks if t.assignee == person] if person else [t for t in tasks if t.assignee]
    return TeamPage(groups=groups, people=people, tasks=shown, unassigned=sum(1 for t in tasks if not t.assignee),
                    person=person, colleagues=[(u, n) for u, n in members])


def bulk_release(services: Context, task_ids: list[str], manager: str) -> int:
    """Every task in `task_ids` back to its group queue; how many were released."""
    return _bulk(services, task_ids, manager, None)


def bulk_assign(services: Context, task_ids: list[str], manager: str, assignee: str) -> int:
    """Every task in `task_ids` to `assignee`; how many were assigned."""
    if not assignee:
        raise InvalidData("choose whom to assign the tasks to", [FieldError("assignee", "required")])
    return _bulk(services, task_ids, manager, assignee)


def _bulk(services: Context, task_ids: list[str], manager: str, assignee: str | None) -> int:
    chosen = list(dict.fromkeys(task_ids))
    if not chosen:
        raise InvalidData("select at least one task", [FieldError("task", "no task selected")])
    if len(chosen) > MAX_BATCH:
        raise InvalidData(f"at most {MAX_BATCH} tasks at once", [FieldError("task", f"{len(chosen)} selected")])
    now = services.clock.now()
    with services.uow() as uow:
        s = uow.session
        user = active_user(s, manager)
        if not identity_of(user).groups_with(MANAGER):
            raise Forbidden("bulk actions are for managers of a provider group")
        refused: list[FieldError] = []
        found: list[TaskRow] = []
        for task_id in chosen:
            try:
                found.append(open_task_for(s, task_id, user))
            except AppError as err:
                refused.append(FieldError(task_id, str(err)))
        # each request's audit chain is locked as its event is appended: always in request order, so two
        # batches over the same requests wait for each other instead of deadlocking
        for task in sorted(found, key=lambda t: (t.request_id, t.id)):
            try:
                if assignee is None:
                    if task.assignee is None:
                        raise InvalidData(f"“{task.name}” ({task.request_number}) is not assigned to anyone")
                    release(s, user, task, now)
                elif task.assignee != assignee:
                    hand_to(s, user, task, assignee, now)
            except AppError as err:
                refused.append(FieldError(task.task_uuid, str(err)))
        if refused:
            verb = "released" if assignee is None else f"assigned to {assignee}"
            # leaving the unit of work uncommitted rolls back what the accepted ones changed
            raise InvalidData(f"nothing was changed: {len(refused)} of {len(chosen)} selected tasks cannot be "
                              f"{verb}", refused)
        uow.commit()
    return len(chosen)
