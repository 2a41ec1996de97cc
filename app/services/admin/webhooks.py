"""Webhook subscriptions as administrators manage them: subscribe a URL to events, deactivate or reactivate it,
rotate its secret, send a test event, read its delivery log and redeliver an event. Every change is audited (the
secret never is); the secret is returned only by `subscribe` and `rotate_secret`, to be shown once."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.domain import webhooks
from app.domain.permissions import Identity, Reader, may_manage_webhooks
from app.errors import Conflict, FieldError, Forbidden, InvalidData, NotFound
from app.services.context import Context
from app.store import audit, webhook_outbox
from app.store.models import WebhookAttempt, WebhookDelivery, WebhookSubscription

LISTED = 100  # deliveries one log page shows, newest first
_LARGEST_ID = 2**31 - 1


@dataclass(frozen=True)
class SubscriptionView:
    id: int
    url: str
    description: str
    events: list[str]
    active: bool
    created_by: str
    created_at: datetime
    secret_rotated_at: datetime | None
    counts: dict[str, int] = field(default_factory=dict)  # deliveries per status

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "url": self.url, "description": self.description, "events": self.events,
                "active": self.active, "created_by": self.created_by, "created_at": self.created_at.isoformat(),
                "secret_rotated_at": self.secret_rotated_at.isoformat() if self.secret_rotated_at else None,
                "deliveries": self.counts}


@dataclass(frozen=True)
class AttemptView:
    attempted_at: datetime
    status_code: int | None
    error: str | None
    response_excerpt: str
    duration_ms: int


@dataclass(frozen=True)
class DeliveryView:
    id: int
    event_id: str
    event_type: str
    request_number: str | None
    status: str
    attempts: int
    next_attempt_at: datetime
    in_flight: bool
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    body: str
    log: list[AttemptView]


@dataclass(frozen=True)
class SubscriptionLog:
    subscription: SubscriptionView
    deliveries: list[DeliveryView]
    total: int


@dataclass(frozen=True)
class Created:
    subscription: SubscriptionView
    secret: str  # shown once


def _require(reader: Reader) -> None:
    if not may_manage_webhooks(reader):
        raise Forbidden("webhooks are for administrators only")


def _actor(reader: Reader) -> str:
    return reader.username if isinstance(reader, Identity) else reader.name


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def _view(sub: WebhookSubscription, counts: dict[str, int] | None = None) -> SubscriptionView:
    return SubscriptionView(sub.id, sub.url, sub.description, list(sub.events), sub.active, sub.created_by,
                            sub.created_at, sub.secret_rotated_at, counts or {})


def _counts(session: Session) -> dict[int, dict[str, int]]:
    found: dict[int, dict[str, int]] = {}
    for sub_id, status, count in session.execute(
            select(WebhookDelivery.subscription_id, WebhookDelivery.status, func.count())
            .group_by(WebhookDelivery.subscription_id, WebhookDelivery.status)):
        found.setdefault(sub_id, {})[status] = int(count)
    return found


def subscriptions(services: Context, reader: Reader) -> list[SubscriptionView]:
    """Every subscription, active ones first, with its deliveries counted per status."""
    _require(reader)
    with services.uow() as uow:
        counts = _counts(uow.session)
        rows = uow.session.scalars(select(WebhookSubscription)
                                   .order_by(WebhookSubscription.active.desc(), WebhookSubscription.id))
        return [_view(sub, counts.get(sub.id)) for sub in rows]


def _checked(url: str, description: str, events: list[str]) -> tuple[str, str, list[str]]:
    errors: list[FieldError] = []
    try:
        url = webhooks.check_url(url)
    except ValueError as err:
        errors.append(FieldError("url", str(err)))
    description = description.strip()
    if len(description) > webhooks.DESCRIPTION_MAX:
        errors.append(FieldError("description", f"at most {webhooks.DESCRIPTION_MAX} characters"))
    elif not description.isprintable():
        errors.append(FieldError("description", "one line without control characters"))
    try:
        events = webhooks.check_events(events)
    except ValueError as err:
        errors.append(FieldError("events", str(err)))
    if errors:
        raise InvalidData("the subscription was not created", errors)
    return url, description, events


def subscribe(services: Context, identity: Identity, url: str, description: str, events: list[str]) -> Created:
    """Subscribe `url` to `events`; returns the subscription and its secret, which is never shown again."""
    _require(identity)
    url, description, events = _checked(url, description, events)
    now = services.clock.now()
    secret = new_secret()
    with services.uow() as uow:
        s = uow.session
        sub = WebhookSubscription(url=url, description=description, events=events, secret=secret, active=True,
                                  created_by=identity.username, created_at=now)
        s.add(sub)
        s.flush()
        audit.append(s, actor=identity.username, event_type="webhook_subscribed", now=now,
                     payload={"subscription": sub.id, "url": url, "description": description, "events": events})
        uow.commit()
        return Created(_view(sub), secret)


def _subscription(session: Session, sub_id: int, lock: bool = False) -> WebhookSubscription:
    if not 0 < sub_id <= _LARGEST_ID:
        raise NotFound(f"no webhook subscription #{sub_id}")
    query = select(WebhookSubscription).where(WebhookSubscription.id == sub_id)
    sub = session.scalars(query.with_for_update() if lock else query).one_or_none()
    if sub is None:
        raise NotFound(f"no webhook subscription #{sub_id}")
    return sub


def set_active(services: Context, identity: Identity, sub_id: int, active: bool) -> SubscriptionView:
    """Deactivate (no new events are queued and queued ones wait) or reactivate a subscription."""
    _require(identity)
    now = services.clock.now()
    with services.uow() as uow:
        s = uow.session
        sub = _subscription(s, sub_id, lock=True)
        if sub.active == active:
            raise Conflict(f"webhook subscription #{sub_id} is already {'active' if active else 'inactive'}")
        sub.active = active
        audit.append(s, actor=identity.username, event_type="webhook_activated" if active else "webhook_deactivated",
                     now=now, payload={"subscription": sub.id, "url": sub.url})
        uow.commit()
        return _view(sub)


def rotate_secret(services: Context, identity: Identity, sub_id: int) -> str:
    """A new secret for the subscription (returned once); every attempt from now on is signed with it."""
    _require(identity)
    now = services.clock.now()
    secret = new_secret()
    with services.uow() as uow:
        s = uow.session
        sub = _subscription(s, sub_id, lock=True)
        sub.secret, sub.secret_rotated_at = secret, now
        audit.append(s, actor=identity.username, event_type="webhook_secret_rotated", now=now,
                     payload={"subscription": sub.id, "url": sub.url})
        uow.commit()
        return secret


def ping(services: Context, identity: Identity, sub_id: int) -> str:
    """Queue a `ping` event for this subscription only; returns its event id."""
    _require(identity)
    now = services.clock.now()
    with services.uow() as uow:
        s = uow.session
        sub = _subscription(s, sub_id)
        if not sub.active:
            raise Conflict(f"webhook subscription #{sub_id} is inactive; activate it to send a test event")
        event_id = str(uuid.uuid4())
        body = webhooks.payload(event_id=event_id, event_type=webhooks.PING, occurred_at=now,
                                actor=identity.username, request=None,
                                described={"kind": "subscription", "id": sub.id, "events": list(sub.events)})
        webhook_outbox.queue(s, [sub.id], event_id=event_id, event_type=webhooks.PING,
                             body=webhook_outbox.encode(body), request_number=None, audit_seq=None, now=now)
        audit.append(s, actor=identity.username, event_type="webhook_pinged", now=now,
                     payload={"subscription": sub.id, "event_id": event_id})
        uow.commit()
        return event_id


def _delivery_view(row: WebhookDelivery, attempts: list[WebhookAttempt]) -> DeliveryView:
    return DeliveryView(row.id, row.event_id, row.event_type, row.request_number, row.status, row.attempts,
                        row.next_attempt_at, row.claim_token is not None, row.last_status_code, row.last_error,
                        row.created_at, row.delivered_at, row.body,
                        [AttemptView(a.attempted_at, a.status_code, a.error, a.response_excerpt, a.duration_ms)
                         for a in attempts])


def delivery_log(services: Context, reader: Reader, sub_id: int, limit: int = LISTED) -> SubscriptionLog:
    """The subscription and its newest deliveries, each with every attempt (status code, error, response, time)."""
    _require(reader)
    with services.uow() as uow:
        s = uow.session
        sub = _subscription(s, sub_id)
        counts = _counts(s).get(sub.id, {})
        rows = list(s.scalars(select(WebhookDelivery).where(WebhookDelivery.subscription_id == sub.id)
                              .order_by(WebhookDelivery.id.desc()).limit(limit)))
        attempts: dict[int, list[WebhookAttempt]] = {}
        if rows:
            for attempt in s.scalars(select(WebhookAttempt).where(
                    WebhookAttempt.delivery_id.in_([row.id for row in rows]))
                    .order_by(WebhookAttempt.attempted_at, WebhookAttempt.id)):
                attempts.setdefault(attempt.delivery_id, []).append(attempt)
        return SubscriptionLog(_view(sub, counts), [_delivery_view(row, attempts.get(row.id, [])) for row in rows],
                               sum(counts.values()))


def redeliver(services: Context, identity: Identity, sub_id: int, delivery_id: int) -> DeliveryView:
    """Queue a delivered or failed event again for the same subscription: the same event id and body, a fresh set
    of attempts (the earlier ones stay in the log). 409 while it is still queued."""
    _require(identity)
    now = services.clock.now()
    if not 0 < delivery_id <= _LARGEST_ID:
        raise NotFound(f"no webhook delivery #{delivery_id}")
    with services.uow() as uow:
        s = uow.session
        row = s.scalars(select(WebhookDelivery).where(WebhookDelivery.id == delivery_id).with_for_update()
                        .execution_options(populate_existing=True)).one_or_none()
        if row is None or row.subscription_id != sub_id:
            raise NotFound(f"no webhook delivery #{delivery_id} for subscription #{sub_id}")
        if row.status == "queued":
            raise Conflict(f"delivery #{delivery_id} is still queued; the worker posts it on its next pass")
        audit.append(s, actor=identity.username, event_type="webhook_redelivered", now=now,
                     payload={"delivery": row.id, "subscription": row.subscription_id, "event_id": row.event_id,
                              "event_type": row.event_type, "before": {"status": row.status,
                                                                      "attempts": row.attempts}})
        row.status, row.attempts, row.next_attempt_at = "queued", 0, now
        row.claim_token, row.claimed_until, row.delivered_at = None, None, None
        uow.commit()
        return _delivery_view(row, [])
