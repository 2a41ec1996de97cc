"""Unfiled mail: the customer replies the system could not match to a waiting request, for a person to file or
discard (`may_file_mail`: administrators, and provider group managers for mail of their groups' requests or mail
that names no request). Filing a reply against a request that waits for the customer's reply completes that task
with it, as the person filing; against any other request it becomes an internal note. Both are audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain.permissions import ADMIN, MANAGER, Identity, may_add_to_request, may_file_mail
from app.domain.search_terms import normalised
from app.errors import Conflict, Forbidden, InvalidData, NotFound
from app.services.context import Context
from app.services.notices import events as notice_events
from app.services.requests.customer_replies import AWAIT_REPLY, REPLY_FIELD
from app.services.requests.queries import find_request
from app.services.tasks.actions import complete_on_behalf
from app.store import audit, search_index
from app.store.models import InboundMail, RequestNote, ServiceRequest, TaskRow

PAGE = 100


@dataclass(frozen=True)
class UnfiledMail:
    id: int
    received_at: datetime
    mail_from: str
    subject: str
    reply_text: str
    size: int
    request_number: str | None
    reason: str | None


def _group_of(session: Session, number: str | None) -> str | None:
    if not number:
        return None
    request = session.scalars(select(ServiceRequest).where(ServiceRequest.number == number)).one_or_none()
    return request.provider_group.code if request is not None else None


def _may_see(who: Identity, group: str | None) -> bool:
    return who.holds_any((ADMIN,)) or (group is None and who.holds_any((MANAGER,))) or (
        group is not None and who.has_role(MANAGER, group))


def unfiled(services: Context, who: Identity) -> list[UnfiledMail]:
    if not may_file_mail(who):
        raise Forbidden("unfiled mail is for administrators and provider group managers")
    with services.uow() as uow:
        rows = uow.session.scalars(select(InboundMail).where(InboundMail.status == "unfiled")
                                   .order_by(InboundMail.id.desc()).limit(PAGE))
        return [UnfiledMail(r.id, r.received_at, r.mail_from, r.subject, r.reply_text, r.size, r.request_number,
                            r.reason) for r in rows if _may_see(who, _group_of(uow.session, r.request_number))]


def _open(session: Session, mail_id: int, who: Identity) -> InboundMail:
    if not may_file_mail(who):
        raise Forbidden("unfiled mail is for administrators and provider group managers")
    row = session.get(InboundMail, mail_id, with_for_update=True)
    if row is None or not _may_see(who, _group_of(session, row.request_number)):
        raise NotFound(f"no unfiled mail {mail_id}")
    if row.status != "unfiled":
        raise Conflict(f"mail {mail_id} was already {row.status} by {row.handled_by}")
    return row


def file(services: Context, mail_id: int, ref: str, who: Identity) -> str:
    """File mail `mail_id` against request `ref`; returns what it did ('completed' the waiting task or 'noted')."""
    if not ref.strip():
        raise InvalidData("name the request to file the mail against (its number, e.g. RF-000123)")
    now = services.clock.now()
    with services.uow() as uow:
        s = uow.session
        row = _open(s, mail_id, who)
        request = find_request(s, ref)
        if not may_add_to_request(who, request.provider_group.code) or not _may_see(who, request.provider_group.code):
            raise NotFound(f"no request {ref.strip()[:40]}")
        text = row.reply_text.strip() or f"(an email without text: {row.subject})"
        task = s.scalars(select(TaskRow).where(TaskRow.request_id == request.id, TaskRow.bpmn_id == AWAIT_REPLY,
                                               TaskRow.status == "open")).first()
        if task is not None:
            with notice_events.replying(s, text[:5000]):  # its assignee is told the customer replied
                complete_on_behalf(services, s, task.task_uuid, who.username, {REPLY_FIELD: text[:5000]})
            done = "completed"
        else:
            s.add(RequestNote(request_id=request.id, author=who.username, author_name=who.full_name,
                              body=f"Email from {row.mail_from} ({row.subject}):\n{text}", created_at=now))
            done = "noted"
        row.status, row.handled_by, row.handled_at, row.request_number = "filed", who.username, now, request.number
        audit.append(s, actor=who.username, event_type="customer_reply_received", request_id=request.id, now=now,
                     payload={"inbound_mail": row.id, "from": row.mail_from, "subject": row.subject,
                              "reply": text, "filed_by": who.username, "outcome": done,
                              "bpmn_id": AWAIT_REPLY if task is not None else ""})
        search_index.add_words(s, request.id, normalised(text))
        uow.commit()
        return done


def discard(services: Context, mail_id: int, who: Identity) -> None:
    now = services.clock.now()
    with services.uow() as uow:
        row = _open(uow.session, mail_id, who)
        row.status, row.handled_by, row.handled_at = "discarded", who.username, now
        audit.append(uow.session, actor=who.username, event_type="mail_discarded", now=now,
                     payload={"inbound_mail": row.id, "from": row.mail_from, "subject": row.subject})
        uow.commit()
