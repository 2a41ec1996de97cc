"""Auditors end to end: `rf audit verify` and `rf export` on the command line; the /audit page, the downloads and
the request page as audrey (read-only: every action is refused, every look is itself logged)."""

from __future__ import annotations

import csv
import io

from lxml import etree
from sqlalchemy import func, select, text, update

from app.services.audit import events as audit_views
from app.store import audit
from app.store.models import AuditEvent, CrmCase, ServiceRequest, TaskRow
from tests.driver import Driver
from tests.e2e.conftest import DATA, snapshot
from tests.web import WebUser

XSD = DATA / "xes" / "xes-ieee-1849-2016.xsd"


def events(services, event_type: str) -> list[AuditEvent]:
    with services.uow() as uow:
        found = list(uow.session.scalars(select(AuditEvent).where(AuditEvent.event_type == event_type)
                                         .order_by(AuditEvent.seq)))
        uow.session.expunge_all()
        return found


def tamper(services, seq: int) -> None:
    """Forge a payload and commit it, as someone with the table owner's rights could."""
    with services.uow() as uow:
        postgres = uow.session.get_bind().dialect.name == "postgresql"
        if postgres:
            uow.session.execute(text("ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only"))
        uow.session.execute(update(AuditEvent).where(AuditEvent.seq == seq).values(actor="mallory"))
        if postgres:
            uow.session.execute(text("ALTER TABLE audit_event ENABLE TRIGGER audit_event_append_only"))
        uow.commit()


# --- the command line -------------------------------------------------------------------------------------------

def test_rf_audit_verify_exits_0_when_intact_and_3_at_the_first_broken_link(rf, services):
    rf.new_request("assistance")
    rf.work()
    with services.uow() as uow:
        report = audit.verify(uow.session)
    intact = rf("audit", "verify")
    assert intact.exit_code == 0, intact
    assert intact.stdout.strip() == f"intact: {report.count} events, head {report.head_hash}"
    assert rf.ok("audit", "verify") == {"intact": True, "events": report.count, "head": report.head_hash,
                                        "broken_at": None, "reason": None, "where": None, "chain": None,
                                        "position": None, "chains": report.chains, "checkpoint": 1,
                                        "checkpoint_hash": report.checkpoint_hash}
    checkpoint = rf("audit", "checkpoint")  # nothing new since the worker's checkpoint
    assert checkpoint.stdout.startswith("checkpoint #1 at ") and report.checkpoint_hash in checkpoint.stdout
    assert "nothing new since it" in checkpoint.stdout

    tamper(services, 4)
    broken = rf.fails("audit", "verify", code=3)
    assert broken.stdout.startswith("broken at event 4: row content does not match its hash: chain request:1 "
                                    "(RF-000001), position 2"), broken
    data = rf.fails("audit", "verify", "--json", code=3).json()  # one event of that chain verified before it
    assert (data["intact"], data["broken_at"], data["events"], data["chain"], data["position"]) == (
        False, 4, 1, "request:1", 2)


def test_rf_export_writes_csv_and_xes_and_refuses_bad_input(rf, services, tmp_path):
    number = rf.new_request("assistance")
    rf.work()
    other = rf.new_request("assistance")

    target = tmp_path / "one.csv"
    summary = rf.ok("export", "--format", "csv", "--request", number, "--output", str(target))
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert summary == {"format": "csv", "output": str(target), "events": len(rows), "traces": 1, "request": number}
    assert {r["request_number"] for r in rows} == {number} and rows[0]["event_type"] == "instance_started"

    printed = rf("export", "--format", "xes", "--since", "2000-01-01", "--version", "request_fulfillment:1")
    assert printed.exit_code == 0, printed
    log = etree.fromstring(printed.stdout.encode())
    assert etree.XMLSchema(etree.parse(str(XSD))).validate(log)
    assert [t.find("string[@key='concept:name']").get("value") for t in log.findall("trace")] == [number, other]

    logged = events(services, "auditor_viewed")
    assert [e.payload.get("format") for e in logged] == ["csv", "xes"]
    assert logged[0].actor.startswith("cli:") and logged[1].payload["version"] == "request_fulfillment:1"

    before = snapshot(services)
    assert "--version" in rf.fails("export", "--format", "csv", "--version", "request_fulfillment").stderr
    assert "since" in rf.fails("export", "--format", "csv", "--since", "last week").stderr
    assert "no request RF-424242" in rf.fails("export", "--format", "csv", "--request", "RF-424242").stderr
    assert "no deployed process version" in rf.fails("export", "--format", "xes", "--version", "nope:3").stderr
    assert rf.fails("export", "--format", "pdf").exit_code == 2
    refused = rf.fails("export", "--format", "csv", "--json")
    assert refused.json()["details"] == [{"field": "output", "message": "required with --json"}]
    assert snapshot(services) == before  # nothing exported, nothing logged


