"""A non-routine enhancement request after Discovery waits on the 60 day schedule like a routine one: its process
rests at *Wait on the 60 day schedule* (bpmn/request_fulfillment.bpmn) with the SLA clock paused, the request is
`scheduled` with a planned week, is re-planned like any other, and pulling it continues the same instance into
*Fulfil enhancement request*; on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.domain.permissions import OPERATOR
from app.errors import Conflict, Forbidden
from app.services.admin import auth
from app.services.audit import replay
from app.services.definitions import current
from app.services.definitions import deploy as definitions
from app.services.reports import schedule as schedules
from app.services.requests import schedule_queue as queue
from app.services.tasks import actions as tasks
from app.services.tasks.inbox import InboxFilters, inbox
from app.store.models import AuditEvent, ProcessInstance, ServiceRequest, TaskRow
from tests.conftest import START, day
from tests.driver import Driver
from tests.instance_states import bundled
from tests.web import WebUser

MONDAY = START.date() - timedelta(days=START.date().weekday())
WORK_PLAN = {"work_plan": "Build the SFTP drop", "estimated_hours": 24, "planned_start": day(7),
             "planned_finish": day(14)}


@pytest.fixture
def drive(services, clock) -> Driver:
    return Driver(services, clock)


def through_discovery(drive: Driver, title: str = "Managed SFTP service") -> str:
    number = drive.new("enhancement", routine=False, provider_group="apps", title=title)
    drive.complete(number, "document_customer_need", "carla",
                   {"need_summary": "SFTP drop for vendors", "customer_is_current": True, "new_service": False})
    drive.complete(number, "prepare_proposal", "pete",
                   {"proposal_summary": "Managed SFTP", "estimated_cost": 4200, "po_number": "PO-2026-0042"})
    drive.work()  # the proposal goes to the CRM case; Discovery ends
    return number


def request_row(services, number: str) -> ServiceRequest:
    with services.uow() as uow:
        row = uow.session.scalars(select(ServiceRequest).where(ServiceRequest.number == number)).one()
        uow.session.expunge_all()
        return row


def events(services, number: str, *types: str) -> list[AuditEvent]:
    with services.uow() as uow:
        found = list(uow.session.scalars(select(AuditEvent).join(
            ServiceRequest, ServiceRequest.id == AuditEvent.request_id).where(
            ServiceRequest.number == number, AuditEvent.event_type.in_(types)).order_by(AuditEvent.seq)))
        uow.session.expunge_all()
        return found


def instances(services, number: str) -> int:
    with services.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(ProcessInstance).join(
            ServiceRequest, ServiceRequest.id == ProcessInstance.request_id).where(
            ServiceRequest.number == number)) or 0


def test_after_discovery_the_request_waits_on_the_schedule_with_its_sla_clock_paused(drive, services, clock):
    number = through_discovery(drive)
    shown = drive.show(number)
    assert (shown["status"], shown["planned_week"]) == ("scheduled", MONDAY.isoformat())
    assert drive.open_bpmn_ids(number) == ["wait_on_schedule"] and "discovery" in shown["path"]
    assert shown["sla"]["state"] == "paused"
    [scheduled] = events(services, number, "request_scheduled")
    assert scheduled.payload["planned_week"] == MONDAY.isoformat()
    assert scheduled.payload["waiting_at"] == "wait_on_schedule"
    [paused] = events(services, number, "sla_paused")
    assert paused.payload["reason"] == "waiting on the 60 day schedule"
    plan = schedules.schedule(services, auth.load_identity(services, "pete"), clock.now())
    assert [(w.start, [(q.number, q.may_pull, q.may_replan) for q in w.requests]) for w in plan.queue] == [
        (MONDAY, [(number, True, True)])]
    assert number not in [r.number for r in plan.rows]
    page = WebUser(services, "pete").get(f"/requests/{number}").get_data(as_text=True)
    assert f"Waits on the 60 day schedule after Discovery, planned for the week of {MONDAY.isoformat()}" in page
    assert "the request is waiting on the 60 day schedule" in page  # the SLA clock's section


def test_the_wait_is_nobodys_inbox_work_only_a_pull_completes_it(drive, services):
    number = through_discovery(drive)
    wait = drive.open_task(number, "wait_on_schedule")
    assert wait.role_code is None and wait.due_at is None
    for name in ("pete", "maria"):
        page = inbox(services, auth.load_identity(services, name), InboxFilters(queue="available"))
        assert number not in [row.request_number for row in page.rows]
    with pytest.raises(Forbidden):
        tasks.complete(services, wait.task_uuid, "pete", {"pulled_by": "pete"})
    assert drive.open_bpmn_ids(number) == ["wait_on_schedule"]


def test_pulling_it_continues_the_same_process_into_the_work_plan(drive, services, clock):
    number = through_discovery(drive)
    clock.advance(timedelta(days=1))
    pulled = drive.pull(number, "pete")
    assert instances(services, number) == 1
    shown = drive.show(number)
    assert shown["status"] == "open" and shown["sla"]["state"] == "running"
    assert drive.open_bpmn_ids(number) == ["draw_up_work_plan"]
    assert drive.open_task(number, "draw_up_work_plan").task_uuid == pulled.first_task
    [pull] = events(services, number, "request_pulled")
    assert pull.actor == "pete"
    completed = [e for e in events(services, number, "task_completed") if e.payload["bpmn_id"] == "wait_on_schedule"]
    assert [(e.actor, e.payload["data"]) for e in completed] == [
        ("pete", {"pulled_by": "pete", "planned_week": MONDAY.isoformat()})]
    [resumed] = events(services, number, "sla_resumed")
    assert resumed.payload["paused_business_seconds"] > 0  # the business day on the schedule is not counted
    assert [e.event_type for e in events(services, number, "instance_started")] == ["instance_started"]

    drive.complete(number, "draw_up_work_plan", "pete", WORK_PLAN)
    drive.work()
    path = drive.show(number)["path"]
    assert path.index("discovery") < path.index("wait_on_schedule") < path.index("draw_up_work_plan")
    report = replay.replay_request(services, number, reader=OPERATOR)
    assert report.identical, report.differences


def test_it_is_replanned_and_a_service_provider_pulls_it_from_its_week_a_manager_earlier(drive, services):
    number = through_discovery(drive)
    pete, maria = auth.load_identity(services, "pete"), auth.load_identity(services, "maria")
    planned = queue.replan(services, pete, number, (MONDAY + timedelta(weeks=2)).isoformat())
    assert request_row(services, number).planned_week == planned.week == MONDAY + timedelta(weeks=2)
    with pytest.raises(Forbidden, match="a service provider pulls it from that week on"):
        queue.pull(services, pete, number)
    assert drive.open_bpmn_ids(number) == ["wait_on_schedule"]
    pulled = queue.pull(services, maria, number)
    assert pulled.first_task is None  # maria does not work the service provider's task
    assert drive.open_bpmn_ids(number) == ["draw_up_work_plan"]
    with pytest.raises(Conflict, match="not waiting on the schedule any more"):
        queue.pull(services, pete, number)
    with pytest.raises(Conflict):
        queue.replan(services, pete, number, (MONDAY + timedelta(weeks=3)).isoformat())
    assert len(events(services, number, "request_pulled", "task_completed")) == 4  # 2 discovery + wait + pull
    assert instances(services, number) == 1


def test_routine_enhancements_still_skip_discovery_and_the_schedule_wait(drive, services):
    number = drive.new("enhancement", provider_group="apps")  # the API's default: started at once
    assert drive.open_bpmn_ids(number) == ["draw_up_work_plan"]
    assert "wait_on_schedule" not in drive.show(number)["path"]
    with services.uow() as uow:
        assert uow.session.scalars(select(TaskRow.bpmn_id).where(TaskRow.request_number == number)).all() == [
            "draw_up_work_plan"]


def without_the_schedule_wait(files: dict[str, bytes]) -> dict[str, bytes]:
    """The bundled process as it was before the wait: Discovery flows straight into the scheduling merge."""
    text = files["request_fulfillment.bpmn"].decode()
    for pattern in (r'\s*<bpmn:lane id="request_fulfillment_lane_service_provider".*?</bpmn:lane>',
                    r'\s*<bpmn:userTask id="wait_on_schedule".*?</bpmn:userTask>',
                    r'\s*<bpmn:sequenceFlow id="flow_wait_on_schedule_to_scheduling_merge"[^>]*/>',
                    r'\s*<bpmndi:BPMNShape id="wait_on_schedule_di".*?</bpmndi:BPMNShape>',
                    r'\s*<bpmndi:BPMNShape id="request_fulfillment_lane_service_provider_di".*?</bpmndi:BPMNShape>',
                    r'\s*<bpmndi:BPMNEdge id="flow_wait_on_schedule_to_scheduling_merge_di".*?</bpmndi:BPMNEdge>'):
        text, count = re.subn(pattern, "", text, count=1, flags=re.S)
        assert count == 1, pattern
    text = text.replace('targetRef="wait_on_schedule"', 'targetRef="scheduling_merge"')
    text = text.replace("flow_wait_on_schedule_to_scheduling_merge", "flow_discovery_to_wait_on_schedule")
    assert 'id="wait_on_schedule"' not in text and '"wait_on_schedule"' not in text
    return {**files, "request_fulfillment.bpmn": text.encode()}


def test_a_request_on_a_version_without_the_wait_goes_on_after_discovery_while_new_ones_wait(drive, services):
    v1 = definitions.deploy(services, bundled(), "olive")  # the bundled process, as `rf init` deployed it
    assert not v1.created and v1.version == 1
    older = definitions.deploy(services, without_the_schedule_wait(bundled()), "olive")
    assert older.created and older.current_version == older.version == 2
    on_older = through_discovery(drive, "On the version without the wait")
    current.make_current(services, "olive", "request_fulfillment", 1)
    on_newer = through_discovery(drive, "On the version with the wait")

    assert (drive.show(on_older)["status"], drive.open_bpmn_ids(on_older)) == ("open", ["draw_up_work_plan"])
    assert drive.show(on_older)["definition"]["version"] == 2
    assert (drive.show(on_newer)["status"], drive.open_bpmn_ids(on_newer)) == ("scheduled", ["wait_on_schedule"])
    drive.complete(on_older, "draw_up_work_plan", "pete", WORK_PLAN)
    drive.work()
    assert drive.open_bpmn_ids(on_older) == ["fulfil_enhancement_request"]
    assert replay.replay_request(services, on_older, reader=OPERATOR).identical
