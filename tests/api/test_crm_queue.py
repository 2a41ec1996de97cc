"""`/api/v1/crm/pending`: the CRM Pending Queue through a manager's bearer token. Pulling a case creates a request
(its first task waiting for the managers) and takes the case out of the queue; others are refused and change
nothing; an `Idempotency-Key` replays a pull instead of repeating it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.services.admin import users
from app.services.admin.auth import load_identity
from app.store.models import CrmCase, ServiceRequest
from tests.api.api_client import ApiUser, assert_problem, stored
from tests.driver import Driver
from tests.e2e.conftest import count

QUEUE = "/api/v1/crm/pending"


@pytest.fixture
def maria(services) -> ApiUser:
    return ApiUser(services, "maria")


def case_numbers(services, group: str | None = None) -> list[str]:
    with services.uow() as uow:
        return [str(c.case_number) for c in uow.session.scalars(select(CrmCase).order_by(CrmCase.id))
                if group is None or c.provider_group == group]


def test_a_manager_sees_the_pending_cases_of_her_groups(services, maria):
    listed = maria.get(QUEUE)
    assert listed.status_code == 200, listed.get_json()
    items = listed.get_json()["items"]
    assert [c["case"] for c in items] == case_numbers(services)
    first = items[0]
    assert first["group"] == "network" and first["subject"] == "VPN access for the Guthrie field office"
    assert first["requester"] == "Ann Agency" and first["email"] == "ann@travelok.example" and first["opened_at"]


def test_pulling_a_case_creates_a_request_and_takes_the_case_out_of_the_queue(services, clock, maria):
    case = case_numbers(services, "network")[0]
    pulled = maria.post(f"{QUEUE}/{case}/pull", {"priority": "high"})
    assert pulled.status_code == 201, pulled.get_json()
    body = pulled.get_json()
    assert (body["crm_case_id"], body["priority"], body["provider_group"], body["status"]) == \
        (case, "high", "network", "open")
    assert body["url"] == f"/api/v1/requests/{body['number']}"
    assert case not in [c["case"] for c in maria.get(QUEUE).get_json()["items"]]
    with services.uow() as uow:
        row = uow.session.scalars(select(CrmCase).where(CrmCase.case_number == case)).one()
        assert row.request_number == body["number"]
        request = uow.session.scalars(select(ServiceRequest).where(ServiceRequest.number == body["number"])).one()
        assert (request.title, request.priority, request.crm_case_id) == \
            ("VPN access for the Guthrie field office", "high", case)
    shown = maria.get(body["url"])
    assert shown.status_code == 200 and shown.get_json()["number"] == body["number"]
    drive = Driver(services, clock)
    drive.work()
    assert drive.open_bpmn_ids(body["number"]) == ["assign_specialist"]

    again = assert_problem(maria.post(f"{QUEUE}/{case}/pull", {"priority": "low"}), 422)
    assert again["errors"][0]["field"] == "crm_case_id"
    assert count(services, ServiceRequest) == 1


def test_a_case_pulled_as_a_request_for_change_waits_on_the_schedule_and_closes_its_case_at_the_end(services,
                                                                                                       clock, maria):
    from app.services.admin.auth import authenticate
    from app.services.requests import schedule_queue

    case = case_numbers(services, "apps")[0] if case_numbers(services, "apps") else case_numbers(services)[0]
    pulled = maria.post(f"{QUEUE}/{case}/pull", {"priority": "medium", "request_type": "enhancement"})
    assert pulled.status_code == 201, pulled.get_json()
    body = pulled.get_json()
    assert (body["status"], body["crm_case_id"]) == ("scheduled", case)
    assert case not in [c["case"] for c in maria.get(QUEUE).get_json()["items"]]
    drive = Driver(services, clock)
    assert drive.open_bpmn_ids(body["number"]) == []  # no process until it is pulled from the schedule
    with services.uow() as uow:
        request = uow.session.scalars(select(ServiceRequest).where(ServiceRequest.number == body["number"])).one()
        assert (request.request_type, request.routine) == ("enhancement", True)
        assert uow.session.scalars(select(CrmCase).where(CrmCase.case_number == case)).one().status == "in_progress"
    schedule_queue.pull(services, authenticate(services, "maria", "demo"), body["number"])
    assert drive.open_bpmn_ids(body["number"]) == ["draw_up_work_plan"]
    bad = assert_problem(maria.post(f"{QUEUE}/{case_numbers(services)[-1]}/pull", {"request_type": "incident"}), 422)
    assert bad["errors"]


def test_the_priority_defaults_to_medium(services, maria):
    case = case_numbers(services)[1]
    assert maria.post(f"{QUEUE}/{case}/pull", {}).get_json()["priority"] == "medium"


def test_an_idempotency_key_replays_a_pull(services, maria):
    case = case_numbers(services)[0]
    key = {"Idempotency-Key": "pull-1"}
    first = maria.post(f"{QUEUE}/{case}/pull", {"priority": "critical"}, headers=key)
    replay = maria.post(f"{QUEUE}/{case}/pull", {"priority": "critical"}, headers=key)
    assert first.status_code == replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true" and replay.get_json() == first.get_json()
    assert count(services, ServiceRequest) == 1
    assert_problem(maria.post(f"{QUEUE}/{case}/pull", {"priority": "low"}, headers=key), 422)  # same key, new body
    assert count(services, ServiceRequest) == 1


@pytest.mark.parametrize("username", ["sam", "carla", "olive", "audrey", "adam"])
def test_who_manages_no_group_is_refused_and_nothing_changes(services, username):
    other = ApiUser(services, username)
    before = stored(services)
    assert_problem(other.get(QUEUE), 403)
    assert_problem(other.post(f"{QUEUE}/{case_numbers(services)[0]}/pull", {"priority": "high"}), 403)
    assert stored(services) == before


def test_a_manager_of_another_group_cannot_pull_the_case(services):
    """sam, a specialist of network, made the manager of apps: network's cases are not his to pull."""
    users.grant(services, load_identity(services, "adam"), "sam", "manager", "apps")
    sam = ApiUser(services, "sam")
    listed = sam.get(QUEUE).get_json()["items"]
    assert {c["group"] for c in listed} == {"apps"}
    before = stored(services)
    assert_problem(sam.post(f"{QUEUE}/{case_numbers(services, 'network')[0]}/pull", {"priority": "high"}), 403)
    assert stored(services) == before


