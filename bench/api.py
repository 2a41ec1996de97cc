"""Task completion latency through the REST API beside the same action through the HTML form, on a real server.

Run from the repository root:

    .venv/bin/python -m bench.api [--tasks 200] [--database-url URL]

Set-up (timed and printed, not measured): a fresh database (a temporary SQLite file unless --database-url is given;
PostgreSQL gets a private schema that is dropped afterwards), migrated, seeded with the demo users, the bundled
process deployed, and 2 x N (+ warm-up) network assistance requests through the real services (`intake.new_request`,
`worker.run_once`), each waiting at *Assign to a specialist* (the manager's task). A bearer token for maria. Then the
real `rf serve --no-worker` as a subprocess on a free port (werkzeug's threaded server, as `make run` starts it;
no worker, so nothing else uses the database while measuring), and maria signed in through the login form.

Measured, alternating one API completion and one form completion (which goes first alternates too), so both see the
same machine load:

* api: `POST /api/v1/tasks/{id}/complete` with `Authorization: Bearer`, JSON `{"data": {...}}`, expecting 200;
* form: `POST /tasks/{id}` with the session cookie and its `csrf_token`, form-encoded, expecting the 302 back to the
  inbox (the redirect is not followed: the inbox page it leads to is not part of completing the task).

Wall time around each call (`time.perf_counter`, from the client: HTTP, routing, sign-in, the service, the answer).
After measuring, every task must be completed by maria and the audit chain intact.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import requests
from sqlalchemy import select

from app.bootstrap import Services, bootstrap
from app.clock import FixedClock
from app.config import PROJECT_ROOT, Settings
from app.services import worker
from app.services.admin import api_tokens, auth, setup
from app.services.definitions import deploy as definitions
from app.services.requests import intake
from app.store import audit
from app.store.models import TaskRow
from bench.lifecycle import _free_port, backend_facts, database, smtp_server
from tests.driver import REQUEST

DEFAULT_TASKS = 200
WARM_UP = 10
NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
RF = Path(sys.executable).parent / "rf"
FORM = {"specialist": "sam", "assignment_note": "VPN team"}
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def make_tasks(services: Services, n: int) -> list[str]:
    """n network assistance requests waiting at *Assign to a specialist*; their task ids."""
    ids = [intake.new_request(services, "assistance", {**REQUEST, "title": f"Bench request {i}"}, "ann.logger").id
           for i in range(n)]
    worker.run_once(services, now=NOW)
    with services.uow() as uow:
        rows = {request_id: task_uuid for request_id, task_uuid in uow.session.execute(
            select(TaskRow.request_id, TaskRow.task_uuid).where(TaskRow.status == "open",
                                                                TaskRow.bpmn_id == "assign_specialist"))}
    return [rows[request_id] for request_id in ids]


def start_server(settings: Settings, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, RF_DATABASE_URL=settings.database_url, RF_SMTP_HOST="127.0.0.1",
               RF_SMTP_PORT=str(settings.smtp_port), RF_CLOCK_START=NOW.isoformat(),
               RF_SECRET_KEY=f"bench-{uuid.uuid4().hex}")
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 - our own console script
            [str(RF), "serve", "--host", "127.0.0.1", "--port", str(port), "--no-worker", "--no-mail-sink"],
            env=env, cwd=PROJECT_ROOT, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"rf serve exited:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):  # noqa: S310 - local URL
                return process
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("rf serve was not healthy after 30 s")


def sign_in(base: str, username: str) -> tuple[requests.Session, str]:
    web = requests.Session()
    token = CSRF.search(web.get(f"{base}/login", timeout=10).text)
    assert token
    done = web.post(f"{base}/login", data={"username": username, "password": "demo", "csrf_token": token.group(1)},
                    allow_redirects=False, timeout=10)
    assert done.status_code == 302, done.status_code
    csrf = CSRF.search(web.get(f"{base}/inbox", timeout=10).text)
    assert csrf
    return web, csrf.group(1)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]  # nearest rank


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.api", description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=DEFAULT_TASKS, help="completions measured per side")
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    args = parser.parse_args(argv)
    n = args.tasks

    with database(args.database_url) as url, smtp_server() as (_inbox, smtp_port):
        started = time.perf_counter()
        settings = replace(Settings.from_env({}), database_url=url, smtp_host="127.0.0.1", smtp_port=smtp_port,
                           bpmn_dir=PROJECT_ROOT / "bpmn", forms_dir=PROJECT_ROOT / "forms")
        clock = FixedClock(NOW)
        services = bootstrap(settings, clock)
        setup.migrate(services)
        setup.seed(services, demo=True)
        definitions.deploy(services, definitions.read_paths([settings.bpmn_dir]), "bench")
        task_ids = make_tasks(services, 2 * (n + WARM_UP))
        secret, _ = api_tokens.create(services, auth.load_identity(services, "maria"), "bench")
        set_up = time.perf_counter() - started

        port = _free_port()
        log = Path(url.removeprefix("sqlite:///")).with_name("rf-serve.log") if url.startswith("sqlite") \
            else Path(os.environ.get("TMPDIR", "/tmp")) / f"rf-bench-api-{port}.log"
        process = start_server(settings, port, log)
        base = f"http://127.0.0.1:{port}"
        try:
            web, csrf = sign_in(base, "maria")
            api = requests.Session()
            api.headers["Authorization"] = f"Bearer {secret}"

            def by_api(task_id: str) -> None:
                answer = api.post(f"{base}/api/v1/tasks/{task_id}/complete", json={"data": FORM}, timeout=30)
                if answer.status_code != 200:
                    raise RuntimeError(f"API: {answer.status_code} {answer.text[:300]}")

            def by_form(task_id: str) -> None:
                answer = web.post(f"{base}/tasks/{task_id}", data={**FORM, "csrf_token": csrf},
                                  allow_redirects=False, timeout=30)
                if answer.status_code != 302:
                    raise RuntimeError(f"form: {answer.status_code} {answer.text[:300]}")

            sides: dict[str, Callable[[str], None]] = {"api": by_api, "form": by_form}
            times: dict[str, list[float]] = {"api": [], "form": []}
            load_before = os.getloadavg()[0]
            pending = iter(task_ids)
            for i in range(n + WARM_UP):
                order = ("api", "form") if i % 2 == 0 else ("form", "api")
                for side in order:
                    task_id = next(pending)
                    t0 = time.perf_counter()
                    sides[side](task_id)
                    elapsed = time.perf_counter() - t0
                    if i >= WARM_UP:
                        times[side].append(elapsed * 1000)
            load_after = os.getloadavg()[0]
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()

        with services.uow() as uow:
            done = uow.session.scalars(select(TaskRow.completed_by).where(TaskRow.task_uuid.in_(task_ids))).all()
            verified = audit.verify(uow.session)
        checks = [f"{sum(1 for who in done if who == 'maria')}/{len(task_ids)} tasks completed by maria",
                  f"audit chain {'intact' if verified.intact else 'BROKEN'} ({verified.count} events)"]
        facts = {
            "python": f"{platform.python_implementation()} {platform.python_version()} on {platform.platform()}",
            "cpus": f"{os.cpu_count()} (usable {len(os.sched_getaffinity(0))})",
            "database": backend_facts(services),
            "libraries": f"Flask {version('flask')}, flask-openapi3 {version('flask-openapi3')}, "
                         f"SQLAlchemy {version('sqlalchemy')}, requests {version('requests')}",
            "server": "rf serve --no-worker (werkzeug threaded), one client, sequential",
            "load average": f"{load_before:.2f} before measuring, {load_after:.2f} after (1 min)",
            "set-up": f"{set_up:.1f} s ({2 * (n + WARM_UP)} requests through the services)",
            "samples": f"{n} per side after {WARM_UP} warm-up each, alternating",
        }
        services.engine.dispose()

    width = max(len(k) for k in facts)
    for key, value in facts.items():
        print(f"{key:<{width}}  {value}")
    print()
    print(f"{'side':<6} {'n':>5} {'p50 ms':>9} {'p95 ms':>9} {'mean ms':>9} {'max ms':>9}")
    print("-" * 52)
    for side, values in times.items():
        print(f"{side:<6} {len(values):>5} {percentile(values, 50):>9.2f} {percentile(values, 95):>9.2f} "
              f"{statistics.fmean(values):>9.2f} {max(values):>9.2f}")
    p50 = percentile(times["api"], 50) / percentile(times["form"], 50)
    p95 = percentile(times["api"], 95) / percentile(times["form"], 95)
    print(f"\napi/form: {p50:.3f}x at p50, {p95:.3f}x at p95")
    print("checks: " + "; ".join(checks))
    ok = all(who == "maria" for who in done) and len(done) == len(task_ids) and verified.intact
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
