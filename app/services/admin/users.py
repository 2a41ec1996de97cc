"""Administration of users, roles and provider groups; every action is checked and audited."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from app.domain.permissions import ADMINISTRATORS, Identity
from app.errors import Conflict, FieldError, Forbidden, InvalidData, NotFound
from app.services.admin import web_sessions
from app.services.context import Context
from app.store import audit
from app.store.models import Membership, ProviderGroup, Role, User

USERNAME = re.compile(r"^[a-z][a-z0-9._-]{1,63}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _require_admin(identity: Identity) -> None:
    if not identity.holds_any(ADMINISTRATORS):
        raise Forbidden("administrators only")


def overview(services: Context, identity: Identity) -> dict[str, Any]:
    _require_admin(identity)
    with services.uow() as uow:
        s = uow.session
        users = s.scalars(select(User).order_by(User.username)).unique().all()
        return {
            "users": [{"id": u.id, "username": u.username, "full_name": u.full_name, "email": u.email,
                       "active": u.is_active,
                       "memberships": sorted(((m.id, m.role.name, m.provider_group.name if m.provider_group else "")
                                              for m in u.memberships), key=lambda t: (t[1], t[2]))} for u in users],
            "roles": [(r.code, r.name, r.lane) for r in s.scalars(select(Role).order_by(Role.id))],
            "groups": [(g.code, g.name) for g in s.scalars(select(ProviderGroup).order_by(ProviderGroup.code))],
        }


def _user(s: Session, username: str) -> User:
    user = s.scalars(select(User).where(User.username == username)).unique().one_or_none()
    if user is None:
        raise NotFound(f"no user {username}")
    return user


def create_user(services: Context, identity: Identity, data: dict[str, str]) -> None:
    _require_admin(identity)
    errors = []
    if not USERNAME.match(data.get("username", "")):
        errors.append(FieldError("username", "2-64 lower-case letters, digits, '.', '_' or '-', starting a-z"))
    if len(data.get("full_name", "").strip()) < 2:
        errors.append(FieldError("full_name", "give the person's name"))
    if not EMAIL.match(data.get("email", "")):
        errors.append(FieldError("email", "not an email address"))
    if len(data.get("password", "")) < 8:
        errors.append(FieldError("password", "at least 8 characters"))
    if errors:
        raise InvalidData("the user was not created", errors)
    with services.uow() as uow:
        if uow.session.scalars(select(User).where(User.username == data["username"])).first():
            raise Conflict(f"user {data['username']} already exists")
        uow.session.add(User(username=data["username"], full_name=data["full_name"].strip(), email=data["email"],
                             password_hash=generate_password_hash(data["password"])))
        audit.append(uow.session, actor=identity.username, event_type="user_created", now=services.clock.now(),
                     payload={"username": data["username"], "email": data["email"]})
        uow.commit()


def grant(services: Context, identity: Identity, username: str, role_code: str, group_code: str | None) -> None:
    _require_admin(identity)
    with services.uow() as uow:
        s = uow.session
        user = _user(s, username)
        role = s.scalars(select(Role).where(Role.code == role_code)).one_or_none()
        if role is None:
            raise InvalidData("unknown role", [FieldError("role", role_code)])
        group = None
        if role.lane:  # lane roles are held within a provider group
            group = s.scalars(select(ProviderGroup).where(ProviderGroup.code == (group_code or ""))).one_or_none()
            if group is None:
                raise InvalidData(f"{role.name} is held within a provider group",
                                  [FieldError("group", "choose a provider group")])
        if any(m.role_id == role.id and m.provider_group_id == (group.id if group else None) for m in user.memberships):
            raise Conflict(f"{username} already holds {role.name}{' in ' + group.name if group else ''}")
        user.memberships.append(Membership(role=role, provider_group=group))
        audit.append(s, actor=identity.username, event_type="role_granted", now=services.clock.now(),
                     payload={"username": username, "role": role.code, "group": group.code if group else None})
        uow.commit()


def revoke(services: Context, identity: Identity, membership_id: int) -> None:
    _require_admin(identity)
    with services.uow() as uow:
        membership = uow.session.get(Membership, membership_id)
        if membership is None:
            raise NotFound(f"no membership {membership_id}")
        payload = {"username": membership.user.username, "role": membership.role.code,
                   "group": membership.provider_group.code if membership.provider_group else None}
        if payload["username"] == identity.username and payload["role"] == "admin":
            raise Conflict("you cannot remove your own administrator role")
        uow.session.delete(membership)
        audit.append(uow.session, actor=identity.username, event_type="role_revoked", now=services.clock.now(),
                     payload=payload)
        uow.commit()


def set_active(services: Context, identity: Identity, username: str, active: bool) -> None:
    _require_admin(identity)
    if username == identity.username and not active:
        raise Conflict("you cannot deactivate yourself")
    with services.uow() as uow:
        user = _user(uow.session, username)
        user.is_active = active
        now = services.clock.now()
        payload: dict[str, Any] = {"username": username}
        if not active:  # every browser the user is signed in on is signed out now, not at its next click
            payload["sessions_ended"] = web_sessions.end_all(uow.session, user.id, web_sessions.DEACTIVATED, now)
        audit.append(uow.session, actor=identity.username, event_type="user_activated" if active else
                     "user_deactivated", now=now, payload=payload)
        uow.commit()


def create_group(services: Context, identity: Identity, code: str, name: str) -> None:
    _require_admin(identity)
    if not re.match(r"^[a-z][a-z0-9_-]{1,63}$", code) or len(name.strip()) < 2:
        raise InvalidData("the group was not created", [FieldError("code", "lower-case letters, digits, '-', '_'")])
    with services.uow() as uow:
        if uow.session.scalars(select(ProviderGroup).where(ProviderGroup.code == code)).first():
            raise Conflict(f"provider group {code} already exists")
        uow.session.add(ProviderGroup(code=code, name=name.strip()))
        audit.append(uow.session, actor=identity.username, event_type="group_created", now=services.clock.now(),
                     payload={"code": code, "name": name.strip()})
        uow.commit()
