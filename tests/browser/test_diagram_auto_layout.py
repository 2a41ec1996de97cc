"""A diagram with no diagram interchange (only the process, as files written by hand or by generators often are) is
laid out in the browser with bpmn-auto-layout on the upload page, so a refused or descriptive model can still be
seen with its findings outlined; the ES modules it needs load under the site's Content-Security-Policy."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
HOSTILE = Path(__file__).resolve().parent.parent / "data" / "hostile"


def test_a_model_without_diagram_interchange_is_laid_out_and_its_finding_outlined(staff, tmp_path):
    baseline = (HOSTILE / "valid_baseline.bpmn").read_text()
    assert "BPMNShape" not in baseline
    looped = baseline.replace('<bpmn:sequenceFlow id="flow_5" sourceRef="send_notice" targetRef="probe_finished" />',
                              '<bpmn:sequenceFlow id="flow_5" sourceRef="send_notice" targetRef="cool_off" />')
    (tmp_path / "undrawn.bpmn").write_text(looped)
    olive = staff("olive")
    errors: list[str] = []
    olive.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    olive.goto("/processes/deploy")
    olive.get_by_label("BPMN, DMN and form files").set_input_files([tmp_path / "undrawn.bpmn"])
    olive.get_by_role("button", name="Check").click()
    expect(olive.locator('tr.finding[data-element="probe_finished"]')).to_contain_text("unreachable")
    for element in ("probe_started", "review_request", "cool_off", "send_notice"):
        expect(olive.locator(f'.rf-diagrams [data-element-id="{element}"]')).to_be_visible()
    expect(olive.locator('.rf-diagrams [data-element-id="probe_finished"].rf-flag-error')).to_be_visible()
    expect(olive.locator(".rf-diagrams .diagram-status.error")).to_have_count(0)
    assert not [e for e in errors if "Content Security Policy" in e or "Refused" in e], errors
    screenshot(olive, "deploy_laid_out.png")
