"""`GET /api/v1/processes/{id}/versions/{n}/insights`: the numbers of the insights page's JSON through a bearer
token, with the conformance of each instance; auditors read it, specialists do not, junk is a 4xx problem."""

from __future__ import annotations

from app.domain.process_graph import END
from tests.api.api_client import ApiUser, assert_problem
from tests.driver import Driver
from tests.integration.test_process_insights import RESOLVED, _record_step, assign, fulfil
from tests.web import WebUser

INSIGHTS = "/api/v1/processes/request_fulfillment/versions/1/insights"


def test_the_api_gives_the_numbers_of_the_page_with_the_instances_the_diagram_cannot_replay(services, clock):
    drive = Driver(services, clock)
    closed = drive.new("assistance")
    drive.work()
    assign(drive, clock, closed, 2)
    fulfil(drive, clock, closed, 3, RESOLVED)
    _record_step(services, clock, closed, "assign_specialist")  # recorded after the request closed
    drive.new("assistance")
    drive.work()
    answer = ApiUser(services, "olive").get(INSIGHTS)
    assert answer.status_code == 200, answer.get_json()
    found = answer.get_json()
    page = WebUser(services, "olive").get(
        "/processes/request_fulfillment/versions/1/insights?format=json").get_json()
    assert {k: found[k] for k in ("started", "finished", "elements", "variants", "conformance")} == {
        k: page[k] for k in ("started", "finished", "elements", "variants", "conformance")}
    assert (found["started"], found["finished"]) == (2, 1)
    [main] = [d for d in found["diagrams"] if d["main"]]
    assert main["flows"]["flow_assistance"] == 2 and main["counts"]["fulfil_assistance"] == 2
    [row] = found["conformance"]["instances"]
    assert (row["request"], row["step"], row["element_id"], row["previous"]) == (
        closed, 6, "assign_specialist", "notify_assistance_customer")
    assert row["expected"] == [{"element_id": END, "name": "the end of the process"}]
    assert ApiUser(services, "audrey").get(INSIGHTS).status_code == 200


def test_a_period_staff_and_junk_are_answered_as_problems(services):
    olive = ApiUser(services, "olive")
    empty = olive.get(INSIGHTS + "?since=2020-01-01&until=2020-01-31").get_json()
    assert (empty["since"], empty["started"], empty["conformance"]["instances"]) == ("2020-01-01", 0, [])
    assert_problem(ApiUser(services, "sam").get(INSIGHTS), 403)
    assert_problem(olive.get(INSIGHTS + "?since=someday"), 422)
    assert_problem(olive.get(INSIGHTS + "?since=2026-02-01&until=2026-01-01"), 400)
    assert_problem(olive.get("/api/v1/processes/request_fulfillment/versions/9/insights"), 404)
