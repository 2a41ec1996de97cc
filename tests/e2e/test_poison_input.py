"""Bad records are refused where they enter, or isolated where they cannot be: single-line request fields, lengths
that agree with every later step, cross-field rules in task forms (web and `rf`), and the administrators' outbox."""

from __future__ import annotations

import json
import re
from email.header import decode_header, make_header

import pytest
from sqlalchemy import select

from app.services import worker
from app.store.models import AuditEvent, Notification, ServiceJob, ServiceRequest, TaskRow, WorkListEntry
from tests.conftest import day
from tests.driver import REQUEST, Driver
from tests.e2e.conftest import count
from tests.web import WebUser

SINGLE_LINE_BREAKERS = [("title", "VPN access\nBcc: everyone@x.test"), ("title", "Tabbed\ttitle"),
                        ("agency", "Tourism\r\nDepartment"), ("requester_name", "Ann\u2028Agency"),
                        ("requester_email", "ann@tourism.example\n"), ("title", "Bell\x07title")]


@pytest.fixture
def drive(services, clock) -> Driver:
    return Driver(services, clock)


@pytest.mark.parametrize(("field", "value"), SINGLE_LINE_BREAKERS)
def test_rf_refuses_a_control_character_in_a_single_line_request_field_naming_the_field(rf, services, field, value):
    before = count(services, ServiceRequest)
    outcome = rf("request", "new", "--type", "assistance", "--data", json.dumps({**REQUEST, field: value}), "--json")
    assert outcome.exit_code == 2, str(outcome)
    body = outcome.json()
    assert body["status"] == 422 and field in [d["field"] for d in body["details"]], body
    assert count(services, ServiceRequest) == before


@pytest.mark.parametrize(("field", "value"), [f for f in SINGLE_LINE_BREAKERS if f[0] != "requester_email"])
def test_the_new_request_page_refuses_a_line_break_with_a_422_beside_the_field(services, field, value):
    carla = WebUser(services, "carla")
    form = {"request_type": "enhancement", "routine": "true", "title": "Visitor report", "agency": "Tourism",
            "requester_name": "Ann Agency", "requester_email": "ann@tourism.example", "provider_group": "apps",
            "priority": "high", field: value}
    page = carla.post("/requests/new", form)
    assert page.status_code == 422
    assert re.search(rf'id="field-{field}-error"[^>]*>Must be a single line', page.get_data(as_text=True))
    assert count(services, ServiceRequest) == 0


def test_the_description_keeps_its_line_breaks(drive, services):
    number = drive.new("assistance", description="First line\n\tindented second line\r\nthird")
    with services.uow() as uow:
        request = uow.session.scalars(select(ServiceRequest).where(ServiceRequest.number == number)).one()
        assert request.description == "First line\n\tindented second line\r\nthird"


def test_the_longest_title_the_form_accepts_still_closes_the_request_with_a_bounded_subject(drive, services,
                                                                                         mailbox):
    title = ("Replace the regional office network switches and re-cable the " * 6)[:300]
    number = drive.new("assistance", title=title)
    drive.work()
    drive.complete(number, "assign_specialist", "maria", {"specialist": "sam"})
    drive.complete(number, "fulfil_assistance_request", "sam",
                   {"resolution_notes": "Switches replaced", "resolution_code": "resolved", "time_spent_hours": 3})
    summary = drive.work()
    assert summary.incidents == 0 and summary.services_failed == 0
    assert drive.show(number)["status"] == "closed"
    [mail] = mailbox.to(REQUEST["requester_email"])
    subject = str(make_header(decode_header(re.sub(r"\r?\n", "", str(mail["Subject"])))))
    assert len(subject) <= 300 and f"Request {number} fulfilled: Replace the regional" in subject
    assert subject.endswith("…")


def test_a_blank_title_is_refused_before_it_could_strand_a_later_step(rf, services):
    outcome = rf("request", "new", "--type", "enhancement", "--data", json.dumps({**REQUEST, "title": "    "}),
                 "--json")
    assert outcome.exit_code == 2
    assert {"field": "title", "message": "Must not be blank."} in outcome.json()["details"]


BAD_PLAN = {"work_plan": "Add the report", "estimated_hours": 16, "planned_start": day(10), "planned_finish": day(3)}


def test_the_work_plan_page_refuses_a_finish_before_the_start_beside_the_field(drive, services):
    number = drive.new("enhancement")
    task = drive.open_task(number, "draw_up_work_plan")
    pete = WebUser(services, "pete")
    form = pete.get(f"/tasks/{task.task_uuid}").get_data(as_text=True)
    assert re.search(r'name="planned_finish"[^>]*data-compare="&gt;= planned_start"', form)
    assert "Must be on or after the planned start." in form and "form-rules.js" in form
    page = pete.post(f"/tasks/{task.task_uuid}", {k: str(v) for k, v in BAD_PLAN.items()})
    assert page.status_code == 422
    assert re.search(r'id="field-planned_finish-error"[^>]*>Must be on or after the planned start\.',
                     page.get_data(as_text=True))
    with services.uow() as uow:
        assert uow.session.get(TaskRow, task.id).status == "open"
    assert pete.post(f"/tasks/{task.task_uuid}", {**{k: str(v) for k, v in BAD_PLAN.items()},
                                                  "planned_finish": day(10)}).status_code == 302
    summary = drive.work()
    assert summary.incidents == 0 and summary.services_failed == 0
    assert [(e.planned_start.isoformat(), e.planned_finish.isoformat()) for e in _entries(services)] == [
        (day(10), day(10))]


