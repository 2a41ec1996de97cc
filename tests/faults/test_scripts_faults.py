"""Fault suite: spinning scripts, memory bombs and SystemExit, in a user's action and in the worker, while other
users keep completing their tasks. On SQLite and (when configured) PostgreSQL.

One database per backend for the whole module (migrate, seed, deploy the bundled process as version 1 and a faulty
version 2 from `scripts_bundle`); the script time limit is 1 s to keep the suite short.
"""

from __future__ import annotations

import resource
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text

from app.bootstrap import Services, bootstrap
from app.clock import FixedClock
from app.config import PROJECT_ROOT, Settings
from app.errors import AppError
from app.services import worker
from app.services.admin import setup
from app.services.definitions import deploy as definitions
from app.store import audit
from app.store.models import AuditEvent, ProcessInstance, ServiceJob, ServiceRequest
from handlers import REGISTRY
from tests.conftest import BACKENDS, POSTGRES_URL, START, _postgres_schema_url, env_for
from tests.driver import Driver
from tests.faults.scripts_bundle import faulty_bundle
from tests.web import WebUser

LIMIT = 1.0
QUICK = 5.0  # seconds within which another user's action must succeed while a script misbehaves


@dataclass
class World:
    services: Services
    settings: Settings
    clock: FixedClock
    driver: Driver

    def tick(self, seconds: float = 3600) -> None:
        self.clock.advance(timedelta(seconds=seconds))


@pytest.fixture(scope="module", params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          smtp_server: Any) -> Iterator[World]:
    schema = ""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('faults') / 'rf.sqlite3'}"
    else:
        schema = f"rf_test_{uuid.uuid4().hex[:12]}"
        with create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT").connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = _postgres_schema_url(schema)
    settings = replace(Settings.from_env({}), database_url=url, smtp_port=smtp_server[1], smtp_host="127.0.0.1",
                       bpmn_dir=PROJECT_ROOT / "bpmn", forms_dir=PROJECT_ROOT / "forms", service_max_attempts=2,
                       service_backoff_seconds=1, script_time_limit_seconds=LIMIT)
    clock = FixedClock(START)
    services = bootstrap(settings, clock)
    setup.migrate(services)
    setup.seed(services, demo=True)
    definitions.deploy(services, definitions.read_paths([settings.bpmn_dir]), "test")
    yield World(services, settings, clock, Driver(services, clock))
    services.engine.dispose()
    bootstrap(replace(settings, script_time_limit_seconds=2.0))  # the process's default limits again
    if schema:
        with create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT").connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


def _normal_requests(world: World, count: int) -> list[str]:
    """Requests on the good version 1, each waiting at the manager's assign_specialist."""
    numbers = [world.driver.new("assistance", title=f"Normal request {i}") for i in range(count)]
    world.driver.work()
    return numbers


def _deploy(world: World, files: dict[str, bytes]) -> list[str]:
    """Deploy as a new latest version (a unique comment: identical content would not be deployed again)."""
    marked = dict(files)
    marked["assistance_request.bpmn"] += f"<!-- {uuid.uuid4().hex} -->\n".encode()
    result = definitions.deploy(world.services, marked, "olive")
    assert result.created
    return [str(w) for w in result.warnings]


def _deploy_faulty(world: World) -> None:
    warnings = " ".join(_deploy(world, faulty_bundle()))
    assert "endless loop" in warnings and "SystemExit" in warnings  # deploy warns, yet deploys


def _deploy_good(world: World) -> None:
    _deploy(world, definitions.read_paths([world.settings.bpmn_dir]))


def _state(world: World, number: str) -> tuple[int, str, int]:
    with world.services.uow() as uow:
        request = uow.session.scalars(select(ServiceRequest).where(ServiceRequest.number == number)).one()
        instance = uow.session.scalars(select(ProcessInstance).where(ProcessInstance.request_id == request.id)).one()
        events = uow.session.scalar(select(text("count(*)")).select_from(AuditEvent)
                                    .where(AuditEvent.request_id == request.id))
        return instance.version, instance.state_json, int(events or 0)


def _assign(world: World, number: str, note: str = "") -> None:
    world.driver.complete(number, "assign_specialist", "maria", {"specialist": "sam", "assignment_note": note})


def _others_keep_working(world: World, numbers: list[str], durations: list[float]) -> None:
    for number in numbers:
        started = time.monotonic()
        _assign(world, number, "routine")
        durations.append(time.monotonic() - started)


def _chain_intact(world: World) -> None:
    with world.services.uow() as uow:
        report = audit.verify(uow.session)
    assert report.intact, report.reason


@pytest.mark.parametrize("note, error", [("spin", "ran longer than the 1 s script time limit"),
                                          ("bomb", "more than the 64 MB script memory limit"),
                                          ("exit", "NameError")])
