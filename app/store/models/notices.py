"""Administrators' versions of the email templates, and the in-app notifications people read under the bell."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.store.db import Base, UTCDateTime, stamped_on_insert, stamped_on_write


class EmailTemplate(Base):
    """An email template an administrator changed; a template without a row is the default that ships."""

    __tablename__ = "email_template"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(40), unique=True)
    subject: Mapped[str] = mapped_column(Text)
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = stamped_on_write()


class UserNotice(Base):
    """One in-app notification for one user (a task assigned to them, a billing case for them, an escalation).
    `key` makes it idempotent: a retried step finds the notice it wrote instead of writing a second one."""

    __tablename__ = "user_notice"
    __table_args__ = (Index("ix_user_notice_user_created", "user_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(40))  # task_assigned | billing_forwarded | customer_replied | sla_*
    text: Mapped[str] = mapped_column(String(500))
    request_id: Mapped[int | None] = mapped_column(ForeignKey("service_request.id", ondelete="CASCADE"))
    request_number: Mapped[str | None] = mapped_column(String(32))
    task_uuid: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = stamped_on_insert()
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
