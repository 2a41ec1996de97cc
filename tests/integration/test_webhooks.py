"""Outbound webhooks against a real database and a real local receiver that checks every signature: events derived
from the audit events of each change arrive signed with stable ids, failures and timeouts are retried with backoff and
logged per attempt, a deactivated subscription gets nothing, redelivery repeats the event id, and no database lock is
held while a receiver is waited for."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import event, select

from app.bootstrap import bootstrap
from app.domain.webhooks import EVENTS
from app.errors import Conflict, Forbidden, InvalidData, NotFound
from app.services import job_failures, worker
from app.services.admin import webhooks as hooks
from app.services.admin.auth import load_identity
from app.store.models import AuditEvent, WebhookDelivery
from handlers import HandlerError
from handlers.crm import take_case
from tests.conftest import free_port
from tests.driver import Driver
from tests.webhook_receiver import Receiver

ASSIGN = {"specialist": "sam"}
FULFIL = {"resolution_notes": "fixed", "resolution_code": "resolved", "time_spent_hours": 1}


@pytest.fixture
def drive(services, clock) -> Driver:
    return Driver(services, clock)


@pytest.fixture
def adam(services):
    return load_identity(services, "adam")


def subscribe(services, adam, receiver: Receiver, clock, events=EVENTS, **kwargs) -> hooks.Created:
    created = hooks.subscribe(services, adam, kwargs.get("url", receiver.url), kwargs.get("description", "test"),
                              list(events))
    receiver.secrets.append(created.secret)
    receiver.now = clock.now
    return created


def deliveries(services, *where) -> list[WebhookDelivery]:
    with services.uow() as uow:
        rows = list(uow.session.scalars(select(WebhookDelivery).where(*where).order_by(WebhookDelivery.id)))
        uow.session.expunge_all()
        return rows


def test_the_events_of_a_request_along_its_path_arrive_signed_once_each_with_stable_ids(services, clock, drive, adam,
                                                                                         receiver):
    subscribe(services, adam, receiver, clock)
    failures = {"left": 1}

    def flaky(params, ctx):  # the first attempt rolls back: the task.ready it would have readied is never sent
        if failures["left"]:
            failures["left"] -= 1
            raise HandlerError("CRM is down for a moment")
        return take_case(params, ctx)

    services.handlers["crm.take_case"] = flaky
    logged_at = clock.now()
    number = drive.new("assistance")
    drive.work()
    clock.advance(timedelta(seconds=2))
    drive.work()
    drive.complete(number, "assign_specialist", "maria", ASSIGN)
    drive.complete(number, "fulfil_assistance_request", "sam", FULFIL)
    drive.work()
    drive.work()

    assert receiver.bad_signatures == []
    assert [(r.event_type, r.body["resource"].get("bpmn_id")) for r in receiver.received] == [
        ("request.created", None), ("task.ready", "assign_specialist"), ("task.completed", "assign_specialist"),
        ("task.ready", "fulfil_assistance_request"), ("task.completed", "fulfil_assistance_request"),
        ("request.closed", None)]
    assert set(receiver.counts().values()) == {1}
    rows = deliveries(services)
    assert {r.event_id for r in rows} == set(receiver.counts()) and {r.status for r in rows} == {"delivered"}
    created, ready = receiver.received[0].body, receiver.received[1].body
    assert created["request"] == {"number": number, "type": "assistance", "title": "VPN access for the field office",
                                  "provider_group": "network", "priority": "high", "status": "open"}
    assert created["occurred_at"] == logged_at.isoformat()  # the audit event's time, on the one clock
    assert ready["resource"]["kind"] == "task" and ready["resource"]["lane"] == "Provider Group Manager"
    completed = receiver.received[2].body
    assert completed["resource"]["completed_by"] == "maria" and "data" not in completed["resource"]  # no form data
    closed = receiver.received[-1].body
    assert closed["resource"] == {"kind": "request", "outcome": "completed"} and closed["request"]["status"] == "closed"
    with services.uow() as uow:  # each delivery points at the audit event written with it
        for row in rows:
            audit_type = uow.session.scalar(select(AuditEvent.event_type).where(AuditEvent.seq == row.audit_seq))
            assert audit_type in {"instance_started", "task_ready", "task_completed", "request_closed"}


def test_a_receiver_answering_500_then_recovering_gets_the_event_once_with_every_attempt_logged(services, clock, drive,
                                                                                                adam, receiver):
    sub = subscribe(services, adam, receiver, clock, events=["request.created"])
    receiver.statuses[:] = [500, 503]
    drive.new("assistance")
    assert worker.run_once(services, now=clock.now()).webhook_attempts_failed == 1
    [row] = deliveries(services)
    assert (row.status, row.attempts, row.last_status_code) == ("queued", 1, 500)
    base = services.settings.webhook_backoff_seconds
    assert timedelta(seconds=base) <= row.next_attempt_at - clock.now() < timedelta(seconds=base + 5)
    assert drive.work().webhooks_delivered == 0  # not due yet
    clock.advance(timedelta(seconds=base + 5))
    drive.work()
    clock.advance(timedelta(seconds=2 * base + 5))
    assert drive.work().webhooks_delivered == 1
    # the receiver answered 500 and 503 before 200: three posts of one event, all with the same id
    assert list(receiver.counts().values()) == [3]
    log = hooks.delivery_log(services, adam, sub.subscription.id)
    [shown] = log.deliveries
    assert shown.status == "delivered" and [a.status_code for a in shown.log] == [500, 503, 200]
    assert shown.log[0].error == "HTTP 500" and '"status": 500' in shown.log[0].response_excerpt
    assert all(a.duration_ms >= 0 for a in shown.log)


def test_a_timeout_is_retried_and_a_receiver_that_never_answers_well_fails_after_the_last_attempt(
        services, clock, drive, adam, receiver):
    quick = bootstrap(replace(services.settings, webhook_timeout_seconds=0.3, webhook_max_attempts=3), clock)
    try:
        subscribe(services, adam, receiver, clock, events=["request.created"])
        receiver.delay = 1.0
        drive.new("assistance")
        assert worker.run_once(quick, now=clock.now()).webhook_attempts_failed == 1
        [row] = deliveries(services)
        assert row.status == "queued" and row.last_status_code is None and "timed out" in row.last_error
        receiver.delay = 0
        clock.advance(timedelta(minutes=5))
        assert worker.run_once(quick, now=clock.now()).webhooks_delivered == 1
        # the receiver saw the timed-out post too (the worker gave up waiting): the same id twice, as documented
        assert list(receiver.counts().values()) == [2]

        receiver.statuses[:] = [500] * 10
        drive.new("assistance")
        for _ in range(4):
            clock.advance(timedelta(hours=1))
            worker.run_once(quick, now=clock.now())
        failed = deliveries(services, WebhookDelivery.status == "failed")
        assert len(failed) == 1 and failed[0].attempts == 3 and failed[0].last_error.startswith("gave up after 3")
    finally:
        quick.engine.dispose()


def test_a_deactivated_subscription_gets_nothing_and_the_active_one_everything(services, clock, drive, adam,
                                                                                receiver):
    kept = subscribe(services, adam, receiver, clock, events=["request.created"])
    dropped = subscribe(services, adam, receiver, clock, events=["request.created"], description="dropped")
    hooks.set_active(services, adam, dropped.subscription.id, False)
    drive.new("assistance")
    drive.new("assistance")
    drive.work()
    assert receiver.bad_signatures == []
    assert len(receiver.received) == 2
    assert {r.subscription_id for r in deliveries(services)} == {kept.subscription.id}
    with pytest.raises(Conflict):
        hooks.set_active(services, adam, dropped.subscription.id, False)
    with pytest.raises(Conflict, match="inactive"):
        hooks.ping(services, adam, dropped.subscription.id)


def test_events_queued_before_a_subscription_is_deactivated_wait_and_go_out_when_it_is_active_again(
        services, clock, drive, adam, receiver):
    sub = subscribe(services, adam, receiver, clock, events=["request.created"])
    drive.new("assistance")
    hooks.set_active(services, adam, sub.subscription.id, False)
    drive.work()
    assert receiver.received == [] and deliveries(services)[0].status == "queued"
    hooks.set_active(services, adam, sub.subscription.id, True)
    drive.work()
    assert len(receiver.received) == 1


def test_redeliver_sends_the_same_event_id_and_body_again_and_is_audited(services, clock, drive, adam, receiver):
    sub = subscribe(services, adam, receiver, clock, events=["request.created"])
    drive.new("assistance")
    drive.work()
    [row] = deliveries(services)
    with pytest.raises(NotFound):
        hooks.redeliver(services, adam, sub.subscription.id + 1, row.id)
    hooks.redeliver(services, adam, sub.subscription.id, row.id)
    with pytest.raises(Conflict, match="still queued"):
        hooks.redeliver(services, adam, sub.subscription.id, row.id)
    # a minute on: an attempt's time is the clock plus how long its worker pass has run, which on a busy machine can
    # be over a second, and the timestamp header counts whole seconds
    clock.advance(timedelta(minutes=1))
    drive.work()
    first, second = receiver.received
    assert first.event_id == second.event_id == row.event_id and first.body == second.body
    assert first.headers["X-RF-Timestamp"] != second.headers["X-RF-Timestamp"]  # signed afresh at each attempt
    assert [a.status_code for a in hooks.delivery_log(services, adam, sub.subscription.id).deliveries[0].log] == [
        200, 200]
    with services.uow() as uow:
        [audited] = uow.session.scalars(select(AuditEvent).where(AuditEvent.event_type == "webhook_redelivered"))
        assert audited.actor == "adam" and audited.payload["event_id"] == row.event_id


def test_a_test_event_reaches_only_its_subscription(services, clock, drive, adam, receiver):
    sub = subscribe(services, adam, receiver, clock, events=["task.ready"])
    event_id = hooks.ping(services, adam, sub.subscription.id)
    drive.work()
    [ping] = receiver.received
    assert (ping.event_id, ping.event_type, ping.body["request"]) == (event_id, "ping", None)
    assert ping.body["resource"] == {"kind": "subscription", "id": sub.subscription.id, "events": ["task.ready"]}


def test_an_unreachable_subscription_never_holds_up_the_others(services, clock, drive, adam, receiver):
    subscribe(services, adam, receiver, clock, events=["request.created"], url=f"http://127.0.0.1:{free_port()}/x")
    good = subscribe(services, adam, receiver, clock, events=["request.created"])
    for _ in range(3):
        drive.new("assistance")
    summary = drive.work()
    assert (summary.webhooks_delivered, summary.webhook_attempts_failed) == (3, 3)
    assert len(receiver.received) == 3
    refused = deliveries(services, WebhookDelivery.subscription_id != good.subscription.id)
    assert {r.status for r in refused} == {"queued"} and all("ConnectError" in r.last_error for r in refused)


def test_sla_and_incident_events_are_sent(services, clock, drive, adam, receiver):
    subscribe(services, adam, receiver, clock, events=["sla.warning", "sla.breached", "incident.raised",
                                                        "incident.resolved"])

    def down(params, ctx):
        raise HandlerError("connection refused")

    services.handlers["crm.take_case"] = down
    drive.new("assistance", priority="critical")
    for _ in range(3):
        drive.work()
        clock.advance(timedelta(minutes=5))
    [raised] = receiver.of_type("incident.raised")
    assert raised.body["resource"]["operator"] == "crm.take_case" and "connection refused" in raised.body[
        "resource"]["error"]
    with services.uow() as uow:
        from app.store.models import ServiceJob
        job_id = uow.session.scalar(select(ServiceJob.id))
    services.handlers["crm.take_case"] = take_case
    job_failures.retry_incident(services, job_id, "adam")
    clock.advance(timedelta(days=3))
    drive.work()
    [resolved] = receiver.of_type("incident.resolved")
    assert resolved.body["actor"] == "adam" and resolved.body["resource"]["action"] == "retry"
    assert [r.body["resource"]["level"] for r in receiver.received if r.event_type.startswith("sla.")] == [
        "warning", "breach"]
    assert receiver.bad_signatures == []


def test_without_subscriptions_a_change_costs_one_small_query_and_queues_nothing(services, drive):
    seen: list[str] = []

    def count(conn, cursor, statement, *args):
        if "webhook" in statement:
            seen.append(statement)

    event.listen(services.engine, "before_cursor_execute", count)
    try:
        drive.new("assistance")
    finally:
        event.remove(services.engine, "before_cursor_execute", count)
    assert len(seen) == 1 and seen[0].lstrip().startswith("SELECT")  # instance_started (and the rest): one read
    assert deliveries(services) == []


def test_no_database_lock_is_held_while_a_receiver_is_waited_for(services, clock, drive, adam, receiver):
    subscribe(services, adam, receiver, clock, events=["task.completed"])
    number = drive.new("assistance")
    drive.work()
    drive.complete(number, "assign_specialist", "maria", ASSIGN)
    receiver.hold_at = 1
    passing = threading.Thread(target=drive.work)
    passing.start()
    try:
        assert receiver.held.wait(20)
        began = time.monotonic()
        drive.complete(number, "fulfil_assistance_request", "sam", FULFIL)  # the same request, while the POST waits
        assert time.monotonic() - began < 5
    finally:
        receiver.release.set()
        passing.join(30)
    drive.work()
    assert [r.body["resource"]["bpmn_id"] for r in receiver.received] == ["assign_specialist",
                                                                          "fulfil_assistance_request"]


def test_only_administrators_manage_webhooks_and_bad_input_is_refused_by_field(services, clock, adam, receiver):
    for name in ("maria", "olive", "audrey"):
        who = load_identity(services, name)
        with pytest.raises(Forbidden):
            hooks.subscriptions(services, who)
        with pytest.raises(Forbidden):
            hooks.subscribe(services, who, receiver.url, "", ["task.ready"])
    for url, words in [("ftp://example.test/x", "only http and https"), ("javascript:alert(1)", "only http"),
                       ("http://", "no host"), ("https://user:pw@example.test/", "no user name"),
                       ("http://exa mple.test/", "spaces"), ("", "give the URL"), ("http://h:99999/", "cannot be read"),
                       ("http://" + "a" * 2000 + ".test/", "longer than")]:
        with pytest.raises(InvalidData) as refused:
            hooks.subscribe(services, adam, url, "", ["task.ready"])
        assert refused.value.errors[0].field == "url" and words in refused.value.errors[0].message, (url, refused.value)
    with pytest.raises(InvalidData, match="choose at least one"):
        hooks.subscribe(services, adam, receiver.url, "", [])
    with pytest.raises(InvalidData, match="unknown event"):
        hooks.subscribe(services, adam, receiver.url, "", ["task.exploded"])
    created = hooks.subscribe(services, adam, receiver.url, "fine", ["task.ready"])
    assert created.secret.startswith("whsec_") and len(created.secret) > 40
    with services.uow() as uow:  # the secret is never in the audit log
        for audited in uow.session.scalars(select(AuditEvent).where(AuditEvent.event_type.like("webhook_%"))):
            assert created.secret not in str(audited.payload)
    assert [s.url for s in hooks.subscriptions(services, adam)] == [receiver.url]
