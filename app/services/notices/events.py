"""Telling staff about their work: a task assigned to them, a billing case forwarded to them, the customer's reply
to their question, an SLA escalation.

Each event writes an in-app notification for each person, and queues an email to those who want it (Preferences),
both in the transaction of the event itself and keyed so that a retried step never writes either twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session

from app.adapters.mail_compose import installed
from app.adapters.outbox import DbOutbox
from app.domain.local_time import moment
from app.store import reference_cache
from app.store.db import insert_unless_present, table_of
from app.store.models import Membership, ProviderGroup, Role, ServiceRequest, TaskRow, User, UserNotice

BILLING_TASK = "initiate_billing"  # the CAR's task: a billing case forwarded to them
_REPLY = "customer_reply"  # session.info key: the customer's reply this transaction files (see `replying`)
_TEXT_MAX = 500


class Person(NamedTuple):
    """Who a notice is for: what writing it and their email needs (read in one Core statement: a `User` would load
    its memberships and roles too)."""

    id: int
    email: str
    full_name: str
    email_on_assignment: bool
    email_on_billing: bool
    email_on_escalation: bool


def _people() -> Select[int, str, str, bool, bool, bool]:
    return select(User.id, User.email, User.full_name, User.email_on_assignment, User.email_on_billing,
                  User.email_on_escalation).where(User.is_active)


_NOTICE_COLUMNS = ("user_id", "key", "kind", "text", "created_at", "request_id", "request_number", "task_uuid")
_WRITE_NOTICE: dict[str, Any] = {}  # per dialect, built once: the notice unless its key exists, and its id back


def _write_notice(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    statement = _WRITE_NOTICE.get(dialect)
    if statement is None:
        statement = _WRITE_NOTICE[dialect] = insert_unless_present(session, UserNotice, ["key"]).values(
            {name: bindparam(f"notice_{name}") for name in _NOTICE_COLUMNS}).returning(table_of(UserNotice).c.id)
    return statement


def _notice(session: Session, user: Person, *, key: str, kind: str, text: str, request: ServiceRequest | None,
            task_uuid: str | None, now: datetime) -> bool:
    """Write the notice unless one with `key` exists (one prebuilt statement); whether it was written."""
    written = session.connection().execute(_write_notice(session), {
        "notice_user_id": user.id, "notice_key": key, "notice_kind": kind, "notice_text": text[:_TEXT_MAX],
        "notice_created_at": now, "notice_request_id": request.id if request else None,
        "notice_request_number": request.number if request else None, "notice_task_uuid": task_uuid})
    return written.first() is not None


def _email(session: Session, user: Person, *, kind: str, key: str, text: str, request: ServiceRequest, now: datetime,
           values: dict[str, Any]) -> None:
    """Queue the email (composed from the `kind` template; `text` is what goes out should no template render). Only
    called after `_notice` wrote the notice of the same `key`: no message of that key can exist yet."""
    DbOutbox(session, now).queue(kind=kind, to=[user.email], subject=text,
                                 body=f"{text}\n\nOpen it in your Request Fulfillment inbox.",
                                 request_number=request.number, key=key, request=request, unseen_key=True,
                                 values={"recipient_name": user.full_name, **values})


def _active(session: Session, usernames: Iterable[str]) -> list[Person]:
    names = tuple(sorted(set(usernames)))
    if not names:
        return []
    return list(reference_cache.cached(session, "active_people", names, lambda: tuple(
        Person._make(row) for row in session.execute(_people().where(User.username.in_(names))
                                                     .order_by(User.username)))))


def _holders(session: Session, role_code: str, group_code: str) -> list[Person]:
    def load() -> tuple[Person, ...]:
        rows = session.execute(_people().join(Membership).join(Role).join(ProviderGroup)
                               .where(Role.code == role_code, ProviderGroup.code == group_code)
                               .order_by(User.username))
        return tuple({row.id: Person._make(row) for row in rows}.values())  # once each, in name order

    return list(reference_cache.cached(session, "role_holders", (role_code, group_code), load))


def task_assigned(session: Session, task: TaskRow, request: ServiceRequest, now: datetime,
                  by: User | None = None) -> None:
    """`task` is now assigned to `task.assignee` (by the process, or by a manager `by`)."""
    if task.assignee is None:
        return
    for user in _active(session, [task.assignee]):
        key = f"assigned-{task.task_uuid}-{user.id}"  # fits the outbox key column (80)
        text = f"Assigned to you: {task.name} — {request.number} {request.title}"
        if _notice(session, user, key=key, kind="task_assigned", text=text, request=request,
                   task_uuid=task.task_uuid, now=now) and user.email_on_assignment:
            _email(session, user, kind="task_assigned", key=key, text=text, request=request, now=now, values={
                "task_name": task.name, "assigned_by": by.full_name if by else "",
                "due_at": moment(task.due_at, installed().zone) if task.due_at else ""})


def billing_forwarded(session: Session, task: TaskRow, request: ServiceRequest, now: datetime) -> None:
    """The billing task became ready: tell its assignee, or every holder of its role in the group."""
    people = (_active(session, [task.assignee]) if task.assignee
              else _holders(session, task.role_code, task.provider_group) if task.role_code else [])
    for user in people:
        key = f"billing-{task.task_uuid}-{user.id}"
        text = f"Billing case for you: {request.number} {request.title} ({request.agency})"
        if _notice(session, user, key=key, kind="billing_forwarded", text=text, request=request,
                   task_uuid=task.task_uuid, now=now) and user.email_on_billing:
            _email(session, user, kind="billing_forwarded", key=key, text=text, request=request, now=now,
                   values={"task_name": task.name})


def customer_replied(session: Session, task: TaskRow, request: ServiceRequest, reply: str, now: datetime) -> None:
    """The customer's reply completed *Await the customer's reply* and `task` is back with its assignee: tell them,
    with the reply (the `customer_replied` template; emailed unless they switched assignment emails off)."""
    for user in _active(session, [task.assignee] if task.assignee else []):
        key = f"replied-{task.task_uuid}-{user.id}"
        text = f"{request.requester_name or 'The customer'} replied: {request.number} {request.title}"
        if _notice(session, user, key=key, kind="customer_replied", text=text, request=request,
                   task_uuid=task.task_uuid, now=now) and user.email_on_assignment:
            DbOutbox(session, now).queue(
                kind="customer_replied", to=[user.email], subject=text,
                body=f"{text}\n\n{reply}\n\nThe task \"{task.name}\" is back in your Request Fulfillment inbox.",
                request_number=request.number, key=key,
                values={"recipient_name": user.full_name, "task_name": task.name, "message": reply,
                        "due_at": moment(task.due_at, installed().zone) if task.due_at else ""})


@contextmanager
def replying(session: Session, reply: str) -> Iterator[None]:
    """While the customer's `reply` completes their waiting task in `session`, the task that becomes ready for its
    assignee is announced as the reply (`customer_replied`), not as a task assigned to them."""
    session.info[_REPLY] = reply
    try:
        yield
    finally:
        session.info.pop(_REPLY, None)


def new_ready_task(session: Session, task: TaskRow, request: ServiceRequest, now: datetime, actor: str) -> None:
    """A task just became ready (the projection): tell who it concerns."""
    reply = session.info.get(_REPLY)
    if task.bpmn_id == BILLING_TASK:
        billing_forwarded(session, task, request, now)
    elif isinstance(reply, str) and task.assignee:  # the customer answered: the work is back with its assignee
        customer_replied(session, task, request, reply, now)
    elif task.assignee and task.assignee != actor:  # the process handed it to someone else than who acted
        task_assigned(session, task, request, now)


def escalated(session: Session, request: ServiceRequest, level: str, what: str, recipients: list[str],
              now: datetime) -> list[str]:
    """An SLA level was reached: an in-app notice for each recipient who is a user here; the recipients who want
    the email (a user who switched escalation emails off is left out)."""
    users = {u.email: u for u in (Person._make(row) for row in session.execute(_people().where(
        User.email.in_(recipients))))} if recipients else {}
    for user in users.values():
        _notice(session, user, key=f"sla-{request.id}-{level}-{user.id}", kind=f"sla_{level}",
                text=f"{what}: {request.number} {request.title}", request=request, task_uuid=None, now=now)
    return [email for email in recipients if email not in users or users[email].email_on_escalation]
