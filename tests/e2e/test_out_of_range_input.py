"""Numbers no database column can hold, digits from other scripts, file names outside Latin-1 and JSON nested
thousands deep: each is refused with a 4xx (or exit 2) that says what was wrong, never a 500, a traceback or a hung
download, and nothing is written. Web and command line alike."""

from __future__ import annotations

import json

import pytest
from flask import Flask

from app.errors import InvalidData
from app.services.requests import intake
from app.services.tasks import actions as tasks
from app.web.downloads import attachment
from tests.driver import REQUEST, Driver
from tests.e2e.conftest import snapshot
from tests.web import WebUser

HUGE = "99999999999999999999999"
ARABIC_ONE = "\u0661"  # ١ : a digit to str.isdigit(), but no ASCII digit
PROCESS = "/processes/request_fulfillment/versions"


def deep(levels: int) -> str:
    return '{"specialist": "sam", "assignment_note": "x", "extra": ' + "[" * levels + "]" * levels + "}"


# (path, status, what the answer says)
WEB_GETS = [
    (f"/requests/{HUGE}", 404, f"no request {HUGE}"),
    (f"/api/requests/{HUGE}", 404, f"no request {HUGE}"),
    (f"/api/requests/{HUGE}/diagrams", 404, f"no request {HUGE}"),
    (f"/requests/{HUGE}/history", 404, f"no request {HUGE}"),
    ("/requests/{number}/history?step=" + HUGE, 422, "is not a step"),
    ("/requests/{number}/history?step=\u00b2", 422, "is not a step"),
    ("/api/requests/{number}/diagrams?step=" + HUGE, 422, "is not a step"),
    (f"/audit?request={HUGE}", 422, f"no request {HUGE}"),
    (f"/audit?version=request_fulfillment:{HUGE}", 422, "request_fulfillment:1"),
    (f"/audit?version=request_fulfillment:{ARABIC_ONE}", 422, "request_fulfillment:1"),
    (f"/audit/export/csv?request={HUGE}", 404, f"no request {HUGE}"),
    (f"/audit/export/csv?version=request_fulfillment:{HUGE}", 422, "--version must be PROCESS:V"),
    (f"/audit/export/xes?version=request_fulfillment:{ARABIC_ONE}", 422, "--version must be PROCESS:V"),
    (f"{PROCESS}/1/migrate?to={HUGE}", 422, "is not a version number"),
    (f"{PROCESS}/{HUGE}", 404, "not found on the server"),
    (f"{PROCESS}/{HUGE}/migrate", 404, "not found on the server"),
    (f"{PROCESS}/{HUGE}/waiting.json", 404, "not found on the server"),
]
WEB_POSTS = [(f"/admin/memberships/{HUGE}/revoke", {}), (f"/admin/calendar/holidays/{HUGE}/remove", {})]


def test_out_of_range_numbers_in_pages_filters_and_exports_are_4xx_and_write_nothing(services, clock):
    number = Driver(services, clock).new("assistance")
    adam = WebUser(services, "adam")
    before = snapshot(services)
    for path, status, says in WEB_GETS:
        answer = adam.get(path.format(number=number))
        assert answer.status_code == status, (path, answer.status)
        assert says in answer.get_data(as_text=True), (path, answer.get_data(as_text=True)[:300])
    for path, form in WEB_POSTS:
        assert adam.post(path, form).status_code == 404, path
    assert snapshot(services) == before


def test_moving_instances_to_an_out_of_range_version_moves_nothing(services, clock):
    Driver(services, clock).new("assistance")
    olive = WebUser(services, "olive")
    before = snapshot(services)
    moved = olive.post(f"{PROCESS}/1/migrate", {"to": HUGE, "action": "all"})
    assert moved.status_code == 303
    page = olive.get(moved.headers["Location"]).get_data(as_text=True)
    assert "Nothing migrated: to must be a version number" in page
    assert snapshot(services) == before


