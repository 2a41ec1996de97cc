"""The customer's emailed reply: matched to its request by the reply token (app/domain/reply_tokens.py), it
completes "Await the customer's reply" as the customer, its text the form's `customer_reply`, audited. Mail that
cannot do that (no or unknown token, the request no longer waiting, too large, no text) is kept as unfiled mail for
an administrator or a provider group manager to file against a request or discard. A Message-ID is handled once."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.adapters.inbound_mail import Received, read
from app.config import reply_token_secret
from app.domain import reply_tokens
from app.domain.search_terms import normalised
from app.errors import AppError
from app.services.context import Context
from app.services.notices import events as notice_events
from app.services.tasks.actions import complete_on_behalf
from app.store import audit, search_index
from app.store.models import InboundMail, ServiceRequest, TaskRow

AWAIT_REPLY = "await_customer_reply"  # the user task a reply completes (bpmn/assistance_request.bpmn)
REPLY_FIELD = "customer_reply"  # its form's field (forms/await_customer_reply.schema.json)
CUSTOMER = "customer"  # the actor of a task the customer's email completed


@dataclass(frozen=True)
class Outcome:
    status: str  # filed | unfiled | duplicate
    request_number: str | None
    reason: str | None = None


def receive(services: Context, content: bytes, envelope_from: str, envelope_to: list[str]) -> Outcome:
    """Handle one received message (the inbound SMTP endpoint calls this for every message it accepts)."""
    mail = read(content, envelope_from, envelope_to, services.settings.inbound_mail_max_bytes)
    secret = reply_token_secret(services.settings)
    tokens = reply_tokens.tokens_in(mail.recipients, mail.subject)
    number = next((n for n in (reply_tokens.request_number_of(secret, t) for t in tokens) if n), None)
    with services.uow() as uow:
        if _seen(uow.session, mail.message_id):
            return Outcome("duplicate", number)
    if mail.problem:
        return _unfiled(services, mail, number, mail.problem)
    if number is None:
        return _unfiled(services, mail, None, "it names no request: no valid reply token in its addresses or subject"
                        if not tokens else "its reply token is not one this system issued")
    try:
        with services.uow() as uow:
            s = uow.session
            row = _row(mail, number, "filed", None, services)
            s.add(row)
            s.flush()  # the unique Message-ID: a second delivery of the same message stops here
            task = _waiting_task(s, number)
            if task is None:
                raise _NotWaiting(f"request {number} is not waiting for the customer's reply")
            with notice_events.replying(s, mail.text):  # its assignee is told the customer replied
                complete_on_behalf(services, s, task.task_uuid, CUSTOMER, {REPLY_FIELD: mail.text})
            audit.append(s, actor=CUSTOMER, event_type="customer_reply_received", request_id=task.request_id,
                         now=services.clock.now(), payload={"task": task.task_uuid, "bpmn_id": AWAIT_REPLY,
                                                            "from": mail.mail_from, "message_id": mail.message_id,
                                                            "subject": mail.subject, "reply": mail.text,
                                                            "inbound_mail": row.id})
            search_index.add_words(s, task.request_id, normalised(mail.text))
            uow.commit()
            return Outcome("filed", number)
    except IntegrityError:
        return Outcome("duplicate", number)
    except (AppError, _NotWaiting) as err:
        return _unfiled(services, mail, number, str(err))


class _NotWaiting(Exception):
    pass


def _seen(session: Session, message_id: str) -> bool:
    return session.scalars(select(InboundMail.id).where(InboundMail.message_id == message_id)).first() is not None


def _waiting_task(session: Session, number: str) -> TaskRow | None:
    return session.scalars(select(TaskRow).join(ServiceRequest, ServiceRequest.id == TaskRow.request_id).where(
        ServiceRequest.number == number, TaskRow.bpmn_id == AWAIT_REPLY, TaskRow.status == "open")).first()


def _row(mail: Received, number: str | None, status: str, reason: str | None, services: Context) -> InboundMail:
    return InboundMail(message_id=mail.message_id, received_at=services.clock.now(), mail_from=mail.mail_from,
                       rcpt_to=", ".join(mail.recipients)[:2000], subject=mail.subject, reply_text=mail.text,
                       size=mail.size, request_number=number, status=status, reason=reason)


def _unfiled(services: Context, mail: Received, number: str | None, reason: str) -> Outcome:
    try:
        with services.uow() as uow:
            row = _row(mail, number, "unfiled", reason, services)
            uow.session.add(row)
            uow.session.flush()
            audit.append(uow.session, actor=CUSTOMER, event_type="mail_unfiled", now=services.clock.now(),
                         payload={"inbound_mail": row.id, "from": mail.mail_from, "subject": mail.subject,
                                  "message_id": mail.message_id, "request_number": number, "reason": reason})
            uow.commit()
    except IntegrityError:
        return Outcome("duplicate", number)
    return Outcome("unfiled", number, reason)