# --- the auditor page -------------------------------------------------------------------------------------------

def test_the_audit_page_is_for_auditors_admins_and_process_owners(services, clock):
    Driver(services, clock).new("assistance")
    for user in ("audrey", "adam", "olive"):
        web = WebUser(services, user)
        page = web.get("/audit")
        assert page.status_code == 200, user
        assert b"Intact:" in page.data and b'href="/audit"' in page.data
    for user in ("maria", "sam", "carla"):
        web = WebUser(services, user)
        assert web.get("/audit").status_code == 403, user
        assert web.get("/audit/export/csv").status_code == 403, user
        assert b'href="/audit"' not in web.get("/").data


def test_the_audit_page_filters_pages_and_shows_a_broken_chain(services, clock):
    drive = Driver(services, clock)
    number = drive.new("assistance")
    drive.work()
    with services.uow() as uow:
        for i in range(audit_views.PAGE_SIZE + 5):
            audit.append(uow.session, actor="bulk", event_type="test_event", payload={"i": i}, now=clock.now())
        uow.commit()
    web = WebUser(services, "audrey")

    page = web.get("/audit").get_data(as_text=True)
    assert "Page 1 of 2" in page and "Older" in page
    assert "Page 2 of 2" in web.get("/audit?page=2").get_data(as_text=True)
    only = web.get(f"/audit?request={number}").get_data(as_text=True)
    assert "Page 1 of 1" in only and "“Take case from CRM Pending Queue” ran" in only and "bulk" not in only
    typed = web.get("/audit?type=instance_started").get_data(as_text=True)
    assert "1 event<" in typed and number in typed
    by_actor = web.get("/audit?actor=bulk").get_data(as_text=True)
    assert f"{audit_views.PAGE_SIZE + 5} events" in by_actor
    assert "No audit events" in web.get("/audit?since=2026-12-02").get_data(as_text=True)
    assert "No audit events" in web.get("/audit?until=2026-11-30").get_data(as_text=True)
    wrong = web.get("/audit?since=soon")
    assert wrong.status_code == 422 and b"expected YYYY-MM-DD" in wrong.data
    missing = web.get("/audit?request=RF-999999")
    assert missing.status_code == 422 and b"no request RF-999999" in missing.data
    assert f"/audit/export/csv?request={number}" in only  # the export links carry the filters

    tamper(services, 3)
    broken = web.get("/audit").get_data(as_text=True)
    assert "Broken at event 3:" in broken and "row content does not match its hash" in broken


def test_downloads_from_the_audit_and_request_pages_are_logged(services, clock):
    drive = Driver(services, clock)
    number = drive.new("assistance")
    drive.work()
    audrey = WebUser(services, "audrey")
    request_page = audrey.get(f"/requests/{number}").get_data(as_text=True)
    assert f"/audit/export/csv?request={number}" in request_page
    assert f"/audit/export/xes?request={number}" in request_page
    assert "/audit/export/" not in WebUser(services, "maria").get(f"/requests/{number}").get_data(as_text=True)

    got = audrey.get(f"/audit/export/csv?request={number}")
    assert got.status_code == 200 and got.mimetype == "text/csv"
    assert got.headers["Content-Disposition"] == f"attachment; filename=rf-audit_{number}.csv"
    rows = list(csv.DictReader(io.StringIO(got.get_data(as_text=True))))
    assert {r["request_number"] for r in rows} == {number}
    xes = audrey.get("/audit/export/xes?since=2026-12-01&until=2026-12-01")
    assert xes.status_code == 200 and xes.mimetype == "application/xml"
    assert etree.XMLSchema(etree.parse(str(XSD))).validate(etree.fromstring(xes.data))
    assert audrey.get("/audit/export/pdf").status_code == 422
    assert audrey.get("/audit/export/csv?version=nope:1").status_code == 404

    exports = [e for e in events(services, "auditor_viewed") if e.payload["view"] == "export"]
    assert [(e.actor, e.payload["format"]) for e in exports] == [("audrey", "csv"), ("audrey", "xes")]
    assert exports[0].payload["request"] == number
    assert (exports[1].payload["since"], exports[1].payload["until"]) == ("2026-12-01", "2026-12-01")


