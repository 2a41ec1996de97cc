"""The bundled paths with the CRM, billing and ASD reached over real HTTP (tests/external_systems.py), on SQLite and
PostgreSQL: what the systems receive, retries after a timeout or a 500 with exactly one effect per idempotency key,
and a 4xx refusal that becomes an incident showing what the system said."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from app.bootstrap import Services, bootstrap
from app.domain.signatures import signed_headers
from app.errors import ExternalSystemError
from app.services.admin import setup
from app.services.admin.auth import load_identity
from app.services.definitions import deploy as definitions
from app.services.requests import crm_feed, crm_queue, incidents
from app.store.models import AsdService, AuditEvent, BillingCase, CrmCase, ServiceJob
from tests.conftest import day
from tests.driver import Driver
from tests.external_systems import ExternalSystems, http_settings

FEED_SECRET = "feed-secret-for-the-tests-0123456789"
WORK_PLAN = {"work_plan": "Managed SFTP for vendors", "estimated_hours": 16, "planned_start": day(1),
             "planned_finish": day(17)}
FULFILMENT = {"fulfilment_notes": "SFTP service built", "hours_spent": 6}


@pytest.fixture
def http_services(settings, clock, external) -> Iterator[Services]:
    svc = bootstrap(replace(http_settings(settings, external), crm_feed_secret=FEED_SECRET), clock)
    setup.migrate(svc)
    setup.seed(svc, demo=True)
    definitions.deploy(svc, definitions.read_paths([settings.bpmn_dir]), "test")
    yield svc
    svc.close()


@pytest.fixture
def drive(http_services, clock) -> Driver:
    return Driver(http_services, clock)


def jobs(services, operator: str) -> list[ServiceJob]:
    with services.uow() as uow:
        found = list(uow.session.scalars(select(ServiceJob).where(ServiceJob.operator == operator)
                                         .order_by(ServiceJob.id)))
        uow.session.expunge_all()
        return found


def rows(services, model) -> list:
    with services.uow() as uow:
        found = list(uow.session.scalars(select(model).order_by(model.id)))
        uow.session.expunge_all()
        return found


def retry_later(drive: Driver, clock, times: int = 1) -> None:
    """Let the backoff pass and run the worker again, `times` times."""
    for _ in range(times):
        clock.advance(timedelta(seconds=30))
        drive.work()


def feed_case(services, clock, external: ExternalSystems, case_id: str, **fields) -> None:
    """The CRM has the case and sends it on its feed."""
    message = {"event": "created", "case_id": case_id, "subject": "Printer on floor 3 offline",
               "description": "It shows error 41", "agency": "Oklahoma Tax Commission",
               "requester_name": "Pat Payer", "requester_email": "pat@tax.example", "provider_group": "network",
               **fields}
    external.add_crm_case(case_id, **{k: v for k, v in message.items() if k not in ("event", "case_id")})
    body = json.dumps(message).encode()
    headers = signed_headers(FEED_SECRET, body, clock.now())
    receipt = crm_feed.receive(services, body, headers["X-RF-Timestamp"], headers["X-RF-Signature"])
    assert receipt.outcome == "created"


def test_assistance_from_the_crm_feed_is_taken_and_closed_in_the_crm_over_http(drive, http_services, clock,
                                                                               external, mailbox):
    feed_case(http_services, clock, external, "CASE-1001")
    maria = load_identity(http_services, "maria")
    assert "CASE-1001" in [c["case"] for c in crm_queue.pending_cases(http_services, maria)]
    number = crm_queue.pull_case(http_services, maria, "CASE-1001", "high").number
    drive.work()

    [take] = external.calls("crm", "POST", "/cases/CASE-1001/take")
    [job] = jobs(http_services, "crm.take_case")
    assert take.headers["authorization"] == "Bearer crm-test-token"
    assert take.key == job.task_uuid and take.headers["content-type"] == "application/json"
    assert take.json == {"request_number": number, "provider_group": "network"}
    assert external.calls("crm", "PUT") == []  # a fed case is known to the CRM already
    [case] = [c for c in rows(http_services, CrmCase) if c.case_number == "CASE-1001"]
    assert (case.status, case.request_number) == ("in_progress", number)  # the local mirror follows

    drive.complete(number, "assign_specialist", "maria", {"specialist": "sam"})
    drive.complete(number, "fulfil_assistance_request", "sam",
                   {"resolution_notes": "Replaced the fuser", "resolution_code": "resolved", "time_spent_hours": 1})
    drive.work()

    [close] = external.calls("crm", "POST", "/cases/CASE-1001/close")
    assert close.json == {"resolution": "Replaced the fuser", "resolution_code": "resolved",
                          "closed_at": clock.now().isoformat()}
    assert close.key == jobs(http_services, "crm.close_case")[0].task_uuid
    assert external.effects.crm_cases["CASE-1001"]["status"] == "closed"
    shown = drive.show(number)
    assert shown["status"] == "closed" and shown["crm_case"]["status"] == "closed"
    assert [m["Subject"] for m in mailbox.to("pat@tax.example")]
    assert "CASE-1001" not in [c["case"] for c in crm_queue.pending_cases(http_services, maria)]


def test_closing_a_case_again_after_a_lost_answer_sends_the_same_request(drive, http_services, clock, external):
    """Found by the fault campaign (bench.scale): a worker killed after the CRM closed the case, or a close whose
    answer came too late, is retried later. The retry must be the same request under the same Idempotency-Key, or
    the CRM answers 422 (key reused for a different request) and the request stops at an incident. `closed_at` used
    to be the retry's own time."""
    number = drive.new("assistance")
    case = drive.show(number)["crm_case"]["case"]
    drive.work()
    drive.complete(number, "assign_specialist", "maria", {"specialist": "sara"})
    drive.complete(number, "fulfil_assistance_request", "sara",
                   {"resolution_notes": "Profile created", "resolution_code": "resolved", "time_spent_hours": 1})
    ready = clock.now()
    external.slow("crm", "/cases/.*/close", times=1)  # closes it, answers after the client gave up
    clock.advance(timedelta(seconds=5))  # the worker gets to it a little later
    drive.work()
    [close_job] = jobs(http_services, "crm.close_case")
    assert close_job.status == "pending" and close_job.attempts == 1
    retry_later(drive, clock)

    first, again = external.calls("crm", "POST", f"/cases/{case}/close")
    assert again.key == first.key == close_job.task_uuid and again.json == first.json
    assert first.json["closed_at"] == ready.isoformat()  # when the step became ready, on every attempt
    assert len(external.effects.closes) == 1
    assert jobs(http_services, "crm.close_case")[0].status == "done"
    assert drive.show(number)["status"] == "closed"


