"""`/api/v1/processes/{id}/versions/{n}/moves`: checking which running instances can move to a newer version and
moving them, through a process owner's bearer token; the options of the page and `rf migrate` (selected requests with
the state seen, all eligible, the target version); non-owners and junk change nothing."""

from __future__ import annotations

import pytest

from app.services.definitions import deploy as definitions
from app.store.models import AuditEvent
from tests.api.api_client import ApiUser, assert_problem, stored
from tests.driver import Driver
from tests.e2e.conftest import count
from tests.integration.test_migration import NEW_NAME, changed_bundle, instance_of, two_requests

MOVES = "/api/v1/processes/request_fulfillment/versions/1/moves"


@pytest.fixture
def drive(services, clock) -> Driver:
    return Driver(services, clock)


@pytest.fixture
def deployed_twice(services, drive) -> tuple[str, str]:
    waiting, started = two_requests(drive)
    definitions.deploy(services, changed_bundle(), "olive")
    return waiting, started


@pytest.fixture
def olive(services) -> ApiUser:
    return ApiUser(services, "olive")


def version_id(services, process_version: int) -> int:
    with services.uow() as uow:
        return definitions.find_version(uow.session, "request_fulfillment", process_version).id


def test_the_check_lists_each_running_instance_with_whether_it_can_move(services, olive, deployed_twice):
    waiting, started = deployed_twice
    checked = olive.get(MOVES)
    assert checked.status_code == 200, checked.get_json()
    body = checked.get_json()
    assert (body["from_version"], body["to_version"], body["newer_versions"]) == (1, 2, [2])
    rows = {i["request_number"]: i for i in body["instances"]}
    assert rows[waiting]["eligible"] is True and "no element it has reached was changed" in rows[waiting]["reason"]
    assert "Assign to a specialist" in " ".join(rows[waiting]["waiting_at"])
    assert rows[started]["eligible"] is False
    assert "fulfil_assistance_request" in rows[started]["reason"] and "changed" in rows[started]["reason"]
    assert olive.get(f"{MOVES}?to=2").get_json() == body
    assert_problem(olive.get(f"{MOVES}?to=1"), 422)  # not newer
    assert_problem(olive.get(f"{MOVES}?to=5"), 404)


def test_moving_the_selection_moves_the_eligible_one_and_refuses_the_other(services, olive, drive, deployed_twice):
    waiting, started = deployed_twice
    seen = {i["request_number"]: i["instance_version"] for i in olive.get(MOVES).get_json()["instances"]}
    moved = olive.post(MOVES, {"to_version": 2, "requests": [waiting, started], "seen": seen})
    assert moved.status_code == 200, moved.get_json()
    report = moved.get_json()
    assert report["migrated"] == [waiting] and [r["request"] for r in report["refused"]] == [started]
    assert "fulfil_assistance_request" in report["refused"][0]["reason"]
    assert report["summary"] == "Migrated 1 instance to version 2; refused 1"
    assert instance_of(services, waiting).definition_version_id == version_id(services, 2)
    assert instance_of(services, started).definition_version_id == version_id(services, 1)
    event = [e for e in _events(services) if e.event_type == "instance_migrated"][-1]
    assert event.actor == "olive" and event.payload["to_version"] == 2 and "API token" in event.payload["via"]
    drive.complete(waiting, "assign_specialist", "maria", {"specialist": "sam"})
    assert drive.open_task(waiting, "fulfil_assistance_request").name == NEW_NAME
    assert [i["request_number"] for i in olive.get(MOVES).get_json()["instances"]] == [started]


def _events(services) -> list[AuditEvent]:
    from tests.e2e.conftest import records

    return sorted(records(services, AuditEvent), key=lambda e: e.seq)


def test_all_eligible_moves_them_without_naming_them(services, deployed_twice):
    waiting, started = deployed_twice
    report = ApiUser(services, "adam").post(MOVES, {"all_eligible": True}).get_json()
    assert report["migrated"] == [waiting] and report["to_version"] == 2
    assert [r["request"] for r in report["refused"]] == [started]


