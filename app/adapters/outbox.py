"""Email outbox (rows written in the caller's transaction) and its SMTP delivery.

One message never stops the others: `deliver` never raises for a bad message. A message that cannot be built (a line
break in a header, say) or that the SMTP server refuses for good (a 5xx reply, an address it cannot take) is marked
`failed` at once with its reason; a passing trouble (no connection, a 4xx reply) is retried with backoff and marked
`failed` after the last attempt. Failed messages stay in the outbox for administrators to see and retry.
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from app.adapters.mail_compose import TEMPLATE_OF_KIND, MailStyle, compose, installed, request_values
from app.domain import reply_tokens
from app.store.db import table_of
from app.store.models import Notification, ServiceRequest
from handlers.base import one_line

_NOTIFICATIONS = table_of(Notification)
_INSERT = insert(_NOTIFICATIONS).returning(_NOTIFICATIONS.c.id)
SUBJECT_MAX = 300  # the outbox's subject column; longer subjects are shortened, never refused
_ERROR_MAX = 2000


class DbOutbox:
    """Queues email. A message whose kind has a template (`TEMPLATE_OF_KIND`) is composed from it: `subject` and
    `body` become the template's `subject` and `message`, `values` adds the template's own (recipient, task…)."""

    def __init__(self, session: Session, now: datetime, style: MailStyle | None = None) -> None:
        self.session, self.now = session, now  # the service task's time on the application's clock
        self.style = style or installed()

    def queue(self, *, kind: str, to: list[str], subject: str, body: str, request_number: str | None,
              key: str, values: dict[str, Any] | None = None, request: ServiceRequest | None = None,
              unseen_key: bool = False) -> dict[str, Any]:
        """`request`: the request `request_number` names, when the caller holds it (saves reading it again);
        `unseen_key`: the caller knows no message with `key` exists (it wrote the row that key belongs to in this
        transaction), so the idempotency lookup is skipped."""
        row = None if unseen_key else self.session.scalars(
            select(Notification).where(Notification.idempotency_key == key)).one_or_none()
        if row is not None:
            return {"notification_id": row.id, "to": row.to_addrs, "status": "queued"}
        message = self.composed(kind=kind, to=to, subject=subject, body=body, request_number=request_number, key=key,
                                values=values, request=request)
        # a prebuilt Core INSERT (no unit of work for a row nobody reads back in this transaction)
        new_id = self.session.connection().execute(_INSERT, message).scalar_one()
        return {"notification_id": new_id, "to": message["to_addrs"], "status": "queued"}

    def composed(self, *, kind: str, to: list[str], subject: str, body: str, request_number: str | None, key: str,
                 values: dict[str, Any] | None = None, request: ServiceRequest | None = None) -> dict[str, Any]:
        """The outbox row `queue` would write, due at once, by column (for a caller that writes it in a statement
        of its own)."""
        html: str | None = None
        template = TEMPLATE_OF_KIND.get(kind)
        if template is not None:
            given = {**request_values(self.session, request_number, self.style, self.now, request),
                     "subject": one_line(subject, SUBJECT_MAX), "message": body, **(values or {})}
            rendered = compose(self.session, template, given)
            if rendered is not None:
                subject, body, html = rendered.subject, rendered.text, rendered.html
        return {"kind": kind, "to_addrs": ", ".join(to), "subject": one_line(subject, SUBJECT_MAX), "body": body,
                "html_body": html, "request_number": request_number, "idempotency_key": key,
                "created_at": self.now, "next_attempt_at": self.now}


@dataclass(frozen=True)
class ReplyAddressing:
    """How a question to the customer asks for its reply: the key of the reply tokens and the inbound domain."""

    secret: str = field(repr=False)
    domain: str


def build_message(notification: Notification, sender: str, now: datetime,
                  reply: ReplyAddressing | None = None) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = notification.to_addrs
    msg["Subject"] = notification.subject
    if reply is not None and notification.kind == "customer_question" and notification.request_number:
        # the customer's answer comes back to the inbound endpoint, naming its request (app/domain/reply_tokens.py)
        msg.replace_header("Subject", reply_tokens.subject_with_token(reply.secret, notification.request_number,
                                                                      notification.subject))
        msg["Reply-To"] = reply_tokens.reply_address(reply.secret, notification.request_number, reply.domain)
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = f"<rf-{notification.id}-{notification.idempotency_key}@rf.local>"
    if notification.request_number:
        msg["X-Request-Number"] = notification.request_number
    msg.set_content(notification.body)
    if notification.html_body:
        msg.add_alternative(notification.html_body, subtype="html")  # multipart/alternative: text first, HTML after
    msg.as_bytes()  # serialise once here, so a message that cannot be written fails as "cannot be built"
    return msg


def _describe(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}"[:_ERROR_MAX]


def _refused_for_good(err: Exception) -> bool:
    """Whether the server's answer is about this message and final (5xx, or a capability the message needs)."""
    if isinstance(err, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in err.recipients.values()]
        return bool(codes) and all(500 <= code < 600 for code in codes)
    if isinstance(err, smtplib.SMTPNotSupportedError):
        return True  # e.g. an internationalised address and a server without SMTPUTF8
    if isinstance(err, smtplib.SMTPHeloError | smtplib.SMTPAuthenticationError | smtplib.SMTPServerDisconnected):
        return False  # the server, not this message
    code = getattr(err, "smtp_code", None)
    return isinstance(code, int) and 500 <= code < 600


def _fail(notification: Notification, reason: str, now: datetime) -> bool:
    """Mark the message failed; `next_attempt_at` then records when it failed."""
    notification.attempts += 1
    notification.status, notification.last_error, notification.next_attempt_at = "failed", reason[:_ERROR_MAX], now
    return False


def deliver(notification: Notification, *, host: str, port: int, sender: str, now: datetime,
            max_attempts: int, backoff_seconds: float, reply: ReplyAddressing | None = None) -> bool:
    """Send one queued notification. Never raises for a bad message: a message that cannot be built or is refused
    for good is marked failed with its reason; a passing failure is retried with backoff, and failed after
    max_attempts."""
    try:
        message = build_message(notification, sender, now, reply)
    except Exception as err:  # any problem with this message's content isolates this message
        return _fail(notification, f"cannot be built: {_describe(err)}", now)
    try:
        with smtplib.SMTP(host, port, timeout=10) as smtp:
            refused = smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as err:
        if _refused_for_good(err):
            return _fail(notification, f"refused by the mail server: {_describe(err)}", now)
        if notification.attempts + 1 >= max_attempts:
            return _fail(notification, f"gave up after {notification.attempts + 1} attempts: {_describe(err)}", now)
        notification.attempts += 1
        notification.last_error = _describe(err)
        notification.next_attempt_at = now + timedelta(seconds=backoff_seconds * 2 ** notification.attempts)
        return False
    except Exception as err:  # an unexpected error while writing this message: isolate it
        return _fail(notification, f"could not be sent: {_describe(err)}", now)
    notification.status, notification.sent_at = "sent", now
    notification.attempts += 1
    notification.last_error = ("refused for some recipients: " + "; ".join(
        f"{address} ({code} {reply.decode(errors='replace')})" for address, (code, reply) in refused.items())
        if refused else None)
    return True
