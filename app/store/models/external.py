"""Records kept by the built-in adapters of the external systems (CRM, work list, billing, ASD, email outbox).

Every row written on behalf of a service task carries that task's idempotency key, unique, so a retried task
finds its earlier record instead of writing a second one.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Date, ForeignKey, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.store.db import Base, UTCDateTime, stamped_on_insert, stamped_on_write


class CrmCase(Base):
    """A CRM case as Request Fulfillment knows it: the Pending Queue (fed by the CRM's case feed, or logged here) and
    the cases requests work on. With the HTTP CRM this is the local mirror the HTTP client keeps in step."""

    __tablename__ = "crm_case"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_number: Mapped[str | None] = mapped_column(String(32), unique=True)
    agency: Mapped[str] = mapped_column(String(200))
    requester_name: Mapped[str] = mapped_column(String(200))
    requester_email: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    provider_group: Mapped[str] = mapped_column(String(64))
    # pending | in_progress | closed | cancelled (cancelled in the CRM while still in the Pending Queue)
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    request_number: Mapped[str | None] = mapped_column(String(32))
    resolution: Mapped[str | None] = mapped_column(Text)
    resolution_code: Mapped[str | None] = mapped_column(String(40))
    opened_at: Mapped[datetime] = stamped_on_insert()
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Where the case came from: "local" (logged in Request Fulfillment) or "crm" (the CRM's case feed).
    origin: Mapped[str] = mapped_column(String(20), default="local", server_default="local")
    # When the HTTP CRM was told about a case logged here (PUT /cases/{id}); None for fed cases and the built-in CRM.
    registered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The case feed: the last message applied (its sequence, sha256 of its content, the answer given, when).
    feed_sequence: Mapped[int | None] = mapped_column(BigInteger)
    feed_digest: Mapped[str | None] = mapped_column(String(64))
    feed_outcome: Mapped[str | None] = mapped_column(String(20))
    feed_received_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The CRM cancelled the case after a request took it: the request goes on, flagged (never silently cancelled).
    cancelled_in_crm_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CrmNote(Base):
    __tablename__ = "crm_note"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("crm_case.id"), index=True)
    note: Mapped[str] = mapped_column(Text)
    idempotency_key: Mapped[str] = mapped_column(String(80), unique=True)
    created_at: Mapped[datetime] = stamped_on_insert()


class WorkListEntry(Base):
    __tablename__ = "work_list_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_number: Mapped[str] = mapped_column(String(32), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    agency: Mapped[str] = mapped_column(String(200))
    provider_group: Mapped[str] = mapped_column(String(64), index=True)
    work_plan: Mapped[str] = mapped_column(Text)
    estimated_hours: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    planned_start: Mapped[date] = mapped_column(Date)
    planned_finish: Mapped[date] = mapped_column(Date)
    stage: Mapped[str] = mapped_column(String(40), default="scheduled")
    revision: Mapped[int] = mapped_column(Integer, default=1)
    last_update_key: Mapped[str] = mapped_column(String(80))
    updated_at: Mapped[datetime] = stamped_on_write()


class BillingCase(Base):
    __tablename__ = "billing_case"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_number: Mapped[str | None] = mapped_column(String(32), unique=True)
    request_number: Mapped[str] = mapped_column(String(32), index=True)
    agency: Mapped[str] = mapped_column(String(200))
    billable_hours: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    hourly_rate: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    billing_code: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="open")
    idempotency_key: Mapped[str] = mapped_column(String(80), unique=True)
    created_at: Mapped[datetime] = stamped_on_insert()


class AsdService(Base):
    """An agency's entry in the Agency Services Database."""

    __tablename__ = "asd_service"

    id: Mapped[int] = mapped_column(primary_key=True)
    agency: Mapped[str] = mapped_column(String(200), index=True)
    service_name: Mapped[str] = mapped_column(String(300))
    request_number: Mapped[str] = mapped_column(String(32), index=True)
    billing_code: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))  # proposed | live
    live_date: Mapped[date | None] = mapped_column(Date)
    idempotency_key: Mapped[str] = mapped_column(String(80), unique=True)
    updated_at: Mapped[datetime] = stamped_on_write()


class Notification(Base):
    """Email outbox: written in the service task's transaction, sent over SMTP by the worker afterwards."""

    __tablename__ = "notification"

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(80), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    to_addrs: Mapped[str] = mapped_column(Text)  # comma separated
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)  # the plain-text part
    html_body: Mapped[str | None] = mapped_column(Text)  # the HTML part (multipart/alternative); None: text only
    request_number: Mapped[str | None] = mapped_column(String(32), index=True)
    status: Mapped[str] = mapped_column(String(20), default="queued", index=True)  # queued | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime] = stamped_on_insert()
    created_at: Mapped[datetime] = stamped_on_insert()
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
