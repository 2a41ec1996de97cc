"""The modeler's properties panel in Chromium against the real `rf serve`: a process owner changes a lane's role
and a user task's form through the panel only (no XML), checks, deploys, and a new request follows the new
version; conditions are checked as they are typed and the live lint flags what the deploy check would refuse."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import screenshot
from tests.browser.test_staff_journeys import inbox, open_task
from tests.driver import Driver

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
FILE = "assistance_request.bpmn"


def _open(page: Page, file: str) -> Locator:
    page.goto("/processes/request_fulfillment/versions/1/edit")
    expect(page.locator(".modeler-canvas[data-ready=true]").first).to_be_visible()
    page.get_by_role("tab", name=file).click()
    box = page.locator(f'.modeler-file[data-file="{file}"]')
    expect(box.locator(".modeler-canvas[data-ready=true]")).to_be_visible()
    return box


def _select(box: Locator, element_id: str, *, x: float | None = None) -> Locator:
    """Click an element on the canvas (a lane on its label strip) and return the properties panel."""
    shape = box.locator(f'.djs-element.djs-shape[data-element-id="{element_id}"], '
                        f'.djs-element.djs-connection[data-element-id="{element_id}"]').first
    if x is None:
        shape.click()
    else:
        shape.click(position={"x": x, "y": 30})
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


def test_the_panel_checks_a_condition_as_it_is_typed_and_lint_flags_an_unknown_operator(staff):
    olive = staff("olive")
    box = _open(olive, FILE)
    flow = box.locator(".djs-connection").filter(has=olive.locator("xpath=.")).first
    del flow
    panel = _select(box, "take_crm_case")
    operator = panel.get_by_label("Operator", exact=True)
    expect(operator).to_have_value("crm.take_case")
    expect(panel.get_by_label(re.compile(r"^case_id \(str"))).to_have_value("crm_case_id")
    operator.select_option("crm.add_note")
    expect(panel.get_by_label(re.compile(r"^note \(str"))).to_have_value("")
    expect(panel.get_by_label(re.compile(r"^case_id \(str"))).to_have_value("crm_case_id")
    note = panel.get_by_label(re.compile(r"^note \(str"))
    note.fill("open('x')")
    expect(panel).to_contain_text("uses open")
    note.fill("'taken ' + request_number")
    expect(panel).to_contain_text("passes the deploy check")