# --- auditors are read-only, and their looks are logged ---------------------------------------------------------

def test_an_auditors_look_at_a_request_is_itself_audited(services, clock):
    number = Driver(services, clock).new("assistance")
    assert WebUser(services, "maria").get(f"/requests/{number}").status_code == 200
    assert events(services, "auditor_viewed") == []  # staff views are not logged

    audrey = WebUser(services, "audrey")
    page = audrey.get(f"/requests/{number}")
    assert page.status_code == 200 and b"Auditor viewed" in page.data  # the view shows in the request's timeline
    assert audrey.get(f"/api/requests/{number}").get_json()["number"] == number
    viewed = events(services, "auditor_viewed")
    assert [(e.actor, e.payload) for e in viewed] == [
        ("audrey", {"view": "request_page", "request_number": number}),
        ("audrey", {"view": "request_json", "request_number": number})]
    with services.uow() as uow:
        request_id = uow.session.scalars(select(ServiceRequest.id).where(ServiceRequest.number == number)).one()
        assert {e.request_id for e in viewed} == {request_id}
        assert audit.verify(uow.session).intact
    assert audrey.get("/requests/RF-424242").status_code == 404


def test_an_auditor_sees_every_group_but_every_action_is_refused(services, clock):
    drive = Driver(services, clock)
    network = drive.new("assistance")
    apps = drive.new("enhancement", provider_group="apps")
    drive.work()
    task = drive.open_task(network, "assign_specialist")
    plan = drive.open_task(apps, "draw_up_work_plan")
    with services.uow() as uow:
        pending = uow.session.scalars(select(CrmCase.case_number).where(CrmCase.status == "pending",
                                                                        CrmCase.request_number.is_(None))).first()
    assert pending

    audrey = WebUser(services, "audrey")
    board = audrey.get("/").get_data(as_text=True)
    assert network in board and apps in board
    assert audrey.get(f"/requests/{apps}").status_code == 200
    before = snapshot(services)
    attempts = [
        (f"/tasks/{task.task_uuid}/claim", {}),
        (f"/tasks/{task.task_uuid}", {"specialist": "sam"}),
        (f"/tasks/{task.task_uuid}/assign", {"assignee": "sam"}),
        (f"/tasks/{task.task_uuid}/unclaim", {}),
        (f"/tasks/{plan.task_uuid}/claim", {}),
        ("/requests/new", {"request_type": "assistance", "title": "Audit me", "agency": "Audit", "priority": "low",
                           "requester_name": "Aud Itor", "requester_email": "a@x.example",
                           "provider_group": "network"}),
        (f"/crm/queue/{pending}/pull", {"priority": "high"}),
        ("/admin/users/sam/grant", {"role": "auditor", "group": ""}),
        ("/admin/groups", {"code": "audit", "name": "Audit"}),
    ]
    for path, data in attempts:
        assert audrey.post(path, data).status_code == 403, path
    assert audrey.get(f"/tasks/{task.task_uuid}").status_code == 403
    assert audrey.get("/requests/new").status_code == 403
    assert audrey.get("/crm/queue").status_code == 403
    assert snapshot(services) == before  # not a row changed: no claim, no task, no request, no audit row
    with services.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(TaskRow).where(TaskRow.assignee.is_not(None))) == 0
