"""API access tokens: personal ones (a user scripting their own work) and service-account ones (another system
acting as a user set up for it). A token acts with its user's roles; only its sha256 is stored, the secret is shown
once. Owners and administrators list and revoke; a token past its expiry, revoked, or of a deactivated user signs
nobody in."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from app.domain.permissions import Identity, may_create_service_tokens, may_manage_token
from app.errors import AppError, FieldError, Forbidden, InvalidData, NotFound
from app.services.context import Context
from app.store import audit, reference_cache
from app.store.db import reading, table_of
from app.store.models import ApiToken, Membership, ProviderGroup, Role, User

TOKEN_PREFIX = "rf_"
KINDS = ("personal", "service")
DEFAULT_DAYS, LONGEST_DAYS = 90, 366
NAME_MAX = 80
TOUCH_EVERY = timedelta(seconds=60)  # last_used_at is written at most this often


class TokenRefused(AppError):
    """The bearer token signs nobody in (unknown, revoked, expired, or its user deactivated)."""

    status = 401


@dataclass(frozen=True)
class TokenView:
    id: int
    name: str
    kind: str
    owner: str
    prefix: str
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    state: str  # active | expired | revoked

    def as_dict(self) -> dict[str, Any]:
        return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class Bearer:
    identity: Identity
    token_name: str
    token_id: int


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _state(row: ApiToken, now: datetime) -> str:
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at is not None and row.expires_at <= now:
        return "expired"
    return "active"


def _view(row: ApiToken, owner: str, now: datetime) -> TokenView:
    return TokenView(row.id, row.name, row.kind, owner, row.prefix, row.created_by, row.created_at, row.expires_at,
                     row.last_used_at, row.revoked_at, _state(row, now))


def _user(session: Session, username: str) -> User:
    user = session.scalars(select(User).where(User.username == username)).unique().one_or_none()
    if user is None or not user.is_active:
        raise NotFound(f"no active user {username!r}")
    return user


def _checked_name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise InvalidData("the token needs a name", [FieldError("name", "say what the token is for, e.g. 'CRM sync'")])
    if len(name) > NAME_MAX or not name.isprintable():
        raise InvalidData("bad token name", [FieldError("name", f"one line of at most {NAME_MAX} characters")])
    return name


def create(services: Context, actor: Identity, name: str, *, owner: str | None = None, kind: str = "personal",
           days: int | None = DEFAULT_DAYS) -> tuple[str, TokenView]:
    """A new token for `owner` (default: the actor); returns the secret (shown once) and its description."""
    owner = owner or actor.username
    if kind not in KINDS:
        raise InvalidData("unknown token kind", [FieldError("kind", f"one of {', '.join(KINDS)}")])
    if not may_manage_token(actor, owner) or (kind == "service" and not may_create_service_tokens(actor)):
        raise Forbidden("only the user themselves or an administrator can create this token"
                        if kind == "personal" else "only an administrator can create service-account tokens")
    if days is None or not 1 <= days <= LONGEST_DAYS:
        raise InvalidData("bad expiry", [FieldError("days", f"a token lasts 1 to {LONGEST_DAYS} days")])
    name = _checked_name(name)
    now = services.clock.now()
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with services.uow() as uow:
        user = _user(uow.session, owner)
        row = ApiToken(token_hash=token_hash(secret), prefix=secret[:10], name=name, kind=kind, user_id=user.id,
                       created_by=actor.username, created_at=now, expires_at=now + timedelta(days=days))
        uow.session.add(row)
        uow.session.flush()
        audit.append(uow.session, actor=actor.username, event_type="api_token_created", now=now,
                     payload={"token": row.id, "name": name, "kind": kind, "owner": owner,
                              "expires_at": row.expires_at})
        view = _view(row, owner, now)
        uow.commit()
    return secret, view


def list_tokens(services: Context, actor: Identity, owner: str | None = None) -> list[TokenView]:
    """The actor's tokens; an administrator sees everyone's (or `owner`'s)."""
    now = services.clock.now()
    with services.uow() as uow:
        query = select(ApiToken, User.username).join(User, User.id == ApiToken.user_id)
        if owner is not None:
            if not may_manage_token(actor, owner):
                raise Forbidden("only the user themselves or an administrator can list these tokens")
            query = query.where(User.username == owner)
        elif not may_create_service_tokens(actor):
            query = query.where(User.username == actor.username)
        rows = uow.session.execute(query.order_by(ApiToken.created_at.desc(), ApiToken.id.desc())).all()
        return [_view(row, username, now) for row, username in rows]


def revoke(services: Context, actor: Identity, token_id: int) -> TokenView:
    now = services.clock.now()
    with services.uow() as uow:
        found = uow.session.execute(select(ApiToken, User.username).join(User, User.id == ApiToken.user_id)
                                    .where(ApiToken.id == token_id)).one_or_none()
        if found is None or not may_manage_token(actor, found[1]):
            raise NotFound(f"no token {token_id}")
        row, owner = found
        if row.revoked_at is None:
            row.revoked_at, row.revoked_by = now, actor.username
            audit.append(uow.session, actor=actor.username, event_type="api_token_revoked", now=now,
                         payload={"token": row.id, "name": row.name, "owner": owner})
        view = _view(row, owner, now)
        uow.commit()
        return view


# One prebuilt Core statement per API call: the token, its user and the user's grants (a row per membership).
_TOKENS, _USERS = table_of(ApiToken), table_of(User)
_MEMBERSHIPS, _ROLES, _GROUPS = table_of(Membership), table_of(Role), table_of(ProviderGroup)
_BEARER = (
    select(_TOKENS.c.id, _TOKENS.c.name, _TOKENS.c.revoked_at, _TOKENS.c.expires_at, _TOKENS.c.last_used_at,
           _USERS.c.id.label("user_id"), _USERS.c.username, _USERS.c.full_name, _USERS.c.email,
           _USERS.c.is_active, _USERS.c.time_zone, _ROLES.c.code.label("role"), _GROUPS.c.code.label("group"),
           reference_cache.current_column().label("generation"))
    .select_from(_TOKENS.outerjoin(_USERS, _USERS.c.id == _TOKENS.c.user_id)
                 .outerjoin(_MEMBERSHIPS, _MEMBERSHIPS.c.user_id == _USERS.c.id)
                 .outerjoin(_ROLES, _ROLES.c.id == _MEMBERSHIPS.c.role_id)
                 .outerjoin(_GROUPS, _GROUPS.c.id == _MEMBERSHIPS.c.provider_group_id))
    .where(_TOKENS.c.token_hash == bindparam("token_hash")))
_USED = update(_TOKENS).where(_TOKENS.c.id == bindparam("token_id")).values(last_used_at=bindparam("used"))


def authenticate(services: Context, secret: str) -> Bearer:
    """Who a bearer token acts as; TokenRefused (401) when it signs nobody in."""
    now = services.clock.now()
    with services.uow() as uow:
        rows = reading(uow.session).execute(_BEARER, {"token_hash": token_hash(secret)}).all()
        if not rows:
            raise TokenRefused("unknown API token")
        row = rows[0]
        reference_cache.note_generation(uow.session, row.generation)
        state = "revoked" if row.revoked_at is not None else \
            "expired" if row.expires_at is not None and row.expires_at <= now else "active"
        if state != "active":
            raise TokenRefused(f"this API token is {state}")
        if row.user_id is None or not row.is_active:
            raise TokenRefused("this API token's user is deactivated")
        identity = Identity(row.username, row.full_name, row.email,
                            frozenset((r.role, r.group) for r in rows if r.role is not None), row.time_zone)
        bearer = Bearer(identity, row.name, row.id)
        reference_cache.carry(row.generation)  # the rest of this API call takes it from here (see reference_cache)
        if row.last_used_at is None or now - row.last_used_at >= TOUCH_EVERY:
            uow.session.rollback()  # the read took no lock; the write begins its own transaction
            uow.session.connection().execute(_USED, {"token_id": row.id, "used": now})
            uow.commit()
        return bearer


def acting_through(bearer: Bearer) -> object:
    """From now on in this call, every audit event names the token (undo with `done_acting`)."""
    return audit.acting_via(f"API token {bearer.token_name!r} (#{bearer.token_id})")


def done_acting(acting: object) -> None:
    audit.done_acting(acting)  # type: ignore[arg-type]
