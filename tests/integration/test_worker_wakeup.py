"""Workers that wake at once (issue 14 part 3): a commit that makes work due wakes the worker (in-process on every
database, and between processes on PostgreSQL through LISTEN/NOTIFY) long before its poll; the pause after a pass
ends at the earliest future due time; several workers racing never run a job twice."""

from __future__ import annotations

import subprocess
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text

from app.config import PROJECT_ROOT
from app.run import worker_loop
from app.services import worker_schedule
from app.store.models import AuditEvent, ServiceJob
from app.store.wakeup import Wakeup
from handlers import HandlerError
from tests.conftest import env_for
from tests.driver import Driver
from tests.integration.test_production_serving import RF, json_lines, wait_for

LONG_POLL = 30.0  # the workers here poll this rarely: anything quicker is the wake-up's doing
WOKEN_WITHIN = 5.0  # a generous bound for "at once" on a busy machine; far below the poll


def take_case_job(services) -> tuple[str, int]:
    with services.uow() as uow:
        job = uow.session.scalars(select(ServiceJob).where(ServiceJob.operator == "crm.take_case")).one()
        return job.status, job.attempts


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as stderr:
        return subprocess.Popen([str(RF), "worker"], env=env, cwd=PROJECT_ROOT,  # noqa: S603
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr)


def stop(proc: subprocess.Popen[bytes], log: Path) -> None:
    proc.terminate()
    assert proc.wait(timeout=30) == 0, log.read_text()


def ready(log: Path, postgres: bool) -> bool:
    """The worker has started (and on PostgreSQL is about to LISTEN: the listener wakes it once when it is)."""
    wanted = "worker listening for work" if postgres else "worker started"
    return any(line["message"].startswith(wanted) for line in json_lines(log))


def test_the_embedded_worker_wakes_when_this_process_commits_work(services, clock):
    """`rf serve`'s worker thread shares the web app's services: the commit that makes a job due wakes it (on SQLite
    too, where there is no NOTIFY) though its poll is 30 s away."""
    halt = threading.Event()
    thread = threading.Thread(target=worker_loop.run, args=(services, halt, LONG_POLL), daemon=True)
    thread.start()
    try:
        time.sleep(0.5)  # its first pass found nothing: it is in its 30 s pause
        began = time.monotonic()
        Driver(services, clock).new("assistance")
        while take_case_job(services)[0] != "done" and time.monotonic() - began < WOKEN_WITHIN:
            time.sleep(0.02)
        assert take_case_job(services) == ("done", 1), f"not woken within {WOKEN_WITHIN} s (poll {LONG_POLL} s)"
    finally:
        halt.set()
        services.wakeup.set()  # ends the pause at once, as `rf serve` and `rf worker` do
        thread.join(timeout=10)
    assert not thread.is_alive()


def test_an_rf_worker_wakes_at_the_notify_of_another_process(services, settings, clock, tmp_path):
    if services.engine.dialect.name != "postgresql":
        pytest.skip("between processes only PostgreSQL can wake a worker (LISTEN/NOTIFY); SQLite polls")
    log = tmp_path / "worker.err"
    env = env_for(settings, clock.now())
    env["RF_WORKER_POLL_SECONDS"] = str(LONG_POLL)
    proc = start_worker(env, log)
    try:
        wait_for(lambda: ready(log, postgres=True), "rf worker listening", log=log)
        time.sleep(1.0)  # connected, its first passes done: in its 30 s pause
        began = time.monotonic()
        Driver(services, clock).new("assistance")  # this process's commit: only the NOTIFY can reach the worker
        wait_for(lambda: take_case_job(services)[0] == "done", "the job run", timeout=LONG_POLL, log=log)
        took = time.monotonic() - began
        assert took < WOKEN_WITHIN, f"picked up after {took:.1f} s: the poll's doing, not the NOTIFY's"
    finally:
        stop(proc, log)
    assert take_case_job(services) == ("done", 1)


