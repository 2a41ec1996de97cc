"""The append-only, hash-chained audit log: events in per-request and per-category chains, each chain's head, and
the chain of checkpoints that record every chain's head from time to time (see app/store/audit.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.store.db import Base, UTCDateTime


class AuditEvent(Base):
    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_chain_position", "chain", "chain_seq", unique=True),
                      # a request's events in the log's order (its history, its replay, what came after a point)
                      Index("ix_audit_event_request_seq", "request_id", "seq"))

    # Global order for display and export: a database sequence on PostgreSQL (no lock), max + 1 on SQLite (whose
    # writers are serialised by BEGIN IMMEDIATE anyway). Gaps are allowed (a rolled-back append uses a number up).
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(64), index=True)
    request_id: Mapped[int | None] = mapped_column(Integer)
    payload: Mapped[dict] = mapped_column(JSON)  # type: ignore[type-arg]
    chain: Mapped[str] = mapped_column(String(64))  # "request:<id>" or "system:<category>"
    chain_seq: Mapped[int] = mapped_column(Integer)  # 1, 2, 3… within the chain
    prev_hash: Mapped[str] = mapped_column(String(64))  # the previous event's hash in the same chain
    hash: Mapped[str] = mapped_column(String(64))


class AuditChain(Base):
    """One row per chain holding its head; an append locks only its own chain's row."""

    __tablename__ = "audit_chain"

    chain: Mapped[str] = mapped_column(String(64), primary_key=True)
    length: Mapped[int] = mapped_column(Integer)
    head_hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpoint(Base):
    """Every chain's head (length and hash) that changed since the previous checkpoint, hashed together with the
    previous checkpoint's hash: a chain of checkpoints. Append-only like audit_event."""

    __tablename__ = "audit_checkpoint"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    events: Mapped[int] = mapped_column(Integer)  # events in the log when it was taken (for people)
    heads: Mapped[dict] = mapped_column(JSON)  # type: ignore[type-arg]  # {chain: [length, head hash]}
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpointHead(Base):
    """Each chain's head as of the latest checkpoint (what the next one compares with), and under the key `*` the
    checkpoint chain's own head (count, last hash), whose row the checkpoint writer locks."""

    __tablename__ = "audit_checkpoint_head"

    chain: Mapped[str] = mapped_column(String(64), primary_key=True)
    length: Mapped[int] = mapped_column(Integer)
    head_hash: Mapped[str] = mapped_column(String(64))
