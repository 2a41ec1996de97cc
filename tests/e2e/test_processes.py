"""The Processes area through the Flask test client: the process owner lists definitions and versions with their
instance counts, sees where running instances wait on a version's diagram, uploads bundles to check or deploy them
(identical content is not a new version), and edits a version in the modeler page, all through the same checks as
`rf check`; everyone else is turned away."""

from __future__ import annotations

import io
import json
import re
from typing import Any

import pytest

from app.store.models import AuditEvent, DefinitionVersion
from tests.driver import Driver
from tests.e2e.conftest import DATA, HOSTILE, count, records, snapshot
from tests.web import WebUser

DIAGRAMS = re.compile(r'<script type="application/json" id="rf-diagrams-data">(.*?)</script>', re.S)


def upload(user: WebUser, files: list[tuple[str, bytes]], action: str = "deploy") -> Any:
    data = {"csrf_token": user.token, "action": action, "files": [(io.BytesIO(b), name) for name, b in files]}
    return user.client.post("/processes/deploy", data=data, content_type="multipart/form-data")


def diagrams_of(page: str) -> list[dict[str, Any]]:
    found = DIAGRAMS.search(page)
    assert found, "the page carries no diagram data"
    loaded: list[dict[str, Any]] = json.loads(found.group(1))
    return loaded


def findings_of(page: str) -> list[dict[str, str]]:
    rows = []
    for row in re.findall(r'<tr class="finding (\w+)" data-file="([^"]*)" data-element="([^"]*)">(.*?)</tr>', page,
                          re.S):
        cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row[3], re.S)]
        rows.append({"severity": row[0], "file": row[1], "element_id": row[2], "name": cells[3], "line": cells[4],
                     "message": cells[5]})
    return rows


@pytest.fixture
def olive(services) -> WebUser:
    return WebUser(services, "olive")


def test_only_process_owners_and_administrators_see_the_processes_area(services):
    maria = WebUser(services, "maria")
    assert ">Processes</a>" not in maria.get("/requests").get_data(as_text=True)
    for path in ("/processes", "/processes/request_fulfillment", "/processes/request_fulfillment/versions/1",
                 "/processes/deploy", "/processes/request_fulfillment/versions/1/edit"):
        assert maria.get(path).status_code == 403, path
    before = snapshot(services)
    refused = maria.client.post("/processes/deploy", data={
        "csrf_token": maria.token, "action": "deploy",
        "files": [(io.BytesIO((HOSTILE / "valid_baseline.bpmn").read_bytes()), "valid_baseline.bpmn")]},
        content_type="multipart/form-data")
    assert refused.status_code == 403
    assert snapshot(services) == before
    for name in ("olive", "adam"):
        page = WebUser(services, name).get("/processes")
        assert page.status_code == 200 and ">Processes</a>" in page.get_data(as_text=True)


def test_the_process_list_links_each_process_to_its_versions(olive):
    page = olive.get("/processes").get_data(as_text=True)
    assert 'href="/processes/request_fulfillment"' in page
    assert "Request Fulfillment" in page or "request_fulfillment" in page


def test_the_versions_table_counts_running_and_finished_instances_and_links_each_version(services, clock, olive):
    driver = Driver(services, clock)
    driver.new("assistance")
    driver.new("assistance")
    driver.work()
    page = olive.get("/processes/request_fulfillment").get_data(as_text=True)
    row = re.search(r'<tr data-version="1">(.*?)</tr>', page, re.S)
    assert row, page
    cells = [re.sub(r"<[^>]+>", " ", c).split() for c in re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)]
    [version] = records(services, DefinitionVersion, DefinitionVersion.process_id == "request_fulfillment")
    assert cells[1] == [version.sha256[:12]] and cells[2] == ["test"] and cells[4] == ["2"] and cells[5] == ["0"]
    assert 'href="/processes/request_fulfillment/versions/1"' in row.group(1)
    assert 'href="/processes/request_fulfillment/versions/1/edit">Edit in modeler<' in row.group(1)
    assert 'href="/processes/request_fulfillment/versions/1/migrate">Migrate instances…<' in row.group(1)


def test_the_version_diagram_counts_the_instances_waiting_at_each_element_now(services, clock, olive):
    driver = Driver(services, clock)
    at_task = driver.new("assistance")
    driver.work()
    at_service = driver.new("assistance")  # the worker has not run since: it waits at a service task
    driver.new("assistance")  # a third one, also at the service task
    shown = driver.show(at_task)
    [human] = shown["open_tasks"]
    [service] = driver.show(at_service)["pending_services"]
    page = olive.get("/processes/request_fulfillment/versions/1").get_data(as_text=True)
    by_file = {d["file"]: d for d in diagrams_of(page)}
    counts = {k: v for d in by_file.values() for k, v in d["counts"].items()}
    assert counts[human["bpmn_id"]] == 1
    assert counts[service["bpmn_id"]] == 2
    main = by_file["request_fulfillment.bpmn"]
    assert main["main"] and sum(main["counts"].values()) == 3  # the call activity counts what waits inside it
    assert f'<tr data-element="{human["bpmn_id"]}">' in page


