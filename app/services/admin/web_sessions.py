"""Server-side web sessions: the browser's (signed) cookie carries a random token, the database says whether it
still signs anyone in. Sign-out ends one session, deactivating a user ends all of theirs; a session unused for
`session_idle_minutes` or older than `session_max_hours` has ended too, whatever the cookie says."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.orm import Session

from app.config import Settings
from app.domain.permissions import Identity
from app.errors import NotFound
from app.services.context import Context
from app.store import audit, reference_cache
from app.store.db import reading, table_of
from app.store.models import Membership, ProviderGroup, Role, User, WebSession

# last_seen_at is written at most this often (a write per page view would queue every reader behind SQLite's lock).
TOUCH_EVERY = timedelta(seconds=60)

SIGNED_OUT, DEACTIVATED, IDLE, EXPIRED = "signed_out", "deactivated", "idle", "expired"


class SessionEnded(NotFound):
    """The cookie's session no longer signs anyone in; the message says why (for the login page)."""


@dataclass(frozen=True)
class Lifetime:
    idle: timedelta = timedelta(hours=12)
    longest: timedelta = timedelta(days=7)

    @classmethod
    def from_settings(cls, settings: Settings) -> Lifetime:
        return cls(timedelta(minutes=settings.session_idle_minutes), timedelta(hours=settings.session_max_hours))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(session: Session, user: User, remote: str, now: datetime) -> str:
    """A new session for `user`; the token to put in the cookie (only its hash is stored)."""
    token = secrets.token_urlsafe(32)
    session.add(WebSession(token_hash=token_hash(token), user_id=user.id, created_at=now, last_seen_at=now,
                           remote=remote[:64]))
    session.flush()
    return token


# One prebuilt Core statement per signed-in request: the session's row and the reference generation. The user and
# their grants are reference data (`reference_cache`): read once per process and generation, so a deactivation or a
# changed role is seen by the very next request, and an unchanged one costs no join.
_SESSIONS, _USERS = table_of(WebSession), table_of(User)
_MEMBERSHIPS, _ROLES, _GROUPS = table_of(Membership), table_of(Role), table_of(ProviderGroup)
_SIGNED_IN = (select(_SESSIONS.c.id, _SESSIONS.c.ended_at, _SESSIONS.c.created_at, _SESSIONS.c.last_seen_at,
                     _SESSIONS.c.user_id, reference_cache.current_column())
              .where(_SESSIONS.c.token_hash == bindparam("token_hash")))
_USER_AND_GRANTS = (  # a row per membership; one row with empty grants for a user without any
    select(_USERS.c.username, _USERS.c.full_name, _USERS.c.email, _USERS.c.is_active, _USERS.c.time_zone,
           _ROLES.c.code, _GROUPS.c.code)
    .select_from(_USERS.outerjoin(_MEMBERSHIPS, _MEMBERSHIPS.c.user_id == _USERS.c.id)
                 .outerjoin(_ROLES, _ROLES.c.id == _MEMBERSHIPS.c.role_id)
                 .outerjoin(_GROUPS, _GROUPS.c.id == _MEMBERSHIPS.c.provider_group_id))
    .where(_USERS.c.id == bindparam("user_id")))
_SEEN = update(_SESSIONS).where(_SESSIONS.c.id == bindparam("session_id")).values(last_seen_at=bindparam("seen"))
_ENDED = (update(_SESSIONS).where(_SESSIONS.c.id == bindparam("session_id"))
          .values(ended_at=bindparam("ended"), end_reason=bindparam("reason")))


def _signed_in_user(session: Session, connection: Connection, user_id: int) -> tuple[Identity, bool] | None:
    """The user `user_id` as an Identity with their grants, and whether they are active; None if there is none."""
    def load() -> tuple[Identity, bool] | None:
        rows = connection.execute(_USER_AND_GRANTS, {"user_id": user_id}).all()
        if not rows:
            return None
        first = rows[0]
        return Identity(first.username, first.full_name, first.email,
                        frozenset((row[5], row[6]) for row in rows if row[5] is not None), first.time_zone), \
            bool(first.is_active)

    return reference_cache.cached(session, "signed_in_user", user_id, load)


def resume(services: Context, token: str) -> Identity:
    """Who the session of `token` signs in (and note that it was used); SessionEnded if nobody any more."""
    now = services.clock.now()
    lifetime = Lifetime.from_settings(services.settings)
    with services.uow() as uow:
        connection = reading(uow.session)
        row = connection.execute(_SIGNED_IN, {"token_hash": token_hash(token)}).one_or_none()
        if row is None or row.ended_at is not None:
            raise SessionEnded("You were signed out. Sign in again.")
        reference_cache.note_generation(uow.session, row[5])
        reference_cache.carry(row[5])  # the rest of this web request takes it from here (see reference_cache)
        user = _signed_in_user(uow.session, connection, row.user_id) if row.user_id is not None else None
        reason = (DEACTIVATED if user is None or not user[1] else
                  EXPIRED if now - row.created_at > lifetime.longest else
                  IDLE if now - row.last_seen_at > lifetime.idle else None)
        if reason is not None or user is None:
            uow.session.rollback()  # the read took no lock; the write begins its own transaction
            uow.session.connection().execute(_ENDED, {"session_id": row.id, "ended": now, "reason": reason})
            uow.commit()
            raise SessionEnded(_why(reason, lifetime))
        if now - row.last_seen_at >= TOUCH_EVERY:
            uow.session.rollback()
            uow.session.connection().execute(_SEEN, {"session_id": row.id, "seen": now})
            uow.commit()
        return user[0]


def _why(reason: str | None, lifetime: Lifetime) -> str:
    if reason == IDLE:
        return f"Your session ended after {_span(lifetime.idle)} without use. Sign in again."
    if reason == EXPIRED:
        return f"Sessions last at most {_span(lifetime.longest)}. Sign in again."
    return "Your account is not active. Ask an administrator."


def _span(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    if minutes % 60:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    hours = minutes // 60
    return f"{hours} hour{'s' if hours != 1 else ''}"


def end(services: Context, token: str, remote: str = "", reason: str = SIGNED_OUT) -> str | None:
    """End the session of `token`; the username it belonged to (None if it had already ended)."""
    now = services.clock.now()
    with services.uow() as uow:
        row = uow.session.scalars(select(WebSession).where(WebSession.token_hash == token_hash(token),
                                                           WebSession.ended_at.is_(None))).one_or_none()
        if row is None:
            return None
        row.ended_at, row.end_reason = now, reason
        user = uow.session.get(User, row.user_id)
        audit.append(uow.session, actor=user.username if user else "(deleted)", event_type="logout", now=now,
                     payload={"remote": remote})
        uow.commit()
        return user.username if user else None


def end_all(session: Session, user_id: int, reason: str, now: datetime) -> int:
    """End every open session of one user (in the caller's transaction); how many there were."""
    result = session.execute(update(WebSession).where(WebSession.user_id == user_id, WebSession.ended_at.is_(None))
                             .values(ended_at=now, end_reason=reason))
    return int(getattr(result, "rowcount", 0) or 0)