def _entries(services) -> list[WorkListEntry]:
    with services.uow() as uow:
        found = list(uow.session.scalars(select(WorkListEntry)))
        uow.session.expunge_all()
        return found


def test_rf_complete_refuses_a_finish_before_the_start_so_the_work_list_never_fails(rf, services):
    number = rf.new_request("enhancement")
    task_id = rf.task(number, "draw_up_work_plan")["id"]
    outcome = rf("complete", task_id, "--user", "pete", "--data", json.dumps(BAD_PLAN), "--json")
    assert outcome.exit_code == 2
    assert outcome.json()["details"] == [{"field": "planned_finish",
                                          "message": "Must be on or after the planned start."}]
    assert rf.open_bpmn_ids(number) == ["draw_up_work_plan"]
    with services.uow() as uow:
        assert uow.session.scalars(select(ServiceJob)).all() == []


def _failed_mail(services) -> int:
    now = services.clock.now()
    with services.uow() as uow:
        row = Notification(kind="customer", to_addrs="ann@tourism.example", subject="Left by an old version\nX: y",
                           body="b", request_number=None, idempotency_key="old-version", created_at=now,
                           next_attempt_at=now)
        uow.session.add(row)
        uow.commit()
        message_id = row.id
    worker.send_mail(services, now)
    return message_id


def test_administrators_see_failed_mail_in_the_admin_area_and_retry_it(services, mailbox):
    message_id = _failed_mail(services)
    adam = WebUser(services, "adam")
    assert "/admin/outbox" in adam.get("/admin/users").get_data(as_text=True)
    page = adam.get("/admin/outbox").get_data(as_text=True)
    assert "Left by an old version" in page and "cannot be built: ValueError" in page
    assert WebUser(services, "maria").get("/admin/outbox").status_code == 403
    assert WebUser(services, "maria").post(f"/admin/outbox/{message_id}/retry").status_code == 403
    assert WebUser(services, "olive").get("/admin/outbox").status_code == 403
    done = adam.post(f"/admin/outbox/{message_id}/retry")
    assert done.status_code == 302
    assert "queued again" in adam.get(done.headers["Location"]).get_data(as_text=True)
    again = adam.post(f"/admin/outbox/{message_id}/retry")
    assert "is queued, not failed" in adam.get(again.headers["Location"]).get_data(as_text=True)
    for huge in ("99999999999", "99999999999999999999999"):  # beyond the id column: not found, never a 500
        assert adam.post(f"/admin/outbox/{huge}/retry").status_code == 404
    with services.uow() as uow:
        assert uow.session.get(Notification, message_id).status == "queued"
        events = uow.session.scalars(select(AuditEvent).where(AuditEvent.event_type == "mail_retried")).all()
        assert [e.actor for e in events] == ["adam"]


def test_rf_outbox_lists_failed_mail_and_retries_it_for_administrators_only(rf, services):
    message_id = _failed_mail(services)
    listed = rf.ok("outbox", "failed", "--user", "adam")
    assert listed["failed_total"] == 1 and listed["failed"][0]["id"] == message_id
    assert listed["failed"][0]["reason"].startswith("cannot be built")
    assert "Forbidden" not in rf.fails("outbox", "failed", "--user", "maria").output
    assert "administrators only" in rf.fails("outbox", "retry", str(message_id), "--user", "maria").output
    rf.fails("outbox", "retry", "--user", "adam")  # neither an ID nor --all
    assert rf.ok("outbox", "retry", str(message_id), "--user", "adam")["status"] == "queued"
    assert "not failed" in rf.fails("outbox", "retry", str(message_id), "--user", "adam").output
    assert rf.ok("outbox", "retry", "--all", "--user", "adam") == {"queued": 0}


def test_a_crm_case_whose_subject_spans_lines_is_pulled_as_a_one_line_title(services):
    from app.store.models import CrmCase

    with services.uow() as uow:
        case = uow.session.scalars(select(CrmCase).where(CrmCase.case_number == "CRM-000001")).one()
        case.subject = "VPN access\r\nfor the\tfield office"
        uow.commit()
    page = WebUser(services, "maria").post("/crm/queue/CRM-000001/pull", {"priority": "high"})
    assert page.status_code == 302
    with services.uow() as uow:
        request = uow.session.scalars(select(ServiceRequest).where(ServiceRequest.crm_case_id == "CRM-000001")).one()
        assert request.title == "VPN access for the field office"
