"""The deploy check holds each service task to its operator's parameter declaration (handlers/parameters.py, the list
the modeler's properties panel offers): an unknown operator, a missing required parameter, an unknown parameter and
a literal value of the wrong type are refused, each finding naming the task and what to change; the bundled BPMN
passes."""

from __future__ import annotations

import html
from pathlib import Path

import pytest

from app.config import PROJECT_ROOT
from app.engine.service_params import parameter_findings
from handlers.parameters import PARAMETERS
from tests.e2e.conftest import DATA
from tests.e2e.test_processes import findings_of, upload
from tests.web import WebUser

BASELINE = (DATA / "hostile" / "valid_baseline.bpmn").read_text()
MESSAGE = '<spiffworkflow:parameter id="message" type="str" value="greeting" />'
NUMBER = '<spiffworkflow:parameter id="request_number" type="str" value="request_number" />'


def with_parameters(text: str = BASELINE, *, drop: str = "", add: str = "") -> str:
    assert MESSAGE in text and NUMBER in text
    changed = text.replace(drop, "") if drop else text
    return changed.replace(NUMBER, NUMBER + add) if add else changed


def check(rf, tmp_path: Path, text: str) -> list[dict]:
    path = tmp_path / "probe.bpmn"
    path.write_text(text)
    details: list[dict] = rf.fails("check", str(path), "--json").json()["details"]
    assert all(d["element_id"] == "send_notice" and d["severity"] == "error" for d in details), details
    return details


def test_the_bundled_processes_pass_the_parameter_check(rf):
    checked = rf.ok("check", *[str(p) for p in sorted((PROJECT_ROOT / "bpmn").glob("*.bpmn"))])
    assert checked["process_id"] == "request_fulfillment" and checked["warnings"] == []


def test_the_baseline_passes_and_an_unknown_operator_is_refused(rf, tmp_path):
    path = tmp_path / "probe.bpmn"
    path.write_text(BASELINE)
    rf.ok("check", str(path))
    [unknown] = check(rf, tmp_path, BASELINE.replace('id="notify.customer"', 'id="notify.everyone"'))
    assert "service operator 'notify.everyone' has no handler" in unknown["message"]
    assert "notify.customer" in unknown["message"]  # the known ones are listed


def test_a_missing_required_parameter_is_refused_naming_it(rf, tmp_path):
    text = with_parameters(drop=MESSAGE)
    [missing] = check(rf, tmp_path, text)
    assert "service operator 'notify.customer' needs parameter 'message' (str), which is missing" in \
        missing["message"] and "add it in the properties panel" in missing["message"]
    assert missing["line"] == next(n for n, line in enumerate(text.splitlines(), 1) if 'id="send_notice"' in line)


def test_an_unknown_parameter_is_refused_naming_it(rf, tmp_path):
    [unknown] = check(rf, tmp_path, with_parameters(add='<spiffworkflow:parameter id="cc" type="str" value="x" />'))
    assert "takes no parameter 'cc': remove it or correct its name" in unknown["message"]
    assert "expects_reply (bool, optional)" in unknown["message"]


@pytest.mark.parametrize(("parameter", "says"), [
    ('<spiffworkflow:parameter id="expects_reply" type="bool" value="&quot;yes&quot;" />',
     "parameter 'expects_reply' of service operator 'notify.customer' takes True or False, but its value \"yes\" "
     "is text"),
    ('<spiffworkflow:parameter id="template" type="str" value="42" />',
     "parameter 'template' of service operator 'notify.customer' takes text, but its value 42 is a number"),
])
def test_a_literal_of_the_wrong_type_is_refused(rf, tmp_path, parameter, says):
    [wrong] = check(rf, tmp_path, with_parameters(add=parameter))
    assert says in wrong["message"] and "write " in wrong["message"]


def test_every_parameter_finding_of_a_task_is_listed_at_once_on_the_upload_page(services):
    text = with_parameters(drop=MESSAGE, add='<spiffworkflow:parameter id="cc" type="str" value="x" />'
                                             '<spiffworkflow:parameter id="expects_reply" type="bool" value="1" />')
    page = upload(WebUser(services, "olive"), [("probe.bpmn", text.encode())], "check")
    assert page.status_code == 422
    found = findings_of(page.get_data(as_text=True))
    assert {(f["element_id"], f["name"]) for f in found} == {("send_notice", "Send notice")}
    messages = html.unescape(" | ".join(f["message"] for f in found))
    assert "'message' (str), which is missing" in messages and "no parameter 'cc'" in messages
    assert "'expects_reply'" in messages and "its value 1 is a number" in messages and len(found) == 3


def test_values_read_from_the_request_or_literals_of_the_declared_type_pass():
    params = {"estimated_hours": {"value": "-2.5"}, "request_number": {"value": "request_number"},
              "title": {"value": '"Fix " + title'}, "agency": {"value": "None"}}
    rest = {p.name: {"value": p.name} for p in PARAMETERS["worklist.update_entry"] if p.name not in params}
    assert parameter_findings("worklist.update_entry", {**params, **rest}, PARAMETERS) == []
    assert parameter_findings("worklist.update_entry", {**rest, **params, "estimated_hours": {"value": "True"}},
                              PARAMETERS) != []
    assert parameter_findings("no.such", {"x": {"value": "1"}}, PARAMETERS) == []
