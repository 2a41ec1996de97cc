"""Who is signed in and what they hold: password checks (throttled and audited), web sessions, the user's grants,
and whether this is a demo installation (whose login page may show the demo accounts)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from app.domain.permissions import Identity
from app.errors import Forbidden, NotFound
from app.services.admin import sign_in_throttle, web_sessions
from app.services.context import Context
from app.store import audit, reference_cache
from app.store.models import InstallationSetting, User

# A throwaway hash so an unknown username costs as much time as a wrong password.
_DUMMY_HASH = generate_password_hash("not a password")
DEMO_SETTING = "demo"


@dataclass(frozen=True)
class SignedIn:
    identity: Identity
    token: str  # the web session's token, for the (signed) cookie; "" when no session was started


def request_started() -> None:
    """A web request starts: its sign-in check may carry the reference generation it read through the request
    (see `reference_cache.carrying`)."""
    reference_cache.carrying(True)


def request_ended() -> None:
    """A web request ended: nothing is carried any more (a thread serves one request after another)."""
    reference_cache.carrying(False)


def identity_of(user: User) -> Identity:
    grants = frozenset((m.role.code, m.provider_group.code if m.provider_group else None) for m in user.memberships)
    return Identity(user.username, user.full_name, user.email, grants, user.time_zone)


def sign_in(services: Context, username: str, password: str, remote: str = "", start_session: bool = True) -> SignedIn:
    """Check a password and start a web session. Every success and failure lands in the audit log; too many
    failures for the account name or the client address lock it for a while (`sign_in_throttle`): SignInThrottled."""
    now = services.clock.now()
    policy = sign_in_throttle.Policy.from_settings(services.settings)
    actor = username.strip()[:64] or "(blank)"
    with services.uow() as uow:
        counters = sign_in_throttle.Counters(uow.session, policy, username, remote, now)
        refusal = counters.refusal()
        if refusal is not None:
            raise refusal  # nothing written: the password is not even looked at while locked
        user = uow.session.scalars(select(User).where(User.username == username.strip())).unique().one_or_none()
        ok = check_password_hash(user.password_hash if user and user.password_hash else _DUMMY_HASH, password)
        if user is None or not user.is_active or not ok:
            locks = counters.failed()
            audit.append(uow.session, actor=actor, event_type="login_failed", now=now,
                         payload={"remote": remote, "failures": counters.rows[sign_in_throttle.ACCOUNT].failures})
            for lock in locks:
                audit.append(uow.session, actor=actor, event_type="login_locked", now=now,
                             payload={"scope": lock.scope, "key": lock.key, "failures": lock.failures,
                                      "remote": remote, "until": lock.until.isoformat()})
            uow.commit()
            if locks:
                last = max(locks, key=lambda lock: lock.until)
                told = sign_in_throttle.throttled(last.scope, last.until, now)
                raise sign_in_throttle.SignInThrottled(f"Unknown username or wrong password. {told}", told.until,
                                                       told.retry_after)
            raise Forbidden("unknown username or wrong password")
        counters.succeeded()
        identity = identity_of(user)
        token = web_sessions.start(uow.session, user, remote, now) if start_session else ""
        audit.append(uow.session, actor=user.username, event_type="login", now=now, payload={"remote": remote})
        uow.commit()
        return SignedIn(identity, token)


def authenticate(services: Context, username: str, password: str, remote: str = "") -> Identity:
    """Check a password (throttled and audited like a sign-in) without starting a web session."""
    return sign_in(services, username, password, remote, start_session=False).identity


def resume(services: Context, token: str) -> Identity:
    """Who the web session of `token` signs in; web_sessions.SessionEnded (a NotFound) once it has ended."""
    return web_sessions.resume(services, token)


def sign_out(services: Context, token: str, remote: str = "") -> None:
    web_sessions.end(services, token, remote)


def load_identity(services: Context, username: str) -> Identity:
    with services.uow() as uow:
        user = uow.session.scalars(select(User).where(User.username == username)).unique().one_or_none()
        if user is None or not user.is_active:
            raise NotFound(f"no active user {username!r}")
        return identity_of(user)


# --- demo installations ----------------------------------------------------------------------------------------------


def mark_demo(session: Session, now: datetime) -> None:
    """Remember that this installation was set up with `rf init --demo` (its login page lists the demo accounts)."""
    row = session.get(InstallationSetting, DEMO_SETTING)
    if row is None:
        session.add(InstallationSetting(key=DEMO_SETTING, value="yes", updated_at=now))
        session.flush()


def is_demo(services: Context) -> bool:
    with services.uow() as uow:
        row = uow.session.get(InstallationSetting, DEMO_SETTING)
        return row is not None and row.value == "yes"
