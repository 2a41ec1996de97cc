"""Idempotency-Key when the first call's process died (found by the fault campaign, bench.scale: a web process
killed with kill -9 between claiming the key and storing the answer left the key "still being processed" for ever,
and every retry of the client got 409). A first call that died before acting is taken over after the lease; one that
acted is never repeated; a stalled first call that comes back after the takeover cannot commit."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.errors import Conflict
from app.services.admin import idempotency
from app.services.requests import intake
from app.store.models import ServiceRequest
from tests.api.client import Api, is_problem
from tests.driver import REQUEST

BODY = json.dumps({"request_type": "assistance", "data": REQUEST}).encode()


def requests_made(services) -> int:
    with services.uow() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(ServiceRequest)))


def first_call(services, api: Api, key: str) -> idempotency.Claim:
    """What the first call with `key` had done when its process died: claimed the key (as the API claims it)."""
    fingerprint = hashlib.sha256(b"\0".join([b"POST", b"/api/v1/requests", BODY])).hexdigest()
    return idempotency.begin(services, f"maria#token{api.view.id}", key, fingerprint)


def repeat(api: Api, key: str):
    return api.client.post("/api/v1/requests", data=BODY, content_type="application/json",
                           headers=api.headers({"Idempotency-Key": key}))


def test_a_first_call_that_died_before_acting_is_taken_over_after_the_lease(services, clock):
    api = Api(services, "maria")
    first_call(services, api, "died-early")
    assert "still being processed" in is_problem(repeat(api, "died-early"), 409)["detail"]
    clock.advance(timedelta(seconds=idempotency.LEASE_SECONDS + 1))
    taken = repeat(api, "died-early")
    assert taken.status_code == 201, taken.get_json()
    assert requests_made(services) == 1
    again = repeat(api, "died-early")
    assert (again.status_code, again.get_json(), again.headers["Idempotent-Replayed"]) == (201, taken.get_json(),
                                                                                             "true")
    assert requests_made(services) == 1


def test_a_first_call_that_acted_and_died_is_never_repeated(services, clock):
    api = Api(services, "maria")
    claim = first_call(services, api, "died-late")
    with idempotency.acting(claim):
        intake.new_request(services, "assistance", REQUEST, "maria")  # committed; the answer was never stored
    clock.advance(timedelta(seconds=idempotency.LEASE_SECONDS + 1))
    assert "answer was lost" in is_problem(repeat(api, "died-late"), 409)["detail"]
    assert requests_made(services) == 1


def test_a_stalled_first_call_cannot_commit_after_a_repeat_took_over(services, clock):
    api = Api(services, "maria")
    stalled = first_call(services, api, "stalled")
    clock.advance(timedelta(seconds=idempotency.LEASE_SECONDS + 1))
    assert repeat(api, "stalled").status_code == 201
    with pytest.raises(Conflict), idempotency.acting(stalled):
        intake.new_request(services, "assistance", REQUEST, "maria")
    assert requests_made(services) == 1
