"""The audit log through /api/v1 with a bearer token: events with the audit page's filters and paging, the chain's
verification (intact, then broken by a tamperer), the CSV and XES exports (logged, naming the token); who may read
it; bad input is a 422 problem."""

from __future__ import annotations

import csv
import io

from lxml import etree

from app.store import audit
from tests.api.token_client import ApiUser, assert_documented, events, is_problem, operations
from tests.conftest import day
from tests.driver import Driver
from tests.e2e.test_audit import tamper

EXPORTS = {"/api/v1/audit/export.csv": "text/csv", "/api/v1/audit/export.xes": "application/xml"}


def a_request(services, clock) -> str:
    drive = Driver(services, clock)
    number = drive.new("assistance")
    drive.work()
    drive.complete(number, "assign_specialist", "maria", {"specialist": "sam"})
    return number


def test_the_audit_operations_are_documented_with_the_exports_media_types(services):
    assert_documented(services, "/api/v1/audit", {
        ("get", "/api/v1/audit/events"), ("get", "/api/v1/audit/chain"),
        ("get", "/api/v1/audit/export.csv"), ("get", "/api/v1/audit/export.xes")})
    found = operations(services, "/api/v1/audit/export")
    for path, media_type in EXPORTS.items():
        assert list(found[("get", path)]["responses"]["200"]["content"]) == [media_type]
        assert {p["name"] for p in found[("get", path)]["parameters"]} == {"request", "since", "until", "version"}


def test_an_auditor_reads_the_events_with_the_pages_filters_and_paging(services, clock):
    number = a_request(services, clock)
    other = Driver(services, clock).new("enhancement", provider_group="apps")
    audrey = ApiUser(services, "audrey")

    mine = audrey.get("/api/v1/audit/events", {"request": number}).get_json()
    assert mine["total"] == len(mine["items"]) > 0 and mine["page"] == mine["pages"] == 1
    assert {row["request_number"] for row in mine["items"]} == {number}
    seqs = [row["seq"] for row in mine["items"]]
    assert seqs == sorted(seqs, reverse=True)  # newest first
    assert "task_completed" in mine["event_types"]

    done = audrey.get("/api/v1/audit/events", {"request": number, "type": "task_completed"}).get_json()
    [completed] = done["items"]
    assert completed["actor"] == "maria" and completed["bpmn_id"] == "assign_specialist"
    assert audrey.get("/api/v1/audit/events", {"actor": "maria", "type": "task_completed"}).get_json()["total"] == 1
    assert audrey.get("/api/v1/audit/events", {"request": other}).get_json()["total"] > 0
    assert audrey.get("/api/v1/audit/events", {"since": day(0), "until": day(0)}).get_json()["total"] > 0
    assert audrey.get("/api/v1/audit/events", {"since": day(1)}).get_json()["total"] == 0
    assert audrey.get("/api/v1/audit/events", {"version": "request_fulfillment:1"}).get_json()["total"] > 0

    everything = audrey.get("/api/v1/audit/events").get_json()
    assert everything["pages"] == -(-everything["total"] // 50)
    if everything["pages"] > 1:
        last = audrey.get("/api/v1/audit/events", {"page": everything["pages"]}).get_json()
        assert last["items"][-1]["seq"] == 1


def test_verify_answers_intact_then_names_the_first_broken_link(services, clock):
    a_request(services, clock)
    adam = ApiUser(services, "adam")
    with services.uow() as uow:
        expected = audit.verify(uow.session)
    intact = adam.get("/api/v1/audit/chain")
    assert intact.status_code == 200
    assert intact.get_json() == {"intact": True, "count": expected.count, "head": expected.head_hash,
                                 "broken_at": None, "reason": "", "chain": None, "position": None}
    tamper(services, 4)
    broken = adam.get("/api/v1/audit/chain").get_json()
    assert broken["intact"] is False and broken["broken_at"] == 4
    assert broken["reason"] == "row content does not match its hash"
    assert (broken["chain"], broken["position"]) == ("request:1", 2)


def test_the_csv_and_xes_exports_hold_the_requests_events_and_are_logged(services, clock):
    number = a_request(services, clock)
    audrey = ApiUser(services, "audrey")
    page = audrey.get("/api/v1/audit/events", {"request": number}).get_json()

    got = audrey.get("/api/v1/audit/export.csv", {"request": number})
    assert got.status_code == 200 and got.mimetype == "text/csv"
    assert "attachment" in got.headers["Content-Disposition"] and number in got.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(got.get_data(as_text=True))))
    assert [int(r["seq"]) for r in rows] == sorted(row["seq"] for row in page["items"])
    assert {r["request_number"] for r in rows} == {number}
    assert {"instance_started", "task_completed"} <= {r["event_type"] for r in rows}

    xes = audrey.get("/api/v1/audit/export.xes", {"request": number})
    assert xes.status_code == 200 and xes.mimetype == "application/xml"
    log = etree.fromstring(xes.get_data())
    [trace] = log.findall("trace")
    assert trace.find("string[@key='concept:name']").get("value") == number
    activities = [e.find("string[@key='concept:name']").get("value") for e in trace.findall("event")]
    assert activities[0] == "Request started" and "Assign to a specialist" in activities

    logged = [e for e in events(services, "auditor_viewed") if e.payload.get("view") == "export"]
    assert [e.payload["format"] for e in logged] == ["csv", "xes"]
    for event in logged:
        assert event.actor == "audrey" and event.payload["request"] == number
        assert event.payload["via"] == audrey.via


def test_only_auditors_administrators_and_process_owners_read_the_audit_log(services, clock):
    number = a_request(services, clock)
    assert ApiUser(services, "olive").get("/api/v1/audit/chain").get_json()["intact"] is True
    for who in ("maria", "sam", "pete", "carla"):
        user = ApiUser(services, who)
        assert is_problem(user.get("/api/v1/audit/events"), 403), who
        assert is_problem(user.get("/api/v1/audit/events", {"request": number}), 403), who
        assert is_problem(user.get("/api/v1/audit/chain"), 403), who
        for path in EXPORTS:
            assert is_problem(user.get(path, {"request": number}), 403), (who, path)
    assert events(services, "auditor_viewed") == []


def test_junk_input_is_a_problem_never_a_500(services, clock):
    number = a_request(services, clock)
    audrey = ApiUser(services, "audrey")
    for query in ({"since": "yesterday"}, {"until": "2026-13-01"}, {"page": 0}, {"page": "x"},
                  {"page": 10**12}, {"version": "request_fulfillment"}, {"request": "R" * 41},
                  {"type": "t" * 65}, {"since": day(2), "until": day(1)}):
        assert is_problem(audrey.get("/api/v1/audit/events", query), 422), query
        if "page" not in query and "type" not in query:
            assert is_problem(audrey.get("/api/v1/audit/export.csv", query), 422), query
    assert is_problem(audrey.get("/api/v1/audit/events", {"request": "RF-999999"}), 404)
    assert is_problem(audrey.get("/api/v1/audit/export.xes", {"version": "request_fulfillment:99"}), 404)
    assert audrey.get("/api/v1/audit/events", {"request": number, "page": 99}).get_json()["page"] == 1
    assert events(services, "auditor_viewed") == []
