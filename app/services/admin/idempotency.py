"""Idempotent POSTs of the API: the first answer to a caller's `Idempotency-Key` is kept and given again to a repeat.

A key is claimed in its own short transaction before the action runs (the unique (principal, key) row, status 0,
holding a claim token), so two concurrent calls with one key cannot both act: the second is told the first is still
running. The answer is stored once the action returns (`finish`).

A process can die between the claim and the answer (killed, or the database went away so that even `abandon`
failed), which used to leave the key "still being processed" for ever. So:

* every commit the action makes (`acting`) also marks the claim as acted on (status -1), in the same transaction,
  and only while the claim is still this call's (same token): a commit whose claim was taken over fails (Conflict)
  and rolls back, so at most one call ever acts;
* a claim still at status 0 after `LEASE_SECONDS` acted on nothing: a repeat takes it over (a new token) and acts;
* a claim at status -1 without an answer acted, and its answer was lost with its process: a repeat is told so (409)
  and nothing acts twice. That window is the few milliseconds between the action's commit and storing the answer.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, event, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.errors import Conflict, FieldError, InvalidData
from app.services.context import Context
from app.store.models import IdempotentResponse

KEY_MAX = 200
RUNNING, ACTED = 0, -1  # status while the first call runs: before / after its action committed
LEASE_SECONDS = 30  # a claim that acted on nothing for this long is taken over by a repeat


@dataclass(frozen=True)
class Claim:
    id: int | None
    replay: tuple[int, str] | None = None  # (status, body) of the first call, when this is a repeat
    token: str = ""  # this call's hold on the key (the row's body while it runs)


_acting: ContextVar[Claim | None] = ContextVar("rf_idempotent_claim", default=None)


@event.listens_for(Session, "before_commit")
def _mark_acted(session: Session) -> None:
    """In the action's own transaction: the claim has acted (and is still ours, or nothing is committed)."""
    claim = _acting.get()
    if claim is None or claim.id is None:
        return
    marked = session.execute(update(IdempotentResponse).where(
        IdempotentResponse.id == claim.id, IdempotentResponse.status.in_((RUNNING, ACTED)),
        IdempotentResponse.body == claim.token).values(status=ACTED))
    if getattr(marked, "rowcount", 1) != 1:
        raise Conflict("a repeat of this request (same Idempotency-Key) took over after this one stalled")


@contextmanager
def acting(claim: Claim) -> Iterator[None]:
    """Run the claimed action inside this block, so that its commits mark the claim."""
    reset = _acting.set(claim)
    try:
        yield
    finally:
        _acting.reset(reset)


def begin(services: Context, principal: str, key: str, fingerprint: str) -> Claim:
    if len(key) > KEY_MAX or not key.isascii() or not key.isprintable():
        raise InvalidData("bad Idempotency-Key", [FieldError("Idempotency-Key",
                                                             f"printable ASCII, at most {KEY_MAX} characters")])
    token = uuid.uuid4().hex
    now = services.clock.now()
    with services.uow() as uow:
        found = uow.session.scalars(select(IdempotentResponse).where(
            IdempotentResponse.principal == principal, IdempotentResponse.key == key)).one_or_none()
        if found is None:
            row = IdempotentResponse(principal=principal, key=key, fingerprint=fingerprint, status=RUNNING,
                                     body=token, created_at=now)
            uow.session.add(row)
            try:
                uow.session.flush()
                uow.commit()
            except IntegrityError:
                raise Conflict("a request with this Idempotency-Key is still being processed") from None
            return Claim(row.id, token=token)
        if found.fingerprint != fingerprint:
            raise InvalidData("Idempotency-Key reused", [FieldError(
                "Idempotency-Key", "this key was used for a different request; use a new key for a new request")])
        if found.status == ACTED:
            raise Conflict("the first request with this Idempotency-Key was carried out, but its answer was lost "
                           "(the server stopped before sending it): look the result up instead of retrying")
        if found.status == RUNNING:
            if found.created_at > now - timedelta(seconds=LEASE_SECONDS):
                raise Conflict("a request with this Idempotency-Key is still being processed")
            taken = uow.session.execute(update(IdempotentResponse).where(
                IdempotentResponse.id == found.id, IdempotentResponse.status == RUNNING,
                IdempotentResponse.body == found.body).values(body=token, created_at=now))
            uow.commit()
            if getattr(taken, "rowcount", 0) != 1:
                raise Conflict("a request with this Idempotency-Key is still being processed")
            return Claim(found.id, token=token)  # the first call stalled before acting: this one acts
        return Claim(found.id, (found.status, found.body))


def finish(services: Context, claim: Claim, status: int, body: str) -> None:
    with services.uow() as uow:
        uow.session.execute(update(IdempotentResponse).where(
            IdempotentResponse.id == claim.id, IdempotentResponse.body == claim.token,
            IdempotentResponse.status.in_((RUNNING, ACTED))).values(status=status, body=body))
        uow.commit()


def abandon(services: Context, claim: Claim) -> None:
    """The action failed unexpectedly (nothing was committed by it): free the key for a retry."""
    with services.uow() as uow:
        uow.session.execute(delete(IdempotentResponse).where(
            IdempotentResponse.id == claim.id, IdempotentResponse.body == claim.token,
            IdempotentResponse.status == RUNNING))
        uow.commit()
