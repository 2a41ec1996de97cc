"""Reference data: roles, provider groups, users and their memberships."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, ForeignKey, String, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.store.db import Base


class Role(Base):
    __tablename__ = "role"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    lane: Mapped[str | None] = mapped_column(String(200), unique=True)  # BPMN lane name this role acts in


class ProviderGroup(Base):
    __tablename__ = "provider_group"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))


class User(Base):
    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    password_hash: Mapped[str] = mapped_column(String(300), default="")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    time_zone: Mapped[str | None] = mapped_column(String(64), nullable=True)  # IANA name; None: the installation's
    # Which staff emails the user wants (Preferences); the in-app notification is kept either way.
    email_on_assignment: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    email_on_billing: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    email_on_escalation: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())

    memberships: Mapped[list[Membership]] = relationship(back_populates="user", cascade="all, delete-orphan")


class Membership(Base):
    """A user holds a role, either within one provider group or (group NULL) system-wide."""

    __tablename__ = "membership"
    __table_args__ = (UniqueConstraint("user_id", "role_id", "provider_group_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    role_id: Mapped[int] = mapped_column(ForeignKey("role.id"))
    provider_group_id: Mapped[int | None] = mapped_column(ForeignKey("provider_group.id"))

    user: Mapped[User] = relationship(back_populates="memberships")
    role: Mapped[Role] = relationship(lazy="joined")
    provider_group: Mapped[ProviderGroup | None] = relationship(lazy="joined")


class ReferenceGeneration(Base):
    """One row: a random number that changes whenever reference data changes (database triggers, migration 0021).
    Processes key what they cache of that data by it: see app/store/reference_cache.py."""

    __tablename__ = "reference_generation"

    id: Mapped[int] = mapped_column(primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)
