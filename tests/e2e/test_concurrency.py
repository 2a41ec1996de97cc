"""Completions of the same task racing from several threads, through `app.services.tasks.actions.complete`.

Each racer submits different valid data (so a lost update would show in the instance data and the next task), all
released at once by a threading.Barrier. Exactly one completion may win: one task_completed audit row, one next
step, the winner's data in the instance; every loser gets app.errors.Conflict (a clear 409, never an unexpected
exception). Several rounds per backend, because a race that passes once proves little.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from app.errors import AppError, Conflict
from app.services import worker
from app.services.admin import auth
from app.services.requests import cancellation, intake, queries, schedule_queue
from app.services.tasks import actions as tasks
from app.store import audit
from app.store.models import AuditEvent, BillingCase, ProcessInstance, ServiceJob, ServiceRequest, TaskRow
from tests.driver import REQUEST, Driver

ROUNDS = 8
WORK_PLAN = {"work_plan": "Add the new report", "estimated_hours": 16, "planned_start": "2026-12-02",
             "planned_finish": "2026-12-18"}


@pytest.fixture
def drive(services, clock) -> Driver:
    return Driver(services, clock)


@dataclass
class Attempt:
    user: str
    data: dict[str, Any]
    view: tasks.TaskView | None = None
    error: BaseException | None = None


def race(services, task_id: str, attempts: list[Attempt]) -> tuple[Attempt, list[Attempt]]:
    """Start every attempt at the same instant; return the single winner and the losers."""
    outcomes = run_together(*[
        (lambda a=a: tasks.complete(services, task_id, a.user, dict(a.data))) for a in attempts])
    for attempt, outcome in zip(attempts, outcomes, strict=True):
        if isinstance(outcome, BaseException):
            attempt.error = outcome
        else:
            attempt.view = outcome
    winners = [a for a in attempts if a.error is None]
    losers = [a for a in attempts if a.error is not None]
    for loser in losers:
        assert isinstance(loser.error, Conflict), f"unexpected {type(loser.error).__name__}: {loser.error!r}"
        assert isinstance(loser.error, AppError) and loser.error.status == 409
        message = str(loser.error)
        # which words depend on where the loser noticed: the task row ("already completed by maria at ..."), the
        # engine state ("... is not open any more") or the optimistic lock ("... someone else ...")
        assert any(words in message for words in ("already completed by", "not open any more", "someone else")), \
            message
    assert len(winners) == 1, [(a.user, a.data, repr(a.error)) for a in attempts]
    return winners[0], losers


def task_rows(services, number: str) -> list[TaskRow]:
    with services.uow() as uow:
        rows = list(uow.session.scalars(select(TaskRow).where(TaskRow.request_number == number)
                                        .order_by(TaskRow.id)))
        uow.session.expunge_all()
        return rows


def completions_of(services, task_id: str) -> list[AuditEvent]:
    with services.uow() as uow:
        events = [e for e in uow.session.scalars(select(AuditEvent).where(AuditEvent.event_type == "task_completed"))
                  if e.payload.get("task") == task_id]
        uow.session.expunge_all()
        return events


def instance_version(services, number: str) -> int:
    with services.uow() as uow:
        request = queries.find_request(uow.session, number)
        return int(uow.session.scalars(select(ProcessInstance.version)
                                       .where(ProcessInstance.request_id == request.id)).one())


def assert_chain_intact(services) -> None:
    with services.uow() as uow:
        report = audit.verify(uow.session)
    assert report.intact, report


def check_single_completion(services, drive: Driver, number: str, task_id: str, winner: Attempt,
                            version_before: int) -> None:
    [event] = completions_of(services, task_id)
    assert (event.actor, event.payload["data"]) == (winner.user, winner.data)
    [row] = [r for r in task_rows(services, number) if r.task_uuid == task_id]
    assert (row.status, row.completed_by) == ("completed", winner.user)
    assert instance_version(services, number) == version_before + 1  # written exactly once
    data = drive.show(number)["data"]
    assert {k: data.get(k) for k in winner.data} == winner.data  # the winner's data, not a mix


@pytest.mark.parametrize("racers", [2, 4])
def test_racing_completions_of_the_same_task_complete_it_exactly_once(drive, services, racers):
    specialists = ["sam", "sara"]
    for round_ in range(ROUNDS):
        number = drive.new("assistance")
        drive.work()
        task_id = drive.open_task(number, "assign_specialist").task_uuid
        before = instance_version(services, number)
        attempts = [Attempt("maria", {"specialist": specialists[i % 2], "assignment_note": f"racer {i}"})
                    for i in range(racers)]
        winner, losers = race(services, task_id, attempts)
        assert len(losers) == racers - 1

        check_single_completion(services, drive, number, task_id, winner, before)
        [next_task] = [r for r in task_rows(services, number) if r.status == "open"]  # one next task, not two
        assert (next_task.bpmn_id, next_task.assignee) == ("fulfil_assistance_request", winner.data["specialist"])
        with services.uow() as uow:
            ready = [e for e in uow.session.scalars(select(AuditEvent).where(
                AuditEvent.event_type == "task_ready", AuditEvent.request_id == next_task.request_id))
                if e.payload.get("bpmn_id") == "fulfil_assistance_request"]
        assert len(ready) == 1, f"round {round_}: {len(ready)} task_ready events for the next task"

        if round_ == ROUNDS - 1:  # the instance is not damaged: it runs to the end
            drive.complete(number, "fulfil_assistance_request", winner.data["specialist"],
                           {"resolution_notes": "Done", "resolution_code": "resolved", "time_spent_hours": 1})
            drive.work()
            assert drive.show(number)["status"] == "closed"
    assert_chain_intact(services)


def test_racing_opposite_decisions_leave_one_consistent_branch(drive, services):
    """Chargeable yes vs no at the same moment: the instance, the projected work and the records follow the winner."""
    for _ in range(ROUNDS // 2):
        number = drive.new("enhancement")
        drive.complete(number, "draw_up_work_plan", "pete", WORK_PLAN)
        drive.work()
        drive.complete(number, "fulfil_enhancement_request", "pete", {"fulfilment_notes": "Built", "hours_spent": 3})
        drive.complete(number, "test_solution", "pete", {"test_result": "pass", "test_notes": "Green"})
        task_id = drive.open_task(number, "determine_chargeability").task_uuid
        before = instance_version(services, number)
        winner, _ = race(services, task_id, [
            Attempt("pete", {"chargeable": True, "billable_hours": 2, "hourly_rate": 100, "billing_code": "PS-1"}),
            Attempt("pete", {"chargeable": False}),
        ])
        check_single_completion(services, drive, number, task_id, winner, before)
        request_id = drive.show(number)["id"]
        with services.uow() as uow:
            jobs = list(uow.session.scalars(select(ServiceJob.bpmn_id).where(
                ServiceJob.request_id == request_id, ServiceJob.status == "pending")))
        open_ids = drive.open_bpmn_ids(number)
        if winner.data["chargeable"]:
            assert (jobs, open_ids) == (["create_billing_case"], [])
        else:
            assert (jobs, open_ids) == ([], ["notify_customer_of_fulfilment"])
            assert "billable_hours" not in drive.show(number)["data"]  # nothing of the loser's data leaked in
        drive.work()
        bills = [b for b in _records(services, BillingCase) if b.request_number == number]
        assert len(bills) == (1 if winner.data["chargeable"] else 0)
    assert_chain_intact(services)


def test_a_completion_racing_the_worker_loses_nothing(drive, services, clock):
    """A completion and a worker pass (raising the SLA escalations) hit the same instance at once. Neither may fail
    with anything but Conflict, and both effects survive (the user's after a retry, the escalation's on the next
    pass)."""
    for _ in range(2 * ROUNDS):  # the window is narrow: on PostgreSQL most runs hit it within a few rounds
        number = drive.new("assistance", priority="critical")
        drive.work()
        due = datetime.fromisoformat(drive.show(number)["sla_due_at"])  # 4 business hours: rounds cross weekends
        clock.set(due + timedelta(minutes=1))  # the SLA escalations are now due
        task_id = drive.open_task(number, "assign_specialist").task_uuid
        completed, worked = run_together(
            lambda: tasks.complete(services, task_id, "maria", {"specialist": "sam"}),  # noqa: B023 - joined below
            lambda: worker.run_once(services, now=clock.now()),
        )
        assert not isinstance(worked, BaseException), f"the worker pass failed: {worked!r}"
        if isinstance(completed, BaseException):
            assert isinstance(completed, Conflict), f"unexpected {type(completed).__name__}: {completed!r}"
            tasks.complete(services, task_id, "maria", {"specialist": "sam"})  # the user reloads and retries
        drive.work()
        drive.work()
        assert len(completions_of(services, task_id)) == 1
        shown = drive.show(number)
        assert [e["level"] for e in shown["sla"]["escalations"]] == ["warning", "breach"]  # each once
        assert sorted(n["kind"] for n in shown["notifications"]) == ["sla_breach", "task_assigned"]  # each once
        assert drive.open_bpmn_ids(number) == ["fulfil_assistance_request"]
    assert_chain_intact(services)


def run_together(*functions: Callable[[], Any]) -> list[Any]:
    """Release every function at the same instant (threading.Barrier); each one's result or exception."""
    barrier = threading.Barrier(len(functions))
    outcomes: list[Any] = [None] * len(functions)

    def run(index: int, function: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            outcomes[index] = function()
        except BaseException as err:  # noqa: BLE001 - every outcome is inspected by the caller
            outcomes[index] = err

    threads = [threading.Thread(target=run, args=(i, f), name=f"racer-{i}") for i, f in enumerate(functions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
        assert not thread.is_alive(), "a racer hung (deadlock or a lock wait that never ends)"
    return outcomes


def _records(services, model) -> list[Any]:
    with services.uow() as uow:
        found = list(uow.session.scalars(select(model)))
        uow.session.expunge_all()
        return found


@pytest.mark.parametrize("racers", [2, 4])
def test_racing_pulls_from_the_schedule_start_one_process(drive, services, racers):
    """Several people press Pull on the same scheduled request at once: one process, every other puller a 409."""
    pullers = [auth.load_identity(services, name) for name in ("pete", "maria")]
    for _ in range(ROUNDS // 2):
        number = intake.new_request(services, "enhancement", {**REQUEST, "provider_group": "apps"}, "carla",
                                    schedule=True).number or ""
        outcomes = run_together(*[lambda who=pullers[i % 2], ref=number: schedule_queue.pull(services, who, ref)
                                  for i in range(racers)])
        won = [o for o in outcomes if isinstance(o, schedule_queue.Pulled)]
        lost = [o for o in outcomes if isinstance(o, Conflict)]
        assert (len(won), len(lost)) == (1, racers - 1), outcomes
        with services.uow() as uow:
            request_id = uow.session.scalar(select(ServiceRequest.id).where(ServiceRequest.number == number))
            instances = list(uow.session.scalars(select(ProcessInstance).where(
                ProcessInstance.request_id == request_id)))
            pulls = list(uow.session.scalars(select(AuditEvent).where(
                AuditEvent.request_id == request_id, AuditEvent.event_type == "request_pulled")))
        assert (len(instances), len(pulls)) == (1, 1)
        assert drive.open_bpmn_ids(number) == ["draw_up_work_plan"]
    assert_chain_intact(services)


def test_racing_pulls_and_a_cancel_of_a_request_waiting_after_discovery_do_exactly_one_thing(drive, services):
    """After Discovery the request waits on the schedule: two pulls and a cancel at once. One of them happens (the
    same instance carries on, or it is cancelled), every other is a 409, and nothing is half done."""
    pete, maria = auth.load_identity(services, "pete"), auth.load_identity(services, "maria")
    winners: set[str] = set()
    for _ in range(ROUNDS // 2):
        number = drive.new("enhancement", routine=False, provider_group="apps")
        drive.complete(number, "document_customer_need", "carla",
                       {"need_summary": "SFTP drop", "customer_is_current": True, "new_service": False})
        drive.complete(number, "prepare_proposal", "pete",
                       {"proposal_summary": "Managed SFTP", "estimated_cost": 10, "po_number": "PO-1"})
        drive.work()
        outcomes = run_together(lambda ref=number: schedule_queue.pull(services, pete, ref),
                                lambda ref=number: schedule_queue.pull(services, maria, ref),
                                lambda ref=number: cancellation.cancel_scheduled(services, maria, ref, "Withdrawn"))
        won = [o for o in outcomes if not isinstance(o, BaseException)]
        lost = [o for o in outcomes if isinstance(o, Conflict)]
        assert (len(won), len(lost)) == (1, 2), outcomes
        shown = drive.show(number)
        with services.uow() as uow:
            request_id = uow.session.scalar(select(ServiceRequest.id).where(ServiceRequest.number == number))
            instances = list(uow.session.scalars(select(ProcessInstance.status).where(
                ProcessInstance.request_id == request_id)))
            decided = list(uow.session.scalars(select(AuditEvent.event_type).where(
                AuditEvent.request_id == request_id,
                AuditEvent.event_type.in_(("request_pulled", "request_cancelled")))))
        assert len(instances) == 1 and len(decided) == 1
        if isinstance(won[0], schedule_queue.Pulled):
            assert (shown["status"], drive.open_bpmn_ids(number)) == ("open", ["draw_up_work_plan"])
            winners.add("pull")
        else:
            assert (shown["status"], instances[0], drive.open_bpmn_ids(number)) == (
                "cancelled", "cancelled", [])
            winners.add("cancel")
    assert winners  # (which one wins is up to the scheduler)
    assert_chain_intact(services)
