"""Email outbox (rows written in the caller's transaction) and its SMTP delivery."""

from __future__ import annotations

import smtplib
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.store.models import Notification


class DbOutbox:
    def __init__(self, session: Session, now: datetime) -> None:
        self.session, self.now = session, now  # the service task's time on the application's clock

    def queue(self, *, kind: str, to: list[str], subject: str, body: str, request_number: str | None,
              key: str) -> dict[str, Any]:
        row = self.session.scalars(select(Notification).where(Notification.idempotency_key == key)).one_or_none()
        if row is None:
            row = Notification(kind=kind, to_addrs=", ".join(to), subject=subject, body=body,
                               request_number=request_number, idempotency_key=key,
                               created_at=self.now, next_attempt_at=self.now)  # due at once
            self.session.add(row)
            self.session.flush()
        return {"notification_id": row.id, "to": row.to_addrs, "status": "queued"}


def build_message(notification: Notification, sender: str, now: datetime) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = notification.to_addrs
    msg["Subject"] = notification.subject
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = f"<rf-{notification.id}-{notification.idempotency_key}@rf.local>"
    if notification.request_number:
        msg["X-Request-Number"] = notification.request_number
    msg.set_content(notification.body)
    return msg


def deliver(notification: Notification, *, host: str, port: int, sender: str, now: datetime,
            max_attempts: int, backoff_seconds: float) -> bool:
    """Send one queued notification; on failure schedule a retry (or give up after max_attempts)."""
    try:
        with smtplib.SMTP(host, port, timeout=10) as smtp:
            smtp.send_message(build_message(notification, sender, now))
    except (OSError, smtplib.SMTPException) as err:
        notification.attempts += 1
        notification.last_error = f"{type(err).__name__}: {err}"
        notification.status = "failed" if notification.attempts >= max_attempts else "queued"
        notification.next_attempt_at = now + timedelta(seconds=backoff_seconds * 2 ** notification.attempts)
        return False
    notification.status, notification.sent_at = "sent", now
    notification.attempts += 1
    return True
