"""The email outbox as administrators see it: messages that failed (with the reason) and retrying them, audited.

A message fails when it cannot be built, when the mail server refuses it for good, or after its last attempt at a
passing trouble (see `app.adapters.outbox.deliver`). Retrying puts it back in the queue with a fresh set of
attempts; the worker sends it on its next pass, under the same Message-ID.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.domain.permissions import ADMINISTRATORS, Identity
from app.errors import Conflict, Forbidden, NotFound
from app.services.context import Context
from app.store import audit
from app.store.models import Notification, ServiceRequest

LISTED = 200  # the most failed messages one listing shows (newest first)
_LARGEST_ID = 2**31 - 1  # the id column is a 32-bit integer


@dataclass(frozen=True)
class FailedMessage:
    id: int
    kind: str
    to: str
    subject: str
    request_number: str | None
    attempts: int
    reason: str
    created_at: datetime
    failed_at: datetime

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["created_at"], data["failed_at"] = self.created_at.isoformat(), self.failed_at.isoformat()
        return data


@dataclass(frozen=True)
class OutboxOverview:
    failed: list[FailedMessage]
    failed_total: int
    queued: int
    sent: int

    def as_dict(self) -> dict[str, Any]:
        return {"failed": [m.as_dict() for m in self.failed], "failed_total": self.failed_total,
                "queued": self.queued, "sent": self.sent}


def _require_admin(identity: Identity) -> None:
    if not identity.holds_any(ADMINISTRATORS):
        raise Forbidden("the outbox is for administrators only")


def _failed(row: Notification) -> FailedMessage:
    return FailedMessage(row.id, row.kind, row.to_addrs, row.subject, row.request_number, row.attempts,
                         row.last_error or "(no reason recorded)", row.created_at, row.next_attempt_at)


def overview(services: Context, identity: Identity) -> OutboxOverview:
    """Failed messages, newest first, with the counts of queued and sent ones."""
    _require_admin(identity)
    with services.uow() as uow:
        s = uow.session
        counts = dict(s.execute(select(Notification.status, func.count()).group_by(Notification.status)).all())
        rows = s.scalars(select(Notification).where(Notification.status == "failed")
                         .order_by(Notification.next_attempt_at.desc(), Notification.id.desc()).limit(LISTED))
        return OutboxOverview([_failed(row) for row in rows], int(counts.get("failed", 0)),
                              int(counts.get("queued", 0)), int(counts.get("sent", 0)))


def failed_messages(services: Context, identity: Identity) -> list[FailedMessage]:
    return overview(services, identity).failed


def _request_id(session: Session, number: str | None) -> int | None:
    if not number:
        return None
    return session.scalar(select(ServiceRequest.id).where(ServiceRequest.number == number))


def _requeue(session: Session, row: Notification, actor: str, now: datetime) -> None:
    audit.append(session, actor=actor, event_type="mail_retried", now=now,
                 request_id=_request_id(session, row.request_number),
                 payload={"notification": row.id, "kind": row.kind, "to": row.to_addrs, "subject": row.subject,
                          "before": {"status": row.status, "attempts": row.attempts, "error": row.last_error},
                          "after": {"status": "queued", "attempts": 0}})
    row.status, row.attempts, row.last_error, row.next_attempt_at = "queued", 0, None, now


def retry_message(services: Context, identity: Identity, notification_id: int) -> FailedMessage:
    """Queue one failed message again (audited with its reason before the retry); 409 unless it is failed."""
    _require_admin(identity)
    now = services.clock.now()
    if not 0 < notification_id <= _LARGEST_ID:  # a number the database's integer column cannot hold is no message
        raise NotFound(f"no message #{notification_id} in the outbox")
    with services.uow() as uow:
        s = uow.session
        row = s.scalars(select(Notification).where(Notification.id == notification_id).with_for_update()
                        .execution_options(populate_existing=True)).one_or_none()
        if row is None:
            raise NotFound(f"no message #{notification_id} in the outbox")
        if row.status != "failed":
            raise Conflict(f"message #{notification_id} is {row.status}, not failed; only failed messages are retried")
        shown = _failed(row)
        _requeue(s, row, identity.username, now)
        uow.commit()
        return shown


def retry_all(services: Context, identity: Identity) -> int:
    """Queue every failed message again (after the mail server is repaired, say); how many were queued."""
    _require_admin(identity)
    now = services.clock.now()
    with services.uow() as uow:
        s = uow.session
        rows = list(s.scalars(select(Notification).where(Notification.status == "failed")
                              .order_by(Notification.id).with_for_update()))
        for row in rows:
            _requeue(s, row, identity.username, now)
        uow.commit()
        return len(rows)
