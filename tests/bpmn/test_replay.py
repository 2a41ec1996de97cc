"""Replay: every path of `test_request_fulfillment_paths` replays identical from its audit log; a tampered stored
state is reported naming the element or data key; the state after audit event N is what the request looked like
then. Real database (SQLite and PostgreSQL), real services, real worker."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, text, update

from app.domain.permissions import OPERATOR
from app.services.audit import replay
from app.store.models import AuditEvent, ProcessInstance, ServiceRequest
from tests.bpmn import test_request_fulfillment_paths as paths
from tests.conftest import day
from tests.driver import Driver

PATHS: list[Callable[..., None]] = [getattr(paths, name) for name in dir(paths) if name.startswith("test_")]
WORK_PLAN = paths.WORK_PLAN
FULFILMENT = paths.FULFILMENT


@pytest.fixture
def drive(services, clock) -> Driver:
    return Driver(services, clock)


def all_numbers(services) -> list[str]:
    return replay.request_numbers(services, reader=OPERATOR)


def describe(report: replay.ReplayReport) -> str:
    return json.dumps(report.as_dict(), indent=2, default=str)


@pytest.mark.parametrize("path", PATHS, ids=[p.__name__.removeprefix("test_") for p in PATHS])
def test_every_path_replays_identical(path, drive, services, clock, mailbox):
    """Drive the path exactly as its own test does (with the same fixtures), then replay every request it made."""
    fixtures = {"drive": drive, "services": services, "clock": clock, "mailbox": mailbox}
    path(**{name: fixtures[name] for name in inspect.signature(path).parameters})
    numbers = all_numbers(services)
    assert numbers
    for number in numbers:
        report = replay.replay_request(services, number, reader=OPERATOR)
        assert report.identical, describe(report)
        assert report.inputs >= 3 and report.events > report.inputs
        # SpiffWorkflow's own tree walks
        plain = replay.replay_request(services, number, indexed=False, reader=OPERATOR)
        assert plain.identical, describe(plain)


def test_replay_uses_the_recorded_service_results_and_calls_no_handler(services, drive):
    number = drive.new("assistance")
    drive.work()
    drive.complete(number, "assign_specialist", "maria", {"specialist": "sam"})
    calls: list[str] = []
    services.handlers = {name: (lambda params, ctx, name=name: calls.append(name) or {}) for name in services.handlers}
    report = replay.replay_request(services, number, reader=OPERATOR)
    assert report.identical, describe(report)
    assert calls == []


def _tamper(services, number: str, change: Callable[[dict], None]) -> None:
    with services.uow() as uow:
        request_id = uow.session.scalars(select(ServiceRequest.id).where(ServiceRequest.number == number)).one()
        instance = uow.session.scalars(select(ProcessInstance).where(ProcessInstance.request_id == request_id)).one()
        state = json.loads(instance.state_json)
        change(state)
        uow.session.execute(update(ProcessInstance).where(ProcessInstance.id == instance.id)
                            .values(state_json=json.dumps(state)))
        uow.commit()


def _tasks_of(state: dict) -> list[dict]:
    found = list(state["tasks"].values())
    for sub in state["subprocesses"].values():
        found += list(sub["tasks"].values())
    return found


def _ready_task(state: dict, spec_name_part: str) -> dict:
    [task] = [t for t in _tasks_of(state) if t["state"] == 16 and spec_name_part in t["task_spec"]]
    return task


def test_a_task_marked_completed_in_the_stored_state_is_reported_by_name(services, drive):
    number = drive.new("enhancement", provider_group="apps")
    drive.complete(number, "draw_up_work_plan", "pete", WORK_PLAN)
    drive.work()
    assert replay.replay_request(services, number, reader=OPERATOR).identical

    def complete_fulfilment(state: dict) -> None:
        task = _ready_task(state, "fulfil_enhancement_request")
        task["state"] = 64  # COMPLETED, without anyone having completed it

    _tamper(services, number, complete_fulfilment)
    report = replay.replay_request(services, number, reader=OPERATOR)
    assert not report.identical
    found = {(d.aspect, d.element) for d in report.differences}
    assert ("path", "fulfil_enhancement_request") in found, describe(report)
    assert ("human_task", "fulfil_enhancement_request") in found, describe(report)
    texts = "\n".join(d.message for d in report.differences)
    assert "fulfil_enhancement_request completed 1 time(s) in the stored state, 0 in the replay" in texts
    assert report.as_dict()["differences"][0]["name"]


def test_a_changed_data_value_in_the_stored_state_is_reported_by_key(services, drive):
    number = drive.new("assistance")
    drive.work()

    def change_priority(state: dict) -> None:
        for task in _tasks_of(state):
            if task["data"].get("priority") == "high":
                task["data"]["priority"] = "low"

    _tamper(services, number, change_priority)
    report = replay.replay_request(services, number, reader=OPERATOR)
    [difference] = report.differences
    assert (difference.aspect, difference.element) == ("data", "priority")
    assert (difference.stored, difference.replayed) == ("low", "high")


def _edit_audit_payload(services, seq: int, payload: dict) -> None:
    """A tamperer with the table owner's rights: on PostgreSQL the append-only trigger is switched off for the edit
    (and on again before the commit)."""
    postgres = services.engine.dialect.name == "postgresql"
    with services.uow() as uow:
        if postgres:
            uow.session.execute(text("ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only"))
        uow.session.execute(update(AuditEvent).where(AuditEvent.seq == seq).values(payload=payload))
        if postgres:
            uow.session.execute(text("ALTER TABLE audit_event ENABLE TRIGGER audit_event_append_only"))
        uow.commit()


def test_a_tampered_audit_input_is_reported_at_its_event(services, drive):
    """An edited submission in the log (the chain check catches the edit too) no longer reproduces the state."""
    number = drive.new("enhancement", provider_group="apps")
    drive.complete(number, "draw_up_work_plan", "pete", WORK_PLAN)
    drive.work()
    drive.complete(number, "fulfil_enhancement_request", "pete", FULFILMENT)
    drive.complete(number, "test_solution", "pete", {"test_result": "pass", "test_notes": "ok"})
    with services.uow() as uow:
        event = uow.session.scalars(select(AuditEvent).where(AuditEvent.event_type == "task_completed")
                                    .order_by(AuditEvent.seq.desc()).limit(1)).one()
        seq, payload = event.seq, dict(event.payload)
    _edit_audit_payload(services, seq, {**payload, "data": {"test_result": "fail", "test_notes": "ok"}})
    report = replay.replay_request(services, number, reader=OPERATOR)
    found = {(d.aspect, d.element) for d in report.differences}
    assert ("human_task", "determine_chargeability") in found, describe(report)
    assert ("human_task", "fulfil_enhancement_request") in found, describe(report)
    assert ("data", "test_result") in found, describe(report)


def test_a_completion_the_replay_cannot_match_is_reported(services, drive):
    number = drive.new("assistance")
    drive.work()
    drive.complete(number, "assign_specialist", "maria", {"specialist": "sam"})
    with services.uow() as uow:
        event = uow.session.scalars(select(AuditEvent).where(AuditEvent.event_type == "task_completed")).one()
        seq, payload = event.seq, dict(event.payload)
    _edit_audit_payload(services, seq, {**payload, "bpmn_id": "test_solution"})
    report = replay.replay_request(services, number, reader=OPERATOR)
    [problem] = [d for d in report.differences if d.aspect == "input"]
    assert problem.element == "test_solution" and "not ready" in problem.message
    assert problem.seq == seq


def _steps(services, number: str) -> list[AuditEvent]:
    with services.uow() as uow:
        request_id = uow.session.scalars(select(ServiceRequest.id).where(ServiceRequest.number == number)).one()
        events = list(uow.session.scalars(select(AuditEvent).where(AuditEvent.request_id == request_id)
                                          .order_by(AuditEvent.seq)))
        uow.session.expunge_all()
        return events


def _step_of(events: list[AuditEvent], event_type: str, bpmn_id: str | None = None, nth: int = 1) -> int:
    matching = [i for i, e in enumerate(events, start=1)
                if e.event_type == event_type and (bpmn_id is None or e.payload.get("bpmn_id") == bpmn_id)]
    return matching[nth - 1]


def test_state_at_step_shows_what_was_done_and_waiting_then(services, drive, clock):
    number = drive.new("enhancement")
    drive.complete(number, "draw_up_work_plan", "pete", WORK_PLAN)
    drive.work()
    drive.complete(number, "fulfil_enhancement_request", "pete", FULFILMENT)
    drive.complete(number, "test_solution", "pete", {"test_result": "fail", "test_notes": "Totals are wrong"})
    drive.complete(number, "fulfil_enhancement_request", "pete", {**FULFILMENT, "fulfilment_notes": "Fixed totals"})
    drive.complete(number, "test_solution", "pete", {"test_result": "pass", "test_notes": "Totals match"})
    drive.complete(number, "determine_chargeability", "pete",
                   {"chargeable": True, "billable_hours": 12.5, "hourly_rate": 85, "billing_code": "PS-628"})
    drive.work()
    drive.complete(number, "initiate_billing", "carla", {"billing_notes": "Bill Q1", "service_live_date": day(9)})
    drive.work()
    clock.set(datetime.fromisoformat(f"{day(9)}T14:05:00+00:00"))  # 08:05 Central: after the business start
    drive.work()
    events = _steps(services, number)

    first = replay.state_at(services, number, 1, reader=OPERATOR)  # instance_started
    assert first.snapshot.human_tasks == ["draw_up_work_plan"]
    assert "request_received" in first.done and "draw_up_work_plan" not in first.done
    assert first.snapshot.data["title"] == "VPN access for the field office"

    failed = replay.state_at(services, number, _step_of(events, "task_completed", "test_solution", 1), reader=OPERATOR)
    assert failed.snapshot.human_tasks == ["fulfil_enhancement_request"]
    assert failed.done["fulfil_enhancement_request"] == 1 and failed.done["test_solution"] == 1
    assert failed.snapshot.data["test_result"] == "fail"

    passed = replay.state_at(services, number, _step_of(events, "task_completed", "test_solution", 2), reader=OPERATOR)
    assert passed.done["test_solution"] == 2 and passed.snapshot.data["test_result"] == "pass"
    assert passed.snapshot.human_tasks == ["determine_chargeability"]

    waiting = replay.state_at(services, number, _step_of(events, "task_completed", "initiate_billing"), reader=OPERATOR)
    assert waiting.snapshot.human_tasks == [] and waiting.snapshot.service_tasks == []
    assert [t.bpmn_id for t in waiting.snapshot.timers if t.bpmn_id == "wait_until_service_live"]
    assert [t.due for t in waiting.snapshot.timers if t.bpmn_id == "wait_until_service_live"] == [
        f"{day(9)}T14:00:00+00:00"]

    fired = replay.state_at(services, number, _step_of(events, "timer_fired", "wait_until_service_live"),
                            reader=OPERATOR)
    assert "wait_until_service_live" in fired.done
    assert fired.snapshot.service_tasks == ["request_asd_update"]

    last = replay.state_at(services, number, len(events), reader=OPERATOR)
    assert last.snapshot.human_tasks == ["notify_customer_of_fulfilment"]
    assert replay.replay_request(services, number, reader=OPERATOR).identical


def test_state_at_step_out_of_range_is_bad_input(services, drive):
    from app.errors import InvalidData

    number = drive.new("assistance")
    count = len(_steps(services, number))
    with pytest.raises(InvalidData, match=f"steps 1 to {count}"):
        replay.state_at(services, number, count + 1, reader=OPERATOR)
    with pytest.raises(InvalidData):
        replay.state_at(services, number, 0, reader=OPERATOR)


def test_sla_escalations_between_steps_leave_the_replay_identical(services, drive, clock):
    """The SLA clock escalates outside the engine: its audit events sit between the steps but replay skips them."""
    number = drive.new("assistance", priority="critical")
    drive.work()
    clock.advance(timedelta(days=2))
    drive.work()
    drive.complete(number, "assign_specialist", "maria", {"specialist": "sara"})
    drive.work()
    report = replay.replay_request(services, number, reader=OPERATOR)
    assert report.identical, describe(report)
    assert [e["level"] for e in drive.show(number)["sla"]["escalations"]] == ["warning", "breach"]


def test_a_long_rework_loop_with_the_sla_breached_midway_replays_identical(services, drive, clock, mailbox):
    number = drive.new("enhancement", provider_group="apps", priority="critical")  # a 20 business day target
    drive.complete(number, "draw_up_work_plan", "pete", WORK_PLAN)
    drive.work()
    for round_ in range(30):
        if round_ == 15:
            clock.advance(timedelta(days=31))
            drive.work()  # the SLA clock passes 75% and 100% while the process loops
        clock.advance(timedelta(minutes=7))
        drive.complete(number, "fulfil_enhancement_request", "pete", FULFILMENT)
        drive.complete(number, "test_solution", "pete", {"test_result": "fail", "test_notes": f"round {round_}"})
    shown = drive.show(number)
    assert shown["path"].count("test_solution") == 30
    assert [e["level"] for e in shown["sla"]["escalations"]] == ["warning", "breach"]
    report = replay.replay_request(services, number, reader=OPERATOR)
    assert report.identical, describe(report)
    assert report.events > 120
    assert replay.replay_request(services, number, indexed=False, reader=OPERATOR).identical
    events = _steps(services, number)
    breached = replay.state_at(services, number, _step_of(events, "sla_breached"), reader=OPERATOR)
    assert breached.snapshot.human_tasks == ["fulfil_enhancement_request"]
    assert breached.done.get("test_solution") == 15
