"""The 60 day schedule as a queue (app/services/requests/schedule_queue.py): routine enhancement requests logged with
`schedule` wait with a planned week and no process instance, the group's service providers and managers re-plan them,
and pulling one starts its process exactly once; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import func, inspect, select

from app.domain.permissions import OPERATOR
from app.errors import Conflict, Forbidden, InvalidData, NotFound
from app.services.admin import auth
from app.services.admin.setup import MIGRATIONS
from app.services.audit import replay
from app.services.reports import schedule as schedules
from app.services.requests import intake, listing, queries
from app.services.requests import schedule_queue as queue
from app.services.requests.listing import RequestFilters
from app.store.db import Base
from app.store.models import AuditEvent, ProcessInstance, ServiceRequest, TaskRow, User
from tests.conftest import START, day
from tests.driver import REQUEST, Driver

APPS = {**REQUEST, "provider_group": "apps", "title": "Visitor report for the portal"}
MONDAY = START.date() - timedelta(days=START.date().weekday())  # the tests' clock starts on a Thursday


def who(services, username: str):
    with services.uow() as uow:
        return auth.identity_of(uow.session.scalars(select(User).where(User.username == username)).one())


def scheduled(services, **overrides) -> str:
    request = intake.new_request(services, "enhancement", {**APPS, **overrides}, "carla", schedule=True)
    assert request.number
    return request.number


def state(services, number: str) -> tuple[str, date | None, int, list[str]]:
    """status, planned week, process instances, audit event types of the request."""
    with services.uow() as uow:
        s = uow.session
        request = s.scalars(select(ServiceRequest).where(ServiceRequest.number == number)).one()
        instances = s.scalar(select(func.count()).select_from(ProcessInstance)
                             .where(ProcessInstance.request_id == request.id))
        events = list(s.scalars(select(AuditEvent.event_type).where(AuditEvent.request_id == request.id)
                                .order_by(AuditEvent.seq)))
        return request.status, request.planned_week, instances or 0, events


def test_a_scheduled_enhancement_waits_this_week_without_a_process_and_is_listed_as_scheduled(services):
    number = scheduled(services)
    assert state(services, number) == ("scheduled", MONDAY, 0, ["request_scheduled", "sla_paused"])
    shown = queries.show_request(services, number, reader=OPERATOR)
    assert (shown["status"], shown["instance"]["status"], shown["path"], shown["open_tasks"]) == (
        "scheduled", "scheduled", [], [])
    assert shown["planned_week"] == MONDAY.isoformat() and shown["crm_case"]["status"] == "in_progress"
    with services.uow() as uow:  # nobody is late while it waits for its week: its clock is paused, with the reason
        request = uow.session.scalars(select(ServiceRequest).where(ServiceRequest.number == number)).one()
        assert request.sla_paused_since is not None and request.sla_next_check_at is None
        [paused] = uow.session.scalars(select(AuditEvent.payload).where(
            AuditEvent.request_id == request.id, AuditEvent.event_type == "sla_paused")).all()
        assert paused["reason"] == "waiting on the 60 day schedule"
    found = listing.list_requests(services, OPERATOR, RequestFilters(q="visitor report", status="scheduled"))
    assert [(r["number"], r["status"]) for r in found.items] == [(number, "scheduled")]


def test_assistance_and_non_routine_requests_start_at_once_even_when_scheduling(services):
    help_desk = intake.new_request(services, "assistance", REQUEST, "maria", schedule=True)
    discovery = intake.new_request(services, "enhancement", {**APPS, "routine": False}, "carla", schedule=True)
    without = intake.new_request(services, "enhancement", APPS, "carla")
    for request in (help_desk, discovery, without):
        status, week, instances, _ = state(services, request.number or "")
        assert (status, week, instances) == ("open", None, 1)


def test_a_service_provider_pulls_a_request_in_its_week_and_its_work_plan_is_ready(services, clock):
    number = scheduled(services)
    pulled = queue.pull(services, who(services, "pete"), number)
    status, week, instances, events = state(services, number)
    assert (status, week, instances) == ("open", MONDAY, 1)
    # its SLA clock was paused while it waited for its week (as after Discovery) and runs from the pull
    assert events[:4] == ["request_scheduled", "sla_paused", "request_pulled", "instance_started"]
    assert "sla_resumed" in events
    with services.uow() as uow:
        request = uow.session.scalars(select(ServiceRequest).where(ServiceRequest.number == number)).one()
        assert request.sla_paused_since is None and request.sla_next_check_at is not None
    assert Driver(services, clock).open_bpmn_ids(number) == ["draw_up_work_plan"]
    with services.uow() as uow:
        task = uow.session.scalars(select(TaskRow).where(TaskRow.task_uuid == pulled.first_task)).one()
        assert task.bpmn_id == "draw_up_work_plan"


def test_a_pulled_request_replays_identical_and_a_waiting_one_has_nothing_to_replay(services, clock):
    waiting, pulled = scheduled(services), scheduled(services, title="Pulled report")
    queue.pull(services, who(services, "pete"), pulled)
    drive = Driver(services, clock)
    drive.complete(pulled, "draw_up_work_plan", "pete", {"work_plan": "Build it", "estimated_hours": 8,
                                                        "planned_start": day(1), "planned_finish": day(5)})
    drive.work()
    report = replay.replay_request(services, pulled, reader=OPERATOR)
    assert report.identical, report.differences
    with pytest.raises(NotFound, match="has no process instance"):
        replay.replay_request(services, waiting, reader=OPERATOR)


def test_pulling_twice_starts_one_process_and_the_second_pull_is_a_conflict(services):
    number = scheduled(services)
    queue.pull(services, who(services, "maria"), number)
    before = state(services, number)
    with pytest.raises(Conflict, match="not waiting on the schedule any more"):
        queue.pull(services, who(services, "pete"), number)
    with pytest.raises(Conflict):
        queue.replan(services, who(services, "pete"), number, (MONDAY + timedelta(weeks=1)).isoformat())
    assert state(services, number) == before and before[2] == 1


@pytest.mark.parametrize("username", ["carla", "sam"])
def test_only_service_providers_and_managers_of_the_group_pull_or_replan(services, username):
    number = scheduled(services)
    wrong = who(services, username)
    with pytest.raises((Forbidden, NotFound)):  # sam (network only) does not see an apps request at all
        queue.pull(services, wrong, number)
    with pytest.raises((Forbidden, NotFound)):
        queue.replan(services, wrong, number, "2026-W52")
    assert state(services, number) == ("scheduled", MONDAY, 0, ["request_scheduled", "sla_paused"])


def test_a_request_planned_for_a_later_week_waits_for_a_service_provider_but_a_manager_may_pull_it_early(services):
    number = scheduled(services)
    planned = queue.replan(services, who(services, "pete"), number, (MONDAY + timedelta(days=16)).isoformat())
    later = planned.week
    assert planned == queue.Planned(number, MONDAY + timedelta(weeks=2))
    assert state(services, number)[:2] == ("scheduled", later)
    with pytest.raises(Forbidden, match="a service provider pulls it from that week on"):
        queue.pull(services, who(services, "pete"), number)
    assert state(services, number)[0] == "scheduled"
    pulled = queue.pull(services, who(services, "maria"), number)
    assert pulled.first_task is None  # maria does not work the service provider's task: she lands on the request
    assert state(services, number)[:3] == ("open", later, 1)
    assert state(services, number)[3][:4] == ["request_scheduled", "sla_paused", "request_replanned",
                                              "request_pulled"]


def test_the_planned_week_accepts_an_iso_week_and_refuses_bad_past_and_far_weeks(services):
    number = scheduled(services)
    pete = who(services, "pete")
    next_week = (MONDAY + timedelta(weeks=1)).isocalendar()
    planned = queue.replan(services, pete, number, f"{next_week.year}-W{next_week.week:02d}")
    assert planned.week == MONDAY + timedelta(weeks=1)
    for bad in ("", "next week", "2026-W60", "2026-13-01", "x" * 500,
                (MONDAY - timedelta(weeks=1)).isoformat(), (MONDAY + timedelta(weeks=60)).isoformat()):
        with pytest.raises(InvalidData) as refused:
            queue.replan(services, pete, number, bad)
        assert [e.field for e in refused.value.errors] == ["week"]
    assert state(services, number)[1] == MONDAY + timedelta(weeks=1)


def test_the_schedule_shows_the_queue_by_week_with_this_week_and_overdue_weeks_marked(services, clock):
    waiting = scheduled(services, title="Old report")
    later = scheduled(services, title="Later report")
    queue.replan(services, who(services, "pete"), later, (MONDAY + timedelta(weeks=2)).isoformat())
    clock.advance(timedelta(weeks=1))  # the first request's week has passed
    plan = schedules.schedule(services, who(services, "pete"), clock.now())
    assert [(w.start, w.this_week, w.overdue, [q.number for q in w.requests]) for w in plan.queue] == [
        (MONDAY, False, True, [waiting]), (MONDAY + timedelta(weeks=2), False, False, [later])]
    assert [(q.may_pull, q.may_replan) for w in plan.queue for q in w.requests] == [(True, True), (False, True)]
    assert plan.rows == []  # waiting requests are not yet work against a plan
    carla = schedules.schedule(services, who(services, "carla"), clock.now())
    assert [(q.may_pull, q.may_replan) for w in carla.queue for q in w.requests] == [(False, False), (False, False)]
    clock.advance(timedelta(weeks=1))
    plan = schedules.schedule(services, who(services, "maria"), clock.now())
    assert [(w.this_week, w.overdue) for w in plan.queue] == [(False, True), (True, False)]


def test_the_migration_adds_the_planned_week_and_downgrades_keeping_every_request(services):
    number = scheduled(services)
    with services.uow() as uow:
        before = uow.session.scalar(select(func.count()).select_from(ServiceRequest))
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with services.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0016")
    with services.engine.connect() as conn:
        assert "planned_week" not in {c["name"] for c in inspect(conn).get_columns("service_request")}
        assert conn.exec_driver_sql("SELECT count(*) FROM service_request").scalar() == before
        assert conn.exec_driver_sql("SELECT count(*) FROM task").scalar() == 0  # no rows lost, none made
    with services.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "heads")
    with services.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert [d for d in diffs if "planned_week" in repr(d)] == []
    assert state(services, number)[:2] == ("scheduled", None)  # the week is gone with the column: this week again
    plan = schedules.schedule(services, who(services, "maria"), services.clock.now())
    assert [(w.start, [q.number for q in w.requests]) for w in plan.queue] == [(MONDAY, [number])]
