"""Bad input through the `rf` command line: every refusal names what is wrong, exits non-zero, and writes nothing.

"Writes nothing" is checked against the whole database: every row of every table is the same before and after the
refused command (so no definition_version row, no audit row, no task or instance change, no request, no CRM case).

The hostile process models live in tests/data/hostile/. Each is `valid_baseline.bpmn` (which deploys cleanly: a
script task, a user task with a form in a lane, a quoted timer and a service task) with exactly one thing broken.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import select

from app.store import audit
from app.store.models import AuditEvent, DefinitionVersion
from tests.e2e.conftest import HOSTILE, REQUEST, Rf, count, records, snapshot

# --------------------------------------------------------------------------------------------------------------
# rf deploy
# --------------------------------------------------------------------------------------------------------------


def line_of(path: Path, marker: str) -> int:
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if marker in line:
            return number
    raise AssertionError(f"{marker!r} is not in {path}")


@dataclass(frozen=True)
class Hostile:
    file: str
    says: tuple[str, ...]  # every one of these appears in the problem's message
    line_marker: str | None = None  # the reported line is the first line containing this
    element_id: str = ""


HOSTILE_MODELS = [
    Hostile("broken_xml.bpmn", ("malformed XML", "userTsk"), line_marker="</bpmn:userTsk>"),
    Hostile("xxe_local_file.bpmn", ("DOCTYPE", "not allowed"), line_marker="<!DOCTYPE"),
    Hostile("external_parameter_entity.bpmn", ("DOCTYPE", "not allowed"), line_marker="<!DOCTYPE"),
    Hostile("billion_laughs.bpmn", ("DOCTYPE", "not allowed"), line_marker="<!DOCTYPE"),
    Hostile("unknown_operator.bpmn", ("crm.delete_everything", "has no handler", "notify.customer"),
            line_marker='id="send_notice"', element_id="send_notice"),
    Hostile("user_task_without_form.bpmn", ("names no form", "formJsonSchemaFilename"),
            line_marker='id="review_request"', element_id="review_request"),
    Hostile("user_task_without_lane.bpmn", ("no lane",), line_marker='id="review_request"',
            element_id="review_request"),
    Hostile("script_import.bpmn", ("restricted engine", "__import__"), line_marker='id="prepare_data"',
            element_id="prepare_data"),
    Hostile("script_dunder.bpmn", ("restricted engine", "__class__", "__subclasses__"),
            line_marker='id="prepare_data"', element_id="prepare_data"),
    Hostile("camunda_expression_timer.bpmn", ("${coolingOffPeriod}", "Camunda (JUEL) expression", "PT1H"),
            line_marker='id="cool_off"', element_id="cool_off"),
    Hostile("not_a_model.xml", ("not a .bpmn",)),
    Hostile("xxe_utf16.bpmn", ("DOCTYPE", "not allowed")),  # a byte search for "<!DOCTYPE" misses UTF-16
]


def definitions_and_audit(services) -> tuple[int, int]:
    return count(services, DefinitionVersion), count(services, AuditEvent)


def test_the_hostile_baseline_is_a_valid_model(rf, services):
    """Control: without its one defect each hostile file deploys, so each refusal below is for that defect."""
    before = definitions_and_audit(services)
    deployed = rf.ok("deploy", str(HOSTILE / "valid_baseline.bpmn"), "--user", "adam")
    assert (deployed["process_id"], deployed["version"], deployed["created"]) == ("hostile_probe", 1, True)
    assert definitions_and_audit(services) == (before[0] + 1, before[1] + 1)
    [event] = records(services, AuditEvent, AuditEvent.event_type == "definition_deployed",
                      AuditEvent.actor == "adam")
    assert event.payload["process_id"] == "hostile_probe"

    again = rf.ok("deploy", str(HOSTILE / "valid_baseline.bpmn"), "--user", "adam")
    assert (again["version"], again["created"], again["sha256"]) == (1, False, deployed["sha256"])
    assert definitions_and_audit(services) == (before[0] + 1, before[1] + 1)


@pytest.mark.parametrize("case", HOSTILE_MODELS, ids=[c.file for c in HOSTILE_MODELS])
def test_deploy_refuses_a_hostile_model_and_stores_nothing(rf, services, case):
    path = HOSTILE / case.file
    before = snapshot(services)
    started = time.monotonic()
    refused = rf.fails("deploy", str(path), "--user", "mallory", "--json")
    assert time.monotonic() - started < 20  # entity expansion, if any, would take far longer
    body = refused.json()
    assert body["status"] == 400 and "rejected" in body["error"]
    errors = [p for p in body["details"] if p["severity"] == "error"]
    assert len(errors) == 1, body  # exactly the intended problem, nothing else
    [problem] = errors
    assert problem["file"] == case.file
    for text in case.says:
        assert text in problem["message"], problem
    if case.line_marker:
        assert problem["line"] == line_of(path, case.line_marker), problem
    assert problem["element_id"] == case.element_id, problem
    assert "root:" not in refused.output  # no local file content ever comes back

    human = rf.fails("deploy", str(path), "--user", "mallory")
    where = case.file + (f":{problem['line']}" if case.line_marker else "")
    assert f"error: {where}" in human.stderr, human
    if case.element_id:
        assert f"[{case.element_id}]" in human.stderr

    assert snapshot(services) == before  # no definition_version row, no audit row, nothing at all


class _Recorder(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        type(self).hits.append(self.path)
        body = b'<!ENTITY leaked "fetched">'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[tuple[ThreadingHTTPServer, type[_Recorder]]]:
    handler = type("Recorder", (_Recorder,), {"hits": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, handler
    server.shutdown()
    server.server_close()


def test_hostile_entities_are_never_resolved_or_fetched(rf, services, tmp_path, http_server):
    """The external entities point at a live HTTP server and a local secret: nothing is fetched or read."""
    server, recorder = http_server
    secret = tmp_path / "secret.txt"
    secret.write_text("RF-SECRET-7f3a")
    port = server.server_address[1]
    external = (HOSTILE / "external_parameter_entity.bpmn").read_text().replace("127.0.0.1:8/", f"127.0.0.1:{port}/")
    local = (HOSTILE / "xxe_local_file.bpmn").read_text().replace("file:///etc/passwd", secret.as_uri())
    utf16 = (HOSTILE / "xxe_utf16.bpmn").read_bytes().decode("utf-16").replace("file:///etc/passwd", secret.as_uri())
    (tmp_path / "external.bpmn").write_text(external)
    (tmp_path / "local.bpmn").write_text(local)
    (tmp_path / "local16.bpmn").write_bytes(utf16.encode("utf-16"))
    assert f"127.0.0.1:{port}" in external and secret.as_uri() in local and secret.as_uri() in utf16

    before = snapshot(services)
    for name in ("external.bpmn", "local.bpmn", "local16.bpmn"):
        refused = rf.fails("deploy", str(tmp_path / name), "--json")
        assert "DOCTYPE" in refused.stdout and "RF-SECRET-7f3a" not in refused.output
    refused = rf.fails("deploy", str(tmp_path / "external.bpmn"), str(tmp_path / "local.bpmn"),
                       str(HOSTILE / "valid_baseline.bpmn"), "--json")
    assert {p["file"] for p in refused.json()["details"]} == {"external.bpmn", "local.bpmn"}
    assert recorder.hits == []
    assert snapshot(services) == before  # a bundle with one bad file stores none of its files


def test_deploy_refuses_a_missing_path(rf, services):
    before = snapshot(services)
    refused = rf.fails("deploy", str(HOSTILE / "no_such_model.bpmn"))
    assert "no_such_model.bpmn" in refused.stderr and "no such file" in refused.stderr
    assert snapshot(services) == before


def test_installed_console_script_refuses_a_hostile_model(services, settings, clock):
    """The real `.venv/bin/rf` maps a rejection to exit code 2 and a message on stderr, without a traceback."""
    rf = Rf(settings, "console-script", clock)
    before = snapshot(services)
    refused = rf.fails("deploy", str(HOSTILE / "unknown_operator.bpmn"))
    line = line_of(HOSTILE / "unknown_operator.bpmn", 'id="send_notice"')
    assert f"unknown_operator.bpmn:{line} [send_notice]" in refused.stderr
    assert "crm.delete_everything" in refused.stderr and refused.stdout == ""
    assert snapshot(services) == before
    usage = rf.fails("request", "new", "--type", "incident", "--data", "{}")
    assert "Invalid value for '--type'" in usage.stderr


# --------------------------------------------------------------------------------------------------------------
# rf complete
# --------------------------------------------------------------------------------------------------------------


def assistance_at(rf: Rf, bpmn_id: str) -> tuple[str, str]:
    """A new assistance request waiting at `bpmn_id` (assign_specialist or fulfil_assistance_request)."""
    number = rf.new_request("assistance")
    rf.work()
    if bpmn_id == "fulfil_assistance_request":
        rf.complete(number, "assign_specialist", "maria", {"specialist": "sam"})
    return number, rf.task(number, bpmn_id)["id"]


@dataclass(frozen=True)
class BadForm:
    name: str
    bpmn_id: str
    raw: str
    field: str  # the field the error names ("--data" for input that is not even JSON)
    says: tuple[str, ...]


FULFIL = {"resolution_notes": "Created the VPN profile", "resolution_code": "resolved", "time_spent_hours": 1.5}
BAD_FORMS = [
    BadForm("missing required field", "assign_specialist", json.dumps({"assignment_note": "VPN team"}),
            "specialist", ("'specialist' is a required property",)),
    BadForm("missing required fields", "fulfil_assistance_request", json.dumps({"resolution_code": "resolved"}),
            "resolution_notes", ("'resolution_notes' is a required property",)),
    BadForm("wrong enum", "fulfil_assistance_request", json.dumps({**FULFIL, "resolution_code": "fixed"}),
            "resolution_code", ("'fixed' is not one of", "'resolved'")),
    BadForm("not a group member", "assign_specialist", json.dumps({"specialist": "pete"}),
            "specialist", ("'pete' is not one of", "'sam'", "'sara'")),
    BadForm("wrong type", "fulfil_assistance_request", json.dumps({**FULFIL, "time_spent_hours": "1.5"}),
            "time_spent_hours", ("'1.5' is not of type 'number'",)),
    BadForm("not a quarter hour", "fulfil_assistance_request", json.dumps({**FULFIL, "time_spent_hours": 1.1}),
            "time_spent_hours", ("multiple of 0.25",)),
    # PostgreSQL cannot store NUL in text: accepted here, the CRM update fails in the worker and becomes an incident
    BadForm("NUL character", "fulfil_assistance_request", json.dumps({**FULFIL, "resolution_notes": "Fixed\u0000"}),
            "resolution_notes", ("resolution_notes",)),
    BadForm("extra field", "assign_specialist", json.dumps({"specialist": "sam", "priority": "low"}),
            "(data)", ("Additional properties are not allowed", "'priority' was unexpected")),
    BadForm("invalid JSON", "assign_specialist", '{"specialist": sam}', "--data",
            ("--data is not valid JSON", "line 1 column 16")),
    BadForm("not an object", "assign_specialist", '["sam"]', "--data", ("must be a JSON object",)),
]


@pytest.mark.parametrize("case", BAD_FORMS, ids=[c.name for c in BAD_FORMS])
def test_complete_refuses_invalid_form_data_and_changes_nothing(rf, services, case):
    number, task_id = assistance_at(rf, case.bpmn_id)
    user = "maria" if case.bpmn_id == "assign_specialist" else "sam"
    before = snapshot(services)

    refused = rf.fails("complete", task_id, "--user", user, "--data", case.raw, "--json")
    body = refused.json()
    assert body["status"] == 422, body
    text = json.dumps(body)
    for fragment in case.says:
        assert fragment in text, body
    if case.field != "--data":
        assert case.field in [d["field"] for d in body["details"]], body

    human = rf.fails("complete", task_id, "--user", user, "--data", case.raw)
    assert human.stderr.startswith("error: ") and case.says[0] in human.stderr, human
    if case.field not in ("--data", "(data)"):
        assert f"{case.field}: " in human.stderr

    assert snapshot(services) == before  # no audit row, no task change, the instance untouched
    assert rf.task(number, case.bpmn_id)["status"] == "open"


def test_complete_refuses_a_user_without_the_lanes_role(rf, services):
    number, task_id = assistance_at(rf, "assign_specialist")
    before = snapshot(services)
    for user in ("sam", "carla", "audrey"):  # a specialist, a CAR, an auditor: none manages the network group
        refused = rf.fails("complete", task_id, "--user", user, "--data", '{"specialist": "sam"}')
        assert f"{user} does not hold the Provider Group Manager role in network" in refused.stderr, refused
        assert rf.fails("complete", task_id, "--user", user, "--data", '{"specialist": "sam"}',
                        "--json").json()["status"] == 403
    refused = rf.fails("complete", task_id, "--user", "nobody", "--data", '{"specialist": "sam"}')
    assert "no active user 'nobody'" in refused.stderr
    assert snapshot(services) == before

    # an enhancement in the apps group: sam is a specialist, and only in network
    enhancement = rf.new_request("enhancement", provider_group="apps")
    plan = rf.task(enhancement, "draw_up_work_plan")["id"]
    before = snapshot(services)
    refused = rf.fails("complete", plan, "--user", "maria", "--data", "{}")
    assert "maria does not hold the Service Provider role in apps" in refused.stderr
    assert snapshot(services) == before


def test_complete_refuses_a_task_assigned_to_someone_else(rf, services):
    number, task_id = assistance_at(rf, "fulfil_assistance_request")  # assigned to sam
    before = snapshot(services)
    refused = rf.fails("complete", task_id, "--user", "sara", "--data", json.dumps(FULFIL))
    assert "assigned to sam" in refused.stderr, refused
    assert snapshot(services) == before


def test_completing_a_completed_task_says_who_completed_it(rf, services):
    number, task_id = assistance_at(rf, "assign_specialist")
    rf.ok("complete", task_id, "--user", "maria", "--data", '{"specialist": "sara"}')
    before = snapshot(services)
    for user in ("maria", "sam"):
        refused = rf.fails("complete", task_id, "--user", user, "--data", '{"specialist": "sam"}')
        assert "'Assign to a specialist' was already completed by maria at" in refused.stderr, refused
        assert rf.fails("complete", task_id, "--user", user, "--data", '{"specialist": "sam"}',
                        "--json").json()["status"] == 409
    assert snapshot(services) == before
    assert rf.task(number, "fulfil_assistance_request")["assignee"] == "sara"  # the first completion stands


def test_complete_refuses_an_unknown_task(rf, services):
    before = snapshot(services)
    refused = rf.fails("complete", "00000000-0000-0000-0000-000000000000", "--user", "maria", "--data", "{}")
    assert "no task 00000000-0000-0000-0000-000000000000" in refused.stderr
    assert snapshot(services) == before


# --------------------------------------------------------------------------------------------------------------
# rf request new
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BadRequest:
    name: str
    request_type: str
    overrides: dict[str, object]
    field: str
    says: tuple[str, ...]


BAD_REQUESTS = [
    BadRequest("unknown provider group", "assistance", {"provider_group": "security"}, "provider_group",
               ("unknown provider group", "security")),
    BadRequest("bad email", "assistance", {"requester_email": "ann at tourism"}, "requester_email",
               ("Must be an email address such as name@agency.ok.gov.",)),
    BadRequest("non-routine assistance", "assistance", {"routine": False}, "routine",
               ("assistance requests are routine by definition", "Discovery")),
    BadRequest("missing title", "enhancement", {"title": None}, "title", ("'title' is a required property",)),
    BadRequest("unknown priority", "assistance", {"priority": "urgent"}, "priority", ("'urgent' is not one of",)),
    BadRequest("extra field", "assistance", {"cost_centre": "42"}, "(data)", ("'cost_centre' was unexpected",)),
    BadRequest("sla_due_at without offset", "assistance", {"sla_due_at": "2026-12-01T09:00:00"}, "sla_due_at",
               ("time zone offset",)),
    BadRequest("sla_due_at not a date-time", "assistance", {"sla_due_at": "tomorrow"}, "sla_due_at",
               ("tomorrow",)),
    BadRequest("NUL character", "assistance", {"title": "VPN\u0000 access"}, "title", ("title",)),
    BadRequest("unknown CRM case", "assistance", {"crm_case_id": "CRM-999999"}, "crm_case_id",
               ("CRM-999999 does not exist",)),
]


@pytest.mark.parametrize("case", BAD_REQUESTS, ids=[c.name for c in BAD_REQUESTS])
def test_request_new_refuses_bad_data_and_writes_nothing(rf, services, case):
    data = {k: v for k, v in {**REQUEST, **case.overrides}.items() if v is not None}
    before = snapshot(services)
    refused = rf.fails("request", "new", "--type", case.request_type, "--data", json.dumps(data), "--json")
    body = refused.json()
    assert body["status"] == 422, body
    assert case.field in [d["field"] for d in body["details"]], body
    text = json.dumps(body)
    for fragment in case.says:
        assert fragment in text, body

    human = rf.fails("request", "new", "--type", case.request_type, "--data", json.dumps(data))
    assert human.stderr.startswith("error: ") and case.says[0] in human.stderr, human
    assert snapshot(services) == before  # no request, no CRM case, no instance, no audit row


def test_request_new_refuses_an_unknown_type(rf, services):
    before = snapshot(services)
    for args in (("--type", "incident"), ("--type", "incident", "--json")):
        refused = rf.fails("request", "new", *args, "--data", json.dumps(REQUEST))
        assert "Invalid value for '--type'" in refused.stderr and "'incident'" in refused.stderr, refused
        assert "assistance" in refused.stderr and "enhancement" in refused.stderr
    refused = rf.fails("request", "new", "--type", "assistance", "--data", '{"title": ')
    assert "--data is not valid JSON" in refused.stderr
    assert snapshot(services) == before


def test_refusals_leave_the_request_numbering_and_audit_chain_clean(rf, services):
    """After a run of refusals the next good request is RF-000001 and the audit chain still verifies."""
    tested_alone = ("sla_due_at not a date-time", "NUL character")  # see their own tests above
    for case in [c for c in BAD_REQUESTS if c.name not in tested_alone]:
        data = {k: v for k, v in {**REQUEST, **case.overrides}.items() if v is not None}
        rf.fails("request", "new", "--type", case.request_type, "--data", json.dumps(data))
    assert rf.new_request("assistance") == "RF-000001"
    with services.uow() as uow:
        assert audit.verify(uow.session).intact
        events = uow.session.scalars(select(AuditEvent.event_type).where(AuditEvent.request_id.is_not(None))).all()
    assert events == ["instance_started"]
