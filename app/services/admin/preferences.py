"""A user's own preferences: the time zone they read times in (pages; emails use the installation's zone), and which
staff emails they want (a task assigned to them, a billing case forwarded to them, an SLA escalation; the in-app
notification is written either way). Each change is audited (`user_email_preferences_set`).

Empty means "the installation's zone" (RF_TIME_ZONE). A name that is not an IANA zone is refused with the field named,
and nothing is written. Each change is audited (`user_time_zone_set`, on the users' chain).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain import local_time
from app.domain.permissions import Identity
from app.errors import FieldError, InvalidData, NotFound
from app.services.context import Context
from app.store import audit
from app.store.models import User

EMAIL_SWITCHES = ("email_on_assignment", "email_on_billing", "email_on_escalation")


@dataclass(frozen=True)
class Preferences:
    time_zone: str | None  # the user's own choice; None: the installation's
    installation_zone: str
    email_on_assignment: bool = True
    email_on_billing: bool = True
    email_on_escalation: bool = True

    @property
    def effective_zone(self) -> str:
        return self.time_zone or self.installation_zone


def _user(session: Session, username: str) -> User:
    user = session.scalars(select(User).where(User.username == username)).unique().one_or_none()
    if user is None or not user.is_active:
        raise NotFound(f"no active user {username!r}")
    return user


def _of(user: User, installation_zone: str) -> Preferences:
    return Preferences(user.time_zone, installation_zone, user.email_on_assignment, user.email_on_billing,
                       user.email_on_escalation)


def preferences(services: Context, who: Identity) -> Preferences:
    with services.uow() as uow:
        return _of(_user(uow.session, who.username), services.settings.time_zone)


def set_email_switches(services: Context, who: Identity, wanted: dict[str, bool]) -> Preferences:
    """Switch the signed-in user's staff emails on or off (`wanted`: a value for each of EMAIL_SWITCHES)."""
    now = services.clock.now()
    with services.uow() as uow:
        user = _user(uow.session, who.username)
        before = {name: bool(getattr(user, name)) for name in EMAIL_SWITCHES}
        after = {name: bool(wanted.get(name, False)) for name in EMAIL_SWITCHES}
        if before != after:
            for name, value in after.items():
                setattr(user, name, value)
            audit.append(uow.session, actor=who.username, event_type="user_email_preferences_set", now=now,
                         payload={"user": who.username, "before": before, "after": after})
        uow.commit()
        return _of(user, services.settings.time_zone)


def set_time_zone(services: Context, who: Identity, name: str) -> Preferences:
    """Set (or with an empty name, clear) the signed-in user's zone; InvalidData (422) for an unknown name."""
    cleaned = name.strip()
    if cleaned:
        try:
            cleaned = local_time.zone(cleaned).key
        except local_time.UnknownTimeZone as err:
            raise InvalidData("unknown time zone", [FieldError("time_zone", str(err))]) from None
    chosen = cleaned or None
    now = services.clock.now()
    with services.uow() as uow:
        user = _user(uow.session, who.username)
        before = user.time_zone
        if before != chosen:
            user.time_zone = chosen
            audit.append(uow.session, actor=who.username, event_type="user_time_zone_set", now=now,
                         payload={"user": who.username, "before": before, "after": chosen})
        uow.commit()
        return _of(user, services.settings.time_zone)
