"""The process owner's diagrams in Chromium against the real `rf serve`: a version's diagram shows how many running
instances wait at an element, an upload refused for an unreachable element outlines it on the diagram, and the
embedded bpmn-js modeler opens a version, saves it back through Check and deploys it as a new version."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import reload_until, screenshot, wait_for
from tests.driver import Driver

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
HOSTILE = Path(__file__).resolve().parent.parent / "data" / "hostile"
# the scale bpmn-js draws a panel's diagram at (its labels are 12 px at 1)
SCALE = "(panel) => panel.querySelector('.djs-container svg .viewport').getCTM().a"
PALETTE_OVER_LABELS = """(box) => {
  const palette = box.querySelector('.djs-palette').getBoundingClientRect();
  const labels = '.djs-element[data-element-id*="lane"] text, .djs-element[data-element-id$="participant"] text';
  return [...box.querySelectorAll(labels)]
    .map(t => t.getBoundingClientRect())
    .filter(r => r.width > 0 && r.left < palette.right && r.right > palette.left
                 && r.top < palette.bottom && r.bottom > palette.top).length }"""


@pytest.fixture
def one_request(services, clock) -> str:
    return Driver(services, clock).new("assistance")


def test_the_version_diagram_shows_where_running_instances_wait_and_stays_live(one_request, staff, services,
                                                                                   clock):
    olive = staff("olive")
    olive.goto("/processes/request_fulfillment/versions/1")
    expect(olive.locator(".rf-diagrams .djs-container").first).to_be_visible()
    badge = reload_until(olive, lambda: olive.locator(".rf-diagrams .rf-wait"))
    expect(badge.first).to_have_text("1")
    expect(olive.locator("table.waiting")).to_contain_text("1")
    screenshot(olive, "process_version.png")
    for name in ("enhancement_request.bpmn", "request_fulfillment.bpmn"):  # the widest and a narrow one
        olive.get_by_role("tab", name=re.compile(name)).click()
        panel = olive.locator(".rf-diagrams [role=tabpanel]:not([hidden])")
        expect(panel.locator(".djs-container")).to_be_visible()
        assert panel.evaluate(SCALE) >= 0.79, f"{name}: labels too small to read"

    # The counts stay live: a second request shows up on the open page without a reload.
    expect(olive.locator("#running-count")).to_have_text("1")
    second = Driver(services, clock).new("assistance")
    wait_for(lambda: Driver(services, clock).open_bpmn_ids(second) == ["assign_specialist"],
             message="the server's worker to take the second request's CRM case")
    olive.evaluate("window.RfRefreshCounts()")
    expect(olive.locator("#running-count")).to_have_text("2")
    expect(olive.locator("#live-status")).to_contain_text("Live: counted again at")
    badges = olive.locator(".rf-diagrams .rf-wait")
    expect(badges.first).to_have_text("2")
    expect(olive.locator("table.waiting tbody tr")).to_have_count(1)
    expect(olive.locator("table.waiting")).to_contain_text("2")


def test_a_refused_upload_outlines_the_offending_element_on_the_diagram(services, staff, tmp_path):
    xml = (HOSTILE / "valid_baseline.bpmn").read_text().replace(
        "</bpmn:process>", '<bpmn:task id="stray_task" name="Stray" /></bpmn:process>')
    # give the stray task a shape, so the viewer can draw it (the baseline has no diagram: add one)
    (tmp_path / "stray.bpmn").write_text(xml.replace("</bpmn:definitions>", _STRAY_DI + "</bpmn:definitions>"))
    olive = staff("olive")
    olive.goto("/processes/deploy")
    olive.get_by_label("BPMN, DMN and form files").set_input_files([tmp_path / "stray.bpmn"])
    olive.get_by_role("button", name="Check").click()
    expect(olive.get_by_role("alert")).to_contain_text("Refused: 1 error")
    row = olive.locator('tr.finding[data-element="stray_task"]')
    expect(row).to_contain_text("unreachable")
    expect(olive.locator('.rf-diagrams [data-element-id="stray_task"].rf-flag-error')).to_be_visible()
    row.click()
    screenshot(olive, "deploy_refused.png")


_STRAY_DI = """<bpmndi:BPMNDiagram xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI"
  xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" id="stray_diagram">
  <bpmndi:BPMNPlane id="stray_plane" bpmnElement="hostile_probe">
    <bpmndi:BPMNShape id="probe_started_di" bpmnElement="probe_started">
      <dc:Bounds x="100" y="100" width="36" height="36" /></bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="stray_task_di" bpmnElement="stray_task">
      <dc:Bounds x="200" y="80" width="100" height="80" /></bpmndi:BPMNShape>
  </bpmndi:BPMNPlane>
</bpmndi:BPMNDiagram>
"""


def test_the_modeler_opens_a_version_and_deploys_what_it_saves_as_a_new_version(services, staff):
    olive = staff("olive")
    olive.goto("/processes/request_fulfillment/versions/1/edit")
    expect(olive.locator(".modeler-canvas[data-ready=true]").first).to_be_visible()
    expect(olive.locator(".djs-palette").first).to_be_visible()  # the modeler, not the viewer
    expect(olive.get_by_role("tab")).to_have_count(4)
    for name in ("enhancement_request.bpmn", "assistance_request.bpmn"):
        olive.get_by_role("tab", name=name).click()
        box = olive.locator(f'.modeler-file[data-file="{name}"]')
        expect(box.locator(".djs-container")).to_be_visible()
        assert box.evaluate(PALETTE_OVER_LABELS) == 0, f"{name}: the palette covers a lane label"
        assert box.evaluate(SCALE) >= 0.69, f"{name}: labels too small to read"
    screenshot(olive, "modeler.png")

    olive.get_by_role("button", name="Check").click()
    expect(olive.get_by_role("status").first).to_contain_text("Check passed")
    expect(olive.locator(".modeler-canvas[data-ready=true]").first).to_be_visible()
    olive.get_by_role("button", name="Deploy").click()
    expect(olive).to_have_url(re.compile(r"/processes/request_fulfillment$"))
    status = olive.get_by_role("status").first
    expect(status).to_have_text(re.compile(r"Deployed request_fulfillment version 2|Identical to version 1"))


@pytest.mark.parametrize(("megabytes", "says"), [(20, "limit for a bundle is 10 MB"), (26, "Something is wrong (413)")])
def test_an_oversized_upload_to_the_live_server_gets_a_page_not_a_reset(services, staff, megabytes, says):
    olive = staff("olive")
    olive.goto("/processes/deploy")
    token = olive.locator('input[name="csrf_token"]').first.get_attribute("value")
    big = b'<?xml version="1.0"?>\n<!-- ' + b"x" * (megabytes * 1024 * 1024) + b" -->\n"
    response = olive.request.post("/processes/deploy", multipart={
        "csrf_token": token, "action": "deploy",
        "files": {"name": "huge.bpmn", "mimeType": "application/octet-stream", "buffer": big}})
    assert response.status == 413
    assert says in response.text()