def test_a_crm_that_times_out_once_and_one_that_answers_500_still_close_the_request_once(drive, http_services,
                                                                                         clock, external):
    external.slow("crm", "/cases/.*/take", times=1)  # does the work, answers after the client gave up
    external.fail("crm", "/cases/.*/close", status=503, times=2)
    number = drive.new("assistance")  # logged here: the CRM is told about the case first
    case = drive.show(number)["crm_case"]["case"]
    drive.work()
    [take_job] = jobs(http_services, "crm.take_case")
    assert take_job.status == "pending" and take_job.attempts == 1
    assert f"CRM did not answer POST /crm/cases/{case}/take within 0.5 s" in take_job.last_error
    retry_later(drive, clock)

    takes = external.calls("crm", "POST", f"/cases/{case}/take")
    assert len(takes) == 2 and {t.key for t in takes} == {take_job.task_uuid}  # the retry, with the same key
    assert len(external.effects.takes) == 1  # deduped by the CRM: one effect
    [register] = external.effects.registrations
    assert register["case_id"] == case and register["origin"] == "request_fulfillment"

    drive.complete(number, "assign_specialist", "maria", {"specialist": "sara"})
    drive.complete(number, "fulfil_assistance_request", "sara",
                   {"resolution_notes": "Profile created", "resolution_code": "resolved", "time_spent_hours": 1})
    drive.work()
    [close_job] = jobs(http_services, "crm.close_case")
    assert f"CRM failed: POST /crm/cases/{case}/close answered 503" in close_job.last_error
    retry_later(drive, clock, times=2)

    assert drive.show(number)["status"] == "closed"
    closes = external.calls("crm", "POST", f"/cases/{case}/close")
    assert len(closes) == 3 and {c.key for c in closes} == {close_job.task_uuid}
    assert len(external.effects.closes) == 1
    with http_services.uow() as uow:
        failures = uow.session.scalars(select(AuditEvent.event_type).where(
            AuditEvent.event_type.in_(["service_failed", "incident_raised"]))).all()
    assert sorted(failures) == ["service_failed"] * 3


def test_a_crm_refusal_is_an_incident_at_once_showing_what_the_crm_said(drive, http_services, external):
    external.fail("crm", "/cases/.*/take", status=422, times=None,
                  body={"error": "case is locked by the service desk", "code": "LOCKED"})
    number = drive.new("assistance")
    case = drive.show(number)["crm_case"]["case"]
    drive.work()

    [job] = jobs(http_services, "crm.take_case")
    assert (job.status, job.attempts) == ("incident", 1)  # no retries: asking again will not help
    adam = load_identity(http_services, "adam")
    [shown] = incidents.list_incidents(http_services, adam)
    assert (shown.request_number, shown.operator) == (number, "crm.take_case")
    message = (f'CRM refused the call: POST /crm/cases/{case}/take answered 422 Unprocessable Entity: '
               '{"error": "case is locked by the service desk", "code": "LOCKED"}')
    assert message in job.last_error and message in shown.error
    assert len(external.calls("crm", "POST", f"/cases/{case}/take")) == 1


