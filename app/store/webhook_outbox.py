"""The webhook outbox: events queued in the transaction of the change they describe, delivered by the worker later.

`audit.append` hands every audit event it writes to `on_audit_event`; an event type that the catalogue maps to a
webhook event gets one delivery row per active subscription to that event, in the same transaction, so a committed
change always has its webhook events and a rolled-back one has none. The active subscriptions are reference data,
read once per process and reference generation (app/store/reference_cache.py), and only when a transaction writes
a mapped event.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain import webhooks
from app.store import reference_cache
from app.store.db import table_of
from app.store.models import AuditEvent, ServiceRequest, WebhookDelivery, WebhookSubscription

_SUBSCRIPTIONS = table_of(WebhookSubscription)
_ACTIVE = (select(_SUBSCRIPTIONS.c.id, _SUBSCRIPTIONS.c.events).where(_SUBSCRIPTIONS.c.active.is_(True))
           .order_by(_SUBSCRIPTIONS.c.id))


def _subscribed(session: Session) -> tuple[tuple[int, frozenset[str]], ...]:
    """(id, events) of the active subscriptions (reference data: read once per process and generation)."""
    return reference_cache.cached(session, "webhook_subscriptions", None, lambda: tuple(
        (sub_id, frozenset(events or ())) for sub_id, events in session.connection().execute(_ACTIVE)))


def describe_request(request: ServiceRequest | None) -> dict[str, Any] | None:
    if request is None:
        return None
    return {"number": request.number, "type": request.request_type, "title": request.title,
            "provider_group": request.provider_group.code, "priority": request.priority, "status": request.status}


def encode(body: dict[str, Any]) -> str:
    """The exact bytes posted (as text): compact, keys sorted, the same on every attempt."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def queue(session: Session, subscription_ids: list[int], *, event_id: str, event_type: str, body: str,
          request_number: str | None, audit_seq: int | None, now: datetime) -> list[WebhookDelivery]:
    rows = [WebhookDelivery(event_id=event_id, event_type=event_type, subscription_id=sub_id, audit_seq=audit_seq,
                            request_number=request_number, body=body, status="queued", attempts=0,
                            next_attempt_at=now, created_at=now) for sub_id in subscription_ids]
    session.add_all(rows)
    return rows


def on_audit_event(session: Session, event: AuditEvent) -> None:
    """Queue the webhook event this audit event stands for, once per active subscription to it."""
    name = webhooks.FROM_AUDIT.get(event.event_type)
    if name is None:
        return
    targets = [sub_id for sub_id, events in _subscribed(session) if name in events]
    if not targets:
        return
    request = session.get(ServiceRequest, event.request_id) if event.request_id is not None else None
    event_id = str(uuid.uuid4())
    body = webhooks.payload(event_id=event_id, event_type=name, occurred_at=event.at, actor=event.actor,
                            request=describe_request(request),
                            described=webhooks.resource(event.event_type, event.payload, event.actor))
    queue(session, targets, event_id=event_id, event_type=name, body=encode(body),
          request_number=request.number if request is not None else None, audit_seq=event.seq, now=event.at)
