"""Failed sign-ins, counted per account name and per client address in the database (so every web process of an
installation shares them), with a lock that grows with each further failure.

Policy (settings `sign_in_*`, see `app.config`): after `account_failures` failures in a row for one account name (known
or not, so a lock reveals nothing about which names exist), or `address_failures` for one client address (an IPv6
address counts with its whole /64), that name or address is locked for `lock_seconds`; every further failure doubles
the lock, up to `lock_max_seconds`. While locked, attempts are refused without looking at the password. A successful
sign-in clears the account's count (not the address's: one valid account must not reset the count of someone spraying
passwords over many accounts); a count is forgotten after `forget_after` without a failure.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.config import Settings
from app.domain.business_calendar import CHICAGO
from app.errors import AppError
from app.store.models import SignInThrottle

ACCOUNT, ADDRESS = "account", "address"


class SignInThrottled(AppError):
    """Too many failed sign-ins: refused until `until` (HTTP 429 with Retry-After)."""

    status = 429

    def __init__(self, message: str, until: datetime, retry_after: int) -> None:
        super().__init__(message)
        self.until = until
        self.retry_after = retry_after


@dataclass(frozen=True)
class Policy:
    account_failures: int = 5
    address_failures: int = 20
    lock: timedelta = timedelta(seconds=30)
    lock_max: timedelta = timedelta(minutes=15)

    @property
    def forget_after(self) -> timedelta:
        """A count with no failure for this long starts again from zero (always longer than the longest lock)."""
        return max(timedelta(hours=1), 2 * self.lock_max)

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        return cls(settings.sign_in_account_failures, settings.sign_in_address_failures,
                   timedelta(seconds=settings.sign_in_lock_seconds),
                   timedelta(seconds=max(settings.sign_in_lock_max_seconds, settings.sign_in_lock_seconds)))

    def threshold(self, scope: str) -> int:
        return self.account_failures if scope == ACCOUNT else self.address_failures

    def lock_for(self, scope: str, failures: int) -> timedelta | None:
        """How long `failures` failures in a row lock the name or address (None: not yet)."""
        beyond = failures - self.threshold(scope)
        if beyond < 0:
            return None
        longer: timedelta = self.lock * 2 ** min(beyond, 30)
        return min(longer, self.lock_max)


def account_key(username: str) -> str:
    return username.strip().lower()[:128] or "(blank)"


def address_key(remote: str) -> str:
    """The client address; an IPv6 address stands for its /64 (one customer network hands out a whole /64)."""
    try:
        address = ipaddress.ip_address(remote.strip())
    except ValueError:
        return remote.strip()[:128] or "(unknown)"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


@dataclass(frozen=True)
class Lock:
    scope: str
    key: str
    failures: int
    until: datetime


class Counters:
    """The account's and the address's counters, locked (FOR UPDATE) for this sign-in attempt's transaction."""

    def __init__(self, session: Session, policy: Policy, username: str, remote: str, now: datetime) -> None:
        self.session, self.policy, self.now = session, policy, now
        session.execute(delete(SignInThrottle).where(SignInThrottle.last_failure_at < now - policy.forget_after))
        self.rows = {scope: _locked_row(session, scope, key)
                     for scope, key in ((ACCOUNT, account_key(username)), (ADDRESS, address_key(remote)))}

    def refusal(self) -> SignInThrottled | None:
        """The error to answer with if the account or the address is locked now."""
        locked = [(row.locked_until, row.scope) for row in self.rows.values()
                  if row.locked_until is not None and row.locked_until > self.now]
        if not locked:
            return None
        until, scope = max(locked)
        return throttled(scope, until, self.now)

    def failed(self) -> list[Lock]:
        """Count a failure on both; the locks it starts (to audit and to tell the user)."""
        locks = []
        for scope, row in self.rows.items():
            row.failures += 1
            row.last_failure_at = self.now
            duration = self.policy.lock_for(scope, row.failures)
            if duration is not None:
                row.locked_until = self.now + duration
                locks.append(Lock(scope, row.key, row.failures, row.locked_until))
        self.session.flush()
        return locks

    def succeeded(self) -> None:
        """The account's count starts again; the address's stays (forgotten only with time)."""
        self.session.delete(self.rows[ACCOUNT])
        if self.rows[ADDRESS].failures == 0:
            self.session.delete(self.rows[ADDRESS])
        self.session.flush()


def throttled(scope: str, until: datetime, now: datetime) -> SignInThrottled:
    seconds = max(1, math.ceil((until - now).total_seconds()))
    wait = f"{seconds} seconds" if seconds < 120 else f"{math.ceil(seconds / 60)} minutes"
    local = until.astimezone(CHICAGO)
    what = "this account" if scope == ACCOUNT else "your network address"
    return SignInThrottled(f"Too many failed sign-ins for {what}. Try again in {wait} (after "
                           f"{local:%H:%M:%S} {local.tzname()}).", until, seconds)


def _locked_row(session: Session, scope: str, key: str) -> SignInThrottle:
    """The counter row of (scope, key), created if missing and locked until the transaction ends, so concurrent
    attempts on the same name or address (from any web process) take their turn."""
    values: dict[str, Any] = {"scope": scope, "key": key, "failures": 0}
    dialect = session.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        module: Any = postgresql if dialect == "postgresql" else sqlite
        session.execute(module.insert(SignInThrottle).values(**values)
                        .on_conflict_do_nothing(index_elements=["scope", "key"]))
    else:  # pragma: no cover - the supported backends are the two above
        try:
            with session.begin_nested():
                session.execute(insert(SignInThrottle).values(**values))
        except IntegrityError:
            pass
    query = select(SignInThrottle).where(SignInThrottle.scope == scope, SignInThrottle.key == key)
    return session.scalars(query.with_for_update().execution_options(populate_existing=True)).one()
