"""Idempotent POSTs of the API: the first answer to a caller's `Idempotency-Key` is kept and given again to a repeat.

A key is claimed in its own short transaction before the action runs (the unique (principal, key) row), so two
concurrent calls with one key cannot both act: the second is told the first is still running.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from app.errors import Conflict, FieldError, InvalidData
from app.services.context import Context
from app.store.models import IdempotentResponse

KEY_MAX = 200


@dataclass(frozen=True)
class Claim:
    id: int | None
    replay: tuple[int, str] | None = None  # (status, body) of the first call, when this is a repeat


def begin(services: Context, principal: str, key: str, fingerprint: str) -> Claim:
    if len(key) > KEY_MAX or not key.isascii() or not key.isprintable():
        raise InvalidData("bad Idempotency-Key", [FieldError("Idempotency-Key",
                                                             f"printable ASCII, at most {KEY_MAX} characters")])
    with services.uow() as uow:
        found = uow.session.scalars(select(IdempotentResponse).where(
            IdempotentResponse.principal == principal, IdempotentResponse.key == key)).one_or_none()
        if found is None:
            row = IdempotentResponse(principal=principal, key=key, fingerprint=fingerprint, status=0, body="",
                                     created_at=services.clock.now())
            uow.session.add(row)
            try:
                uow.session.flush()
                uow.commit()
            except IntegrityError:
                raise Conflict("a request with this Idempotency-Key is still being processed") from None
            return Claim(row.id)
        # Read inside the unit of work: leaving it rolls back, which expires (and detaches) what it loaded.
        if found.fingerprint != fingerprint:
            raise InvalidData("Idempotency-Key reused", [FieldError(
                "Idempotency-Key", "this key was used for a different request; use a new key for a new request")])
        if found.status == 0:
            raise Conflict("a request with this Idempotency-Key is still being processed")
        return Claim(found.id, (found.status, found.body))


def finish(services: Context, claim: Claim, status: int, body: str) -> None:
    with services.uow() as uow:
        row = uow.session.get(IdempotentResponse, claim.id)
        if row is not None:
            row.status, row.body = status, body
            uow.commit()


def abandon(services: Context, claim: Claim) -> None:
    """The action failed unexpectedly (nothing was committed by it): free the key for a retry."""
    with services.uow() as uow:
        uow.session.execute(delete(IdempotentResponse).where(IdempotentResponse.id == claim.id))
        uow.commit()
