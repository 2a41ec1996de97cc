"""Append-only, hash-chained audit log: every state change appends one row; nothing updates or deletes one."""

from __future__ import annotations

import hashlib
import json
from contextvars import ContextVar, Token
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.store import webhook_outbox
from app.store.models import AuditEvent, AuditHead

GENESIS = "0" * 64

# How the actor reached us when it was not a signed-in page (e.g. "API token 'CRM sync'"): set for one API call by
# the web layer, written into the payload of every event that call appends, so each write names the token.
_via: ContextVar[str | None] = ContextVar("rf_audit_via", default=None)


def acting_via(label: str | None) -> Token[str | None]:
    return _via.set(label)


def done_acting(token: Token[str | None]) -> None:
    _via.reset(token)


def _digest(seq: int, at: datetime, actor: str, event_type: str, request_id: int | None,
            payload: dict[str, Any], prev_hash: str) -> str:
    body = json.dumps([seq, at.isoformat(), actor, event_type, request_id, payload, prev_hash],
                      sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def append(session: Session, *, actor: str, event_type: str, payload: dict[str, Any], now: datetime,
           request_id: int | None = None) -> AuditEvent:
    """Append in the caller's transaction; the head row is locked so concurrent appends serialise. An event that
    stands for a webhook event also queues its deliveries here, in the same transaction (`webhook_outbox`)."""
    now = now.astimezone(UTC)
    head = session.scalars(select(AuditHead).where(AuditHead.id == 1).with_for_update()).one_or_none()
    if head is None:
        head = AuditHead(id=1, seq=0, hash=GENESIS)
        session.add(head)
    via = _via.get()
    if via is not None:
        payload = {**payload, "via": via}
    payload = json.loads(json.dumps(payload, default=str))
    seq = head.seq + 1
    digest = _digest(seq, now, actor, event_type, request_id, payload, head.hash)
    event = AuditEvent(seq=seq, at=now, actor=actor, event_type=event_type, request_id=request_id,
                       payload=payload, prev_hash=head.hash, hash=digest)
    session.add(event)
    head.seq, head.hash = seq, digest
    webhook_outbox.on_audit_event(session, event)
    session.flush()
    return event


@dataclass(frozen=True)
class ChainReport:
    intact: bool
    count: int
    head_hash: str
    broken_at: int | None = None
    reason: str = ""


def verify(session: Session) -> ChainReport:
    """Walk the chain in sequence order; report the first broken link."""
    prev, expected_seq, count = GENESIS, 1, 0
    for event in session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).yield_per(1000):
        if event.seq != expected_seq:
            return ChainReport(False, count, prev, expected_seq, f"row {expected_seq} is missing")
        if event.prev_hash != prev:
            return ChainReport(False, count, prev, event.seq, "link to the previous row is broken")
        if _digest(event.seq, event.at, event.actor, event.event_type, event.request_id, event.payload,
                   event.prev_hash) != event.hash:
            return ChainReport(False, count, prev, event.seq, "row content does not match its hash")
        prev, expected_seq, count = event.hash, expected_seq + 1, count + 1
    head = session.get(AuditHead, 1)
    if head is not None and (head.seq != count or head.hash != prev):
        return ChainReport(False, count, prev, count + 1, "rows after the last one were removed")
    return ChainReport(True, count, prev)
