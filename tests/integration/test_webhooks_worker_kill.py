"""None lost, none doubled but the one in flight: the real `rf worker` delivering many webhook events is killed with
SIGKILL mid-way and another is started. Every event arrives; the only event a receiver can get twice is one whose
POST was in flight when the worker died (the receiver holds it, so the test knows which one), and it comes again with
the same event id."""

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

from app.domain.webhooks import EVENTS
from app.services.admin import webhooks as hooks
from app.services.admin.auth import load_identity
from app.services.webhook_delivery import LEASE_MARGIN_SECONDS
from app.store.models import ServiceJob, WebhookAttempt, WebhookDelivery
from tests.conftest import env_for
from tests.driver import Driver
from tests.webhook_receiver import Receiver

RF = Path(sys.executable).parent / "rf"
REQUESTS = 12  # each: request.created now, task.ready once the worker has taken the CRM case


@pytest.fixture
def loaded(services, clock, receiver: Receiver) -> Receiver:
    created = hooks.subscribe(services, load_identity(services, "adam"), receiver.url, "kill test", list(EVENTS))
    receiver.secrets.append(created.secret)
    receiver.now = clock.now  # the workers' clocks start at the test clock and run a few seconds on: well in window
    drive = Driver(services, clock)
    for i in range(REQUESTS):
        drive.new("assistance", title=f"Printer {i}")
    return receiver


def _start(settings, clock) -> subprocess.Popen:
    return subprocess.Popen([str(RF), "worker", "--interval", "0.05"], env=env_for(settings, clock.now()),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)


def _after_the_lease(services, clock, began: float) -> None:
    """Move the test clock past the killed worker's lease (its clock ran on in real time since `began`)."""
    clock.advance(timedelta(seconds=time.monotonic() - began + services.settings.webhook_timeout_seconds
                            + LEASE_MARGIN_SECONDS + 1))


def _outstanding(watcher) -> int:
    with watcher.connect() as conn:
        queued = conn.scalar(select(func.count()).select_from(WebhookDelivery)
                             .where(WebhookDelivery.status != "delivered"))
        jobs = conn.scalar(select(func.count()).select_from(ServiceJob).where(ServiceJob.status == "pending"))
        return int(queued or 0) + int(jobs or 0)


def _finish(services, settings, clock, watcher) -> None:
    """Run a fresh worker until every job is done and every delivery delivered, then stop it."""
    proc = _start(settings, clock)
    try:
        deadline = time.monotonic() + 120
        while _outstanding(watcher) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        _kill(proc)
    assert _outstanding(watcher) == 0, "the second worker never finished"


def _delivered_ids(services) -> set[str]:
    with services.uow() as uow:
        rows = list(uow.session.scalars(select(WebhookDelivery)))
        assert {row.status for row in rows} == {"delivered"}
        return {row.event_id for row in rows}


@pytest.mark.usefixtures("loaded")
def test_a_worker_killed_while_a_post_is_in_flight_loses_nothing_and_repeats_only_that_event(services, settings, clock,
                                                                                            receiver: Receiver):
    receiver.hold_at = 8
    watcher = create_engine(settings.database_url)  # plain reads beside the workers
    try:
        began = time.monotonic()
        proc = _start(settings, clock)
        try:
            assert receiver.held.wait(60), "the worker never posted the 8th event"
            # the POST is in flight (the receiver holds it) and no database lock is held meanwhile: the row is only
            # claimed, nothing about this attempt is recorded yet
            with watcher.connect() as conn:
                claimed = conn.execute(select(WebhookDelivery.status, WebhookDelivery.claim_token, WebhookDelivery.id)
                                       .where(WebhookDelivery.event_id == receiver.held_event_id)).one()
                assert claimed.status == "queued" and claimed.claim_token is not None
                assert conn.scalar(select(func.count()).select_from(WebhookAttempt)
                                   .where(WebhookAttempt.delivery_id == claimed.id)) == 0
        finally:
            _kill(proc)
            receiver.release.set()
        _after_the_lease(services, clock, began)
        _finish(services, settings, clock, watcher)
    finally:
        watcher.dispose()

    assert receiver.bad_signatures == []
    counts = receiver.counts()
    expected = _delivered_ids(services)
    assert len(expected) == 2 * REQUESTS and set(counts) == expected  # none lost
    assert {event_id for event_id, n in counts.items() if n > 1} == {receiver.held_event_id}  # only the one in flight
    assert counts[receiver.held_event_id] == 2
    with services.uow() as uow:  # the killed attempt left no trace; the redelivery is the one attempt logged
        held = uow.session.scalars(select(WebhookDelivery)
                                   .where(WebhookDelivery.event_id == receiver.held_event_id)).one()
        assert held.attempts == 1


@pytest.mark.usefixtures("loaded")
def test_killing_the_worker_at_random_moments_loses_no_event_and_repeats_at_most_one_per_kill(services, settings,
                                                                                             clock, receiver: Receiver):
    receiver.delay = 0.02  # each POST takes a little while, so kills land in flight as well as between them
    rng = random.Random(20261201)
    watcher = create_engine(settings.database_url)
    kills = 0
    try:
        for _ in range(6):
            if not _outstanding(watcher):
                break
            seen = len(receiver.received)
            began = time.monotonic()
            proc = _start(settings, clock)
            deadline = time.monotonic() + 60
            while len(receiver.received) == seen and time.monotonic() < deadline:
                time.sleep(0.005)
            time.sleep(rng.uniform(0, 0.1))
            _kill(proc)
            kills += 1
            _after_the_lease(services, clock, began)
        _finish(services, settings, clock, watcher)
    finally:
        watcher.dispose()

    assert receiver.bad_signatures == []
    counts = receiver.counts()
    assert set(counts) == _delivered_ids(services) and len(counts) == 2 * REQUESTS  # none lost
    repeated = sum(n - 1 for n in counts.values())
    assert repeated <= kills, f"{repeated} repeated deliveries after {kills} kills: {counts}"
