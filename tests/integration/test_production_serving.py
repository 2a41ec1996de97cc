"""Production serving as real processes: `rf serve --processes 2` (gunicorn) answers /health, /ready and /metrics and
stops gracefully on SIGTERM; `rf worker` stops on SIGTERM after the job it is running (or, told twice, at once with
the job rolled back and still pending), exits 0, and nothing is lost or done twice."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from app.config import PROJECT_ROOT
from app.observability import request_id
from app.store.models import AuditEvent, ServiceJob
from tests.conftest import env_for, free_port
from tests.driver import Driver
from tests.external_systems import TOKENS

RF = Path(sys.executable).parent / "rf"


def wait_for(condition, what: str, timeout: float = 30.0, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    pytest.fail(f"{what}: not within {timeout:.0f} s" + (f"\n{log.read_text(errors='replace')}" if log else ""))


def json_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - a local URL
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0, b""


def test_rf_serve_with_two_gunicorn_processes_answers_and_stops_gracefully(services, settings, clock, tmp_path):
    port = free_port()
    out, err = tmp_path / "serve.out", tmp_path / "serve.err"
    env = env_for(settings, clock.now())
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen([str(RF), "serve", "--processes", "2", "--port", str(port)], env=env,  # noqa: S603
                                cwd=PROJECT_ROOT, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: get(f"{base}/health")[0] == 200, "rf serve --processes 2 answers /health", log=err)
        wait_for(lambda: len([line for line in json_lines(err) if line["message"].startswith("Booting worker")]) == 2,
                 "two gunicorn processes", log=err)
        status, body = get(f"{base}/ready")
        assert status == 200 and json.loads(body)["status"] == "ready"
        for _ in range(10):
            assert get(f"{base}/health")[0] == 200
        status, body = get(f"{base}/metrics")
        assert status == 200
        samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
                   for family in text_string_to_metric_families(body.decode()) for s in family.samples}
        assert samples[("rf_database_up", ())] == 1
        health = ("rf_http_request_duration_seconds_count",
                  (("endpoint", "pages.health"), ("method", "GET"), ("status", "200")))
        assert samples[health] >= 10  # both processes' counts added up (multiprocess mode)
        assert "Request Fulfillment on http://127.0.0.1" in out.read_text()  # the human banner, on stdout
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=40)
    messages = [line["message"] for line in json_lines(err)]
    assert code == 0, err.read_text()
    assert "Handling signal: term" in messages and "Shutting down: Master" in messages
    assert len([m for m in messages if m.startswith("Worker exiting")]) == 2


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as stderr:
        return subprocess.Popen([str(RF), "worker", "--interval", "0.2"], env=env, cwd=PROJECT_ROOT,  # noqa: S603
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr)


def test_rf_worker_stops_on_sigterm_while_idle_with_exit_code_0(services, settings, clock, tmp_path):
    log = tmp_path / "worker.err"
    proc = start_worker(env_for(settings, clock.now()), log)
    wait_for(lambda: any(line["message"].startswith("worker started") for line in json_lines(log)),
             "rf worker started", log=log)
    began = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0, log.read_text()
    assert time.monotonic() - began < 5
    assert json_lines(log)[-1]["message"] == "worker stopped"


@pytest.fixture
def slow_crm_take(services, settings, clock, external, tmp_path):
    """A request whose first job (crm.take_case) the worker runs against the fake CRM over HTTP, which takes 2 s to
    answer: a web request (its id bound as the web app binds it) logged it."""
    with request_id.bound("rid-sigterm-test"):
        number = Driver(services, clock).new("assistance")
    case = Driver(services, clock).show(number)["crm_case"]["case"]
    external.add_crm_case(case, status="open")
    external.slow("crm", "/cases/.*/take", seconds=2.0)
    env = env_for(settings, clock.now())
    env.update(RF_CRM_URL=external.url("crm"), RF_CRM_TOKEN=TOKENS["crm"], RF_HTTP_TIMEOUT_SECONDS="10")
    return number, env


def job_state(services) -> tuple[str, int]:
    with services.uow() as uow:
        job = uow.session.scalars(select(ServiceJob).where(ServiceJob.operator == "crm.take_case")).one()
        return job.status, job.attempts


def service_calls(services) -> int:
    with services.uow() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(AuditEvent)
                                      .where(AuditEvent.event_type == "service_called")) or 0)


def test_rf_worker_finishes_the_job_it_is_running_on_sigterm_then_exits_0(services, clock, external, tmp_path,
                                                                          slow_crm_take):
    number, env = slow_crm_take
    log = tmp_path / "worker.err"
    proc = start_worker(env, log)
    wait_for(lambda: external.calls("crm", "POST"), "the worker calls the CRM", log=log)
    proc.send_signal(signal.SIGTERM)  # mid-job: the CRM answers in 2 s
    assert proc.wait(timeout=30) == 0, log.read_text()
    assert job_state(services) == ("done", 1)  # finished, once
    assert len(external.calls("crm", "POST")) == 1 and service_calls(services) == 1
    assert len(external.effects.takes) == 1
    assert Driver(services, clock).open_bpmn_ids(number) == ["assign_specialist"]
    [line] = [line for line in json_lines(log) if line["logger"] == "rf.worker" and line.get("outcome")]
    assert (line["outcome"], line["rf_request"], line["request_id"]) == ("done", number, "rid-sigterm-test")
    assert line["duration_ms"] >= 1500


def test_a_second_sigterm_abandons_the_job_which_stays_pending_and_runs_once_later(services, settings, clock,
                                                                                   external, tmp_path,
                                                                                   slow_crm_take):
    number, env = slow_crm_take
    log = tmp_path / "worker.err"
    proc = start_worker(env, log)
    wait_for(lambda: external.calls("crm", "POST"), "the worker calls the CRM", log=log)
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)  # do not wait for the CRM
    assert proc.wait(timeout=15) == 0, log.read_text()
    assert job_state(services) == ("pending", 0)  # rolled back: nothing recorded, still due
    assert service_calls(services) == 0
    assert "rolled back and stays pending" in log.read_text()

    again = start_worker(env, tmp_path / "again.err")  # the next worker runs it; the CRM dedupes the repeated key
    wait_for(lambda: job_state(services)[0] == "done", "the next worker runs the job", log=tmp_path / "again.err")
    again.send_signal(signal.SIGTERM)
    assert again.wait(timeout=30) == 0
    assert job_state(services) == ("done", 1) and service_calls(services) == 1
    assert len(external.effects.takes) == 1  # one effect in the CRM, whatever was sent twice
    assert Driver(services, clock).open_bpmn_ids(number) == ["assign_specialist"]