def test_a_misbehaving_script_in_a_users_action_is_refused_writes_nothing_and_others_keep_working(world, note, error):
    _deploy_good(world)  # the normal requests start on a good version
    others = _normal_requests(world, 3)
    _deploy_faulty(world)
    victim = world.driver.new("assistance", title="Printer jams")
    world.driver.work()  # check_title passes for an ordinary title
    before = _state(world, victim)
    failure: list[BaseException] = []
    took: list[float] = []

    def bad_action() -> None:
        started = time.monotonic()
        try:
            _assign(world, victim, note)
        except BaseException as err:  # noqa: BLE001 - recorded and checked below
            failure.append(err)
        took.append(time.monotonic() - started)

    thread = threading.Thread(target=bad_action)
    thread.start()
    durations: list[float] = []
    _others_keep_working(world, others, durations)
    thread.join(30)
    assert not thread.is_alive()
    assert len(failure) == 1 and error in f"{type(failure[0]).__name__}: {failure[0]}", failure
    if note != "exit":
        assert isinstance(failure[0], AppError) and failure[0].status == 422
        assert "check_note" in str(failure[0]) and "nothing was saved" in str(failure[0])
        assert took[0] < LIMIT + 3
    assert max(durations) < QUICK, durations
    assert _state(world, victim) == before  # nothing written: same version, state and audit
    assert world.driver.open_bpmn_ids(victim) == ["assign_specialist"]
    for number in others:
        assert world.driver.open_bpmn_ids(number) == ["fulfil_assistance_request"]
    _chain_intact(world)


def test_a_user_whose_action_runs_a_spinning_script_sees_a_422_naming_the_step(world):
    _deploy_faulty(world)
    victim = world.driver.new("assistance", title="Monitor flickers")
    world.driver.work()
    task = world.driver.open_task(victim, "assign_specialist")
    page = WebUser(world.services, "maria").post(f"/tasks/{task.task_uuid}",
                                                 {"specialist": "sam", "assignment_note": "spin"})
    body = page.get_data(as_text=True)
    assert page.status_code == 422
    assert "ran longer than the 1 s script time limit" in body and "check_note" in body
    assert world.driver.open_bpmn_ids(victim) == ["assign_specialist"]


def _jobs(world: World, number: str) -> list[ServiceJob]:
    with world.services.uow() as uow:
        request_id = uow.session.scalar(select(ServiceRequest.id).where(ServiceRequest.number == number))
        jobs = list(uow.session.scalars(select(ServiceJob).where(ServiceJob.request_id == request_id)))
        uow.session.expunge_all()
        return jobs


def test_misbehaving_scripts_in_the_worker_become_incidents_and_never_stop_it(world):
    _deploy_good(world)
    others = _normal_requests(world, 2)
    _deploy_faulty(world)
    bad = {title: world.driver.new("assistance", title=title) for title in ("spin", "bomb", "power", "exit")}
    fine = world.driver.new("assistance", title="Keyboard missing keys")
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    durations: list[float] = []
    user = threading.Thread(target=_others_keep_working, args=(world, others, durations))
    user.start()
    first = world.driver.work()  # every job once: the bad ones fail, the fine one runs
    user.join(60)
    assert not user.is_alive() and max(durations) < QUICK, durations
    assert first.services_run >= 1 and first.services_failed == len(bad)
    world.tick(10)
    second = world.driver.work()  # the retry fails again: incidents (service_max_attempts = 2)
    assert second.incidents == len(bad)
    for title, number in bad.items():
        (job,) = _jobs(world, number)
        assert (job.status, job.attempts, job.operator) == ("incident", 2, "crm.take_case"), title
    assert "ScriptTimeLimit" in _jobs(world, bad["spin"])[0].last_error
    assert "ScriptMemoryLimit" in _jobs(world, bad["bomb"])[0].last_error
    assert "NameError" in _jobs(world, bad["exit"])[0].last_error
    assert world.driver.open_bpmn_ids(fine) == ["assign_specialist"]
    for number in others:
        assert world.driver.open_bpmn_ids(number) == ["fulfil_assistance_request"]
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before < 200 * 1024  # kB: no bomb grew us
    _chain_intact(world)


def test_rf_worker_once_never_exits_with_a_scripts_exit_code(world):
    _deploy_faulty(world)
    number = world.driver.new("assistance", title="exit")
    world.tick(60)
    done = subprocess.run([str(PROJECT_ROOT / ".venv" / "bin" / "rf"), "worker", "--once"],
                          env=env_for(world.settings, world.clock.now()), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    (job,) = _jobs(world, number)
    assert job.status in ("pending", "incident") and job.attempts >= 1 and "NameError" in (job.last_error or "")


def _raising(kind: type[BaseException]) -> Any:
    def handler(params: dict[str, Any], ctx: Any) -> dict[str, Any]:
        raise kind("handler gave up")
    return handler


@pytest.mark.parametrize("kind", [SystemExit, GeneratorExit, BaseException, KeyboardInterrupt])
def test_a_job_that_raises_any_base_exception_fails_and_the_next_job_still_runs(world, kind):
    _deploy_good(world)
    broken = bootstrap(world.settings, world.clock, handlers={**REGISTRY, "crm.take_case": _raising(kind)})
    victim = world.driver.new("assistance", title="Headset broken")
    outcome: list[Any] = []
    # in a thread, like the worker of `rf serve` (a KeyboardInterrupt in the main thread is the operator's Ctrl-C)
    thread = threading.Thread(target=lambda: outcome.append(worker.run_once(broken, now=world.clock.now())))
    thread.start()
    thread.join(60)
    assert outcome and outcome[0].services_failed == 1
    (job,) = _jobs(world, victim)
    assert job.status == "pending" and kind.__name__ in (job.last_error or "")
    world.tick(10)
    after = world.driver.work()  # the real handler now: the retried job runs
    assert after.services_run >= 1 and world.driver.open_bpmn_ids(victim) == ["assign_specialist"]
    broken.engine.dispose()
    _chain_intact(world)
