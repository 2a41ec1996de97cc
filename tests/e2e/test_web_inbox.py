"""Staff in the browser (Flask test client): who sees and may act on which task, forms, CSRF, conflicts."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from app.store.models import AuditEvent, TaskRow
from tests.driver import Driver
from tests.web import WebUser


def audit_count(services) -> int:
    with services.uow() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(AuditEvent)))


def test_inbox_shows_a_task_only_to_holders_of_its_lane_role_in_the_group(services, clock):
    drive = Driver(services, clock)
    number = drive.new("assistance")
    drive.work()
    task = drive.open_task(number, "assign_specialist")
    assert task.name.encode() in WebUser(services, "maria").get("/inbox?queue=available").data
    for outsider in ("sam", "pete", "carla", "audrey"):
        page = WebUser(services, outsider).get("/inbox?queue=groups")
        assert number.encode() not in page.data, outsider


def test_outsiders_get_403_on_view_claim_and_complete_and_nothing_changes(services, clock):
    drive = Driver(services, clock)
    number = drive.new("assistance")
    drive.work()
    task = drive.open_task(number, "assign_specialist")
    before = audit_count(services)
    for outsider in ("sam", "pete", "carla"):
        web = WebUser(services, outsider)
        assert web.get(f"/tasks/{task.task_uuid}").status_code == 403
        assert web.post(f"/tasks/{task.task_uuid}/claim").status_code == 403
        assert web.post(f"/tasks/{task.task_uuid}", {"specialist": "sam"}).status_code == 403
    assert audit_count(services) == before + 3  # only the three logins were recorded
    assert drive.open_task(number, "assign_specialist").assignee is None


def test_a_task_assigned_to_a_colleague_cannot_be_completed_by_another_holder_of_the_role(services, clock):
    drive = Driver(services, clock)
    number = drive.new("assistance")
    drive.work()
    drive.complete(number, "assign_specialist", "maria", {"specialist": "sam"})
    task = drive.open_task(number, "fulfil_assistance_request")
    sara = WebUser(services, "sara")
    assert b"sam is working on this task" in sara.get(f"/tasks/{task.task_uuid}").data
    data = {"resolution_notes": "x", "resolution_code": "resolved", "time_spent_hours": "1"}
    assert sara.post(f"/tasks/{task.task_uuid}", data).status_code == 403
    assert WebUser(services, "sam").post(f"/tasks/{task.task_uuid}", data).status_code == 302


def test_posts_without_a_csrf_token_are_refused(services, clock):
    drive = Driver(services, clock)
    number = drive.new("assistance")
    drive.work()
    task = drive.open_task(number, "assign_specialist")
    maria = WebUser(services, "maria")
    before = audit_count(services)
    for path, data in [(f"/tasks/{task.task_uuid}", {"specialist": "sam"}), (f"/tasks/{task.task_uuid}/claim", {}),
                       ("/requests/new", {"request_type": "assistance"}), ("/logout", {})]:
        page = maria.post(path, data, csrf=False)
        assert page.status_code == 400 and b"CSRF" in page.data, path
    assert audit_count(services) == before
    assert drive.open_task(number, "assign_specialist").assignee is None


def test_invalid_form_data_re_renders_with_errors_beside_fields_and_keeps_input(services, clock):
    drive = Driver(services, clock)
    number = drive.new("enhancement")
    task = drive.open_task(number, "draw_up_work_plan")
    pete = WebUser(services, "pete")
    before = audit_count(services)
    page = pete.post(f"/tasks/{task.task_uuid}", {"work_plan": "Plan <b>bold</b>", "estimated_hours": "lots",
                                                   "planned_start": "2026-12-02", "planned_finish": ""})
    html = page.get_data(as_text=True)
    assert page.status_code == 422
    assert re.search(r'id="field-estimated_hours-error"[^>]*>Must be a number', html)
    assert re.search(r'id="field-planned_finish-error"[^>]*>This field is required', html)
    assert "Plan &lt;b&gt;bold&lt;/b&gt;" in html and 'value="2026-12-02"' in html
    assert audit_count(services) == before
    with services.uow() as uow:
        assert uow.session.get(TaskRow, task.id).status == "open"


def test_double_submit_says_the_task_was_already_completed(services, clock):
    drive = Driver(services, clock)
    number = drive.new("assistance")
    drive.work()
    task = drive.open_task(number, "assign_specialist")
    maria = WebUser(services, "maria")
    assert maria.post(f"/tasks/{task.task_uuid}", {"specialist": "sam"}).status_code == 302
    again = maria.post(f"/tasks/{task.task_uuid}", {"specialist": "sara"})
    assert again.status_code == 302
    inbox = maria.get(again.headers["Location"]).get_data(as_text=True)
    assert "already completed by maria" in inbox
    assert drive.open_task(number, "fulfil_assistance_request").assignee == "sam"


def test_manager_assigns_a_task_to_a_colleague_and_the_pending_queue_can_be_pulled(services, clock):
    drive = Driver(services, clock)
    number = drive.new("assistance")
    drive.work()
    drive.complete(number, "assign_specialist", "maria", {"specialist": "sam"})
    task = drive.open_task(number, "fulfil_assistance_request")
    maria = WebUser(services, "maria")
    assert maria.post(f"/tasks/{task.task_uuid}/assign", {"assignee": "sara"}).status_code == 302
    assert drive.open_task(number, "fulfil_assistance_request").assignee == "sara"
    assert maria.post(f"/tasks/{task.task_uuid}/assign", {"assignee": "pete"}).status_code == 403
    assert WebUser(services, "sam").post(f"/tasks/{task.task_uuid}/assign", {"assignee": "sam"}).status_code == 403


def test_logging_an_enhancement_in_the_browser_puts_it_on_the_schedule_until_it_is_pulled(services, clock):
    carla = WebUser(services, "carla")
    page = carla.post("/requests/new", {"request_type": "enhancement", "routine": "true", "title": "Visitor report",
                                        "agency": "Tourism", "requester_name": "Ann Agency",
                                        "requester_email": "ann@tourism.example", "provider_group": "apps",
                                        "priority": "high"})
    assert page.status_code == 302
    number = page.headers["Location"].rsplit("/", 1)[1]
    shown = carla.get(f"/requests/{number}").get_data(as_text=True)
    assert "waits on the 60 day schedule for the week of" in shown
    assert Driver(services, clock).open_bpmn_ids(number) == []
    assert WebUser(services, "pete").post(f"/schedule/{number}/pull").status_code == 302
    assert Driver(services, clock).open_bpmn_ids(number) == ["draw_up_work_plan"]
    assert WebUser(services, "sam").get("/requests/new").status_code == 403


def test_manager_pulls_a_case_from_the_crm_pending_queue_into_a_request(services, clock):
    maria = WebUser(services, "maria")
    queue = maria.get("/crm/queue").get_data(as_text=True)
    assert "VPN access for the Guthrie field office" in queue and "CRM-000001" in queue
    page = maria.post("/crm/queue/CRM-000001/pull", {"priority": "high"})
    assert page.status_code == 302
    number = page.headers["Location"].rsplit("/", 1)[1]
    drive = Driver(services, clock)
    drive.work()
    shown = drive.show(number)
    assert (shown["crm_case"]["case"], shown["crm_case"]["status"], shown["priority"]) == ("CRM-000001",
                                                                                           "in_progress", "high")
    maria.get(f"/requests/{number}")  # shows (and so clears) the flash message
    assert "Guthrie" not in maria.get("/crm/queue").get_data(as_text=True)
    assert WebUser(services, "sam").get("/crm/queue").status_code == 403
    again = maria.post("/crm/queue/CRM-000001/pull", {"priority": "high"})
    assert again.status_code == 422 and b"not in the Pending Queue" in again.data


def test_manager_pulls_a_crm_case_as_a_request_for_change_onto_the_60_day_schedule(services, clock):
    maria = WebUser(services, "maria")
    assert "as a Request for Change (60 day schedule)" in maria.get("/crm/queue").get_data(as_text=True)
    refused = maria.post("/crm/queue/CRM-000002/pull", {"priority": "high", "as": "incident"})
    assert refused.status_code == 422 and b"use assistance or enhancement" in refused.data
    page = maria.post("/crm/queue/CRM-000002/pull", {"priority": "high", "as": "enhancement"})
    assert page.status_code == 302
    number = page.headers["Location"].rsplit("/", 1)[1]
    shown = maria.get(f"/requests/{number}").get_data(as_text=True)
    assert "a Request for Change on the 60 day schedule" in shown and 'data-testid="scheduled"' in shown
    assert Driver(services, clock).open_bpmn_ids(number) == []
    assert number in maria.get("/schedule").get_data(as_text=True)
