"""Issue 16: how a version has run, from the audit log, checked against a scripted history whose counts and waits
are known: two straight assistance requests, one that asks the customer and comes back to fulfilment, one left
waiting for its assignment."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.errors import Forbidden
from app.services.admin.auth import authenticate
from app.services.definitions import insights
from tests.driver import Driver

RESOLVED = {"resolution_notes": "Created the VPN profile", "resolution_code": "resolved", "time_spent_hours": 1.5}
ASK = {"resolution_notes": "Which office?", "resolution_code": "awaiting_customer", "time_spent_hours": 0.5}
STRAIGHT = ["take_crm_case", "assign_specialist", "fulfil_assistance_request", "close_crm_case",
            "notify_assistance_customer"]
LOOPED = ["take_crm_case", "assign_specialist", "fulfil_assistance_request", "ask_customer", "await_customer_reply",
          "fulfil_assistance_request", "close_crm_case", "notify_assistance_customer"]


def assign(drive: Driver, clock, number: str, after: float) -> None:
    clock.advance(timedelta(hours=after))
    drive.complete(number, "assign_specialist", "maria", {"specialist": "sam", "assignment_note": "VPN team"})


def fulfil(drive: Driver, clock, number: str, after: float, data: dict) -> None:
    clock.advance(timedelta(hours=after))
    drive.complete(number, "fulfil_assistance_request", "sam", data)
    drive.work()


@pytest.fixture
def history(services, clock) -> dict:
    drive = Driver(services, clock)
    for _ in range(2):  # assigned after 2 h, fulfilled 4 h later
        number = drive.new("assistance")
        drive.work()
        assign(drive, clock, number, 2)
        fulfil(drive, clock, number, 4, RESOLVED)
    looped = drive.new("assistance")  # assigned after 1 h, asks the customer after 1 h, reply 3 h later, 1 h more
    drive.work()
    assign(drive, clock, looped, 1)
    fulfil(drive, clock, looped, 1, ASK)
    clock.advance(timedelta(hours=3))
    drive.complete(looped, "await_customer_reply", "sam", {"customer_reply": "The Tulsa office"})
    fulfil(drive, clock, looped, 1, RESOLVED)
    waiting = drive.new("assistance")  # never assigned
    drive.work()
    assert [drive.show(n)["status"] for n in (looped, waiting)] == ["closed", "open"]
    olive = authenticate(services, "olive", "demo")
    return insights.version_insights(services, olive, "request_fulfillment", 1)


def test_each_element_counts_its_passes_instances_and_loops(history):
    assert (history["started"], history["finished"]) == (4, 3)
    rows = {row["element_id"]: row for row in history["elements"]}
    assert rows["take_crm_case"]["passed"] == 4
    assert {k: rows["assign_specialist"][k] for k in ("passed", "instances", "loops")} == {
        "passed": 3, "instances": 3, "loops": 0}
    fulfilment = rows["fulfil_assistance_request"]
    assert (fulfilment["passed"], fulfilment["instances"], fulfilment["loops"], fulfilment["looping"]) == (4, 3, 1, 1)
    assert rows["await_customer_reply"]["passed"] == 1


def test_waits_are_measured_from_ready_to_done_with_mean_and_p90(history):
    rows = {row["element_id"]: row for row in history["elements"]}
    assert rows["assign_specialist"]["mean_hours"] == pytest.approx(5 / 3, abs=0.01)  # 2, 2, 1
    assert rows["assign_specialist"]["p90_hours"] == 2
    assert rows["fulfil_assistance_request"]["mean_hours"] == 2.5  # 4, 4, 1, 1
    assert rows["fulfil_assistance_request"]["p90_hours"] == 4
    assert rows["await_customer_reply"]["mean_hours"] == 3
    assert rows["take_crm_case"]["mean_hours"] == 0  # run as soon as the request started


def test_variants_list_the_finished_paths_most_frequent_first(history):
    assert [(v["path"], v["instances"], v["share"]) for v in history["variants"]] == [
        (STRAIGHT, 2, 66.7), (LOOPED, 1, 33.3)]
    assert history["variants"][0]["names"][1] == "Assign to a specialist"


def test_the_diagram_overlay_counts_elements_flows_and_loops(history):
    [assistance] = [d for d in history["diagrams"] if d["file"] == "assistance_request.bpmn"]
    assert assistance["counts"]["fulfil_assistance_request"] == 4
    assert assistance["loops"] == {"fulfil_assistance_request": 1}
    flows = assistance["flows"]
    assert flows["flow_assistance_started_to_take_crm_case"] == 4
    assert flows["flow_take_crm_case_to_assign_specialist"] == 4  # one waits there now: it took the flow
    assert flows["flow_assign_specialist_to_assistance_work_merge"] == 3
    assert flows["flow_assistance_work_merge_to_fulfil_assistance_request"] == 4
    assert flows["flow_waiting_on_customer"] == 1 and flows["flow_await_customer_reply_to_assistance_work_merge"] == 1
    assert flows["flow_request_fulfilled"] == 3
    assert flows["flow_notify_assistance_customer_to_assistance_closed"] == 3
    [main] = [d for d in history["diagrams"] if d["main"]]
    assert main["counts"]["fulfil_assistance"] == 4  # the call activity: instances that entered what it calls


def test_the_csv_has_a_row_per_element_and_the_variants(history):
    lines = insights.to_csv(history).splitlines()
    assert lines[0].startswith("file,element_id,name,kind,passed")
    assert any(line.startswith("assistance_request.bpmn,fulfil_assistance_request,") and ",4,3,1,1,2.50,4.00" in line
               for line in lines)
    assert "1,2,66.7,take_crm_case > assign_specialist" in insights.to_csv(history)


def test_a_period_without_instances_is_empty_and_staff_may_not_look(services, clock):
    olive = authenticate(services, "olive", "demo")
    empty = insights.version_insights(services, olive, "request_fulfillment", 1, "2020-01-01", "2020-01-31")
    assert (empty["started"], empty["elements"], empty["variants"]) == (0, [], [])
    with pytest.raises(Forbidden):
        insights.version_insights(services, authenticate(services, "sam", "demo"), "request_fulfillment", 1)
    with pytest.raises(Exception, match="not a date"):
        insights.version_insights(services, olive, "request_fulfillment", 1, "yesterday")


def test_the_insights_page_its_csv_and_json_for_owners_and_auditors_only(services, clock, history):
    from tests.web import WebUser

    path = "/processes/request_fulfillment/versions/1/insights"
    olive, audrey, sam = WebUser(services, "olive"), WebUser(services, "audrey"), WebUser(services, "sam")
    page = olive.get(path)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "4 instances of this version started" in text and "3 finished" in text
    assert 'data-mode="insights"' in text and "Assign to a specialist → Fulfil assistance request" in text
    assert audrey.get(path).status_code == 200  # an auditor reads how the process ran
    assert sam.get(path).status_code == 403
    csv_download = olive.get(path + "?format=csv")
    assert csv_download.status_code == 200 and csv_download.mimetype == "text/csv"
    assert "fulfil_assistance_request" in csv_download.get_data(as_text=True)
    found = olive.get(path + "?format=json").get_json()
    assert found["started"] == 4 and "xml" not in found["diagrams"][0]
    bad = olive.get(path + "?since=someday")
    assert bad.status_code == 400 and "not a date" in bad.get_data(as_text=True)
    assert olive.get(path + "?format=pdf").status_code == 400
    assert olive.get("/processes/request_fulfillment/versions/9/insights").status_code == 404


def test_flows_of_the_calling_diagram_are_counted_through_its_call_activity(history):
    [main] = [d for d in history["diagrams"] if d["main"]]
    assert main["flows"] == {"flow_request_received_to_request_type_gateway": 4, "flow_assistance": 4,
                             "flow_fulfil_assistance_to_assistance_request_closed": 3}  # the 3 finished left it


def test_every_path_the_engine_ran_conforms_to_the_diagram(history):
    assert history["conformance"] == {"checked": 4, "deviating": 0, "instances": []}


def _record_step(services, clock, number: str, bpmn_id: str) -> None:
    """A completion the diagram does not allow, as an import from an older system would record it."""
    from sqlalchemy import select

    from app.store import audit
    from app.store.models import ServiceRequest

    clock.advance(timedelta(hours=1))
    with services.uow() as uow:
        request_id = uow.session.scalar(select(ServiceRequest.id).where(ServiceRequest.number == number))
        audit.append(uow.session, actor="sam", event_type="task_completed", request_id=request_id, now=clock.now(),
                     payload={"bpmn_id": bpmn_id, "task": "imported", "name": bpmn_id, "data": {}})
        uow.commit()


def test_instances_the_diagram_cannot_replay_are_listed_with_their_first_deviating_step(services, clock):
    from tests.web import WebUser

    drive = Driver(services, clock)
    fine = drive.new("assistance")
    drive.work()
    assign(drive, clock, fine, 1)
    fulfil(drive, clock, fine, 1, RESOLVED)
    skipped, unknown = drive.new("assistance"), drive.new("assistance")
    drive.work()
    _record_step(services, clock, skipped, "fulfil_assistance_request")  # not assigned first
    skipped_at = clock.now()
    _record_step(services, clock, unknown, "legacy_triage")  # no such element in the version
    found = insights.version_insights(services, authenticate(services, "olive", "demo"), "request_fulfillment", 1)
    conformance = found["conformance"]
    assert (conformance["checked"], conformance["deviating"]) == (3, 2)
    first, second = conformance["instances"]  # oldest deviation first
    assert (first["request"], first["step"], first["element_id"], first["previous"]) == (
        skipped, 2, "fulfil_assistance_request", "take_crm_case")
    assert first["at"] == skipped_at.isoformat() and first["status"] == "running"
    assert first["expected"] == [{"element_id": "assign_specialist", "name": "Assign to a specialist"}]
    assert first["reason"] == "the diagram does not lead from Take case from CRM Pending Queue to it"
    assert (second["request"], second["step"], second["element_id"]) == (unknown, 2, "legacy_triage")
    assert second["reason"] == "not an element of this version's diagrams"
    csv_text = insights.to_csv(found)
    assert f"{skipped},running,2,fulfil_assistance_request," in csv_text and ",assign_specialist," in csv_text
    path = "/processes/request_fulfillment/versions/1/insights"
    olive = WebUser(services, "olive")
    page = olive.get(path).get_data(as_text=True)
    assert "Instances the diagram cannot replay" in page and f'href="/requests/{skipped}"' in page
    assert "2 of 3 instances took a step the diagram does not allow" in page
    assert olive.get(path + "?format=json").get_json()["conformance"]["deviating"] == 2
