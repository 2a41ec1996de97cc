"""The SLA clock with an injected clock: escalations at 75% and at the target, each exactly once, across worker
restarts; no escalation while the request waits on the customer, and the target moves by the time paused."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from app.bootstrap import bootstrap
from app.services import worker
from app.store.models import AuditEvent, Notification, ServiceRequest, SlaEscalation
from tests.conftest import START, text_of
from tests.driver import Driver

# START is a Tuesday 09:00 in Oklahoma (CST; by default 2026-12-01) in a week without holidays. A critical assistance
# request has 4 business hours.
WARN_AT = START + timedelta(hours=3)  # 12:00 CST: 3 of 4 hours used
DUE_AT = START + timedelta(hours=4)  # 13:00 CST
FULFIL = {"resolution_notes": "Which office needs the VPN profile?", "resolution_code": "awaiting_customer",
          "time_spent_hours": 0.5}


@pytest.fixture
def drive(services, clock) -> Driver:
    return Driver(services, clock)


def escalations(services, number: str) -> list[tuple[str, datetime, list[str]]]:
    with services.uow() as uow:
        request = uow.session.scalars(select(ServiceRequest).where(ServiceRequest.number == number)).one()
        rows = uow.session.scalars(select(SlaEscalation).where(SlaEscalation.request_id == request.id)
                                   .order_by(SlaEscalation.id))
        return [(r.level, r.threshold_at, r.recipients) for r in rows]


def sla_events(services, number: str) -> list[str]:
    with services.uow() as uow:
        request = uow.session.scalars(select(ServiceRequest).where(ServiceRequest.number == number)).one()
        return [e.event_type for e in uow.session.scalars(
            select(AuditEvent).where(AuditEvent.request_id == request.id, AuditEvent.event_type.like("sla_%"))
            .order_by(AuditEvent.seq))]


def sla_mail(mailbox) -> list[str]:
    return [m["Subject"] for m in mailbox.messages if m["Subject"].startswith("SLA")]


def test_a_request_escalates_at_75_percent_and_at_breach_exactly_once_each_across_a_worker_restart(
        services, settings, drive, clock, mailbox):
    number = drive.new("assistance", priority="critical")
    drive.work()
    drive.complete(number, "assign_specialist", "maria", {"specialist": "sara"})
    assert drive.show(number)["sla"]["warn_at"] == WARN_AT.isoformat()
    assert drive.show(number)["sla_due_at"] == DUE_AT.isoformat()

    clock.set(WARN_AT - timedelta(minutes=1))
    assert drive.work().escalations == 0 and sla_mail(mailbox) == []

    clock.set(WARN_AT + timedelta(minutes=2))
    assert worker.escalate_slas(services, clock.now()) == 1  # raised and queued; the worker stops before sending
    services.engine.dispose()

    restarted = bootstrap(settings, clock)  # a new worker process on the same database
    try:
        assert worker.run_once(restarted).escalations == 0  # already raised: only its queued mail goes out
        assert worker.run_once(restarted).did_something() is False
        [warning] = [m for m in mailbox.messages if m["Subject"].startswith("SLA at risk")]
        assert number in warning["Subject"]
        assert set(warning["X-Envelope-To"].split(", ")) == {"maria@omes.example", "sara@omes.example"}
        assert drive.show(number)["sla"]["state"] == "at_risk"

        clock.set(DUE_AT - timedelta(seconds=1))
        assert worker.run_once(restarted).escalations == 0
        clock.set(DUE_AT + timedelta(hours=5))
        assert worker.run_once(restarted).escalations == 1
        for _ in range(3):
            clock.advance(timedelta(days=1))
            assert worker.run_once(restarted).did_something() is False
    finally:
        restarted.engine.dispose()

    assert sla_mail(mailbox) == [f"SLA at risk: {number} has used 75% of its target", f"SLA target passed: {number}"]
    assert [(level, at) for level, at, _ in escalations(services, number)] == [("warning", WARN_AT),
                                                                              ("breach", DUE_AT)]
    assert sla_events(services, number) == ["sla_warning", "sla_breached"]
    shown = drive.show(number)
    assert shown["sla"]["breached_at"] == DUE_AT.isoformat() and shown["sla"]["state"] == "breached"
    with services.uow() as uow:
        assert uow.session.query(Notification).filter(Notification.kind.like("sla_%")).count() == 2
    assert drive.open_bpmn_ids(number) == ["fulfil_assistance_request"]  # the work goes on


def test_the_clock_pauses_while_waiting_on_the_customer_and_the_target_moves_by_the_pause(drive, clock, mailbox,
                                                                                          services):
    number = drive.new("assistance", priority="critical")
    drive.work()
    drive.complete(number, "assign_specialist", "maria", {"specialist": "sara"})
    clock.set(START + timedelta(hours=1))  # 10:00 CST: one of four hours used
    drive.complete(number, "fulfil_assistance_request", "sara", FULFIL)
    drive.work()  # the question goes to the customer, then the request waits on them
    [question] = mailbox.to("ann@tourism.example")
    assert "we need your reply" in question["Subject"] and "Which office" in text_of(question)
    assert drive.open_bpmn_ids(number) == ["await_customer_reply"]
    paused = drive.show(number)["sla"]
    assert paused["state"] == "paused" and paused["paused_since"] == (START + timedelta(hours=1)).isoformat()
    assert paused["used_business_hours"] == 1.0

    for _ in range(6):  # two and a half days pass while the customer thinks: no escalation
        clock.advance(timedelta(hours=10))
        drive.work()
    assert sla_mail(mailbox) == [] and escalations(services, number) == []
    assert drive.show(number)["sla"]["used_business_hours"] == 1.0  # the clock stood still

    resumed_at = START + timedelta(days=2, hours=6)  # Thursday 15:00 CST
    clock.set(resumed_at)
    drive.complete(number, "await_customer_reply", "sara", {"customer_reply": "The Tulsa office."})
    shown = drive.show(number)
    assert drive.open_bpmn_ids(number) == ["fulfil_assistance_request"]
    # paused from Tuesday 10:00 to Thursday 15:00 CST: 7 + 9 + 7 = 23 business hours
    assert shown["sla"]["state"] == "running" and shown["sla"]["paused_business_hours"] == 23.0
    # three hours left: Thursday 15:00-17:00, then Friday 08:00-09:00 CST; 75% at Thursday 17:00 CST
    assert shown["sla_due_at"] == (START + timedelta(days=3)).isoformat()  # Friday 09:00 CST
    assert shown["sla"]["warn_at"] == (START + timedelta(days=2, hours=8)).isoformat()  # Thursday 17:00 CST
    assert sla_events(services, number) == ["sla_paused", "sla_resumed"]

    clock.set(START + timedelta(days=2, hours=7, minutes=59))
    assert drive.work().escalations == 0
    clock.set(START + timedelta(days=2, hours=23))  # Friday 08:00 CST
    assert drive.work().escalations == 1
    assert sla_mail(mailbox) == [f"SLA at risk: {number} has used 75% of its target"]


def test_a_closed_request_never_escalates(drive, clock, mailbox, services):
    number = drive.new("assistance", priority="critical")
    drive.work()
    drive.complete(number, "assign_specialist", "maria", {"specialist": "sara"})
    drive.complete(number, "fulfil_assistance_request", "sara",
                   {"resolution_notes": "Done", "resolution_code": "resolved", "time_spent_hours": 1})
    drive.work()
    clock.advance(timedelta(days=5))
    assert drive.work().escalations == 0
    shown = drive.show(number)
    assert shown["status"] == "closed" and shown["sla"]["state"] == "met" and sla_mail(mailbox) == []
