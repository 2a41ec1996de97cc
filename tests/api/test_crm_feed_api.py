"""`POST /api/v1/crm/cases` over HTTP: signed messages reach the Pending Queue without a token or CSRF token; an
unsigned, stale or altered message is a 401 problem; a bad body a 422 problem naming the fields; nothing written."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from sqlalchemy import func, select

from app.domain.signatures import signed_headers
from app.store.models import AuditEvent, CrmCase
from app.web import create_app
from tests.api.client import Api, is_problem

SECRET = "feed-secret-for-the-api-tests-0123"
CASE = {"event": "created", "case_id": "SD-77001", "subject": "Printer offline on floor 3", "agency": "OMES",
        "requester_name": "Pat Payer", "requester_email": "pat@omes.example", "provider_group": "network"}


@pytest.fixture
def client(services):
    services.settings = replace(services.settings, crm_feed_secret=SECRET)
    return create_app(services, {"SECRET_KEY": "x"}).test_client()


def post(services, client, message, secret: str = SECRET, tamper: bytes | None = None):
    body = json.dumps(message).encode()
    headers = signed_headers(secret, body, services.clock.now())
    return client.post("/api/v1/crm/cases", data=tamper or body, headers=headers, content_type="application/json")


def written(services) -> tuple[int, int]:
    with services.uow() as uow:
        return (int(uow.session.scalar(select(func.count()).select_from(CrmCase))),
                int(uow.session.scalar(select(func.count()).select_from(AuditEvent))))


def test_a_signed_case_reaches_the_pending_queue_once(services, client):
    first = post(services, client, CASE)
    assert first.status_code == 200, first.get_json()
    assert first.get_json() == {"case_id": "SD-77001", "event": "created", "outcome": "created",
                                "request_number": None}
    after_first = written(services)
    again = post(services, client, CASE)
    assert again.status_code == 200 and again.get_json() == first.get_json()  # the same answer, nothing new
    assert written(services) == after_first
    queue = Api(services, "maria").get("/api/v1/requests?q=SD-77001")  # not a request yet
    assert queue.get_json()["items"] == []
    with services.uow() as uow:
        assert uow.session.scalars(select(CrmCase.status).where(CrmCase.case_number == "SD-77001")).one() == "pending"


def test_unsigned_or_bad_messages_are_refused_and_change_nothing(services, client):
    before = written(services)
    body = json.dumps(CASE).encode()
    assert "headers are required" in is_problem(client.post("/api/v1/crm/cases", data=body,
                                                            content_type="application/json"), 401)["detail"]
    is_problem(post(services, client, CASE, secret="not-the-secret-0123456789"), 401)
    is_problem(post(services, client, CASE, tamper=body.replace(b"Printer", b"Plotter")), 401)
    bad = is_problem(post(services, client, {**CASE, "requester_email": "nope", "provider_group": ""}), 422)
    assert {e["field"] for e in bad["errors"]} >= {"requester_email", "provider_group"}
    is_problem(post(services, client, {**CASE, "provider_group": "no-such-group"}), 422)
    assert written(services) == before


def test_without_a_shared_secret_the_feed_says_it_is_not_configured(services):
    client = create_app(services, {"SECRET_KEY": "x"}).test_client()
    assert "not configured" in is_problem(post(services, client, CASE), 503)["detail"]