def test_uploading_a_valid_bundle_deploys_it_once_and_identical_content_is_not_a_new_version(services, olive):
    baseline = (HOSTILE / "valid_baseline.bpmn").read_bytes()
    checked = upload(olive, [("valid_baseline.bpmn", baseline)], "check")
    assert checked.status_code == 200 and "Check passed" in checked.get_data(as_text=True)
    assert count(services, DefinitionVersion, DefinitionVersion.process_id == "hostile_probe") == 0

    deployed = upload(olive, [("valid_baseline.bpmn", baseline)])
    assert deployed.status_code == 303 and deployed.headers["Location"].endswith("/processes/hostile_probe")
    page = olive.get("/processes/hostile_probe").get_data(as_text=True)
    assert "Deployed hostile_probe version 1" in page and '<tr data-version="1">' in page
    [event] = records(services, AuditEvent, AuditEvent.event_type == "definition_deployed", AuditEvent.actor == "olive")
    assert event.payload["process_id"] == "hostile_probe" and event.payload["version"] == 1

    events = count(services, AuditEvent)
    again = upload(olive, [("valid_baseline.bpmn", baseline)])
    assert again.status_code == 303
    assert "Identical to version 1; nothing deployed" in olive.get("/processes/hostile_probe").get_data(as_text=True)
    assert count(services, DefinitionVersion, DefinitionVersion.process_id == "hostile_probe") == 1
    assert count(services, AuditEvent) == events


def test_a_refused_upload_lists_each_finding_and_highlights_its_element(services, olive):
    before = snapshot(services)
    path = DATA / "camunda_modeler" / "loanApproval.bpmn"
    refused = upload(olive, [(path.name, path.read_bytes())])
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    found = findings_of(page)
    assert {(f["severity"], f["file"], f["element_id"], f["name"], f["line"]) for f in found} == \
        {("error", "loanApproval.bpmn", "UserTask_1", "Approve Request", "11")}
    assert sorted(f["message"] for f in found) == [
        "user task is in no lane, so nobody could act on it",
        "user task names no form (spiffworkflow property formJsonSchemaFilename)"]
    [diagram] = diagrams_of(page)
    assert diagram["file"] == "loanApproval.bpmn" and diagram["flagged"] == {"UserTask_1": "error"}
    assert snapshot(services) == before


def test_a_warning_does_not_block_the_deploy_and_is_shown(services, olive):
    xml = (HOSTILE / "valid_baseline.bpmn").read_text()
    xml = xml.replace('<bpmn:sequenceFlow id="flow_2" sourceRef="prepare_data" targetRef="review_request" />',
                      '<bpmn:sequenceFlow id="flow_2" sourceRef="prepare_data" targetRef="choose" />\n'
                      '    <bpmn:exclusiveGateway id="choose" name="Which way?" />\n'
                      '    <bpmn:sequenceFlow id="flow_2a" sourceRef="choose" targetRef="review_request">'
                      '<bpmn:conditionExpression>len(title) &gt; 3</bpmn:conditionExpression></bpmn:sequenceFlow>\n'
                      '    <bpmn:sequenceFlow id="flow_2b" sourceRef="choose" targetRef="review_request">'
                      '<bpmn:conditionExpression>len(title) &lt;= 3</bpmn:conditionExpression></bpmn:sequenceFlow>')
    xml = xml.replace("<bpmn:flowNodeRef>prepare_data</bpmn:flowNodeRef>",
                      "<bpmn:flowNodeRef>prepare_data</bpmn:flowNodeRef><bpmn:flowNodeRef>choose</bpmn:flowNodeRef>")
    checked = upload(olive, [("with_gateway.bpmn", xml.encode())], "check")
    page = checked.get_data(as_text=True)
    assert checked.status_code == 200 and "Check passed" in page, page[-3000:]
    [warning] = findings_of(page)
    assert (warning["severity"], warning["element_id"], warning["name"]) == ("warning", "choose", "Which way?")
    assert "no default flow" in warning["message"]
    deployed = upload(olive, [("with_gateway.bpmn", xml.encode())])
    assert deployed.status_code == 303
    page = olive.get("/processes/hostile_probe").get_data(as_text=True)
    assert "Deployed hostile_probe version 1" in page and "1 warning(s)" in page and "no default flow" in page


