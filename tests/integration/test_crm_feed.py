"""The CRM's case feed (app/services/requests/crm_feed.py) on a real database: signatures, validation, idempotency,
updates and cancellations before and after a request takes the case, and pulling a fed case."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select

from app.domain.signatures import signed_headers
from app.errors import InvalidData, NotConfigured, Unauthorized
from app.services.admin.auth import load_identity
from app.services.requests import crm_feed, crm_queue
from app.store.db import Base
from app.store.models import AuditEvent, CrmCase, ServiceRequest
from tests.driver import Driver

SECRET = "feed-secret-for-the-tests-0123456789"
CASE = {"event": "created", "case_id": "SD-20481", "subject": "Cannot reach the HR portal",
        "description": "Since Monday\nfrom every PC", "agency": "Oklahoma Tax Commission",
        "requester_name": "Pat Payer", "requester_email": "pat@tax.example", "provider_group": "network",
        "opened_at": "2026-12-01T14:30:00Z", "sequence": 1}


@pytest.fixture
def feed(services):
    services.settings = replace(services.settings, crm_feed_secret=SECRET)
    return services


def send(services, message: dict | bytes, *, secret: str = SECRET, shift: timedelta = timedelta(0),
         headers: dict | None = None) -> crm_feed.FeedReceipt:
    body = message if isinstance(message, bytes) else json.dumps(message).encode()
    signed = headers if headers is not None else signed_headers(secret, body, services.clock.now() + shift)
    return crm_feed.receive(services, body, signed.get("X-RF-Timestamp"), signed.get("X-RF-Signature"))


def case_row(services, case_id: str = "SD-20481") -> CrmCase | None:
    with services.uow() as uow:
        row = uow.session.scalars(select(CrmCase).where(CrmCase.case_number == case_id)).one_or_none()
        uow.session.expunge_all()
        return row


def audit_count(services) -> int:
    with services.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(AuditEvent)) or 0


def queue(services, user: str = "maria") -> list[str]:
    return [c["case"] for c in crm_queue.pending_cases(services, load_identity(services, user))]


def test_a_signed_created_message_puts_the_case_in_the_pending_queue(feed):
    receipt = send(feed, CASE)
    assert receipt.as_json() == {"case_id": "SD-20481", "event": "created", "outcome": "created",
                                 "request_number": None}
    row = case_row(feed)
    assert (row.status, row.origin, row.subject, row.provider_group) == (
        "pending", "crm", "Cannot reach the HR portal", "network")
    assert row.opened_at.isoformat() == "2026-12-01T14:30:00+00:00"
    assert "SD-20481" in queue(feed)


@pytest.mark.parametrize(("how", "words"), [
    ({"secret": "another-secret-0123456789"}, "does not match the body and timestamp"),
    ({"shift": timedelta(minutes=-10)}, "more than 300 s from this server's clock"),
    ({"shift": timedelta(minutes=10)}, "more than 300 s from this server's clock"),
    ({"headers": {}}, "headers are required"),
    ({"headers": {"X-RF-Timestamp": "yesterday", "X-RF-Signature": "sha256=00"}}, "must be Unix seconds"),
])
def test_a_message_not_signed_with_the_secret_within_the_window_is_refused_with_401(feed, how, words):
    before = audit_count(feed)
    with pytest.raises(Unauthorized, match=words) as caught:
        send(feed, CASE, **how)
    assert caught.value.status == 401
    assert case_row(feed) is None and audit_count(feed) == before


def test_an_altered_body_is_refused(feed):
    body = json.dumps(CASE).encode()
    headers = signed_headers(SECRET, body, feed.clock.now())
    with pytest.raises(Unauthorized):
        crm_feed.receive(feed, body.replace(b"network", b"apps"), headers["X-RF-Timestamp"],
                         headers["X-RF-Signature"])


def test_without_a_secret_the_feed_is_refused_as_not_configured(services):
    with pytest.raises(NotConfigured, match="RF_CRM_FEED_SECRET") as caught:
        send(services, CASE)
    assert caught.value.status == 503


def test_the_same_message_twice_changes_nothing_and_answers_the_same(feed):
    first = send(feed, CASE)
    events = audit_count(feed)
    again = send(feed, CASE)
    assert again == first
    assert audit_count(feed) == events
    assert send(feed, {**CASE, "sent_at": "2026-12-01T15:00:00Z"}) == first  # re-sent later: the same message


def test_an_update_changes_a_pending_case_and_a_created_for_a_known_case_is_an_update(feed):
    send(feed, CASE)
    assert send(feed, {**CASE, "event": "updated", "subject": "HR portal down", "sequence": 2}).outcome == "updated"
    assert send(feed, {**CASE, "event": "created", "subject": "HR portal down again", "sequence": 3}).outcome == \
        "updated"
    assert send(feed, {**CASE, "event": "updated", "subject": "HR portal down again", "sequence": 4}).outcome == \
        "unchanged"
    assert case_row(feed).subject == "HR portal down again"


def test_an_older_message_than_the_last_applied_is_stale_and_ignored(feed):
    send(feed, {**CASE, "sequence": 5})
    assert send(feed, {**CASE, "event": "updated", "subject": "Old news", "sequence": 4}).outcome == "stale"
    assert case_row(feed).subject == CASE["subject"]


def test_a_cancelled_pending_case_leaves_the_queue_and_cannot_be_pulled(feed):
    send(feed, CASE)
    assert send(feed, {"event": "cancelled", "case_id": "SD-20481", "reason": "Duplicate", "sequence": 2}).outcome \
        == "cancelled"
    assert case_row(feed).status == "cancelled" and "SD-20481" not in queue(feed)
    with pytest.raises(InvalidData, match="not in the Pending Queue"):
        crm_queue.pull_case(feed, load_identity(feed, "maria"), "SD-20481", "high")
    assert send(feed, {"event": "cancelled", "case_id": "SD-404"}).outcome == "ignored"
    assert send(feed, {**CASE, "event": "updated", "sequence": 3}).outcome == "reopened"  # the CRM reopened it
    assert "SD-20481" in queue(feed)


def test_a_fed_case_is_pulled_and_later_changes_are_recorded_on_its_request_not_applied(feed, clock):
    send(feed, CASE)
    request = crm_queue.pull_case(feed, load_identity(feed, "maria"), "SD-20481", "high")
    Driver(feed, clock).work()  # crm.take_case, through the built-in CRM
    assert "SD-20481" not in queue(feed)

    receipt = send(feed, {**CASE, "event": "updated", "subject": "HR portal down for all", "sequence": 2})
    assert (receipt.outcome, receipt.request_number) == ("noted", request.number)
    cancelled = send(feed, {"event": "cancelled", "case_id": "SD-20481", "reason": "Solved by the caller",
                            "sequence": 3})
    assert cancelled.outcome == "flagged"
    assert send(feed, {"event": "cancelled", "case_id": "SD-20481", "reason": "Solved by the caller",
                       "sequence": 3}) == cancelled

    shown = Driver(feed, clock).show(request.number)
    assert shown["status"] == "open" and shown["title"] == CASE["subject"]  # never silently edited or cancelled
    assert shown["crm_case"]["cancelled_in_crm_at"] == clock.now().isoformat()
    with feed.uow() as uow:
        events = {e.event_type: e.payload for e in uow.session.scalars(select(AuditEvent).join(
            ServiceRequest, ServiceRequest.id == AuditEvent.request_id).where(
            ServiceRequest.number == request.number))}
    assert events["crm_case_updated"]["changes"] == {
        "subject": {"before": CASE["subject"], "after": "HR portal down for all"}}
    assert events["crm_case_cancelled"]["reason"] == "Solved by the caller"


def field_errors(excinfo) -> dict[str, str]:
    return {e.field: e.message for e in excinfo.value.errors}


@pytest.mark.parametrize(("body", "fields"), [
    (b"{not json", {"(body)"}),
    (b"[1, 2]", {"(body)"}),
    ({"case_id": "SD-1"}, {"event"}),
    ({"event": "created", "case_id": "SD-1"}, {"subject", "agency", "requester_name", "requester_email",
                                               "provider_group"}),
    ({**CASE, "event": "deleted"}, {"event"}),
    ({**CASE, "case_id": "CRM-000001"}, {"case_id"}),
    ({**CASE, "case_id": "a/b"}, {"case_id"}),
    ({**CASE, "case_id": "x" * 33}, {"case_id"}),
    ({**CASE, "subject": "two\nlines"}, {"subject"}),
    ({**CASE, "subject": "s" * 301}, {"subject"}),
    ({**CASE, "description": "nul\x00"}, {"description"}),
    ({**CASE, "requester_email": "not an address"}, {"requester_email"}),
    ({**CASE, "opened_at": "2026-12-01T14:30:00"}, {"opened_at"}),
    ({**CASE, "sequence": "7"}, {"sequence"}),
    ({**CASE, "sequence": -1}, {"sequence"}),
    ({**CASE, "agency": 42}, {"agency"}),
])
def test_a_bad_body_is_invalid_data_naming_each_field_and_writes_nothing(feed, body, fields):
    before = audit_count(feed)
    with pytest.raises(InvalidData) as caught:
        send(feed, body)
    assert caught.value.status == 422
    assert set(field_errors(caught)) == fields, field_errors(caught)
    assert audit_count(feed) == before


def test_an_unknown_provider_group_is_refused_with_422(feed):
    with pytest.raises(InvalidData) as caught:
        send(feed, {**CASE, "provider_group": "payroll"})
    assert field_errors(caught) == {"provider_group": "'payroll' is not a provider group"}
    assert case_row(feed) is None


def test_a_message_too_large_is_refused_before_anything_else(feed):
    with pytest.raises(InvalidData, match="too large"):
        send(feed, {**CASE, "description": "x" * (crm_feed.MAX_BODY_BYTES + 1)})


def test_migration_0008_gives_crm_case_exactly_the_models_columns(services):
    with services.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    about_crm_case = [d for d in diffs if "crm_case" in repr(d)]
    assert about_crm_case == []
