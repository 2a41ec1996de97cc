"""The modeler's properties panel in Chromium against the real `rf serve`: a process owner changes a lane's role
and a user task's form through the panel only (no XML), checks, deploys, and a new request follows the new
version; conditions are checked as they are typed and the live lint flags what the deploy check would refuse."""

from __future__ import annotations

import re

import pytest
from lxml import etree
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import screenshot
from tests.browser.test_staff_journeys import inbox, open_task
from tests.driver import Driver

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
FILE = "assistance_request.bpmn"
NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
      "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core"}


def _open(page: Page, file: str) -> Locator:
    page.goto("/processes/request_fulfillment/versions/1/edit")
    expect(page.locator(".modeler-canvas[data-ready=true]").first).to_be_visible()
    page.get_by_role("tab", name=file).click()
    box = page.locator(f'.modeler-file[data-file="{file}"]')
    expect(box.locator(".modeler-canvas[data-ready=true]")).to_be_visible()
    return box


def _select(box: Locator, element_id: str, *, x: float | None = None) -> Locator:
    """Click an element on the canvas (a lane on its label strip), scrolling the canvas to it first as a user would,
    and return the properties panel."""
    element = box.locator(f'.djs-element[data-element-id="{element_id}"]').first
    canvas = box.locator(".modeler-canvas")
    for _ in range(20):
        shape, area = element.bounding_box(), canvas.bounding_box()
        assert shape and area
        if shape["x"] + shape["width"] / 2 < area["x"] + area["width"] - 40:
            break
        canvas.hover()
        box.page.mouse.wheel(300, 0)
    if x is not None:
        element.click(position={"x": x, "y": 30})
    elif "djs-connection" in (element.get_attribute("class") or ""):
        element.locator(".djs-hit").click(force=True)
    else:
        element.click()
    panel = box.locator(".modeler-properties")
    expect(panel.locator(".bio-properties-panel-header")).to_contain_text(re.compile(".+"))
    return panel


def test_an_owner_changes_a_lanes_role_and_a_tasks_form_in_the_panel_and_new_requests_follow(services, clock,
                                                                                              staff):
    olive = staff("olive")
    box = _open(olive, FILE)

    panel = _select(box, "assistance_lane_provider_group_manager", x=15)
    role = panel.get_by_label("Role", exact=True)
    expect(role).to_have_value("Provider Group Manager")
    role.select_option("Specialist")
    expect(box.locator('[data-element-id="assistance_lane_provider_group_manager"]')).to_contain_text("Specialist")

    panel = _select(box, "assign_specialist")
    form = panel.get_by_label("Form", exact=True)
    expect(form).to_have_value("assign_specialist.schema.json")
    expect(panel.locator(".rf-form-preview")).to_contain_text("Specialist")
    form.select_option("await_customer_reply.schema.json")
    expect(panel.locator(".rf-form-preview")).to_contain_text("Customer's reply")
    screenshot(olive, "modeler_properties.png")

    olive.get_by_role("button", name="Check").click()
    expect(olive.get_by_role("status").first).to_contain_text("Check passed")
    olive.get_by_role("button", name="Deploy").click()
    expect(olive).to_have_url(re.compile(r"/processes/request_fulfillment$"))
    expect(olive.get_by_role("status").first).to_contain_text("Deployed request_fulfillment version 2")

    # A new request starts on version 2: "Assign to a specialist" is a specialist's task now, with the other form.
    number = Driver(services, clock).new("assistance")
    sam = staff("sam")
    open_task(sam, number, "Assign to a specialist")
    expect(sam.get_by_label("Customer's reply")).to_be_visible()
    expect(sam.get_by_label("Specialist", exact=True)).to_have_count(0)
    maria = staff("maria")
    inbox(maria, "available")
    expect(maria.get_by_role("main")).not_to_contain_text(number)


