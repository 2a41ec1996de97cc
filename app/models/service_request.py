"""The business record of a request (assistance or enhancement)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, UTCDateTime, utcnow
from app.models.reference import ProviderGroup

REQUEST_TYPES = ("assistance", "enhancement")
PRIORITIES = ("low", "medium", "high", "critical")


class ServiceRequest(Base):
    __tablename__ = "service_request"

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
    sla_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(30), default="open")  # open | closed
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    provider_group: Mapped[ProviderGroup] = relationship(lazy="joined")
