"""The 60 day schedule through /api/v1: log an enhancement with `schedule`, re-plan it, pull it once; refusals as
problem+json that change nothing."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from app.store.models import AuditEvent, ProcessInstance, ServiceRequest
from tests.api.client import Api, is_problem
from tests.conftest import START
from tests.driver import REQUEST, Driver

MONDAY = START.date() - timedelta(days=START.date().weekday())
ENHANCEMENT = {"request_type": "enhancement", "schedule": True, "data": {**REQUEST, "provider_group": "apps"}}


def counts(services) -> tuple[int, int]:
    with services.uow() as uow:
        return (int(uow.session.scalar(select(func.count()).select_from(ProcessInstance))),
                int(uow.session.scalar(select(func.count()).select_from(AuditEvent))))


def test_a_scheduled_enhancement_is_re_planned_and_pulled_once_through_the_api(services):
    carla = Api(services, "carla")
    created = carla.post("/api/v1/requests", ENHANCEMENT)
    assert created.status_code == 201 and created.get_json()["status"] == "scheduled"
    number = created.get_json()["number"]
    pete = Api(services, "pete", client=carla.client)
    shown = pete.get(f"/api/v1/requests/{number}").get_json()
    assert (shown["status"], shown["planned_week"], shown["open_tasks"]) == ("scheduled", MONDAY.isoformat(), [])
    listed = pete.get("/api/v1/requests?status=scheduled").get_json()["items"]
    assert [r["number"] for r in listed] == [number]

    next_week = MONDAY + timedelta(weeks=1)
    planned = pete.post(f"/api/v1/requests/{number}/plan", {"week": next_week.isoformat()})
    assert planned.status_code == 200
    assert (planned.get_json()["number"], planned.get_json()["planned_week"]) == (number, next_week.isoformat())
    by_id = pete.get(f"/api/v1/requests/{number}").get_json()["id"]
    assert pete.post(f"/api/v1/requests/{by_id}/plan", {"week": next_week.isoformat()}).get_json()["number"] == number
    assert pete.post(f"/api/v1/requests/{number}/plan", {"week": MONDAY.isoformat()}).status_code == 200

    pulled = pete.post(f"/api/v1/requests/{number}/pull")
    assert pulled.status_code == 200, pulled.get_json()
    assert pulled.get_json()["first_task"] and pulled.get_json()["status"] == "open"
    assert [t["bpmn_id"] for t in pete.get(f"/api/v1/requests/{number}").get_json()["open_tasks"]] == [
        "draw_up_work_plan"]
    before = counts(services)
    assert "not waiting on the schedule" in is_problem(pete.post(f"/api/v1/requests/{number}/pull"), 409)["detail"]
    is_problem(pete.post(f"/api/v1/requests/{number}/plan", {"week": "2027-W05"}), 409)
    assert counts(services) == before


def test_refusals_change_nothing(services):
    carla = Api(services, "carla")
    number = carla.post("/api/v1/requests", ENHANCEMENT).get_json()["number"]
    pete = Api(services, "pete", client=carla.client)
    sam = Api(services, "sam", client=carla.client)  # (making a token is audited)
    before = counts(services)
    is_problem(carla.post(f"/api/v1/requests/{number}/pull"), 403)
    is_problem(carla.post(f"/api/v1/requests/{number}/plan", {"week": "2027-W05"}), 403)
    is_problem(sam.post(f"/api/v1/requests/{number}/pull"), 404)
    for bad in ({"week": "someday"}, {"week": "2026-W77"}, {}, {"week": (MONDAY - timedelta(weeks=1)).isoformat()},
                {"week": "2099-01-01"}):
        assert is_problem(pete.post(f"/api/v1/requests/{number}/plan", bad), 422)
    is_problem(pete.post("/api/v1/requests/RF-999999/pull"), 404)
    assert counts(services) == before
    with services.uow() as uow:
        request = uow.session.scalars(select(ServiceRequest).where(ServiceRequest.number == number)).one()
        assert (request.status, request.planned_week) == ("scheduled", MONDAY)


def test_without_schedule_an_enhancement_starts_at_once_as_before(services):
    created = Api(services, "carla").post("/api/v1/requests", {**ENHANCEMENT, "schedule": False})
    assert created.get_json()["status"] == "open"


def through_discovery(services, clock) -> str:
    """A non-routine enhancement logged through the API, carried through Discovery: it waits on the schedule."""
    carla = Api(services, "carla")
    created = carla.post("/api/v1/requests", {"request_type": "enhancement",
                                              "data": {**REQUEST, "provider_group": "apps", "routine": False}})
    assert created.status_code == 201, created.get_json()
    number = created.get_json()["number"]
    drive = Driver(services, clock)
    drive.complete(number, "document_customer_need", "carla",
                   {"need_summary": "SFTP drop", "customer_is_current": True, "new_service": False})
    drive.complete(number, "prepare_proposal", "pete",
                   {"proposal_summary": "Managed SFTP", "estimated_cost": 4200, "po_number": "PO-1"})
    drive.work()
    return number


def test_after_discovery_the_api_re_plans_and_pulls_it_into_the_same_process(services, clock):
    number = through_discovery(services, clock)
    pete = Api(services, "pete")
    shown = pete.get(f"/api/v1/requests/{number}").get_json()
    assert (shown["status"], shown["planned_week"]) == ("scheduled", MONDAY.isoformat())
    assert [t["bpmn_id"] for t in shown["open_tasks"]] == ["wait_on_schedule"]
    assert [r["number"] for r in pete.get("/api/v1/requests?status=scheduled").get_json()["items"]] == [number]
    later = MONDAY + timedelta(weeks=1)
    assert pete.post(f"/api/v1/requests/{number}/plan", {"week": later.isoformat()}).status_code == 200
    assert "planned for the week of" in is_problem(pete.post(f"/api/v1/requests/{number}/pull"), 403)["detail"]
    maria = Api(services, "maria", client=pete.client)
    pulled = maria.post(f"/api/v1/requests/{number}/pull")
    assert pulled.status_code == 200, pulled.get_json()
    assert pulled.get_json()["status"] == "open" and pulled.get_json()["first_task"] is None
    shown = pete.get(f"/api/v1/requests/{number}").get_json()
    assert [t["bpmn_id"] for t in shown["open_tasks"]] == ["draw_up_work_plan"]
    assert counts(services)[0] == 1  # the same instance carried on
    before = counts(services)
    is_problem(pete.post(f"/api/v1/requests/{number}/pull"), 409)
    assert counts(services) == before


def test_a_manager_cancels_a_scheduled_request_through_the_api_with_a_reason(services, clock, mailbox):
    routine = Api(services, "carla").post("/api/v1/requests", ENHANCEMENT).get_json()["number"]
    after_discovery = through_discovery(services, clock)
    maria = Api(services, "maria")
    pete, carla = Api(services, "pete", client=maria.client), Api(services, "carla", client=maria.client)
    before = counts(services)
    for who in (pete, carla):  # a service provider and a CAR of the group may not
        is_problem(who.post(f"/api/v1/requests/{routine}/cancel", {"reason": "Not needed"}), 403)
    for bad in ({}, {"reason": ""}, {"reason": "x" * 2001}, {"reason": 5}):
        is_problem(maria.post(f"/api/v1/requests/{routine}/cancel", bad), 422)
    blank = is_problem(maria.post(f"/api/v1/requests/{routine}/cancel", {"reason": "   "}), 422)
    assert "say why the request is cancelled" in blank["detail"]
    is_problem(maria.post("/api/v1/requests/RF-999999/cancel", {"reason": "Gone"}), 404)
    assert counts(services) == before

    for number in (routine, after_discovery):
        done = maria.post(f"/api/v1/requests/{number}/cancel", {"reason": "The agency withdrew it"})
        assert done.status_code == 200, done.get_json()
        assert done.get_json() == {"number": number, "status": "cancelled", "url": f"/api/v1/requests/{number}"}
        shown = maria.get(f"/api/v1/requests/{number}").get_json()
        assert shown["status"] == "cancelled" and shown["open_tasks"] == []
        assert shown["crm_case"]["status"] == "closed"
        is_problem(maria.post(f"/api/v1/requests/{number}/cancel", {"reason": "Again"}), 409)
        is_problem(pete.post(f"/api/v1/requests/{number}/pull"), 409)
