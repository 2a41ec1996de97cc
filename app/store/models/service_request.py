"""The business record of a request (assistance or enhancement)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.domain.vocabulary import PRIORITIES, REQUEST_TYPES  # noqa: E402,F401 - the columns' vocabulary
from app.store.db import Base, UTCDateTime, stamped_on_insert
from app.store.models.reference import ProviderGroup

# The request list's filter columns in one narrow index: counting and filtering scan it, not the wide rows (see
# app/services/requests/listing.py); the provider group first, as every staff member's list is scoped by it.
LISTING_COLUMNS = ("provider_group_id", "status", "request_type", "priority", "created_at", "closed_at", "sla_due_at",
                   "sla_breached_at", "sla_paused_since", "id")


class ServiceRequest(Base):
    __tablename__ = "service_request"
    __table_args__ = (Index("ix_service_request_listing", *LISTING_COLUMNS),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str | None] = mapped_column(String(32), unique=True)
    request_type: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    agency: Mapped[str] = mapped_column(String(200))
    requester_name: Mapped[str] = mapped_column(String(200))
    requester_email: Mapped[str] = mapped_column(String(320))
    provider_group_id: Mapped[int] = mapped_column(ForeignKey("provider_group.id"))
    priority: Mapped[str] = mapped_column(String(20), default="medium")
    routine: Mapped[bool] = mapped_column(Boolean, default=True)
    crm_case_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    planned_start: Mapped[date | None] = mapped_column(Date)
    planned_finish: Mapped[date | None] = mapped_column(Date)
    sla_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # moves later by the time spent paused
    # The SLA clock, in business seconds of the business calendar (see app/services/requests/sla_clock.py).
    sla_target_seconds: Mapped[int | None] = mapped_column(Integer)
    sla_paused_since: Mapped[datetime | None] = mapped_column(UTCDateTime)  # waiting on the customer
    sla_paused_seconds: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    sla_next_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)  # next escalation threshold
    sla_breached_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(30), default="open")  # scheduled | open | closed
    # A scheduled enhancement request: the Monday of the week it is planned to be pulled from the 60 day schedule.
    planned_week: Mapped[date | None] = mapped_column(Date)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = stamped_on_insert()
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    provider_group: Mapped[ProviderGroup] = relationship(lazy="joined")


ESCALATION_LEVELS = ("warning", "breach")  # 75% of the target used; the target passed


class SlaEscalation(Base):
    """One escalation of a request's SLA clock; the unique constraint makes each level happen at most once."""

    __tablename__ = "sla_escalation"
    __table_args__ = (UniqueConstraint("request_id", "level"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("service_request.id"), index=True)
    level: Mapped[str] = mapped_column(String(10))  # warning | breach
    threshold_at: Mapped[datetime] = mapped_column(UTCDateTime)  # when the clock reached the level
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime)  # when the worker raised it
    recipients: Mapped[list[str]] = mapped_column(JSON)
