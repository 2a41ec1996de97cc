"""A version whose BPMN has no diagram interchange (only the process, as files written by hand or by generators
often are) opens laid out in the embedded modeler (bpmn-auto-layout, in the modeler's bundle), so a process owner can
edit it and deploy it; the new version carries the layout. And the modeler's live lint holds a service task's
parameters to the same declaration as the server's deploy check."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from app.services.definitions import deploy as definitions
from app.services.definitions import versions
from tests.browser.conftest import screenshot

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
BASELINE = Path(__file__).resolve().parent.parent / "data" / "hostile" / "valid_baseline.bpmn"


def test_a_version_without_diagram_interchange_opens_laid_out_and_deploys_with_its_layout(services, staff):
    text = BASELINE.read_text()
    assert "BPMNShape" not in text
    deployed = definitions.deploy(services, {"probe.bpmn": text.encode()}, "olive")
    assert (deployed.process_id, deployed.version) == ("hostile_probe", 1)
    olive = staff("olive")
    errors: list[str] = []
    olive.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    olive.goto("/processes/hostile_probe/versions/1/edit")
    canvas = olive.locator(".modeler-canvas[data-ready=true]")
    expect(canvas).to_be_visible()
    expect(canvas).to_have_attribute("data-laid-out", "true")
    expect(olive.get_by_role("status").first).to_contain_text("laid out automatically")
    for element in ("probe_started", "prepare_data", "review_request", "cool_off", "send_notice", "probe_finished"):
        expect(canvas.locator(f'.djs-element.djs-shape[data-element-id="{element}"]')).to_be_visible()
    expect(canvas.locator('.djs-element.djs-connection[data-element-id="flow_3"]')).to_be_attached()
    expect(olive.locator(".modeler-canvas .diagram-status.error")).to_have_count(0)
    expect(olive.locator(".djs-palette")).to_be_visible()  # the modeler: it can be edited
    canvas.locator('.djs-element[data-element-id="review_request"]').click()
    expect(olive.locator(".modeler-properties")).to_contain_text("Review the request")
    screenshot(olive, "modeler_laid_out.png")

    olive.get_by_role("button", name="Deploy").click()
    expect(olive).to_have_url(re.compile(r"/processes/hostile_probe$"))
    expect(olive.get_by_role("status").first).to_contain_text("Deployed hostile_probe version 2")
    _, saved = versions.version_bpmn(services, olive_identity(services), "hostile_probe", 2)
    assert saved.count("BPMNShape") >= 6 and 'bpmnElement="review_request"' in saved
    assert "<bpmn:lane " in saved and "<bpmn:flowNodeRef>review_request</bpmn:flowNodeRef>" in saved  # lanes kept
    assert not [e for e in errors if "Content Security Policy" in e or "Refused" in e], errors


def olive_identity(services):
    from app.services.admin.auth import authenticate

    return authenticate(services, "olive", "demo")


def test_the_live_lint_flags_a_service_tasks_parameters_as_the_deploy_check_would(staff):
    olive = staff("olive")
    olive.goto("/processes/request_fulfillment/versions/1/edit")
    olive.get_by_role("tab", name="assistance_request.bpmn").click()
    box = olive.locator('.modeler-file[data-file="assistance_request.bpmn"]')
    expect(box.locator(".modeler-canvas[data-ready=true]")).to_be_visible()
    expect(box.locator(".bjsl-button")).to_contain_text("No Issues")
    box.locator('.djs-element[data-element-id="take_crm_case"]').first.click()
    case_id = box.locator(".modeler-properties").get_by_label(re.compile(r"^case_id \(str"))
    expect(case_id).to_have_value("crm_case_id")
    case_id.fill("")
    case_id.press("Tab")
    expect(box.locator(".bjsl-button")).to_contain_text("1 Error")  # a required parameter without a value
    case_id.fill("42")
    case_id.press("Tab")
    expect(box.locator(".bjsl-button")).to_contain_text("1 Error")  # text expected, a number given
    olive.get_by_role("button", name="Check").click()
    expect(olive.get_by_role("alert")).to_contain_text("Refused: 1 error")
    expect(olive.locator('tr.finding[data-element="take_crm_case"]')).to_contain_text(
        "parameter 'case_id' of service operator 'crm.take_case' takes text, but its value 42 is a number")
    box = olive.locator('.modeler-file[data-file="assistance_request.bpmn"]')
    olive.get_by_role("tab", name=re.compile("assistance_request.bpmn")).click()
    expect(box.locator(".modeler-canvas[data-ready=true]")).to_be_visible()
    box.locator('.djs-element[data-element-id="take_crm_case"]').first.click()
    case_id = box.locator(".modeler-properties").get_by_label(re.compile(r"^case_id \(str"))
    case_id.fill("crm_case_id")
    case_id.press("Tab")
    expect(box.locator(".bjsl-button")).to_contain_text("No Issues")