def test_a_request_changed_since_the_check_is_refused_and_stays(services, olive, drive, deployed_twice):
    waiting, _ = deployed_twice
    seen = {i["request_number"]: i["instance_version"] for i in olive.get(MOVES).get_json()["instances"]}
    drive.complete(waiting, "assign_specialist", "maria", {"specialist": "sam"})
    report = olive.post(MOVES, {"requests": [waiting], "seen": seen}).get_json()
    assert report["migrated"] == [] and "changed after the check was shown" in report["refused"][0]["reason"]
    assert instance_of(services, waiting).definition_version_id == version_id(services, 1)


@pytest.mark.parametrize("order", [
    {},  # neither requests nor all_eligible
    {"requests": ["RF-000001"], "all_eligible": True},
    {"requests": ["RF-000001"], "to_version": 1},  # not newer
    {"requests": ["x" * 41]},
    {"requests": ["RF-000001"] * 1001},
    {"requests": ["RF-000001"], "to_version": 0},
    {"requests": ["RF-000001"], "seen": {"RF-000001": -1}},
    {"requests": "RF-000001, RF-000002"},
])
def test_a_bad_order_is_a_422_problem_and_moves_nothing(services, olive, deployed_twice, order):
    before = stored(services)
    body = assert_problem(olive.post(MOVES, order), 422)
    assert body["errors"] and all(e["message"] for e in body["errors"])
    assert stored(services) == before


def test_junk_versions_in_the_path_are_422_and_unknown_ones_404(services, olive, deployed_twice):
    assert_problem(olive.get("/api/v1/processes/request_fulfillment/versions/abc/moves"), 422)
    assert_problem(olive.get("/api/v1/processes/request_fulfillment/versions/99999999999/moves"), 422)
    assert_problem(olive.get("/api/v1/processes/request_fulfillment/versions/9/moves"), 404)
    assert_problem(olive.post("/api/v1/processes/nope/versions/1/moves", {"all_eligible": True}), 404)


def test_with_no_newer_version_there_is_nothing_to_move_to(services, olive, drive):
    number = drive.new("assistance")
    body = olive.get(MOVES).get_json()
    assert body["to_version"] is None and body["instances"][0]["request_number"] == number
    assert body["instances"][0]["eligible"] is False and body["instances"][0]["reason"] == "no newer version deployed"
    assert "no newer version" in assert_problem(olive.post(MOVES, {"all_eligible": True}), 422)["detail"]


@pytest.mark.parametrize("username", ["maria", "sam", "audrey"])
def test_who_is_not_a_process_owner_is_refused_and_nothing_moves(services, deployed_twice, username):
    waiting, _ = deployed_twice
    other = ApiUser(services, username)
    before = stored(services)
    assert_problem(other.get(MOVES), 403)
    assert_problem(other.post(MOVES, {"requests": [waiting]}), 403)
    assert_problem(other.post(MOVES, {"all_eligible": True}), 403)
    assert stored(services) == before
    assert count(services, AuditEvent, AuditEvent.event_type == "instance_migrated") == 0


def test_the_openapi_document_describes_the_moves(services):
    doc = ApiUser(services, None).get("/api/v1/openapi.json").get_json()
    item = doc["paths"]["/api/v1/processes/{process_id}/versions/{version}/moves"]
    assert {"get", "post"} <= set(item)
    for operation in (item["get"], item["post"]):
        assert operation["summary"] and operation["description"] and operation["tags"] == ["Instance moves"]
        assert {"401", "403", "404", "422"} <= set(operation["responses"])
    assert item["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/MoveCheck")
    assert item["post"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/MoveReport")
    assert item["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/MoveOrder")
    order = doc["components"]["schemas"]["MoveOrder"]["properties"]
    assert {"to_version", "requests", "all_eligible", "seen"} <= set(order)
    assert order["requests"]["maxItems"] == 1000
    assert any(p["name"] == "to" and p["in"] == "query" for p in item["get"]["parameters"])
