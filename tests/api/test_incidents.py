"""Incidents through /api/v1 with a bearer token: the list, one incident with its editable data, correct and
retry, retry, cancel; who may do what; bad input is a 422 problem. The incident is the e2e one: an enhancement whose
plan dates were swapped before the work-list step ran (the handler refuses them at once)."""

from __future__ import annotations

from sqlalchemy import select

from app.store.models import ServiceJob, ServiceRequest
from tests.api.token_client import ApiUser, assert_documented, events, is_problem
from tests.conftest import day
from tests.e2e.test_incidents import stopped_at_the_work_list


def job_status(services, job: int) -> str:
    with services.uow() as uow:
        return uow.session.get(ServiceJob, job).status


def test_the_incident_operations_are_documented(services):
    assert_documented(services, "/api/v1/incidents", {
        ("get", "/api/v1/incidents"), ("get", "/api/v1/incidents/{job_id}"),
        ("post", "/api/v1/incidents/{job_id}/edit-and-retry"), ("post", "/api/v1/incidents/{job_id}/retry"),
        ("post", "/api/v1/incidents/{job_id}/cancel")})


def test_a_manager_corrects_the_data_through_the_api_and_the_request_moves_on(services, clock):
    drive, number, job = stopped_at_the_work_list(services, clock)
    maria = ApiUser(services, "maria")

    listed = maria.get("/api/v1/incidents")
    assert listed.status_code == 200
    [row] = listed.get_json()["items"]
    assert row["id"] == job and row["request_number"] == number and row["step"] == "update_work_list"

    detail = maria.get(f"/api/v1/incidents/{job}").get_json()
    assert detail["may_act"] is True and detail["incident"]["request_number"] == number
    assert detail["call"]["reads"]["planned_finish"] == day(-5)
    assert "planned_finish" in detail["edit_schema"]["properties"]
    assert "request_number" not in detail["edit_schema"]["properties"]

    refused = maria.post(f"/api/v1/incidents/{job}/edit-and-retry", {"changes": {"planned_finish": "not a date"}})
    assert is_problem(refused, 422)
    assert any(e["field"] == "planned_finish" for e in refused.get_json()["errors"]), refused.get_json()
    identifier = maria.post(f"/api/v1/incidents/{job}/edit-and-retry", {"changes": {"request_number": "RF-999999"}})
    assert is_problem(identifier, 422)
    assert events(services, "incident_data_edited") == [] and job_status(services, job) == "incident"

    done = maria.post(f"/api/v1/incidents/{job}/edit-and-retry", {"changes": {"planned_finish": day(17)}})
    assert done.status_code == 200, done.get_json()
    assert done.get_json() == {"incident": job, "request_number": number, "action": "edit and retry",
                               "changed": ["planned_finish"], "status": "pending"}
    [edited] = events(services, "incident_data_edited")
    assert edited.actor == "maria" and edited.payload["via"] == maria.via
    assert edited.payload["before"] == {"planned_finish": day(-5)} and edited.payload["after"] == {
        "planned_finish": day(17)}
    [resolved] = events(services, "incident_resolved")
    assert resolved.payload["via"] == maria.via

    drive.work()
    assert drive.open_bpmn_ids(number) == ["fulfil_enhancement_request"]
    assert maria.get("/api/v1/incidents").get_json()["items"] == []
    assert is_problem(maria.get(f"/api/v1/incidents/{job}"), 404)


def test_retry_as_it_is_runs_the_step_again(services, clock):
    drive, number, job = stopped_at_the_work_list(services, clock)
    adam = ApiUser(services, "adam")
    done = adam.post(f"/api/v1/incidents/{job}/retry")
    assert done.status_code == 200
    assert done.get_json() == {"incident": job, "request_number": number, "action": "retry", "changed": [],
                               "status": "pending"}
    assert job_status(services, job) == "pending"
    [resolved] = events(services, "incident_resolved")
    assert resolved.payload["action"] == "retry" and resolved.payload["via"] == adam.via
    drive.work()
    assert job_status(services, job) == "incident"  # the data is still wrong


