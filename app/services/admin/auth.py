"""Who is signed in and what they hold: password checks (audited) and the user's grants."""

from __future__ import annotations

from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from app.domain.permissions import Identity
from app.errors import Forbidden, NotFound
from app.services.context import Context
from app.store import audit
from app.store.models import User

# A throwaway hash so an unknown username costs as much time as a wrong password.
_DUMMY_HASH = generate_password_hash("not a password")


def identity_of(user: User) -> Identity:
    grants = frozenset((m.role.code, m.provider_group.code if m.provider_group else None) for m in user.memberships)
    return Identity(user.username, user.full_name, user.email, grants)


def authenticate(services: Context, username: str, password: str, remote: str = "") -> Identity:
    """Check a password; every success and failure lands in the audit log."""
    now = services.clock.now()
    with services.uow() as uow:
        user = uow.session.scalars(select(User).where(User.username == username.strip())).unique().one_or_none()
        ok = check_password_hash(user.password_hash if user and user.password_hash else _DUMMY_HASH, password)
        if user is None or not user.is_active or not ok:
            audit.append(uow.session, actor=username[:64] or "(blank)", event_type="login_failed", now=now,
                         payload={"remote": remote})
            uow.commit()
            raise Forbidden("unknown username or wrong password")
        identity = identity_of(user)
        audit.append(uow.session, actor=user.username, event_type="login", now=now, payload={"remote": remote})
        uow.commit()
        return identity


def load_identity(services: Context, username: str) -> Identity:
    with services.uow() as uow:
        user = uow.session.scalars(select(User).where(User.username == username)).unique().one_or_none()
        if user is None or not user.is_active:
            raise NotFound(f"no active user {username!r}")
        return identity_of(user)
