"""Moving running instances to a changed diagram, in memory: SpiffWorkflow's diff decides, the state survives."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from lxml import etree

from app import engine
from app.config import PROJECT_ROOT
from app.errors import Conflict
from handlers import REGISTRY
from tests.unit.test_engine import run_services, step

NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
LANES = {"Provider Group Manager", "Specialist", "Service Provider", "Customer Account Representative"}
BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
START_DATA = {"request_id": 1, "request_number": "RF-000001", "request_type": "assistance", "routine": True,
              "title": "VPN access", "description": "", "agency": "Tourism", "requester_name": "Ann",
              "requester_email": "ann@tourism.example", "provider_group": "network", "priority": "medium",
              "crm_case_id": "CRM-000001", "sla_due_at": "2027-03-01T00:00:00+00:00"}


def bundle() -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (PROJECT_ROOT / "bpmn").glob("*.bpmn")}


def compiled(files: dict[str, bytes]) -> str:
    forms = {p.name: p.read_bytes() for p in (PROJECT_ROOT / "forms").glob("*.json")}
    return engine.compile_bundle(files, operators=set(REGISTRY), lanes=LANES, forms=forms).spec_json


def renamed(files: dict[str, bytes], file: str, element_id: str, name: str) -> dict[str, bytes]:
    text, count = re.subn(rf'(id="{element_id}" name=")[^"]*"', rf'\g<1>{name}"', files[file].decode())
    assert count == 1, f"{element_id} not found in {file}"
    return {**files, file: text.encode()}


def with_script_after(files: dict[str, bytes], file: str, element_id: str, script_id: str) -> dict[str, bytes]:
    """Insert a script task on the flow leaving `element_id` (a realistic "task added after an existing one")."""
    root = etree.fromstring(files[file])
    node = root.find(f".//*[@id='{element_id}']")
    flow_id = node.find(f"{{{BPMN}}}outgoing").text
    flow = root.find(f".//{{{BPMN}}}sequenceFlow[@id='{flow_id}']")
    target = root.find(f".//*[@id='{flow.get('targetRef')}']")
    script = etree.Element(f"{{{BPMN}}}scriptTask", id=script_id, name="Record the review", scriptFormat="python")
    etree.SubElement(script, f"{{{BPMN}}}incoming").text = flow_id
    etree.SubElement(script, f"{{{BPMN}}}outgoing").text = f"{script_id}_out"
    etree.SubElement(script, f"{{{BPMN}}}script").text = "reviewed = True"
    node.getparent().insert(node.getparent().index(node) + 1, script)
    flow.set("targetRef", script_id)
    for incoming in target.findall(f"{{{BPMN}}}incoming"):
        if incoming.text == flow_id:
            incoming.text = f"{script_id}_out"
    out = etree.SubElement(node.getparent(), f"{{{BPMN}}}sequenceFlow", id=f"{script_id}_out", sourceRef=script_id,
                           targetRef=target.get("id"))
    node.getparent().append(out)
    return {**files, file: etree.tostring(root, xml_declaration=True, encoding="UTF-8")}


def without(files: dict[str, bytes], file: str, element_id: str) -> dict[str, bytes]:
    """Remove a task with one incoming and one outgoing flow, joining the two flows (its diagram shapes too)."""
    root = etree.fromstring(files[file])
    node = root.find(f".//*[@id='{element_id}']")
    incoming = root.find(f".//{{{BPMN}}}sequenceFlow[@id='{node.find(f'{{{BPMN}}}incoming').text}']")
    outgoing = root.find(f".//{{{BPMN}}}sequenceFlow[@id='{node.find(f'{{{BPMN}}}outgoing').text}']")
    target = root.find(f".//*[@id='{outgoing.get('targetRef')}']")
    incoming.set("targetRef", target.get("id"))
    for ref in target.findall(f"{{{BPMN}}}incoming"):
        if ref.text == outgoing.get("id"):
            ref.text = incoming.get("id")
    gone = {element_id, outgoing.get("id")}
    doomed = [element for element in root.iter() if element is node or element is outgoing
              or element.get("bpmnElement") in gone
              or (element.tag == f"{{{BPMN}}}flowNodeRef" and element.text == element_id)]
    for element in doomed:
        element.getparent().remove(element)
    return {**files, file: etree.tostring(root, xml_declaration=True, encoding="UTF-8")}


@pytest.fixture(scope="module")
def v1() -> str:
    return compiled(bundle())


@pytest.fixture(scope="module")
def at_assignment(v1: str) -> engine.InstanceState:
    state = run_services(v1, engine.start(v1, START_DATA, NOW))
    assert [t.bpmn_id for t in state.human_tasks] == ["assign_specialist"]
    return state


@pytest.fixture(scope="module")
def at_fulfilment(v1: str, at_assignment: engine.InstanceState) -> engine.InstanceState:
    state = step(v1, at_assignment, "assign_specialist", {"specialist": "sam"})
    assert [t.bpmn_id for t in state.human_tasks] == ["fulfil_assistance_request"]
    return state


def test_an_identical_version_accepts_every_instance_and_keeps_its_open_tasks(v1, at_fulfilment):
    verdict = engine.check_migration(v1, at_fulfilment.state_json, v1)
    assert verdict.eligible and verdict.blockers == []
    assert verdict.waiting_at == ["Fulfil assistance request"]
    moved = engine.migrate_instance(v1, at_fulfilment.state_json, v1)
    assert [t.task_id for t in moved.human_tasks] == [t.task_id for t in at_fulfilment.human_tasks]


def test_an_instance_before_a_renamed_task_moves_and_then_shows_the_new_name(v1, at_assignment):
    v2 = compiled(renamed(bundle(), "assistance_request.bpmn", "fulfil_assistance_request", "Resolve the request"))
    assert engine.check_migration(v1, at_assignment.state_json, v2).eligible
    moved = engine.migrate_instance(v1, at_assignment.state_json, v2)
    assert [t.task_id for t in moved.human_tasks] == [t.task_id for t in at_assignment.human_tasks]
    later = step(v2, moved, "assign_specialist", {"specialist": "sam"})
    assert [(t.bpmn_id, t.name) for t in later.human_tasks] == [("fulfil_assistance_request", "Resolve the request")]


def test_an_instance_ready_at_the_renamed_task_is_refused_naming_the_element_its_state_and_the_change(
        v1, at_fulfilment):
    v2 = compiled(renamed(bundle(), "assistance_request.bpmn", "fulfil_assistance_request", "Resolve the request"))
    verdict = engine.check_migration(v1, at_fulfilment.state_json, v2)
    assert not verdict.eligible
    [blocker] = verdict.blockers
    assert (blocker.bpmn_id, blocker.name, blocker.change, blocker.state) == (
        "fulfil_assistance_request", "Fulfil assistance request", "changed", "ready")
    assert blocker.attributes == ("name",)
    assert verdict.reason == ("Fulfil assistance request (fulfil_assistance_request) in assistance_request is ready "
                              "and was changed in the new version (name)")
    with pytest.raises(Conflict, match="fulfil_assistance_request"):
        engine.migrate_instance(v1, at_fulfilment.state_json, v2)


def test_a_completed_task_that_was_changed_blocks_the_move(v1, at_fulfilment):
    v2 = compiled(renamed(bundle(), "assistance_request.bpmn", "assign_specialist", "Choose a specialist"))
    [blocker] = engine.check_migration(v1, at_fulfilment.state_json, v2).blockers
    assert (blocker.bpmn_id, blocker.change, blocker.state) == ("assign_specialist", "changed", "completed")


def test_a_task_added_after_a_task_not_yet_reached_runs_once_the_instance_has_moved(v1, at_assignment):
    v2 = compiled(with_script_after(bundle(), "assistance_request.bpmn", "fulfil_assistance_request", "review"))
    assert engine.check_migration(v1, at_assignment.state_json, v2).eligible
    state = engine.migrate_instance(v1, at_assignment.state_json, v2)
    state = step(v2, state, "assign_specialist", {"specialist": "sam"})
    state = step(v2, state, "fulfil_assistance_request",
                 {"resolution_notes": "done", "resolution_code": "fixed", "time_spent_hours": 1})
    assert "review" in state.path and state.data["reviewed"] is True


def test_an_instance_already_at_the_task_whose_outgoing_flow_changed_is_refused(v1, at_fulfilment):
    v2 = compiled(with_script_after(bundle(), "assistance_request.bpmn", "fulfil_assistance_request", "review"))
    [blocker] = engine.check_migration(v1, at_fulfilment.state_json, v2).blockers
    assert (blocker.bpmn_id, blocker.state, blocker.attributes) == ("fulfil_assistance_request", "ready",
                                                                    ("outgoing flows",))


def test_a_waiting_timer_keeps_its_due_time_through_the_move(v1):
    data = {**START_DATA, "request_type": "enhancement"}
    state = engine.start(v1, data, NOW)
    state = run_services(v1, step(v1, state, "draw_up_work_plan", {
        "work_plan": "x", "estimated_hours": 1, "planned_start": "2026-12-02", "planned_finish": "2026-12-03"}))
    state = step(v1, state, "fulfil_enhancement_request", {"fulfilment_notes": "n", "hours_spent": 1})
    state = step(v1, state, "test_solution", {"test_result": "pass", "test_notes": "ok"})
    state = run_services(v1, step(v1, state, "determine_chargeability", {
        "chargeable": True, "billable_hours": 2, "hourly_rate": 80, "billing_code": "PS-1"}))
    state = step(v1, state, "initiate_billing", {"service_live_date": "2027-01-15", "billing_notes": ""})
    assert state.human_tasks == [] and state.next_timer_at == datetime(2027, 1, 15, 14, tzinfo=UTC)
    v2 = compiled(renamed(bundle(), "enhancement_request.bpmn", "notify_customer_of_fulfilment",
                          "Tell the customer the RFC is done"))
    verdict = engine.check_migration(v1, state.state_json, v2)
    assert verdict.eligible and "Service live" in verdict.waiting_at
    moved = engine.migrate_instance(v1, state.state_json, v2)
    assert moved.next_timer_at == state.next_timer_at
    fired = run_services(v2, engine.fire_due_timers(v2, moved.state_json, datetime(2027, 1, 16, tzinfo=UTC)))
    assert [t.name for t in fired.human_tasks] == ["Tell the customer the RFC is done"]


def test_a_removed_task_that_already_ran_blocks_the_move_as_do_its_rewired_neighbours(v1, at_assignment):
    v2 = compiled(without(bundle(), "assistance_request.bpmn", "take_crm_case"))
    verdict = engine.check_migration(v1, at_assignment.state_json, v2)
    found = {(b.bpmn_id, b.change, b.state, b.attributes) for b in verdict.blockers}
    assert found == {("take_crm_case", "removed", "completed", ()),
                     ("assistance_started", "changed", "completed", ("outgoing flows",)),
                     ("assign_specialist", "changed", "ready", ("incoming flows",))}
    assert "Take case from CRM Pending Queue (take_crm_case) in assistance_request is completed and was removed" in \
        verdict.reason


def test_the_called_activity_a_request_is_inside_is_a_reached_element_of_the_top_process(v1, at_assignment):
    v2 = compiled(renamed(bundle(), "request_fulfillment.bpmn", "fulfil_assistance", "Handle the assistance request"))
    [blocker] = engine.check_migration(v1, at_assignment.state_json, v2).blockers
    assert (blocker.process_id, blocker.bpmn_id, blocker.state) == ("request_fulfillment", "fulfil_assistance",
                                                                     "started")


def test_changes_on_the_branch_a_request_did_not_take_do_not_block_it(v1, at_assignment):
    v2 = compiled(renamed(bundle(), "request_fulfillment.bpmn", "fulfil_enhancement", "Deliver the enhancement"))
    assert engine.check_migration(v1, at_assignment.state_json, v2).eligible


def test_a_subprocess_not_entered_yet_runs_on_the_new_version_once_reached(v1):
    state = engine.start(v1, {**START_DATA, "request_type": "enhancement", "routine": False}, NOW)
    assert [t.bpmn_id for t in state.human_tasks] == ["document_customer_need"]
    v2 = compiled(renamed(bundle(), "enhancement_request.bpmn", "draw_up_work_plan", "Plan the work"))
    assert engine.check_migration(v1, state.state_json, v2).eligible
    state = engine.migrate_instance(v1, state.state_json, v2)
    state = step(v2, state, "document_customer_need", {"customer_need": "A portal", "current_customer": True,
                                                       "new_service": False})
    state = run_services(v2, step(v2, state, "prepare_proposal", {"proposal_summary": "Portal", "estimated_cost": 10,
                                                                  "po_number": "PO-1"}))
    assert [t.bpmn_id for t in state.human_tasks] == ["wait_on_schedule"]  # on the 60 day schedule: pulled
    state = step(v2, state, "wait_on_schedule", {"pulled_by": "pete"})
    assert [(t.bpmn_id, t.name) for t in state.human_tasks] == [("draw_up_work_plan", "Plan the work")]