def test_a_download_name_outside_latin_1_is_sent_the_rfc_6266_way():
    with Flask(__name__).test_request_context("/"):
        sent = attachment(b"seq\r\n", f"rf-audit_RF-{ARABIC_ONE}\u00e9.csv", "text/csv; charset=utf-8")
    header = sent.headers["Content-Disposition"]
    header.encode("latin-1")  # what the HTTP server writes: this raised UnicodeEncodeError and hung the client
    assert header == "attachment; filename=rf-audit_RF-e.csv; filename*=UTF-8''rf-audit_RF-%D9%A1%C3%A9.csv"
    assert sent.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert (sent.headers["X-Content-Type-Options"], sent.headers["Cache-Control"]) == ("nosniff", "no-store")


def test_the_export_file_name_keeps_only_ascii(services, clock):
    number = Driver(services, clock).new("assistance")
    got = WebUser(services, "audrey").get(f"/audit/export/csv?request={number.lower()}&since=2026-12-01")
    assert got.status_code == 200
    assert got.headers["Content-Disposition"] == f"attachment; filename=rf-audit_{number.lower()}_2026-12-01.csv"


# --- the command line -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("args, says", [
    (("show", HUGE), f"no request {HUGE}"),
    (("replay", HUGE), f"no request {HUGE}"),
    (("tasks", "--request", HUGE), f"no request {HUGE}"),
    (("export", "--format", "csv", "--request", HUGE), f"no request {HUGE}"),
    (("export", "--format", "csv", "--version", f"request_fulfillment:{HUGE}"), "--version must be PROCESS:V"),
    (("export", "--format", "xes", "--version", f"request_fulfillment:{ARABIC_ONE}"), "--version must be PROCESS:V"),
    (("migrate", "request_fulfillment", "--from-version", HUGE, "--check"), "is not in the range"),
    (("migrate", "request_fulfillment", "--from-version", "1", "--to-version", HUGE, "--all"), "is not in the range"),
    (("retry", HUGE), "is not in the range"),
], ids=["show", "replay", "tasks", "export-request", "export-version", "export-arabic-digit", "migrate-from",
        "migrate-to", "retry"])
def test_out_of_range_numbers_on_the_command_line_exit_2_with_a_message(rf, services, args, says):
    rf.new_request("assistance")
    before = snapshot(services)
    refused = rf.fails(*args, code=2)
    assert says in refused.output, refused
    assert snapshot(services) == before


def test_deeply_nested_json_to_rf_complete_and_rf_request_new_exits_2_and_writes_nothing(rf, services):
    number = rf.new_request("assistance")
    rf.work()
    task_id = rf.task(number, "assign_specialist")["id"]
    before = snapshot(services)
    for levels in (100, 5000, 200000):
        refused = rf.fails("complete", task_id, "--user", "maria", "--data", deep(levels), "--json")
        body = refused.json()
        assert body["status"] == 422 and "nested more than 64 levels" in body["error"], body
        assert "nested more than 64 levels" in rf.fails("complete", task_id, "--user", "maria", "--data",
                                                        deep(levels)).stderr
        request = json.dumps({**REQUEST, "title": "x"})[:-1] + ', "extra": ' + "[" * levels + "]" * levels + "}"
        assert "nested more than 64 levels" in rf.fails("request", "new", "--type", "assistance",
                                                        "--data", request).stderr
    assert snapshot(services) == before
    assert rf.task(number, "assign_specialist")["status"] == "open"


def test_the_services_refuse_deep_nesting_whoever_parsed_it(services, clock):
    """The one funnel of form data and request data (web, API or CLI) refuses nesting past the limit, by value."""
    drive = Driver(services, clock)
    number = drive.new("assistance")
    drive.work()
    nested: list = []
    for _ in range(500):
        nested = [nested]
    task = drive.open_task(number, "assign_specialist")
    before = snapshot(services)
    with pytest.raises(InvalidData, match="nested more than 64 levels"):
        tasks.complete(services, task.task_uuid, "maria", {"specialist": "sam", "extra": nested})
    with pytest.raises(InvalidData, match="nested more than 64 levels"):
        intake.new_request(services, "assistance", {**REQUEST, "extra": nested}, "ann.logger")
    assert snapshot(services) == before