def test_cancelling_through_the_api_cancels_the_request(services, clock, mailbox):
    drive, number, job = stopped_at_the_work_list(services, clock)
    maria = ApiUser(services, "maria")
    assert is_problem(maria.post(f"/api/v1/incidents/{job}/cancel", {"reason": ""}), 422)
    assert is_problem(maria.post(f"/api/v1/incidents/{job}/cancel", {"reason": "   "}), 422)
    assert is_problem(maria.post(f"/api/v1/incidents/{job}/cancel", {"reason": "x" * 2001}), 422)
    assert events(services, "request_cancelled") == []

    done = maria.post(f"/api/v1/incidents/{job}/cancel", {"reason": "The agency withdrew the request."})
    assert done.status_code == 200 and done.get_json() == {"request_number": number, "status": "cancelled"}
    with services.uow() as uow:
        request = uow.session.scalars(select(ServiceRequest).where(ServiceRequest.number == number)).one()
        assert request.status == "cancelled" and request.closed_at is not None
        case_number = request.crm_case_id
    assert job_status(services, job) == "cancelled" and drive.open_bpmn_ids(number) == []
    [cancelled] = events(services, "request_cancelled")
    assert cancelled.payload["reason"] == "The agency withdrew the request."
    assert cancelled.actor == "maria" and cancelled.payload["via"] == maria.via
    drive.work()
    [mail] = mailbox.to("ann@tourism.example")
    assert mail["Subject"] == f"Case {case_number}: Request {number} cancelled"  # the customer's case first


def test_process_owners_only_look_and_others_are_refused_with_nothing_changed(services, clock):
    _, number, job = stopped_at_the_work_list(services, clock)
    olive = ApiUser(services, "olive")
    assert [r["id"] for r in olive.get("/api/v1/incidents").get_json()["items"]] == [job]
    assert olive.get(f"/api/v1/incidents/{job}").get_json()["may_act"] is False
    assert is_problem(olive.post(f"/api/v1/incidents/{job}/retry"), 403)
    assert is_problem(olive.post(f"/api/v1/incidents/{job}/cancel", {"reason": "no"}), 403)
    assert is_problem(olive.post(f"/api/v1/incidents/{job}/edit-and-retry",
                                 {"changes": {"planned_finish": day(17)}}), 403)
    for who in ("pete", "sam", "carla", "audrey"):
        user = ApiUser(services, who)
        assert is_problem(user.get("/api/v1/incidents"), 403), who
        assert is_problem(user.get(f"/api/v1/incidents/{job}"), 404), who
        assert is_problem(user.post(f"/api/v1/incidents/{job}/retry"), 404), who
        assert is_problem(user.post(f"/api/v1/incidents/{job}/cancel", {"reason": "no"}), 404), who
        assert is_problem(user.post(f"/api/v1/incidents/{job}/edit-and-retry",
                                    {"changes": {"planned_finish": day(17)}}), 404), who
    assert is_problem(ApiUser(services, "sara").client.get("/api/v1/incidents"), 401)  # no token at all
    assert job_status(services, job) == "incident"
    for kind in ("incident_resolved", "incident_data_edited", "request_cancelled"):
        assert events(services, kind) == [], kind


def test_junk_input_is_a_422_problem_never_a_500(services, clock):
    _, _, job = stopped_at_the_work_list(services, clock)
    maria = ApiUser(services, "maria")
    for path in ("/api/v1/incidents/abc", "/api/v1/incidents/0", "/api/v1/incidents/99999999999",
                 "/api/v1/incidents/-1"):
        assert is_problem(maria.get(path), 422), path
    assert is_problem(maria.get("/api/v1/incidents/2147483647"), 404)
    for body in (None, [], {"changes": "planned_finish"}, {"changes": [1, 2]}, {"reason": 5}):
        assert is_problem(maria.post(f"/api/v1/incidents/{job}/edit-and-retry", body), 422), body
    assert is_problem(maria.post(f"/api/v1/incidents/{job}/cancel", {"reason": ["a"]}), 422)
    assert is_problem(maria.post(f"/api/v1/incidents/{job}/edit-and-retry", {"changes": {}}), 422)  # no change
    assert job_status(services, job) == "incident"
