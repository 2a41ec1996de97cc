"""Every finding of a file in one go: where the engine's parse stops at its first refusal (a flow without a condition,
an XSD error), the check goes on and `rf check`, the upload page and the API list each problem of the file, each
naming its element, line and what to change."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.api.api_client import ApiUser, assert_problem
from tests.e2e.conftest import DATA
from tests.e2e.test_processes import findings_of, upload
from tests.web import WebUser

ECLIPSE = DATA / "eclipse_bpmn2_modeler" / "A.2.0-export.bpmn"
BARE_FLOWS = ["SequenceFlow_4", "SequenceFlow_5", "SequenceFlow_6"]
BASELINE = (DATA / "hostile" / "valid_baseline.bpmn").read_text()
GATEWAY = """<bpmn:exclusiveGateway id="choose" name="Which way">
      <bpmn:incoming>flow_5</bpmn:incoming><bpmn:outgoing>flow_left</bpmn:outgoing>
      <bpmn:outgoing>flow_right</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:endEvent id="probe_finished" name="Finished">
      <bpmn:incoming>flow_left</bpmn:incoming><bpmn:incoming>flow_right</bpmn:incoming>
    </bpmn:endEvent>
    <bpmn:sequenceFlow id="flow_left" sourceRef="choose" targetRef="probe_finished" />
    <bpmn:sequenceFlow id="flow_right" sourceRef="choose" targetRef="probe_finished" />"""


def line_of(text: str, marker: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), start=1) if marker in line)


def several_errors() -> str:
    """The baseline with four independent errors: an unknown service operator, a script that opens files, and an
    exclusive gateway whose two flows have no condition (the engine refuses the first flow and stops there)."""
    text = BASELINE.replace('id="notify.customer"', 'id="crm.delete_everything"')
    text = text.replace('greeting = "Request "', 'greeting = open("/etc/hostname").read() + "Request "')
    text = text.replace('<bpmn:sequenceFlow id="flow_5" sourceRef="send_notice" targetRef="probe_finished" />',
                        '<bpmn:sequenceFlow id="flow_5" sourceRef="send_notice" targetRef="choose" />')
    start = text.index('<bpmn:endEvent id="probe_finished"')
    end = text.index("</bpmn:endEvent>", start) + len("</bpmn:endEvent>")
    text = text[:start] + GATEWAY + text[end:]
    assert text.count("crm.delete_everything") == 1 and "open(" in text and 'targetRef="choose"' in text
    return text


def two_schema_errors() -> str:
    text = BASELINE.replace('<bpmn:userTask id="review_request" name="Review the request">',
                            '<bpmn:userTask id="review_request" name="Review the request" startQuantity="many">')
    return text.replace('<bpmn:intermediateCatchEvent id="cool_off" name="Three days later">',
                        '<bpmn:intermediateCatchEvent id="cool_off" name="Three days later" parallelMultiple="often">')


def expected_several(text: str) -> dict[str, int]:
    return {"send_notice": line_of(text, 'id="send_notice"'), "prepare_data": line_of(text, 'id="prepare_data"'),
            "flow_left": line_of(text, 'id="flow_left"'), "flow_right": line_of(text, 'id="flow_right"')}


def test_rf_check_lists_each_flow_of_an_eclipse_export_the_engine_refuses(rf):
    details = rf.fails("check", str(ECLIPSE), "--json").json()["details"]
    assert [d["element_id"] for d in details] == BARE_FLOWS
    text = ECLIPSE.read_text()
    for detail in details:
        assert detail["line"] == line_of(text, f'id="{detail["element_id"]}"')
        assert "give it a condition" in detail["message"] and detail["severity"] == "error"


def test_rf_check_lists_every_independent_error_of_a_file(rf, tmp_path: Path):
    text = several_errors()
    path = tmp_path / "several.bpmn"
    path.write_text(text)
    details = rf.fails("check", str(path), "--json").json()["details"]
    errors = {d["element_id"]: d for d in details if d["severity"] == "error"}
    assert {k: errors[k]["line"] for k in expected_several(text)} == expected_several(text), details
    assert "crm.delete_everything" in errors["send_notice"]["message"] and "has no handler" in \
        errors["send_notice"]["message"]
    assert "uses open" in errors["prepare_data"]["message"]
    assert "give it a condition" in errors["flow_left"]["message"]
    listed = rf.fails("check", str(path)).output
    assert '[send_notice] “Send notice”: service operator' in listed and "[flow_right]" in listed


def test_an_element_the_engine_cannot_run_is_listed_with_every_other_error(rf, tmp_path: Path):
    text = several_errors().replace('<bpmn:intermediateCatchEvent id="cool_off" name="Three days later">',
                                    '<bpmn:complexGateway id="cool_off" name="Three days later">')
    text = text.replace("</bpmn:intermediateCatchEvent>", "</bpmn:complexGateway>")
    start = text.index('<bpmn:timerEventDefinition id="cool_off_timer">')
    end = text.index("</bpmn:timerEventDefinition>") + len("</bpmn:timerEventDefinition>")
    text = text[:start] + text[end:]
    path = tmp_path / "unsupported.bpmn"
    path.write_text(text)
    details = rf.fails("check", str(path), "--json").json()["details"]
    first, *rest = details
    assert (first["element_id"], first["line"]) == ("cool_off", line_of(text, 'id="cool_off"'))
    assert "a complex gateway cannot be run by this engine" in first["message"]
    assert {d["element_id"] for d in rest} == set(expected_several(text)), details


def test_rf_check_lists_every_schema_error_of_a_file(rf, tmp_path: Path):
    text = two_schema_errors()
    path = tmp_path / "schema.bpmn"
    path.write_text(text)
    details = rf.fails("check", str(path), "--json").json()["details"]
    located = {(d["element_id"], d["line"]) for d in details}
    assert ("review_request", line_of(text, 'id="review_request"')) in located, details
    assert ("cool_off", line_of(text, 'id="cool_off"')) in located, details
    assert any("many" in d["message"] for d in details) and any("often" in d["message"] for d in details)


@pytest.fixture
def olive(services) -> WebUser:
    return WebUser(services, "olive")


def test_the_upload_page_and_the_api_list_every_finding_in_one_go(services, olive):
    text = several_errors()
    page = upload(olive, [("several.bpmn", text.encode())], "check")
    assert page.status_code == 422
    rows = [f for f in findings_of(page.get_data(as_text=True)) if f["severity"] == "error"]
    assert set(expected_several(text).items()) <= {(f["element_id"], int(f["line"])) for f in rows}, rows
    assert {f["element_id"]: f["name"] for f in rows}["prepare_data"] == "Prepare data"

    body = assert_problem(ApiUser(services, "olive").upload("/api/v1/processes/check",
                                                            {"several.bpmn": text.encode()}), 422)
    found = {(f["element_id"], f["line"]) for f in body["findings"] if f["severity"] == "error"}
    assert set(expected_several(text).items()) <= found, body["findings"]
    assert len(body["errors"]) >= 4
