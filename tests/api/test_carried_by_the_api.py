"""Done means: a request carried from the CRM's case to closed through the API alone, with the CRM, billing and the
ASD being a real local HTTP server (tests/external_systems.py), on SQLite and PostgreSQL. The worker runs as it does
in the background of `rf serve`; every human step is an API call with a bearer token."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from typing import Any

import pytest

from app.bootstrap import Services, bootstrap
from app.domain.signatures import signed_headers
from app.services.admin import setup
from app.services.definitions import deploy as definitions
from app.web import create_app
from tests.api.client import Api
from tests.conftest import day
from tests.driver import REQUEST, Driver
from tests.external_systems import http_settings

SECRET = "feed-secret-for-the-api-path-0123456"


@pytest.fixture
def http_services(settings, clock, external) -> Iterator[Services]:
    svc = bootstrap(replace(http_settings(settings, external), crm_feed_secret=SECRET), clock)
    setup.migrate(svc)
    setup.seed(svc, demo=True)
    definitions.deploy(svc, definitions.read_paths([settings.bpmn_dir]), "test")
    yield svc
    svc.close()


def step(api: Api, number: str, bpmn_id: str, data: dict[str, Any]) -> None:
    """Find the request's open task `bpmn_id`, take it and complete it with `data`, all through the API."""
    shown = api.get(f"/api/v1/requests/{number}").get_json()
    [task] = [t for t in shown["open_tasks"] if t["bpmn_id"] == bpmn_id]
    if task["assignee"] is None:
        assert api.post(f"/api/v1/tasks/{task['id']}/claim").status_code == 200
    done = api.post(f"/api/v1/tasks/{task['id']}/complete", {"data": data})
    assert done.status_code == 200, done.get_json()


def test_a_crm_case_becomes_a_request_that_closes_in_the_crm_through_the_api(http_services, clock, external,
                                                                             mailbox):
    drive = Driver(http_services, clock)  # only its worker pass: what rf serve runs in the background
    client = create_app(http_services, {"SECRET_KEY": "x"}).test_client()
    maria, sam = Api(http_services, "maria", client=client), Api(http_services, "sam", client=client)
    case = {"event": "created", "case_id": "SD-90210", "subject": "Shared drive full", "agency": "OMES",
            "requester_name": "Pat Payer", "requester_email": "pat@omes.example", "provider_group": "network"}
    external.add_crm_case("SD-90210", **{k: v for k, v in case.items() if k not in ("event", "case_id")})
    body = json.dumps(case).encode()
    fed = client.post("/api/v1/crm/cases", data=body, content_type="application/json",
                      headers=signed_headers(SECRET, body, clock.now()))
    assert fed.status_code == 200 and fed.get_json()["outcome"] == "created"

    assert "SD-90210" in [c["case"] for c in maria.get("/api/v1/crm/pending").get_json()["items"]]
    pulled = maria.post("/api/v1/crm/pending/SD-90210/pull", {"priority": "high"})
    assert pulled.status_code == 201, pulled.get_json()
    number = pulled.get_json()["number"]
    drive.work()  # takes the case in the CRM, over HTTP
    assert [t["case_id"] for t in external.effects.takes] == ["SD-90210"]

    step(maria, number, "assign_specialist", {"specialist": "sam", "assignment_note": "Storage team"})
    step(sam, number, "fulfil_assistance_request",
         {"resolution_notes": "Archived old projects", "resolution_code": "resolved", "time_spent_hours": 2})
    drive.work()

    shown = maria.get(f"/api/v1/requests/{number}").get_json()
    assert shown["status"] == "closed" and shown["open_tasks"] == []
    [closed] = external.effects.closes
    assert closed["case_id"] == "SD-90210" and closed["resolution"] == "Archived old projects"
    assert any(number in m["Subject"] for m in mailbox.to("pat@omes.example"))


def test_a_chargeable_enhancement_is_billed_and_recorded_in_the_asd_through_the_api(http_services, clock, external,
                                                                                    mailbox):
    drive = Driver(http_services, clock)
    client = create_app(http_services, {"SECRET_KEY": "x"}).test_client()
    carla, pete = Api(http_services, "carla", client=client), Api(http_services, "pete", client=client)
    created = carla.post("/api/v1/requests", {"request_type": "enhancement",
                                              "data": {**REQUEST, "provider_group": "apps", "routine": False,
                                                       "title": "Managed SFTP service"}})
    assert created.status_code == 201, created.get_json()
    number = created.get_json()["number"]
    step(carla, number, "document_customer_need",
         {"need_summary": "SFTP drop for vendors", "customer_is_current": True, "new_service": True})
    step(pete, number, "prepare_proposal",
         {"proposal_summary": "Managed SFTP", "estimated_cost": 4200, "po_number": "PO-2026-0042"})
    drive.work()
    assert pete.get(f"/api/v1/requests/{number}").get_json()["status"] == "scheduled"  # on the 60 day schedule
    pulled = pete.post(f"/api/v1/requests/{number}/pull", {})
    assert pulled.status_code == 200, pulled.get_json()
    step(pete, number, "draw_up_work_plan", {"work_plan": "Managed SFTP for vendors", "estimated_hours": 16,
                                             "planned_start": day(1), "planned_finish": day(17)})
    drive.work()
    step(pete, number, "fulfil_enhancement_request", {"fulfilment_notes": "SFTP service built", "hours_spent": 6})
    step(pete, number, "test_solution", {"test_result": "fail", "test_notes": "Vendor keys rejected"})
    step(pete, number, "fulfil_enhancement_request", {"fulfilment_notes": "Keys fixed", "hours_spent": 2})
    step(pete, number, "test_solution", {"test_result": "pass", "test_notes": "Vendors can log in"})
    step(pete, number, "determine_chargeability",
         {"chargeable": True, "billable_hours": 12.5, "hourly_rate": 85, "billing_code": "PS-628"})
    drive.work()
    [bill] = external.effects.billing_cases
    assert (bill["request_number"], bill["amount"]) == (number, "1062.50")
    step(carla, number, "initiate_billing", {"billing_notes": "Bill Q1", "service_live_date": day(2)})
    clock.set(datetime.fromisoformat(f"{day(2)}T14:05:00+00:00"))  # 08:05 Central: after the business start
    drive.work()
    step(carla, number, "notify_customer_of_fulfilment", {"customer_message": "Live and billed."})
    drive.work()

    shown = carla.get(f"/api/v1/requests/{number}").get_json()
    assert shown["status"] == "closed"
    assert [a["status"] for a in external.effects.asd_entries] == ["proposed", "live"]
    assert shown["path"].count("test_solution") == 2
    assert len(mailbox.to(REQUEST["requester_email"])) == 1