def modeler_sources(page: str) -> dict[str, str]:
    import html

    found = re.findall(r'<textarea id="[^"]+" class="bpmn-source" name="bpmn:([^"]+)"[^>]*>\n(.*?)</textarea>', page,
                       re.S)
    return {name: html.unescape(text) for name, text in found}


def test_the_modeler_page_opens_every_bpmn_file_of_a_version(services, olive):
    page = olive.get("/processes/request_fulfillment/versions/1/edit").get_data(as_text=True)
    sources = modeler_sources(page)
    [version] = records(services, DefinitionVersion, DefinitionVersion.process_id == "request_fulfillment")
    assert sources == {n: t for n, t in version.files.items() if n.endswith(".bpmn")}
    assert 'name="csrf_token"' in page and "/vendor/modeler/modeler.js" in page
    assert ">Check</button>" in page and ">Deploy</button>" in page


def edit(user: WebUser, files: dict[str, str], action: str, version: int = 1) -> Any:
    data: dict[str, Any] = {"csrf_token": user.token, "action": action}
    data.update({f"bpmn:{name}": text for name, text in files.items()})
    return user.client.post(f"/processes/request_fulfillment/versions/{version}/edit", data=data,
                            content_type="multipart/form-data")


def test_deploying_an_edited_version_makes_a_new_version_with_the_other_files(services, olive):
    sources = modeler_sources(olive.get("/processes/request_fulfillment/versions/1/edit").get_data(as_text=True))
    unchanged = edit(olive, sources, "deploy")
    assert unchanged.status_code == 303
    assert "Identical to version 1; nothing deployed" in olive.get("/processes/request_fulfillment").get_data(
        as_text=True)

    name = "assistance_request.bpmn"
    edited = dict(sources)
    edited[name] = re.sub(r'(<bpmn:process id="assistance_request"[^>]*name=")[^"]*"', r'\1Assistance (edited)"',
                          sources[name], count=1)
    assert edited[name] != sources[name]
    checked = edit(olive, edited, "check")
    assert checked.status_code == 200 and "Check passed" in checked.get_data(as_text=True)
    assert count(services, DefinitionVersion, DefinitionVersion.process_id == "request_fulfillment") == 1

    deployed = edit(olive, edited, "deploy")
    assert deployed.status_code == 303
    page = olive.get("/processes/request_fulfillment").get_data(as_text=True)
    assert "Deployed request_fulfillment version 2" in page
    assert page.index('<tr data-version="2">') < page.index('<tr data-version="1">')
    v1, v2 = sorted(records(services, DefinitionVersion, DefinitionVersion.process_id == "request_fulfillment"),
                    key=lambda v: v.version)
    assert v2.files[name] == edited[name] and v2.deployed_by == "olive"
    assert set(v2.files) == set(v1.files)  # the DMN tables and forms came along


def test_an_edit_with_errors_is_refused_with_findings_and_keeps_the_edited_xml(services, olive):
    sources = modeler_sources(olive.get("/processes/request_fulfillment/versions/1/edit").get_data(as_text=True))
    name = "assistance_request.bpmn"
    broken = dict(sources)
    broken[name] = sources[name].replace("</bpmn:process>", '<bpmn:task id="stray_task" name="Stray" />'
                                                            "</bpmn:process>", 1)
    before = snapshot(services)
    refused = edit(olive, broken, "deploy")
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    [finding] = findings_of(page)
    assert (finding["file"], finding["element_id"], finding["name"]) == (name, "stray_task", "Stray")
    assert "unreachable" in finding["message"]
    assert modeler_sources(page)[name] == broken[name]
    assert '"stray_task": "error"' in page
    assert snapshot(services) == before


def test_an_edit_naming_a_file_the_version_does_not_have_is_refused(services, olive):
    before = snapshot(services)
    refused = edit(olive, {"other.bpmn": (HOSTILE / "valid_baseline.bpmn").read_text()}, "deploy")
    assert refused.status_code == 422 and "is not a BPMN file of request_fulfillment version 1" in \
        refused.get_data(as_text=True)
    assert snapshot(services) == before


def test_unknown_processes_and_versions_are_not_found(olive):
    assert olive.get("/processes/no_such_process").status_code == 404
    assert olive.get("/processes/request_fulfillment/versions/9").status_code == 404
    assert olive.get("/processes/request_fulfillment/versions/9/edit").status_code == 404


