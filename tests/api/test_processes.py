"""`/api/v1/processes`: the process owner's definitions through bearer tokens. Deploying creates a version (in the
list and in the database), making an older version current changes what new requests start on, hostile and broken
uploads are refused as problem details with each problem named and nothing stored, non-owners change nothing, and an
`Idempotency-Key` replays a deploy instead of repeating it."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from app.config import PROJECT_ROOT
from app.store.models import AuditEvent, DefinitionVersion, ProcessInstance, ServiceRequest
from tests.api.api_client import ApiUser, assert_problem, stored
from tests.driver import Driver
from tests.e2e.conftest import DATA, HOSTILE, count
from tests.integration.test_migration import changed_bundle

BASE = "/api/v1/processes"
V1 = f"{BASE}/request_fulfillment/versions/1"


def bundled() -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (PROJECT_ROOT / "bpmn").glob("*.bpmn")}


@pytest.fixture
def olive(services) -> ApiUser:
    return ApiUser(services, "olive")


@pytest.fixture
def drive(services, clock) -> Driver:
    return Driver(services, clock)


def version_of(services, number: str) -> int:
    with services.uow() as uow:
        return int(uow.session.scalar(select(DefinitionVersion.version).join(
            ProcessInstance, ProcessInstance.definition_version_id == DefinitionVersion.id).join(
            ServiceRequest, ServiceRequest.id == ProcessInstance.request_id).where(ServiceRequest.number == number)))


def test_the_processes_their_versions_and_where_instances_wait(services, olive, drive):
    number = drive.new("assistance")
    drive.work()
    listed = olive.get(BASE)
    assert listed.status_code == 200, listed.get_json()
    [process] = [p for p in listed.get_json()["items"] if p["process_id"] == "request_fulfillment"]
    assert (process["versions"], process["latest"], process["current"], process["running"]) == (1, 1, 1, 1)

    versions = olive.get(f"{BASE}/request_fulfillment/versions").get_json()
    assert versions["current"] == 1 and [v["version"] for v in versions["versions"]] == [1]
    assert versions["versions"][0]["current"] is True and "assistance_request.bpmn" in versions["versions"][0]["files"]

    detail = olive.get(V1).get_json()
    assert detail["running"] == 1 and detail["sha256"] == versions["versions"][0]["sha256"]
    waiting = {(w["file"], w["element_id"]): w["waiting"] for w in detail["waiting"]}
    assert waiting[("assistance_request.bpmn", "assign_specialist")] == 1, (number, detail["waiting"])
    main = next(d for d in detail["diagrams"] if d["main"])
    assert main["file"] == "request_fulfillment.bpmn" and sum(main["counts"].values()) >= 1
    assert main["bpmn"] == f"{V1}/bpmn?file=request_fulfillment.bpmn"
    assert all(f.endswith(".json") for f in detail["forms"]) and detail["forms"]


def test_the_bpmn_of_a_version_is_xml(services, olive):
    main = olive.get(f"{V1}/bpmn")
    assert main.status_code == 200 and main.mimetype == "application/xml"
    assert 'id="request_fulfillment"' in main.get_data(as_text=True)
    other = olive.get(f"{V1}/bpmn?file=assistance_request.bpmn")
    assert other.status_code == 200 and other.get_data() == (PROJECT_ROOT / "bpmn" / "assistance_request.bpmn") \
        .read_bytes()
    assert_problem(olive.get(f"{V1}/bpmn?file=nothing.bpmn"), 404)
    assert_problem(olive.get(f"{BASE}/request_fulfillment/versions/7/bpmn"), 404)
    assert_problem(olive.get(f"{BASE}/no_such_process/versions"), 404)


@pytest.mark.parametrize("path", [f"{BASE}/request_fulfillment/versions/0", f"{BASE}/request_fulfillment/versions/x",
                                  f"{BASE}/request_fulfillment/versions/99999999999999999999",
                                  f"{BASE}/{'p' * 201}/versions", f"{BASE}/bad%20id/versions",
                                  f"{V1}/bpmn?file={'f' * 201}"])
def test_junk_in_the_path_or_query_is_a_422_problem(services, olive, path):
    body = assert_problem(olive.get(path), 422)
    assert body["errors"] and all(e["field"] and e["message"] for e in body["errors"])


def test_checking_a_bundle_reports_its_warnings_and_stores_nothing(services, olive):
    before = stored(services)
    checked = olive.upload(f"{BASE}/check", changed_bundle())
    assert checked.status_code == 200, checked.get_json()
    assert checked.get_json()["process_id"] == "request_fulfillment"
    assert all(f["severity"] != "error" for f in checked.get_json()["findings"])
    assert stored(services) == before


def test_deploying_creates_a_version_that_new_requests_start_on(services, olive, drive):
    bundle = changed_bundle()
    deployed = olive.upload(BASE, bundle)
    assert deployed.status_code == 201, deployed.get_json()
    body = deployed.get_json()
    assert (body["process_id"], body["version"], body["created"], body["current_version"]) == \
        ("request_fulfillment", 2, True, 2)
    assert body["url"] == f"{BASE}/request_fulfillment/versions/2"
    with services.uow() as uow:
        row = uow.session.scalars(select(DefinitionVersion).where(DefinitionVersion.version == 2)).one()
        assert (row.sha256, row.deployed_by) == (body["sha256"], "olive")
        event = uow.session.scalars(select(AuditEvent).where(AuditEvent.event_type == "definition_deployed")
                                    .order_by(AuditEvent.seq.desc()).limit(1)).one()
        assert event.actor == "olive" and "API token" in str(event.payload.get("via"))
    assert [v["version"] for v in olive.get(f"{BASE}/request_fulfillment/versions").get_json()["versions"]] == [2, 1]
    assert olive.get(f"{BASE}/request_fulfillment/versions/2").get_json()["current"] is True
    assert version_of(services, drive.new("assistance")) == 2

    again = olive.upload(BASE, bundle)  # identical content: nothing new
    assert again.status_code == 200 and again.get_json()["created"] is False and again.get_json()["version"] == 2
    assert count(services, DefinitionVersion) == 2


def test_making_an_older_version_current_changes_what_new_requests_start_on(services, olive, drive):
    assert olive.upload(BASE, changed_bundle()).status_code == 201
    made = olive.post(f"{V1}/current")
    assert made.status_code == 200, made.get_json()
    assert made.get_json() | {"summary": ""} == {"process_id": "request_fulfillment", "version": 1,
                                                 "previous_version": 2, "changed": True, "summary": ""}
    assert version_of(services, drive.new("assistance")) == 1
    assert olive.get(f"{BASE}/request_fulfillment/versions").get_json()["current"] == 1
    assert count(services, AuditEvent, AuditEvent.event_type == "definition_made_current") == 1

    same = olive.post(f"{V1}/current")
    assert same.status_code == 200 and same.get_json()["changed"] is False
    assert count(services, AuditEvent, AuditEvent.event_type == "definition_made_current") == 1
    assert_problem(olive.post(f"{BASE}/request_fulfillment/versions/9/current"), 404)
    identical = olive.upload(BASE, changed_bundle())  # identical to version 2, which is no longer current
    assert identical.status_code == 200
    assert (identical.get_json()["version"], identical.get_json()["current_version"]) == (2, 1)


HOSTILE_FILES = [
    (HOSTILE / "xxe_local_file.bpmn", "DOCTYPE"),
    (HOSTILE / "external_parameter_entity.bpmn", "DOCTYPE"),
    (HOSTILE / "billion_laughs.bpmn", "DOCTYPE"),
    (HOSTILE / "broken_xml.bpmn", "malformed XML"),
    (HOSTILE / "script_dunder.bpmn", "__subclasses__"),
    (HOSTILE / "script_open.bpmn", "uses open"),
    (DATA / "spiffarena" / "read_etc_passwd.bpmn", "uses open, os"),
    (HOSTILE / "not_a_model.xml", "not a .bpmn"),
]


@pytest.mark.parametrize("action", ["check", "deploy"])
@pytest.mark.parametrize(("path", "says"), HOSTILE_FILES, ids=[p.name for p, _ in HOSTILE_FILES])
def test_a_hostile_upload_is_a_422_problem_naming_each_problem_and_nothing_is_stored(
        services, olive, action, path: Path, says: str):
    before = stored(services)
    response = olive.upload(f"{BASE}/check" if action == "check" else BASE, {path.name: path.read_bytes()})
    body = assert_problem(response, 422)
    assert "nothing was stored" in body["detail"]
    assert body["errors"] and all(e["field"].startswith(path.name) for e in body["errors"])
    assert any(says in e["message"] for e in body["errors"]), body["errors"]
    assert any(f["severity"] == "error" and f["file"] == path.name for f in body["findings"])
    text = response.get_data(as_text=True)
    assert "root:x:0:0" not in text and "/bin/bash" not in text
    assert stored(services) == before


def test_a_refusal_locates_the_element(services, olive):
    path = HOSTILE / "script_open.bpmn"
    body = assert_problem(olive.upload(BASE, {path.name: path.read_bytes()}), 422)
    [located] = [f for f in body["findings"] if f["element_id"] == "prepare_data"]
    assert located["severity"] == "error" and "open" in located["message"]
    assert any(e["field"].startswith("script_open.bpmn") and e["field"].endswith("#prepare_data")
               for e in body["errors"])


def test_oversized_odd_and_missing_uploads_are_problems_and_store_nothing(services, olive):
    before = stored(services)
    big = b'<?xml version="1.0"?>\n<!-- ' + b"x" * (11 * 1024 * 1024) + b" -->\n"
    body = assert_problem(olive.upload(BASE, {"huge.bpmn": big}), 413)
    assert "limit for a bundle is 10 MB" in body["errors"][0]["message"]
    assert_problem(olive.upload(BASE, {"huge.bpmn": b"x" * (26 * 1024 * 1024)}), 413)
    body = assert_problem(olive.upload(BASE, {"<script>x.bpmn": (HOSTILE / "valid_baseline.bpmn").read_bytes()}), 422)
    assert "file names may use letters" in body["errors"][0]["message"]
    twice = [("a.bpmn", (HOSTILE / "valid_baseline.bpmn").read_bytes())] * 2
    assert "uploaded twice" in assert_problem(olive.upload(BASE, twice), 422)["errors"][0]["message"]
    body = assert_problem(olive.client.post(BASE, data={}, content_type="multipart/form-data",
                                            headers=olive.headers()), 422)
    assert body["errors"][0]["field"] == "files"
    assert_problem(olive.upload(BASE, {"notes.txt": b"hello"}), 422)
    assert stored(services) == before


@pytest.mark.parametrize("username", ["maria", "sam", "audrey"])
def test_who_is_not_a_process_owner_is_refused_and_nothing_changes(services, username):
    other = ApiUser(services, username)
    before = stored(services)
    for response in (other.get(BASE), other.get(f"{BASE}/request_fulfillment/versions"), other.get(V1),
                     other.get(f"{V1}/bpmn"), other.upload(f"{BASE}/check", changed_bundle()),
                     other.upload(BASE, changed_bundle()), other.post(f"{V1}/current")):
        assert_problem(response, 403)
    assert count(services, DefinitionVersion) == 1
    assert stored(services) == before


def test_without_a_token_it_is_a_401_problem(services):
    anonymous = ApiUser(services, None)
    assert_problem(anonymous.get(BASE), 401)
    assert_problem(anonymous.upload(BASE, changed_bundle()), 401)  # nobody signed in: 401 before anything else
    wrong = anonymous.client.get(BASE, headers={"Authorization": "Bearer rf_nonsense"})
    assert_problem(wrong, 401)
    assert count(services, DefinitionVersion) == 1


def test_an_idempotency_key_replays_a_deploy(services, olive):
    key = {"Idempotency-Key": "deploy-1"}
    first = olive.upload(BASE, changed_bundle(), headers=key)
    assert first.status_code == 201
    replay = olive.upload(BASE, changed_bundle(), headers=key)
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.get_json() == first.get_json()
    assert count(services, DefinitionVersion) == 2
    assert count(services, AuditEvent, AuditEvent.event_type == "definition_deployed") == 2  # v1 at set-up, v2
    other_files = bundled()
    assert_problem(olive.upload(BASE, other_files, headers=key), 422)  # the same key with another body
    assert count(services, DefinitionVersion) == 2


def test_the_openapi_document_describes_the_process_endpoints(services):
    doc = ApiUser(services, None).get("/api/v1/openapi.json").get_json()
    paths = doc["paths"]
    for path, methods in {"/api/v1/processes": {"get", "post"}, "/api/v1/processes/check": {"post"},
                          "/api/v1/processes/{process_id}/versions": {"get"},
                          "/api/v1/processes/{process_id}/versions/{version}": {"get"},
                          "/api/v1/processes/{process_id}/versions/{version}/bpmn": {"get"},
                          "/api/v1/processes/{process_id}/versions/{version}/current": {"post"}}.items():
        assert methods <= set(paths[path]), path
        for method in methods:
            operation = paths[path][method]
            assert operation["summary"] and operation["description"] and operation["tags"] == ["Processes"]
            assert {"401", "403", "404", "422"} <= set(operation["responses"])
    deploy = paths["/api/v1/processes"]["post"]
    upload = deploy["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert upload["$ref"].endswith("/Bundle")
    bundle = doc["components"]["schemas"]["Bundle"]["properties"]["files"]
    assert bundle["items"] == {"format": "binary", "type": "string"} and bundle["maxItems"] >= 1
    assert deploy["responses"]["201"]["content"]["application/json"]["schema"]["$ref"].endswith("/Deployed")
    assert deploy["responses"]["422"]["content"]["application/problem+json"]["schema"]["$ref"].endswith("/Refusal")
    bpmn = paths["/api/v1/processes/{process_id}/versions/{version}/bpmn"]["get"]
    assert "application/xml" in bpmn["responses"]["200"]["content"]
    version = next(p for p in bpmn["parameters"] if p["name"] == "version")
    assert version["in"] == "path" and version["schema"]["minimum"] == 1
    assert {"findings", "errors"} <= set(doc["components"]["schemas"]["Refusal"]["properties"])
