"""Audit checkpoints: from time to time the head of every chain that changed, hashed into a chain of checkpoints
(see app/store/audit.py for the design); reached as `audit.checkpoint` and `audit.latest_checkpoint`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.store.audit import CHECKPOINTS, _checkpoint_digest, _insert_missing, write_pending
from app.store.models import AuditChain, AuditCheckpoint, AuditCheckpointHead


def checkpoint(session: Session, now: datetime, *, every: timedelta | None = None) -> AuditCheckpoint | None:
    """Record the head of every chain that changed since the previous checkpoint, in the caller's transaction.

    With `every`, only when the latest checkpoint is at least that old. Returns the new checkpoint, or the latest one
    when nothing changed (None when there is none at all, or when `every` says it is not yet time)."""
    write_pending(session)
    now = now.astimezone(UTC)
    query = (select(AuditCheckpointHead).where(AuditCheckpointHead.chain == CHECKPOINTS).with_for_update()
             .execution_options(populate_existing=True))
    top = session.scalars(query).one_or_none()
    if top is None:
        _insert_missing(session, AuditCheckpointHead, CHECKPOINTS)
        top = session.scalars(query).one()
    latest = session.get(AuditCheckpoint, top.length) if top.length else None
    if every is not None and latest is not None and latest.at + every > now:
        return None
    recorded = {row.chain: row for row in session.scalars(
        select(AuditCheckpointHead).where(AuditCheckpointHead.chain != CHECKPOINTS))}
    current = {row.chain: (row.length, row.head_hash) for row in session.scalars(select(AuditChain))}
    before = {chain: (row.length, row.head_hash) for chain, row in recorded.items()}
    changed: dict[str, tuple[int, str]] = {chain: head for chain, head in sorted(current.items())
                                           if head[0] and before.get(chain) != head}
    if not changed:
        return latest
    made = AuditCheckpoint(id=top.length + 1, at=now, events=sum(length for length, _ in current.values()),
                           heads={chain: list(head) for chain, head in changed.items()}, prev_hash=top.head_hash)
    made.hash = _checkpoint_digest(made)
    session.add(made)
    for chain, (length, digest) in changed.items():
        if chain in recorded:
            recorded[chain].length, recorded[chain].head_hash = length, digest
        else:
            session.add(AuditCheckpointHead(chain=chain, length=length, head_hash=digest))
    top.length, top.head_hash = made.id, made.hash
    session.flush()
    return made


def latest_checkpoint(session: Session) -> AuditCheckpoint | None:
    return session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.id.desc()).limit(1)).one_or_none()