REAL_FILES = [("camunda_modeler/loanApproval.bpmn", 422), ("spiffarena/basic-user-task.bpmn", 422),
              ("spiffarena/service_task.bpmn", 422), ("spiffarena/read_etc_passwd.bpmn", 422),
              ("spiffarena/basic_script_task.bpmn", 303)]


@pytest.mark.parametrize(("file", "status"), REAL_FILES, ids=[f for f, _ in REAL_FILES])
def test_diagrams_from_other_modelers_are_deployed_or_refused_with_findings_on_the_upload_page(services, olive,
                                                                                                file, status):
    path = DATA / file
    response = upload(olive, [(path.name, path.read_bytes())])
    assert response.status_code == status
    if status == 422:
        found = findings_of(response.get_data(as_text=True))
        assert found and all(f["file"] == path.name and f["element_id"] and f["line"] for f in found)
    else:
        assert "Deployed Process_Script_Task version 1" in olive.get(response.headers["Location"]).get_data(
            as_text=True)


def test_rf_check_reports_the_same_findings_as_the_upload_page(rf, olive, tmp_path):
    path = DATA / "camunda_modeler" / "loanApproval.bpmn"
    page = findings_of(upload(olive, [(path.name, path.read_bytes())], "check").get_data(as_text=True))
    refused = rf.fails("check", str(path), "--json").json()["details"]
    assert sorted((p["severity"], p["file"], p["element_id"], str(p["line"]), p["message"]) for p in refused) == \
        sorted((f["severity"], f["file"], f["element_id"], f["line"], f["message"]) for f in page)
    baseline = (HOSTILE / "valid_baseline.bpmn").read_text()
    looped = baseline.replace('<bpmn:sequenceFlow id="flow_5" sourceRef="send_notice" targetRef="probe_finished" />',
                              '<bpmn:sequenceFlow id="flow_5" sourceRef="send_notice" targetRef="cool_off" />')
    (tmp_path / "looped.bpmn").write_text(looped)
    human = rf.fails("check", str(tmp_path / "looped.bpmn"))
    assert "error: looped.bpmn:" in human.stderr and "[cool_off] “Three days later”: unbounded loop" in human.stderr
    assert "[probe_finished] “Finished”: unreachable" in human.stderr


def test_the_version_diagram_counts_an_instance_waiting_at_a_timer(services, clock, olive):
    driver = Driver(services, clock)
    number = driver.new("enhancement", provider_group="apps")
    driver.complete(number, "draw_up_work_plan", "pete",
                    {"work_plan": "Build it", "estimated_hours": 8, "planned_start": "2026-12-02",
                     "planned_finish": "2026-12-11"})
    driver.work()
    driver.complete(number, "fulfil_enhancement_request", "pete", {"fulfilment_notes": "Built", "hours_spent": 8})
    driver.complete(number, "test_solution", "pete", {"test_result": "pass", "test_notes": "All good"})
    driver.complete(number, "determine_chargeability", "pete",
                    {"chargeable": True, "billable_hours": 8, "hourly_rate": 85, "billing_code": "PS-628"})
    driver.work()
    driver.complete(number, "initiate_billing", "carla",
                    {"billing_notes": "Bill Q1", "service_live_date": "2027-01-15"})
    driver.work()
    assert driver.show(number)["open_tasks"] == [] and driver.show(number)["instance"]["next_timer_at"]
    page = olive.get("/processes/request_fulfillment/versions/1").get_data(as_text=True)
    by_file = {d["file"]: d for d in diagrams_of(page)}
    assert by_file["enhancement_request.bpmn"]["counts"] == {"wait_until_service_live": 1}
    assert by_file["request_fulfillment.bpmn"]["counts"] == {"fulfil_enhancement": 1}
    assert '<tr data-element="wait_until_service_live">' in page


def test_the_waiting_counts_are_served_as_json_for_the_live_diagram(services, clock, olive):
    driver = Driver(services, clock)
    first = driver.new("assistance")
    url = "/processes/request_fulfillment/versions/1/waiting.json"
    before = olive.get(url).get_json()
    assert before["running"] == 1 and "xml" not in before["diagrams"][0]
    counts = {k: v for d in before["diagrams"] for k, v in d["counts"].items()}
    assert counts["take_crm_case"] == 1
    driver.work()
    driver.new("assistance")
    after = olive.get(url).get_json()
    counts = {k: v for d in after["diagrams"] for k, v in d["counts"].items()}
    assert after["running"] == 2 and counts["take_crm_case"] == 1 and counts["assign_specialist"] == 1
    assert driver.show(first)["open_tasks"][0]["bpmn_id"] == "assign_specialist"
    assert WebUser(services, "maria").get(url).status_code == 403
    assert olive.get("/processes/request_fulfillment/versions/9/waiting.json").status_code == 404