@pytest.mark.parametrize(("path", "body", "status"), [
    (f"{QUEUE}/CRM-999999/pull", {"priority": "high"}, 404),
    (f"{QUEUE}/{'C' * 33}/pull", {"priority": "high"}, 422),
    (f"{QUEUE}/CRM%20000001/pull", {"priority": "high"}, 422),
    (f"{QUEUE}/CRM-000001/pull", {"priority": "urgent"}, 422),
    (f"{QUEUE}/CRM-000001/pull", {"priority": ["high"]}, 422),
])
def test_junk_and_unknown_cases_are_problems_and_change_nothing(services, maria, path, body, status):
    before = stored(services)
    assert_problem(maria.post(path, body), status)
    assert stored(services) == before


def test_the_openapi_document_describes_the_queue(services):
    doc = ApiUser(services, None).get("/api/v1/openapi.json").get_json()
    listing = doc["paths"]["/api/v1/crm/pending"]["get"]
    pull = doc["paths"]["/api/v1/crm/pending/{case}/pull"]["post"]
    for operation in (listing, pull):
        assert operation["summary"] and operation["description"] and operation["tags"] == ["CRM Pending Queue"]
        assert {"401", "403", "422"} <= set(operation["responses"])
    assert listing["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/PendingQueue")
    assert pull["responses"]["201"]["content"]["application/json"]["schema"]["$ref"].endswith("/Pulled")
    assert pull["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/Pull")
    assert doc["components"]["schemas"]["Pull"]["properties"]["priority"]["enum"] == ["low", "medium", "high",
                                                                                      "critical"]
    case = next(p for p in pull["parameters"] if p["name"] == "case")
    assert case["in"] == "path" and case["schema"]["maxLength"] == 32
    assert "/api/v1/crm/cases" not in doc["paths"] or "get" not in doc["paths"]["/api/v1/crm/cases"]