def test_cancelling_a_request_while_the_crm_is_down_saves_nothing_and_says_why(drive, http_services, external):
    external.fail("crm", "/cases/.*/take", status=400, times=None)
    number = drive.new("assistance")
    case = drive.show(number)["crm_case"]["case"]
    drive.work()
    [job] = jobs(http_services, "crm.take_case")
    external.fail("crm", "/cases/.*", status=500, times=None, method="PUT")
    adam = load_identity(http_services, "adam")
    with pytest.raises(ExternalSystemError, match=f"CRM failed: PUT /crm/cases/{case} answered 500"):
        incidents.cancel_request(http_services, adam, job.id, "Customer withdrew it")
    assert drive.show(number)["status"] == "open"
    external.faults.clear()
    assert incidents.cancel_request(http_services, adam, job.id, "Customer withdrew it") == number
    [close] = external.effects.closes
    assert (close["case_id"], close["resolution_code"]) == (case, "cancelled")


def test_chargeable_enhancement_through_discovery_notes_the_crm_bills_and_records_the_asd_over_http(
        drive, http_services, clock, external, mailbox):
    external.fail("billing", "/cases", status=500, times=1)  # billing answers 500 once, then recovers
    number = drive.new("enhancement", routine=False, title="Managed SFTP service")
    case = drive.show(number)["crm_case"]["case"]
    drive.complete(number, "document_customer_need", "carla",
                   {"need_summary": "SFTP drop for vendors", "customer_is_current": True, "new_service": True})
    drive.complete(number, "prepare_proposal", "pete",
                   {"proposal_summary": "Managed SFTP", "estimated_cost": 4200, "po_number": "PO-2026-0042"})
    drive.work()
    [note] = external.effects.notes
    assert note["case_id"] == case and "PO-2026-0042" in note["note"]
    [proposed] = external.effects.asd_entries
    assert (proposed["status"], proposed["service_name"], proposed["live_date"]) == (
        "proposed", "Managed SFTP service", None)

    drive.pull(number, "pete")  # after Discovery it waited on the 60 day schedule
    drive.complete(number, "draw_up_work_plan", "pete", WORK_PLAN)
    drive.work()
    drive.complete(number, "fulfil_enhancement_request", "pete", FULFILMENT)
    drive.complete(number, "test_solution", "pete", {"test_result": "pass", "test_notes": "Vendors can log in"})
    drive.complete(number, "determine_chargeability", "pete",
                   {"chargeable": True, "billable_hours": 12.5, "hourly_rate": 85, "billing_code": "PS-628"})
    drive.work()
    retry_later(drive, clock)
    [bill] = external.effects.billing_cases
    assert bill == {"request_number": number, "agency": "Oklahoma Department of Tourism", "billable_hours": 12.5,
                    "hourly_rate": 85.0, "amount": "1062.50", "billing_code": "PS-628"}
    calls = external.calls("billing", "POST", "/cases")
    assert len(calls) == 2 and calls[0].key == calls[1].key == jobs(http_services, "billing.create_case")[0].task_uuid
    [local] = rows(http_services, BillingCase)  # the local copy the request page and the billing report read
    assert (local.case_number, str(local.amount)) == ("INV-00001", "1062.50")

    drive.complete(number, "initiate_billing", "carla", {"billing_notes": "Bill Q1", "service_live_date": day(2)})
    clock.set(datetime.fromisoformat(f"{day(2)}T14:05:00+00:00"))  # 08:05 Central: after the business start
    drive.work()
    live = external.effects.asd_entries[1]
    assert (live["status"], live["live_date"], live["billing_code"]) == ("live", day(2), "PS-628")
    drive.complete(number, "notify_customer_of_fulfilment", "carla", {"customer_message": "Live and billed."})
    drive.work()

    shown = drive.show(number)
    assert shown["status"] == "closed"
    assert [b["case"] for b in shown["billing_cases"]] == ["INV-00001"]
    assert [a["status"] for a in shown["asd_entries"]] == ["proposed", "live"]
    assert len(rows(http_services, AsdService)) == 2
    every_key = [r.key for r in external.received]
    assert None not in every_key
    assert len(mailbox.to("ann@tourism.example")) == 1
