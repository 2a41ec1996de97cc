"""BPMN files exported by real modelling tools (Camunda Modeler, SpiffArena, Signavio, Yaoqiang, ARIS, Activiti,
Eclipse BPMN2 Modeler), checked in byte for byte under tests/data/<tool>/ with their source and licence beside them.
Each deploys, or is refused with findings that name the element (id and line) and say what to change in the modeler;
none crashes: `rf check` exits 0 or 2 without a traceback, and the upload page answers 303 or 422, never 500."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.e2e.conftest import DATA
from tests.e2e.test_processes import diagrams_of, findings_of, upload
from tests.web import WebUser

NOT_TOOLS = {"hostile", "xes"}
EXPORTS = sorted(p for p in DATA.glob("*/*.bpmn") if p.parent.name not in NOT_TOOLS)
NO_PROCESS = "no process with anything in it"


def line_of(path: Path, marker: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), start=1) if marker in line)


@pytest.fixture
def olive(services) -> WebUser:
    return WebUser(services, "olive")


def test_exports_from_at_least_five_tools_are_checked_in_with_their_source_and_licence():
    tools = sorted({p.parent.name for p in EXPORTS})
    assert len(tools) >= 7, tools
    for tool in tools:
        readme = (DATA / tool / "README.md").read_text()
        assert "github.com/" in readme and re.search(r"[Ll]icen[cs]e", readme), tool
        for path in (DATA / tool).glob("*.bpmn"):
            assert path.name in readme and path.stat().st_size < 200_000


@pytest.mark.parametrize("path", EXPORTS, ids=[f"{p.parent.name}/{p.name}" for p in EXPORTS])
def test_rf_check_deploys_or_names_each_element_to_change_for_every_export(rf, path):
    outcome = rf("check", str(path), "--json")
    assert outcome.exit_code in (0, 2) and "Traceback" not in outcome.output, str(outcome)
    if outcome.exit_code == 0:
        return
    details = outcome.json()["details"]
    assert details
    for problem in details:
        assert problem["file"] == path.name and "{http" not in problem["message"]
        if not problem["message"].startswith(NO_PROCESS):
            assert problem["element_id"] and problem["line"], problem


@pytest.mark.parametrize("path", EXPORTS, ids=[f"{p.parent.name}/{p.name}" for p in EXPORTS])
def test_the_upload_page_deploys_or_lists_findings_for_every_export(olive, path):
    response = upload(olive, [(path.name, path.read_bytes())], "check")
    assert response.status_code in (200, 303, 422), response.status_code
    if response.status_code == 422:
        found = findings_of(response.get_data(as_text=True))
        assert found
        for finding in found:
            assert finding["message"].startswith(NO_PROCESS) or (finding["element_id"] and finding["line"]), finding


@pytest.mark.parametrize(("file", "element", "marker", "says"), [
    ("signavio/A.1.0-export.bpmn", "sid-a3607ae4-4a35-4418-84eb-a9dc835c8de5", "<process id=",
     "is marked not executable (isExecutable=\"false\"): tick Executable"),
    ("aris/A.1.0-export.bpmn", "PROCESS_055e9200-3bda-11e3-3329-080027000095", "<semantic:process id=",
     "process 'A.1.0' (PROCESS_055e9200-3bda-11e3-3329-080027000095) is marked not executable"),
    ("eclipse_bpmn2_modeler/A.2.0-export.bpmn", "SequenceFlow_4", 'id="SequenceFlow_4"',
     "leaves an exclusive gateway without a condition and is not the gateway's default flow: give it a condition"),
])
def test_a_descriptive_export_is_refused_at_the_element_to_change(rf, file, element, marker, says):
    path = DATA / file
    problem, *others = rf.fails("check", str(path), "--json").json()["details"]
    assert (problem["element_id"], problem["line"]) == (element, line_of(path, marker))
    assert [p["element_id"] for p in others] == (["SequenceFlow_5", "SequenceFlow_6"] if "eclipse" in file else [])
    assert says in problem["message"]


def test_a_yaoqiang_export_of_plain_tasks_deploys(rf):
    checked = rf.ok("check", str(DATA / "yaoqiang" / "A.1.0-export.bpmn"))
    assert (checked["process_id"], checked["warnings"]) == ("PROCESS_1", [])


def test_an_activiti_export_without_a_process_says_so(rf):
    [problem] = rf.fails("check", str(DATA / "activiti" / "A.4.0-export.bpmn"), "--json").json()["details"]
    assert problem["message"].startswith(NO_PROCESS)


def test_an_upload_without_diagram_interchange_is_marked_for_layout_in_the_browser(olive):
    drawn = DATA / "yaoqiang" / "A.1.0-export.bpmn"
    undrawn = DATA / "hostile" / "valid_baseline.bpmn"
    page = upload(olive, [(p.name, p.read_bytes()) for p in (drawn, undrawn)], "check").get_data(as_text=True)
    assert {d["file"]: d["layout"] for d in diagrams_of(page)} == \
        {"A.1.0-export.bpmn": False, "valid_baseline.bpmn": True}
    assert 'data-auto-layout="/vendor/esm/bpmn-auto-layout/index.js"' in page


def test_the_layout_modules_are_served_with_their_imports_pointing_at_each_other(olive):
    layout = olive.client.get("/vendor/esm/bpmn-auto-layout/index.js")
    assert layout.status_code == 200 and layout.mimetype == "text/javascript"
    text = layout.get_data(as_text=True)
    assert "from '../bpmn-moddle/index.js'" in text and "from '../min-dash/index.js'" in text
    assert "export { layoutProcess }" in text
    moddle = olive.client.get("/vendor/esm/moddle-xml/index.js").get_data(as_text=True)
    assert "from '../saxen/index.js'" in moddle and "from 'saxen'" not in moddle
    assert olive.client.get("/vendor/esm/left-pad/index.js").status_code == 404
    assert olive.client.get("/vendor/esm/..%2Fbpmn-js/index.js").status_code == 404