def test_two_workers_racing_never_run_a_job_twice(services, settings, clock, tmp_path):
    """Two `rf worker`s on one database, woken together by every request's commit (NOTIFY on PostgreSQL; a short
    poll on SQLite): every job runs exactly once."""
    postgres = services.engine.dialect.name == "postgresql"
    env = env_for(settings, clock.now())
    env["RF_WORKER_POLL_SECONDS"] = str(LONG_POLL if postgres else 0.05)
    logs = [tmp_path / "a.err", tmp_path / "b.err"]
    procs = [start_worker(env, log) for log in logs]
    requests = 20
    try:
        for log in logs:
            wait_for(lambda log=log: ready(log, postgres), "rf worker started", log=log)
        time.sleep(0.5)
        drive = Driver(services, clock)
        numbers = [drive.new("assistance", title=f"Printer {i}") for i in range(requests)]

        def done() -> int:
            with services.uow() as uow:
                return sum(job.status == "done" for job in uow.session.scalars(select(ServiceJob)))

        wait_for(lambda: done() == requests, f"{requests} jobs done", timeout=60, log=logs[0])
    finally:
        for proc, log in zip(procs, logs, strict=True):
            stop(proc, log)
    with services.uow() as uow:
        jobs = [(job.task_uuid, job.status, job.attempts) for job in uow.session.scalars(select(ServiceJob))]
        called = Counter(event.payload["task"] for event in uow.session.scalars(
            select(AuditEvent).where(AuditEvent.event_type == "service_called")))
    assert len(jobs) == requests and all((status, attempts) == ("done", 1) for _, status, attempts in jobs)
    assert called == {task: 1 for task, _, _ in jobs}  # one service call per job, ever
    runs = [line for log in logs for line in json_lines(log) if line["logger"] == "rf.worker" and line.get("outcome")]
    assert Counter(line["outcome"] for line in runs)["done"] == requests  # the two workers together, once each
    assert {line["rf_request"] for line in runs if line["outcome"] == "done"} == set(numbers)


def test_after_a_pass_the_worker_sleeps_until_the_earliest_future_due_time(services, clock):
    """A retry due in 1 s (the backoff) shortens the pause to 1 s; with nothing waiting it is the poll interval."""
    drive = Driver(services, clock)
    now = clock.now()
    assert worker_schedule.next_due(services, now) is None
    assert worker_loop.pause(services, now, LONG_POLL) == LONG_POLL

    def down(params, ctx):
        raise HandlerError("CRM is down")

    services.handlers["crm.take_case"] = down
    drive.new("assistance")
    assert drive.work().services_failed == 1
    assert worker_schedule.next_due(services, now) == now + timedelta(seconds=1)
    assert worker_loop.pause(services, now, LONG_POLL) == 1.0
    assert worker_loop.pause(services, now, 0.25) == 0.25  # capped by the poll interval
    clock.advance(timedelta(seconds=5))  # overdue work (a job the pass could not do) never makes a busy loop
    assert worker_schedule.next_due(services, clock.now()) is None


def test_the_listen_connection_comes_back_when_postgresql_drops_it(services, clock):
    """The LISTEN connection's server process is killed (as a PostgreSQL restart would): the listener says so,
    reconnects, and the next commit's NOTIFY wakes the worker again."""
    if services.engine.dialect.name != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    reports: list[str] = []
    woken = Wakeup()  # not the services' own: this process's commits cannot set it, only a NOTIFY can
    listener = woken.listen(services.engine, reports.append)
    assert listener is not None
    try:
        assert listener.wait_listening(10)
        first = listener.backend_pid
        with services.engine.connect() as conn:
            assert conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        wait_for(lambda: any("listening for work again" in line for line in reports), "the listener reconnects")
        assert any("lost the LISTEN connection" in line for line in reports)
        assert listener.listening and listener.backend_pid != first
        woken.clear()
        Driver(services, clock).new("assistance")
        assert woken.wait(WOKEN_WITHIN)
    finally:
        listener.close()
    assert not listener.listening
