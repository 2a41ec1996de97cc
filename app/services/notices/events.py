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

from sqlalchemy import Select, bindparam, insert, literal, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from app.adapters.mail_compose import installed
from app.adapters.outbox import DbOutbox
from app.domain.local_time import moment
from app.store import reference_cache
from app.store.db import insert_unless_present, table_of
from app.store.models import Membership, Notification, ProviderGroup, Role, ServiceRequest, TaskRow, User, UserNotice

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
_NOTIFICATIONS = table_of(Notification)
_WRITE_NOTICE: dict[str, Any] = {}  # per dialect, built once: the notice unless its key exists, and its id back


def _write_notice(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    statement = _WRITE_NOTICE.get(dialect)
    if statement is None:
        statement = _WRITE_NOTICE[dialect] = insert_unless_present(session, UserNotice, ["key"]).values(
            {name: bindparam(f"notice_{name}") for name in _NOTICE_COLUMNS}).returning(table_of(UserNotice).c.id)
    return statement


# On PostgreSQL, a notice and its email in one statement: the outbox row is inserted from the notice's insert, so
# only when the notice was written (its key was not there yet); queued, no attempt yet (as the columns' defaults).
_WRITTEN_NOTICE = (postgresql.insert(table_of(UserNotice)).on_conflict_do_nothing(index_elements=["key"])
                   .values({name: bindparam(f"notice_{name}") for name in _NOTICE_COLUMNS})
                   .returning(table_of(UserNotice).c.id).cte("written_notice"))
_MAIL_COLUMNS = ("kind", "to_addrs", "subject", "body", "html_body", "request_number", "idempotency_key",
                 "created_at", "next_attempt_at")
_NOTICE_AND_EMAIL = (
    insert(_NOTIFICATIONS)
    .from_select((*_MAIL_COLUMNS, "status", "attempts"),
                 select(*(bindparam(f"mail_{name}", type_=_NOTIFICATIONS.c[name].type) for name in _MAIL_COLUMNS),
                        literal("queued"), literal(0)).select_from(_WRITTEN_NOTICE), include_defaults=False)
    .add_cte(_WRITTEN_NOTICE)
    .returning(_NOTIFICATIONS.c.id))


def _notice(session: Session, user: Person, *, key: str, kind: str, text: str, request: ServiceRequest | None,
            task_uuid: str | None, now: datetime, email: dict[str, Any] | None = None) -> bool:
    """Write the notice unless one with `key` exists (one prebuilt statement); whether it was written. With `email`
    (`DbOutbox.queue`'s arguments, but the key): queue that email too when the notice was written, in the same
    statement on PostgreSQL."""
    notice = {"notice_user_id": user.id, "notice_key": key, "notice_kind": kind, "notice_text": text[:_TEXT_MAX],
              "notice_created_at": now, "notice_request_id": request.id if request else None,
              "notice_request_number": request.number if request else None, "notice_task_uuid": task_uuid}
    connection = session.connection()
    if email is not None and connection.dialect.name == "postgresql":
        message = DbOutbox(session, now).composed(**email, key=key)
        return connection.execute(_NOTICE_AND_EMAIL, notice | {
            f"mail_{name}": value for name, value in message.items()}).first() is not None
    written = connection.execute(_write_notice(session), notice).first() is not None
    if written and email is not None:  # no message of that key can exist yet: its notice was just written
        DbOutbox(session, now).queue(**email, key=key, unseen_key=True)
    return written


def _email(user: Person, *, kind: str, text: str, request: ServiceRequest, values: dict[str, Any]) -> dict[str, Any]:
    """The email of a notice (composed from the `kind` template; `text` is what goes out should no template
    render), as `_notice` takes it."""
    return {"kind": kind, "to": [user.email], "subject": text,
            "body": f"{text}\n\nOpen it in your Request Fulfillment inbox.", "request_number": request.number,
            "request": request, "values": {"recipient_name": user.full_name, **values}}


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
        email = _email(user, kind="task_assigned", text=text, request=request, values={
            "task_name": task.name, "assigned_by": by.full_name if by else "",
            "due_at": moment(task.due_at, installed().zone) if task.due_at else ""})
        _notice(session, user, key=key, kind="task_assigned", text=text, request=request, task_uuid=task.task_uuid,
                now=now, email=email if user.email_on_assignment else None)


def billing_forwarded(session: Session, task: TaskRow, request: ServiceRequest, now: datetime) -> None:
    """The billing task became ready: tell its assignee, or every holder of its role in the group."""
    people = (_active(session, [task.assignee]) if task.assignee
              else _holders(session, task.role_code, task.provider_group) if task.role_code else [])
    for user in people:
        key = f"billing-{task.task_uuid}-{user.id}"
        text = f"Billing case for you: {request.number} {request.title} ({request.agency})"
        email = _email(user, kind="billing_forwarded", text=text, request=request, values={"task_name": task.name})
        _notice(session, user, key=key, kind="billing_forwarded", text=text, request=request,
                task_uuid=task.task_uuid, now=now, email=email if user.email_on_billing else None)


def customer_replied(session: Session, task: TaskRow, request: ServiceRequest, reply: str, now: datetime) -> None:
    """The customer's reply completed *Await the customer's reply* and `task` is back with its assignee: tell them,
    with the reply (the `customer_replied` template; emailed unless they switched assignment emails off)."""
    for user in _active(session, [task.assignee] if task.assignee else []):
        key = f"replied-{task.task_uuid}-{user.id}"
        text = f"{request.requester_name or 'The customer'} replied: {request.number} {request.title}"
        email = {"kind": "customer_replied", "to": [user.email], "subject": text,
                 "body": f"{text}\n\n{reply}\n\nThe task \"{task.name}\" is back in your Request Fulfillment inbox.",
                 "request_number": request.number, "request": request,
                 "values": {"recipient_name": user.full_name, "task_name": task.name, "message": reply,
                            "due_at": moment(task.due_at, installed().zone) if task.due_at else ""}}
        _notice(session, user, key=key, kind="customer_replied", text=text, request=request,
                task_uuid=task.task_uuid, now=now, email=email if user.email_on_assignment else None)


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
