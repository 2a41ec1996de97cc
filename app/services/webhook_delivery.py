"""The worker's webhook pass: post due deliveries, signed, one at a time, and log every attempt.

Each delivery goes through three short steps, and no database transaction or lock is held while the receiver is
being waited for:

1. claim: in one transaction, take the next due delivery of an active subscription (`SKIP LOCKED` on PostgreSQL;
   SQLite serialises writers) and set a lease on it (`claim_token`, `claimed_until` = now + timeout + margin);
2. post: sign the stored body with the subscription's secret and POST it (httpx, `RF_WEBHOOK_TIMEOUT_SECONDS`);
3. record: in one transaction, log the attempt and, while the claim is still ours, mark the delivery delivered (2xx)
   or schedule the next attempt with exponential backoff (failed after `RF_WEBHOOK_MAX_ATTEMPTS`).

A worker that dies after claiming leaves a lease that runs out; the next worker then posts the delivery again (at
least once). The only way a receiver gets an event twice is a worker stopping between the receiver's answer and
step 3 (a few milliseconds), or a lease running out while a slow POST is still going; the duplicate then carries
the same event id (`X-RF-Event-Id`, and `id` in the body), which receivers use to ignore it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.adapters import webhooks as http
from app.domain import webhooks
from app.domain.signatures import EVENT_ID_HEADER, EVENT_TYPE_HEADER, signed_headers
from app.services.context import Context
from app.store.models import WebhookAttempt, WebhookDelivery, WebhookSubscription

LEASE_MARGIN_SECONDS = 30  # beyond the POST's timeout, before a claimed delivery is free for another worker


@dataclass(frozen=True)
class Claim:
    delivery_id: int
    token: str
    url: str
    secret: str
    body: str
    event_id: str
    event_type: str


@dataclass
class WebhookPass:
    delivered: int = 0
    failed_attempts: int = 0


def _skip_locked(session: Session, query: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return query.with_for_update(skip_locked=True, of=WebhookDelivery)
    return query


def lease_seconds(services: Context) -> float:
    return services.settings.webhook_timeout_seconds + LEASE_MARGIN_SECONDS


def claim_next(services: Context, now: datetime) -> Claim | None:
    """Claim the next due delivery (None when nothing is due), in a transaction of its own."""
    with services.uow() as uow:
        s = uow.session
        row = s.scalars(_skip_locked(s, select(WebhookDelivery)
                        .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
                        .where(WebhookDelivery.status == "queued", WebhookDelivery.next_attempt_at <= now,
                               or_(WebhookDelivery.claimed_until.is_(None), WebhookDelivery.claimed_until <= now),
                               WebhookSubscription.active.is_(True))
                        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id).limit(1)
                        .execution_options(populate_existing=True))).first()
        if row is None:
            return None
        subscription = s.get(WebhookSubscription, row.subscription_id)
        assert subscription is not None
        token = str(uuid.uuid4())
        row.claim_token, row.claimed_until = token, now + timedelta(seconds=lease_seconds(services))
        claim = Claim(row.id, token, subscription.url, subscription.secret, row.body, row.event_id, row.event_type)
        uow.commit()
        return claim


def post(claim: Claim, now: datetime, timeout: float) -> http.HttpOutcome:
    body = claim.body.encode()
    headers = {**signed_headers(claim.secret, body, now), EVENT_ID_HEADER: claim.event_id,
               EVENT_TYPE_HEADER: claim.event_type}
    return http.post(claim.url, body, headers, timeout)


def record(services: Context, claim: Claim, outcome: http.HttpOutcome, attempted_at: datetime) -> None:
    """Log the attempt; while the claim is ours, settle the delivery (delivered, retry later, or failed)."""
    settings = services.settings
    with services.uow() as uow:
        s = uow.session
        row = s.scalars(select(WebhookDelivery).where(WebhookDelivery.id == claim.delivery_id).with_for_update()
                        .execution_options(populate_existing=True)).one_or_none()
        if row is None:
            return
        s.add(WebhookAttempt(delivery_id=row.id, attempted_at=attempted_at, status_code=outcome.status_code,
                             error=outcome.error, response_excerpt=outcome.excerpt, duration_ms=outcome.duration_ms))
        row.attempts += 1
        row.last_status_code, row.last_error = outcome.status_code, outcome.error
        ours = row.claim_token == claim.token
        if ours:
            row.claim_token, row.claimed_until = None, None
        if outcome.delivered:
            if row.status != "delivered":
                row.status, row.delivered_at = "delivered", attempted_at
        elif ours and row.status == "queued":
            if row.attempts >= settings.webhook_max_attempts:
                row.status = "failed"
                row.last_error = f"gave up after {row.attempts} attempts: {outcome.error}"
            else:
                row.next_attempt_at = attempted_at + timedelta(
                    seconds=webhooks.backoff_seconds(row.attempts, settings.webhook_backoff_seconds))
        uow.commit()


def deliver_due(services: Context, now: datetime, limit: int = 100,
                report: Callable[[str], None] | None = None) -> WebhookPass:
    """Post up to `limit` due deliveries, one at a time. The time of each attempt is `now` plus the time this pass
    has taken so far (the one clock, moved on by a monotonic stopwatch). Whatever goes wrong with one delivery after
    it is claimed is reported and the pass goes on; the delivery's lease runs out and it is tried again."""
    done = WebhookPass()
    began = time.monotonic()

    def moment() -> datetime:
        return now + timedelta(seconds=time.monotonic() - began)

    for _ in range(limit):
        claim = claim_next(services, moment())
        if claim is None:
            break
        attempted_at = moment()
        try:
            outcome = post(claim, attempted_at, services.settings.webhook_timeout_seconds)
            record(services, claim, outcome, attempted_at)
        except Exception as err:  # noqa: BLE001 - one delivery's trouble is its own, never the others'
            if report is not None:
                report(f"worker: webhook delivery {claim.delivery_id} failed: {type(err).__name__}: {err}")
            done.failed_attempts += 1
            continue
        if outcome.delivered:
            done.delivered += 1
        else:
            done.failed_attempts += 1
    return done
