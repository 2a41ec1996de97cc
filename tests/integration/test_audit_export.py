"""CSV and XES event-log exports on a real database: the XES validates against the IEEE 1849-2016 schema and an
independent reader (pm4py, a test-only extra) sees one trace per request with its activities in order; the CSV
reads back to exactly the audit log's rows."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import select

from app.domain.permissions import OPERATOR
from app.errors import InvalidData, NotFound
from app.services.admin.auth import authenticate
from app.services.audit import export
from app.services.definitions import deploy as definitions
from app.store import audit
from app.store.models import AuditEvent
from tests.driver import Driver

XSD = Path(__file__).resolve().parent.parent / "data" / "xes" / "xes-ieee-1849-2016.xsd"

ASSISTANCE = ["Request started", "Take case from CRM Pending Queue", "Assign to a specialist",
              "Fulfil assistance request", "Update and close CRM case", "Notify customer", "Request closed"]


@pytest.fixture
def drive(services, clock) -> Driver:
    return Driver(services, clock)


def closed_assistance(drive: Driver, clock, *, late: bool = False) -> str:
    """An assistance request carried to its end, a few minutes between steps (and past its SLA when `late`)."""
    number = drive.new("assistance", priority="critical" if late else "high")
    drive.work()
    clock.advance(timedelta(days=3) if late else timedelta(minutes=7))
    drive.work()
    clock.advance(timedelta(minutes=5))
    drive.complete(number, "assign_specialist", "maria", {"specialist": "sam", "assignment_note": "VPN team"})
    clock.advance(timedelta(minutes=5))
    drive.complete(number, "fulfil_assistance_request", "sam",
                   {"resolution_notes": "Created the VPN profile", "resolution_code": "resolved",
                    "time_spent_hours": 1.5})
    clock.advance(timedelta(minutes=1))
    drive.work()
    assert drive.show(number)["status"] == "closed"
    return number


def xes_of(services, **filters: str) -> bytes:
    return export.export(services, "xes", export.parse_query(**filters), "tester", reader=OPERATOR).content


def validate(content: bytes) -> etree._Element:
    schema = etree.XMLSchema(etree.parse(str(XSD)))
    document = etree.fromstring(content)
    assert schema.validate(document), schema.error_log
    return document


def test_xes_is_valid_ieee_1849_with_one_trace_per_request_and_the_activities_in_order(drive, services, clock,
                                                                                          mailbox, tmp_path):
    on_time = closed_assistance(drive, clock)
    late = closed_assistance(drive, clock, late=True)
    waiting = drive.new("enhancement", provider_group="apps")
    content = xes_of(services)
    log = validate(content)

    assert log.get("xes.version") == "2.0"
    assert [(e.get("name"), e.get("prefix"), e.get("uri")) for e in log.findall("extension")] == [
        ("Concept", "concept", "http://www.xes-standard.org/concept.xesext"),
        ("Time", "time", "http://www.xes-standard.org/time.xesext"),
        ("Lifecycle", "lifecycle", "http://www.xes-standard.org/lifecycle.xesext"),
        ("Organizational", "org", "http://www.xes-standard.org/org.xesext")]
    event_globals = log.find("global[@scope='event']")
    assert {a.get("key") for a in event_globals} >= {"concept:name", "time:timestamp", "lifecycle:transition"}
    assert log.find("global[@scope='trace']/string").get("key") == "concept:name"

    traces = {t.find("string[@key='concept:name']").get("value"): t for t in log.findall("trace")}
    assert set(traces) == {on_time, late, waiting}
    for trace in traces.values():  # every event is complete, timed, and has its resource
        for event in trace.findall("event"):
            keys = {a.get("key"): a.get("value") for a in event}
            assert keys["lifecycle:transition"] == "complete"
            assert keys["org:resource"]
            datetime.fromisoformat(keys["time:timestamp"])
    roles = {(e.find("string[@key='concept:name']").get("value"),
              getattr(e.find("string[@key='org:role']"), "attrib", {}).get("value"))
             for e in traces[on_time].findall("event")}
    assert ("Assign to a specialist", "Provider Group Manager") in roles
    assert ("Fulfil assistance request", "Specialist") in roles

    path = tmp_path / "log.xes"
    path.write_bytes(content)
    pm4py = pytest.importorskip("pm4py", reason="pm4py comes with the test-only extra: pip install -e '.[audit-test]'")
    frame = pm4py.read_xes(str(path))
    activities = {case: list(rows["concept:name"]) for case, rows in frame.groupby("case:concept:name", sort=False)}
    assert activities[on_time] == ASSISTANCE
    # the worker was down past 75% and 100% of the target: both recorded when it came back
    assert activities[late] == [*ASSISTANCE[:2], "SLA at risk (75% used)", "SLA target passed", *ASSISTANCE[2:]]
    assert activities[waiting] == ["Request started"]
    assert frame.groupby("case:concept:name")["time:timestamp"].apply(lambda s: s.is_monotonic_increasing).all()
    legacy = pm4py.read_xes(str(path), return_legacy_log_object=True)
    assert len(legacy) == 3
    assert [e["org:resource"] for e in legacy[0]][:3] == ["ann.logger", "worker", "maria"]


def test_filters_by_request_date_range_and_process_version(drive, services, settings, clock, mailbox):
    first = closed_assistance(drive, clock)
    clock.advance(timedelta(days=2))
    files = definitions.read_paths([settings.bpmn_dir])
    files["assistance_request.bpmn"] = files["assistance_request.bpmn"].replace(
        b'name="Assign to a specialist"', b'name="Assign a specialist"')
    definitions.deploy(services, files, "olive")
    second = closed_assistance(drive, clock)

    def traces(**filters: str) -> list[str]:
        log = validate(xes_of(services, **filters))
        return [t.find("string[@key='concept:name']").get("value") for t in log.findall("trace")]

    assert traces(request=second) == [second]
    assert traces(version="request_fulfillment:1") == [first]
    assert traces(version="request_fulfillment:2") == [second]
    assert traces(since="2026-12-03") == [second]
    assert traces(until="2026-12-01") == [first]  # a bare date covers its whole day
    assert traces(since="2026-12-02", until="2026-12-02") == []
    log = validate(xes_of(services, version="request_fulfillment:2"))
    assert "Assign a specialist" in [e.get("value") for e in log.iter("string") if e.get("key") == "concept:name"]

    with pytest.raises(NotFound, match="no deployed process version request_fulfillment:9"):
        xes_of(services, version="request_fulfillment:9")
    with pytest.raises(NotFound, match="no request RF-999999"):
        xes_of(services, request="RF-999999")
    for bad in ({"version": "request_fulfillment"}, {"version": "x:one"}, {"since": "yesterday"},
                {"since": "2026-12-05", "until": "2026-12-01"}):
        with pytest.raises(InvalidData):
            export.parse_query(**bad)
    with pytest.raises(InvalidData, match="unknown export format"):
        export.export(services, "pdf", export.parse_query(), "tester", reader=OPERATOR)


def test_csv_reads_back_to_exactly_the_audit_log(drive, services, clock, mailbox):
    number = closed_assistance(drive, clock)
    with pytest.raises(Exception, match="wrong password"):
        authenticate(services, "=HYPERLINK(\"http://evil.example\")", "x")  # a formula typed as a username
    with services.uow() as uow:
        stored = list(uow.session.scalars(select(AuditEvent).order_by(AuditEvent.seq)))
        uow.session.expunge_all()

    done = export.export(services, "csv", export.parse_query(), "tester", reader=OPERATOR)
    assert done.mimetype.startswith("text/csv") and done.filename == "rf-audit.csv"
    rows = list(csv.DictReader(io.StringIO(done.content.decode())))
    assert list(rows[0]) == list(export.CSV_COLUMNS)
    assert len(rows) == len(stored) == done.events
    for row, event in zip(rows, stored, strict=True):
        assert int(row["seq"]) == event.seq
        assert datetime.fromisoformat(row["time"]) == event.at
        assert json.loads(row["payload"]) == event.payload
        assert row["event_type"] == event.event_type
        actor = row["actor"][1:] if row["actor"].startswith("'=") else row["actor"]
        assert actor == event.actor
    hostile = next(r for r in rows if r["event_type"] == "login_failed")
    assert hostile["actor"] == "'=HYPERLINK(\"http://evil.example\")"  # neutralised for spreadsheets

    by_seq = {int(r["seq"]): r for r in rows}
    completed = [r for r in rows if r["event_type"] == "task_completed"]
    assert [(r["request_number"], r["bpmn_id"], r["actor"]) for r in completed] == [
        (number, "assign_specialist", "maria"), (number, "fulfil_assistance_request", "sam")]
    assert completed[0]["summary"].startswith("“Assign to a specialist” completed: specialist: sam")
    assert by_seq[1]["request_number"] == ""

    per_request = export.export(services, "csv", export.parse_query(request=number), "tester", reader=OPERATOR)
    request_rows = list(csv.DictReader(io.StringIO(per_request.content.decode())))
    assert {r["request_number"] for r in request_rows} == {number}
    assert per_request.filename == f"rf-audit_{number}.csv"


def test_every_export_is_itself_logged_and_the_chain_stays_intact(drive, services, clock, mailbox):
    number = closed_assistance(drive, clock)
    export.export(services, "xes", export.parse_query(request=number, since="2026-12-01"), "audrey", reader=OPERATOR)
    with services.uow() as uow:
        last = uow.session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)).one()
        assert (last.actor, last.event_type) == ("audrey", "auditor_viewed")
        assert last.payload == {"view": "export", "format": "xes", "request": number, "since": "2026-12-01",
                                "events": 7, "traces": 1}
        assert last.request_id is not None
        assert audit.verify(uow.session).intact
