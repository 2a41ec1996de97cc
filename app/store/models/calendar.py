"""The business calendar's holidays and the SLA targets per request type and priority (kept by administrators)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.store.db import Base, stamped_on_insert, stamped_on_write

SLA_UNITS = ("business_hours", "business_days", "calendar_days")


class Holiday(Base):
    """A local date (America/Chicago) on which no business time passes."""

    __tablename__ = "holiday"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, unique=True)
    name: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(20))  # statute | manual | ics
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = stamped_on_insert()


class HolidayYear(Base):
    """A year whose statutory holidays were loaded once; they are not loaded again (removals stay removed)."""

    __tablename__ = "holiday_year"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    loaded_by: Mapped[str] = mapped_column(String(64))
    loaded_at: Mapped[datetime] = stamped_on_insert()


class SlaTarget(Base):
    """How long a request of one type and priority may take: `amount` of `unit` (see SLA_UNITS)."""

    __tablename__ = "sla_target"
    __table_args__ = (UniqueConstraint("request_type", "priority"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_type: Mapped[str] = mapped_column(String(20))
    priority: Mapped[str] = mapped_column(String(20))
    amount: Mapped[int] = mapped_column(Integer)
    unit: Mapped[str] = mapped_column(String(20))
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = stamped_on_write()
