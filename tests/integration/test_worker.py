"""The worker against a real database: retries with backoff, incidents and their retry, crash safety."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from app.services import job_failures
from app.store import audit
from app.store.models import AuditEvent, CrmCase, Notification, ServiceJob, ServiceRequest
from handlers import HandlerError
from handlers.crm import take_case
from tests.conftest import env_for
from tests.driver import Driver


@pytest.fixture
def drive(services, clock) -> Driver:
    return Driver(services, clock)


def job_of(services, operator: str) -> ServiceJob:
    with services.uow() as uow:
        job = uow.session.scalars(select(ServiceJob).where(ServiceJob.operator == operator)).one()
        uow.session.expunge(job)
        return job


def events(services, event_type: str) -> list[AuditEvent]:
    with services.uow() as uow:
        found = list(uow.session.scalars(select(AuditEvent).where(AuditEvent.event_type == event_type)))
        uow.session.expunge_all()
        return found


def test_failing_service_retries_with_exponential_backoff_then_succeeds(drive, services, clock):
    failures = {"left": 2}

    def flaky(params, ctx):
        if failures["left"]:
            failures["left"] -= 1
            raise HandlerError("CRM is down for maintenance")
        return take_case(params, ctx)

    services.handlers["crm.take_case"] = flaky
    number = drive.new("assistance")
    assert drive.work().services_failed == 1
    first = job_of(services, "crm.take_case")
    assert (first.status, first.attempts) == ("pending", 1)
    assert first.next_attempt_at == clock.now() + timedelta(seconds=1)
    assert "CRM is down" in first.last_error

    assert drive.work().services_failed == 0  # not due yet: nothing happens
    clock.advance(timedelta(seconds=1))
    drive.work()
    assert job_of(services, "crm.take_case").next_attempt_at == clock.now() + timedelta(seconds=2)
    clock.advance(timedelta(seconds=2))
    drive.work()
    assert job_of(services, "crm.take_case").status == "done"
    assert drive.open_bpmn_ids(number) == ["assign_specialist"]
    assert [e.payload["attempt"] for e in events(services, "service_failed")] == [1, 2]
    assert events(services, "service_called")[0].payload["attempt"] == 3


def test_last_failure_raises_an_incident_that_an_administrator_can_retry(drive, services, clock):
    def down(params, ctx):
        raise HandlerError("connection refused")

    services.handlers["crm.take_case"] = down
    number = drive.new("assistance")
    for _ in range(3):
        drive.work()
        clock.advance(timedelta(minutes=5))
    job = job_of(services, "crm.take_case")
    assert (job.status, job.attempts) == ("incident", 3)
    [incident] = events(services, "incident_raised")
    assert incident.payload["operator"] == "crm.take_case" and "connection refused" in incident.payload["error"]
    assert incident.payload["params"]["request_number"] == number
    assert drive.show(number)["pending_services"][0]["status"] == "incident"

    services.handlers["crm.take_case"] = take_case
    job_failures.retry_incident(services, job.id, "adam")
    drive.work()
    assert job_of(services, "crm.take_case").status == "done"
    assert drive.open_bpmn_ids(number) == ["assign_specialist"]
    assert events(services, "incident_resolved")[0].actor == "adam"


def test_bad_parameters_go_straight_to_an_incident(drive, services):
    number = drive.new("assistance")
    case_id = drive.show(number)["crm_case"]["case"]
    with services.uow() as uow:  # the case vanished from CRM: retrying cannot help
        case = uow.session.scalars(select(CrmCase).where(CrmCase.case_number == case_id)).one()
        case.case_number = "CRM-999999"
        uow.commit()
    assert drive.work().incidents == 1
    assert "CRM-" in job_of(services, "crm.take_case").last_error
    assert drive.show(number)["status"] == "open"


def test_handler_failure_after_writing_leaves_no_record_behind(drive, services):
    from handlers.billing import create_case

    number = drive.new("enhancement")
    drive.complete(number, "draw_up_work_plan", "pete", {"work_plan": "p", "estimated_hours": 3,
                                                         "planned_start": "2026-12-02", "planned_finish": "2026-12-04"})
    drive.work()
    drive.complete(number, "fulfil_enhancement_request", "pete", {"fulfilment_notes": "n", "hours_spent": 1})
    drive.complete(number, "test_solution", "pete", {"test_result": "pass", "test_notes": "ok"})
    drive.complete(number, "determine_chargeability", "pete",
                   {"chargeable": True, "billable_hours": 2, "hourly_rate": 100, "billing_code": "PS-628"})

    def crash_after_write(params, ctx):
        create_case(params, ctx)
        raise HandlerError("lost the connection after writing")

    services.handlers["billing.create_case"] = crash_after_write
    drive.work()
    assert drive.show(number)["billing_cases"] == []  # rolled back with the failed attempt
    services.handlers["billing.create_case"] = create_case
    drive.clock.advance(timedelta(seconds=5))
    drive.work()
    assert [b["amount"] for b in drive.show(number)["billing_cases"]] == ["200.00"]


def test_killing_the_worker_at_random_moments_loses_nothing_and_duplicates_nothing(drive, services, settings, clock,
                                                                                   mailbox):
    numbers = [drive.new("assistance", title=f"Printer {i}") for i in range(30)]
    for number in numbers[:15]:
        drive.work()
        drive.complete(number, "assign_specialist", "maria", {"specialist": "sam"})
        drive.complete(number, "fulfil_assistance_request", "sam",
                       {"resolution_notes": "fixed", "resolution_code": "resolved", "time_spent_hours": 1})
    rf = Path(sys.executable).parent / "rf"
    rng = random.Random(20261128)

    def outstanding() -> int:
        with services.uow() as uow:
            jobs = uow.session.scalar(select(func.count()).select_from(ServiceJob)
                                      .where(ServiceJob.status == "pending"))
            mail = uow.session.scalar(select(func.count()).select_from(Notification)
                                      .where(Notification.status == "queued"))
            return int(jobs) + int(mail)

    watcher = create_engine(settings.database_url)  # plain reads: never queues behind the worker's write lock

    def audit_rows() -> int:
        with watcher.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(AuditEvent)) or 0)

    kills = 0
    for _ in range(40):
        before = outstanding()
        if not before:
            break
        started = time.monotonic()  # each worker's clock starts where the last one's stopped (the test clock)
        proc = subprocess.Popen([str(rf), "worker", "--interval", "0.05"], env=env_for(settings, clock.now()),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30  # however slow the start-up on a busy machine, wait for it to get going
        written = audit_rows()
        while audit_rows() == written and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(rng.uniform(0, 0.02))  # then kill it somewhere in the middle of its work
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        clock.advance(timedelta(seconds=time.monotonic() - started))
        kills += bool(outstanding())  # killed while work remained
    with services.uow() as uow:
        left = [(j.operator, j.status, j.attempts, j.last_error) for j in uow.session.scalars(
            select(ServiceJob).where(ServiceJob.status != "done"))]
    watcher.dispose()
    assert outstanding() == 0, f"the worker never finished the work: {left}"
    assert kills >= 1

    with services.uow() as uow:
        s = uow.session
        assert s.scalar(select(func.count()).select_from(CrmCase).where(CrmCase.status == "closed")) == 15
        assert s.scalar(select(func.count()).select_from(CrmCase).where(CrmCase.status == "in_progress")) == 15
        assert s.scalar(select(func.count()).select_from(ServiceRequest)
                        .where(ServiceRequest.status == "closed")) == 15
        notifications = list(s.scalars(select(Notification).where(Notification.kind != "task_assigned")))
        assert len(notifications) == 15 and all(n.status == "sent" for n in notifications)
        assert s.scalar(select(func.count()).select_from(AuditEvent)
                        .where(AuditEvent.event_type == "service_called")) == 30 + 15 * 2
        assert audit.verify(s).intact
        expected_ids = {f"<rf-{n.id}-{n.idempotency_key}@rf.local>" for n in notifications}
    # one message per notification; a re-delivery could only repeat a Message-ID, never invent a new one
    assert {m["Message-ID"] for m in mailbox.messages if "-assigned-" not in m["Message-ID"]} == expected_ids