def test_the_panel_writes_operators_parameters_assignee_and_sla_pause_and_checks_values_as_they_are_typed(staff):
    olive = staff("olive")
    box = _open(olive, FILE)

    panel = _select(box, "take_crm_case")
    operator = panel.get_by_label("Operator", exact=True)
    expect(operator).to_have_value("crm.take_case")
    expect(panel.get_by_label(re.compile(r"^case_id \(str"))).to_have_value("crm_case_id")
    operator.select_option("crm.add_note")  # its parameters replace the old ones; a value of the same name is kept
    note = panel.get_by_label(re.compile(r"^note \(str"))
    expect(note).to_have_value("")
    expect(panel.get_by_label(re.compile(r"^case_id \(str"))).to_have_value("crm_case_id")
    expect(panel.get_by_label(re.compile(r"^provider_group"))).to_have_count(0)
    note.fill("open('x')")
    expect(panel).to_contain_text("uses open")
    note.fill("'taken for ' + request_number")
    expect(panel).to_contain_text("passes the deploy check")

    panel = _select(box, "flow_waiting_on_customer")
    condition = panel.get_by_label("Condition (a Python expression)")
    expect(condition).to_have_value('resolution_code == "awaiting_customer"')
    condition.fill("resolution_code ==")
    expect(panel).to_contain_text("refused by the restricted engine")
    condition.fill('resolution_code == "waiting"')
    expect(panel).to_contain_text("passes the deploy check")

    panel = _select(box, "await_customer_reply")
    expect(panel.get_by_label("Pauses the SLA clock (waits on the customer)")).to_be_checked()
    panel = _select(box, "fulfil_assistance_request")
    expect(panel.get_by_label("Form", exact=True)).to_be_visible()
    expect(panel.locator(".rf-form-preview label").first).to_be_visible()
    panel.get_by_label("Pauses the SLA clock (waits on the customer)").check()
    panel.get_by_label("Assignee variable").fill("assigned_specialist")

    # Live lint: a user task without a form is flagged at once, as the deploy check would refuse it.
    panel = _select(box, "assign_specialist")
    panel.get_by_label("Form", exact=True).select_option("")
    expect(box.locator(".bjsl-button")).to_contain_text("1 Error")
    panel.get_by_label("Form", exact=True).select_option("assign_specialist.schema.json")
    expect(box.locator(".bjsl-button")).to_contain_text("No Issues")

    olive.get_by_role("button", name="Check").click()
    expect(olive.get_by_role("status").first).to_contain_text("Check passed")
    saved = etree.fromstring(olive.locator(f'.modeler-file[data-file="{FILE}"] textarea.bpmn-source')
                             .input_value().encode())
    take = saved.find(".//bpmn:serviceTask[@id='take_crm_case']//spiffworkflow:serviceTaskOperator", NS)
    assert take is not None and take.get("id") == "crm.add_note" and take.get("resultVariable") == "crm_case"
    assert {p.get("id"): (p.get("type"), p.get("value")) for p in take.iterfind(".//spiffworkflow:parameter", NS)} == {
        "case_id": ("str", "crm_case_id"), "note": ("str", "'taken for ' + request_number")}
    fulfil = {p.get("name"): p.get("value") for p in saved.iterfind(
        ".//bpmn:userTask[@id='fulfil_assistance_request']//spiffworkflow:property", NS)}
    assert fulfil["slaClock"] == "paused" and fulfil["assigneeVariable"] == "assigned_specialist"
    assert saved.findtext(".//bpmn:sequenceFlow[@id='flow_waiting_on_customer']/bpmn:conditionExpression",
                          namespaces=NS) == 'resolution_code == "waiting"'


def test_a_timer_value_is_checked_for_its_kind_as_it_is_typed(staff):
    olive = staff("olive")
    box = _open(olive, "enhancement_request.bpmn")
    panel = _select(box, "wait_until_service_live")
    expect(panel.get_by_label("Timer", exact=True)).to_have_value("timeDate")
    value = panel.get_by_label("Value (ISO 8601, or an expression)")
    expect(value).to_have_value("service_live_date")
    value.fill("PT1H")
    expect(panel).to_contain_text("is an ISO 8601 duration, but this is a date timer")
    panel.get_by_label("Timer", exact=True).select_option("timeDuration")
    expect(panel).to_contain_text("passes the deploy check")


def test_the_schedule_wait_is_shown_and_set_in_the_panel_beside_the_sla_pause(staff):
    olive = staff("olive")
    box = _open(olive, "request_fulfillment.bpmn")
    panel = _select(box, "wait_on_schedule")
    # the form's preview arrives from the server after the selection; it is the group's last entry, below the
    # checkboxes, so its arrival moves nothing a click is aimed at
    expect(panel.locator(".rf-form-preview label").first).to_be_visible()
    preview_top = panel.locator(".rf-form-preview").bounding_box()["y"]
    assert preview_top > panel.get_by_label("Waits on the 60 day schedule (completed by a pull)").bounding_box()["y"]
    schedule_wait = panel.get_by_label("Waits on the 60 day schedule (completed by a pull)")
    expect(schedule_wait).to_be_checked()
    expect(panel.get_by_label("Pauses the SLA clock (waits on the customer)")).to_be_checked()
    schedule_wait.uncheck()  # it would become inbox work of the Service Provider lane

    def saved_properties() -> dict[str, str]:
        olive.get_by_role("button", name="Check").click()
        expect(olive.get_by_role("status").first).to_contain_text("Check passed")
        saved = etree.fromstring(olive.locator('.modeler-file[data-file="request_fulfillment.bpmn"] '
                                               "textarea.bpmn-source").input_value().encode())
        return {p.get("name"): p.get("value") for p in saved.iterfind(
            ".//bpmn:userTask[@id='wait_on_schedule']//spiffworkflow:property", NS)}

    assert saved_properties() == {"formJsonSchemaFilename": "wait_on_schedule.schema.json",
                                  "formUiSchemaFilename": "wait_on_schedule.uischema.json", "slaClock": "paused"}
    panel = _select(box, "wait_on_schedule")
    expect(panel.locator(".rf-form-preview label").first).to_be_visible()
    panel.get_by_label("Waits on the 60 day schedule (completed by a pull)").check()
    assert saved_properties()["waitsOn"] == "schedule"
