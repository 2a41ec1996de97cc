"""Speed per user action over real HTTP against the production server (`rf serve --processes N`, gunicorn).

Run from the repository root:

    .venv/bin/python -m bench.actions [--samples 60] [--seconds 4] [--database-url URL]

Set-up (timed and printed, not measured): a fresh database (a temporary SQLite file unless --database-url is given;
PostgreSQL gets a private schema that is dropped afterwards), migrated, seeded with the demo users, the bundled process
deployed, and enough network assistance requests through the real services (`intake.new_request`, then one
`worker.run_once`), each waiting at *Assign to a specialist*, the task of maria (manager). A bearer token for maria.
Then ANALYZE: a database in service has the statistics autovacuum gathers as its tables grow; without them
PostgreSQL's planner, seeing a table it believes empty, read a completion's task through the open-tasks index and
filtered every open task instead of using the task id's unique index.
Then `rf serve --processes N` as a subprocess on a free port: gunicorn, 4 threads per process, JSON access lines,
no worker (none of the measured actions needs one: a new request's first service job just stays pending).

Measured, each over HTTP with a session client (`requests.Session`, cookie and CSRF token as a browser sends them;
redirects not followed):

* claim: `POST /tasks/{id}/claim` (302);
* complete-form: `POST /tasks/{id}` with the task's form fields (302);
* complete-api: `POST /api/v1/tasks/{id}/complete` with `Authorization: Bearer`, JSON (200);
* new-request: `POST /requests/new` with the new-request form (302).

1. Latency: one client, sequential, on the server with the most processes (all claims, then all completions,
   then the new requests): per action p50/p95 of the client's wall time and of the server's own time (its
   `Server-Timing: app;dur=` header), and the CPU time all server processes used per action (from /proc: what the
   action costs the server whatever else the machine runs; the database's own CPU is not in it). For scale, the
   same CPU figure for `GET /health` without and with the session cookie (the floor of any request).
2. Throughput: C clients (separate processes, so they do not share a GIL) each loop "claim a task, complete it
   (form and API in turn), log a new request" for --seconds; actions/s = all POSTs answered / elapsed. With 1 and 4
   clients on the largest server, and 4 clients on 1, 2 and 4 server processes (the scaling curve).
3. Raw SpiffWorkflow, in this process, for the same step (completing *Assign to a specialist* of the same
   instance): in memory (complete, engine steps: as `bench.lifecycle`'s raw side) and with a save/load around it
   (restore the instance state against the spec restored once, complete, engine steps, serialize the state), the
   least any app that stores its instances between steps does. The ratios divide the server time of complete-form
   (and of new-request, by starting an instance) by these.

After measuring: every task prepared for the run completed by maria, and the audit chains intact.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import requests
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import func, select

from app.bootstrap import Services, bootstrap
from app.clock import FixedClock
from app.config import PROJECT_ROOT, Settings
from app.engine.serialization import load_workflow, spec_json_of, state_json_of
from app.services import worker
from app.services.admin import api_tokens, auth, setup
from app.services.definitions import deploy as definitions
from app.services.requests import intake
from app.store import audit
from app.store.models import ServiceRequest, TaskRow
from bench.api import FORM, percentile, sign_in
from bench.insights import analyze
from bench.lifecycle import _free_port, backend_facts, database, parse_raw, raw_variables
from tests.driver import REQUEST

NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
RF = Path(sys.executable).parent / "rf"
ACTIONS = ("claim", "complete-form", "complete-api", "new-request")
NEW_REQUEST = {"request_type": "assistance", "routine": "true", **REQUEST, "title": "Bench: a new request"}
SERVER_TIMING = re.compile(r"app;dur=([0-9.]+)")
WARM_UP_CYCLES = 3  # per client, per server, not measured (each process fills its caches on first use)
RAW_REPEATS = 200


# --- the server ----------------------------------------------------------------------------------------------------


def start_server(settings: Settings, port: int, processes: int, log: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, RF_DATABASE_URL=settings.database_url, RF_CLOCK_START=NOW.isoformat(),
               RF_SECRET_KEY=f"bench-{uuid.uuid4().hex}", RF_SMTP_HOST="127.0.0.1", RF_SMTP_PORT="9")
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # a private one per server
    with log.open("ab") as out:
        process = subprocess.Popen(  # noqa: S603 - our own console script
            [str(RF), "serve", "--host", "127.0.0.1", "--port", str(port), "--processes", str(processes),
             "--threads", "4"],
            env=env, cwd=PROJECT_ROOT, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"rf serve exited:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=5):  # noqa: S310 - local URL
                return process
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    stop_server(process)
    raise RuntimeError("rf serve was not ready after 60 s")


def tree_cpu_ms(pid: int) -> float:
    """CPU time (ms) the process `pid` and its descendants have used so far (Linux /proc): the server's own cost,
    whatever else the machine is doing meanwhile. Per thread from `schedstat` (nanoseconds) where the kernel has it:
    `stat` counts in clock ticks (10 ms), too coarse for a few milliseconds per request spread over four processes;
    a process without `schedstat` counts by `stat`."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += _process_cpu_ms(current, tick)
        todo += [child for child, parent in parents.items() if parent == current]
    return total


def _process_cpu_ms(pid: int, tick: int) -> float:
    try:
        threads = [int((task / "schedstat").read_text().split()[0]) for task in Path(f"/proc/{pid}/task").iterdir()]
        return sum(threads) / 1e6
    except (OSError, IndexError, ValueError):
        pass
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) * 1000 / tick
    except (OSError, IndexError, ValueError):
        return 0.0


def stop_server(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# --- one client ----------------------------------------------------------------------------------------------------


@dataclass
class Sample:
    action: str
    wall_ms: float
    server_ms: float
    ended: float  # time.monotonic() when the answer was in


@dataclass
class Client:
    """A signed-in browser (session cookie, CSRF token) and an API caller (bearer token), both as maria."""

    base: str
    token: str
    web: requests.Session = field(init=False)
    csrf: str = field(init=False)
    signed_in: requests.cookies.RequestsCookieJar = field(init=False)  # the session cookie right after sign-in
    api: requests.Session = field(init=False)

    def __post_init__(self) -> None:
        self.web, self.csrf = sign_in(self.base, "maria")
        self.signed_in = self.web.cookies.copy()
        self.api = requests.Session()
        self.api.headers["Authorization"] = f"Bearer {self.token}"

    def _timed(self, action: str, call: Callable[[], requests.Response], expect: int) -> Sample:
        started = time.perf_counter()
        answer = call()
        wall = (time.perf_counter() - started) * 1000
        # A browser follows the redirect, whose page shows (and so drops) the flashed "… completed" message; the
        # bench does not follow it, so it drops the message itself: else the session cookie grows with every action
        # and each later request pays for reading and signing all of them.
        self.web.cookies = self.signed_in.copy()
        if answer.status_code != expect:
            raise RuntimeError(f"{action}: {answer.status_code} {answer.text[:300]}")
        timing = SERVER_TIMING.search(answer.headers.get("Server-Timing", ""))
        if timing is None:
            raise RuntimeError(f"{action}: no Server-Timing header in the answer")
        return Sample(action, wall, float(timing.group(1)), time.monotonic())

    def claim(self, task_id: str) -> Sample:
        return self._timed("claim", lambda: self.web.post(
            f"{self.base}/tasks/{task_id}/claim", data={"csrf_token": self.csrf, "next": "/inbox"},
            allow_redirects=False, timeout=60), 302)

    def complete_form(self, task_id: str) -> Sample:
        return self._timed("complete-form", lambda: self.web.post(
            f"{self.base}/tasks/{task_id}", data={**FORM, "csrf_token": self.csrf}, allow_redirects=False,
            timeout=60), 302)

    def complete_api(self, task_id: str) -> Sample:
        return self._timed("complete-api", lambda: self.api.post(
            f"{self.base}/api/v1/tasks/{task_id}/complete", json={"data": FORM}, timeout=60), 200)

    def new_request(self) -> Sample:
        return self._timed("new-request", lambda: self.web.post(
            f"{self.base}/requests/new", data={**NEW_REQUEST, "csrf_token": self.csrf}, allow_redirects=False,
            timeout=60), 302)

    def cycle(self, i: int, task_id: str) -> list[Sample]:
        """One user's round: take a task, complete it (by form, or by API every other time), log a new request."""
        done = self.complete_form if i % 2 == 0 else self.complete_api
        return [self.claim(task_id), done(task_id), self.new_request()]


def client_run(base: str, token: str, task_ids: list[str], ready: Any, seconds: float, out: Any) -> None:
    """One client process: sign in, warm up, wait at `ready` for the others, then cycles until the time or the tasks
    run out. Puts the measured samples and every task it claimed and completed (warm-up included) on `out`."""
    client = Client(base, token)
    for i, task_id in enumerate(task_ids[:WARM_UP_CYCLES]):
        client.cycle(i, task_id)
    ready.wait()
    samples: list[Sample] = []
    used = task_ids[:WARM_UP_CYCLES]
    deadline = time.monotonic() + seconds
    for i, task_id in enumerate(task_ids[WARM_UP_CYCLES:]):
        if time.monotonic() >= deadline:
            break
        samples += client.cycle(i, task_id)
        used.append(task_id)
    out.put((samples, used))


def measure_latency(client: Client, server_pid: int, task_ids: list[str]) -> tuple[list[Sample], dict[str, float]]:
    """Sequential: every task claimed, then every task completed (by form and by API in turn), then as many new
    requests. One block per kind of action, so that the server's CPU time per action can be told apart."""
    blocks: list[tuple[str, Callable[[int, str], Sample]]] = [
        ("claim", lambda _i, task_id: client.claim(task_id)),
        ("complete", lambda i, task_id: client.complete_form(task_id) if i % 2 == 0 else client.complete_api(task_id)),
        ("new-request", lambda _i, _task_id: client.new_request())]
    samples: list[Sample] = []
    cpu: dict[str, float] = {}
    # the floor: an answer that reads nothing (/health), and the same with the session check every page makes
    for name, session in (("empty request", requests.Session()), ("signed-in empty request", client.web)):
        before = tree_cpu_ms(server_pid)
        for _ in task_ids:
            session.get(f"{client.base}/health", timeout=60).raise_for_status()
        cpu[name] = (tree_cpu_ms(server_pid) - before) / len(task_ids)
    for name, act in blocks:
        before = tree_cpu_ms(server_pid)
        for i, task_id in enumerate(task_ids):
            samples.append(act(i, task_id))
        cpu[name] = (tree_cpu_ms(server_pid) - before) / len(task_ids)
    return samples, cpu


@dataclass
class Throughput:
    processes: int
    clients: int
    actions: int
    seconds: float
    tasks_left: bool  # False: a client ran out of prepared tasks before the time was up
    samples: list[Sample]
    used: list[str]  # the tasks claimed and completed, warm-up included

    @property
    def per_second(self) -> float:
        return self.actions / self.seconds


def throughput(base: str, token: str, processes: int, clients: int, tasks: list[str], seconds: float) -> Throughput:
    per_client = len(tasks) // clients
    slices = [tasks[i * per_client:(i + 1) * per_client] for i in range(clients)]
    context = multiprocessing.get_context("fork")
    ready, out = context.Barrier(clients + 1), context.Queue()
    workers = [context.Process(target=client_run, args=(base, token, part, ready, seconds, out)) for part in slices]
    for process in workers:
        process.start()
    ready.wait(timeout=300)  # every client signed in and warmed up
    start_at = time.monotonic()
    results: list[tuple[list[Sample], list[str]]] = [out.get(timeout=seconds + 300) for _ in workers]
    for process in workers:
        process.join(timeout=30)
        if process.exitcode != 0:
            raise RuntimeError(f"a client process failed (exit {process.exitcode})")
    samples = [s for part, _ in results for s in part]
    if not samples:
        raise RuntimeError("no action finished in the time given")
    elapsed = max(s.ended for s in samples) - start_at
    ran_out = any(len(used) == per_client for _, used in results)
    return Throughput(processes, clients, len(samples), elapsed, not ran_out, samples,
                      [task for _, used in results for task in used])


# --- raw SpiffWorkflow for the same step ---------------------------------------------------------------------------


def raw_step_times(repeats: int) -> dict[str, list[float]]:
    """ms per completion of *Assign to a specialist* on an assistance instance, raw: in memory (SpiffWorkflow alone,
    as `bench.lifecycle`'s raw side), and with a save/load around it (restore the instance's state JSON against the
    spec restored once, complete, engine steps, serialize the state: `app.engine.serialization`, SpiffWorkflow's
    converters without the spec; no database, no restricted scripts, no forms, no audit). The same for starting an
    instance (to its first wait)."""
    specs = parse_raw(PROJECT_ROOT / "bpmn")
    spec_json = spec_json_of(specs.spec, specs.subprocess_specs)

    def started() -> BpmnWorkflow:
        wf = BpmnWorkflow(specs.spec, specs.subprocess_specs, script_engine=specs.engine)
        wf.get_tasks(state=TaskState.READY)[0].data.update(raw_variables("assistance", 1))
        wf.do_engine_steps()
        return wf

    def complete(wf: BpmnWorkflow) -> None:
        ready = [t for t in wf.get_tasks(state=TaskState.READY, manual=True)
                 if t.task_spec.bpmn_id == "assign_specialist"]
        if len(ready) != 1:
            raise RuntimeError(f"raw: expected one ready assign_specialist, found {len(ready)}")
        ready[0].data.update(FORM)
        ready[0].run()
        wf.do_engine_steps()

    stored = state_json_of(started())
    times: dict[str, list[float]] = {"complete in memory": [], "complete with save/load": [],
                                     "start in memory": [], "start with save": []}
    for _ in range(repeats):
        wf = load_workflow(spec_json, stored, specs.engine)
        t0 = time.perf_counter()
        complete(wf)
        times["complete in memory"].append((time.perf_counter() - t0) * 1000)

        t0 = time.perf_counter()
        wf = load_workflow(spec_json, stored, specs.engine)
        complete(wf)
        state_json_of(wf)
        times["complete with save/load"].append((time.perf_counter() - t0) * 1000)

        t0 = time.perf_counter()
        started()
        times["start in memory"].append((time.perf_counter() - t0) * 1000)

        t0 = time.perf_counter()
        state_json_of(started())
        times["start with save"].append((time.perf_counter() - t0) * 1000)
    return times


# --- set-up and checks ---------------------------------------------------------------------------------------------


def make_tasks(services: Services, n: int) -> list[str]:
    """n network assistance requests waiting at *Assign to a specialist*; their task ids."""
    ids = [intake.new_request(services, "assistance", {**REQUEST, "title": f"Bench request {i}"}, "ann.logger").id
           for i in range(n)]
    worker.run_once(services, now=NOW)
    with services.uow() as uow:
        rows = dict(uow.session.execute(select(TaskRow.request_id, TaskRow.task_uuid).where(
            TaskRow.status == "open", TaskRow.bpmn_id == "assign_specialist")).all())
    missing = [i for i in ids if i not in rows]
    if missing:
        raise RuntimeError(f"{len(missing)} requests have no open assign_specialist task after the worker pass")
    return [rows[request_id] for request_id in ids]


def verify(services: Services, used: list[str], new_requests: int, requests_before: int) -> list[str]:
    with services.uow() as uow:
        s = uow.session
        by_maria = s.scalar(select(func.count()).select_from(TaskRow).where(
            TaskRow.task_uuid.in_(used), TaskRow.status == "completed", TaskRow.completed_by == "maria"))
        logged = (s.scalar(select(func.count()).select_from(ServiceRequest)) or 0) - requests_before
        verified = audit.verify(s)
    problems = []
    if by_maria != len(used):
        problems.append(f"only {by_maria} of {len(used)} claimed tasks completed by maria")
    if logged != new_requests:
        problems.append(f"{logged} requests logged, {new_requests} answered")
    if not verified.intact:
        problems.append("audit chains BROKEN")
    if problems:
        raise RuntimeError("; ".join(problems))
    return [f"{by_maria} tasks claimed and completed by maria", f"{logged} new requests logged",
            f"audit chains intact ({verified.count} events)"]


# --- reporting -----------------------------------------------------------------------------------------------------


def _row(name: str, values: list[float], servers: list[float] | None = None) -> str:
    text = f"{name:<26} {len(values):>5} {percentile(values, 50):>9.2f} {percentile(values, 95):>9.2f}"
    if servers is not None:
        text += f" {percentile(servers, 50):>10.2f} {percentile(servers, 95):>10.2f}"
    return text


def report(facts: dict[str, str], latency: list[Sample], server_cpu: dict[str, float], runs: list[Throughput],
           raw: dict[str, list[float]], checks: list[str], largest: int) -> None:
    width = max(len(k) for k in facts)
    for key, value in facts.items():
        print(f"{key:<{width}}  {value}")
    print(f"\nlatency: one client, sequential, {largest} server processes (ms)")
    header = f"{'action':<26} {'n':>5} {'wall p50':>9} {'wall p95':>9} {'server p50':>10} {'server p95':>10}"
    print(header)
    print("-" * len(header))
    for action in ACTIONS:
        picked = [s for s in latency if s.action == action]
        print(_row(action, [s.wall_ms for s in picked], [s.server_ms for s in picked]))
    print("server CPU per request (all its processes, from /proc; immune to waiting, not to a busy machine): "
          + ", ".join(f"{name} {ms:.1f} ms" for name, ms in server_cpu.items()))
    print("\nthroughput: each client loops claim, complete (form / API in turn), new request")
    header = (f"{'processes':>9} {'clients':>7} {'actions':>7} {'seconds':>7} {'actions/s':>9} "
              f"{'complete server p50':>19} {'wall p50':>8}")
    print(header)
    print("-" * len(header))
    for run in runs:
        completes = [s for s in run.samples if s.action.startswith("complete")]
        note = "" if run.tasks_left else "  (a client ran out of prepared tasks)"
        print(f"{run.processes:>9} {run.clients:>7} {run.actions:>7} {run.seconds:>7.2f} {run.per_second:>9.1f} "
              f"{percentile([s.server_ms for s in completes], 50):>19.2f} "
              f"{percentile([s.wall_ms for s in run.samples], 50):>8.2f}{note}")
    print("\nraw SpiffWorkflow, the same step in this process (ms)")
    header = f"{'raw':<26} {'n':>5} {'p50':>9} {'p95':>9}"
    print(header)
    print("-" * len(header))
    for name, values in raw.items():
        print(_row(name, values))
    form_times = [s.server_ms for s in latency if s.action == "complete-form"]
    news = [s.server_ms for s in latency if s.action == "new-request"]
    p50 = percentile(form_times, 50)
    cpu = server_cpu["complete"]
    print(f"\ncomplete server CPU {cpu:.2f} ms: "
          f"{cpu / percentile(raw['complete with save/load'], 50):.1f}x raw with save/load, "
          f"{cpu / percentile(raw['complete in memory'], 50):.1f}x raw in memory")
    print(f"complete-form server p50 {p50:.2f} ms: "
          f"{p50 / percentile(raw['complete with save/load'], 50):.1f}x raw with save/load, "
          f"{p50 / percentile(raw['complete in memory'], 50):.1f}x raw in memory")
    new_p50 = percentile(news, 50)
    print(f"new-request server p50 {new_p50:.2f} ms: "
          f"{new_p50 / percentile(raw['start with save'], 50):.1f}x raw start with save, "
          f"{new_p50 / percentile(raw['start in memory'], 50):.1f}x raw start in memory")
    print("checks: " + "; ".join(checks))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.actions", description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=40, help="latency samples of claim and new request; "
                        "the two completions alternate, half each (default 40)")
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each throughput run (default 3)")
    parser.add_argument("--processes", default="1,2,4", help="server process counts of the scaling curve")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients of the scaling curve (default 4)")
    parser.add_argument("--tasks-per-run", type=int, default=80,
                        help="tasks prepared per throughput run (a run ends early when its clients use them up)")
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    args = parser.parse_args(argv)
    process_counts = sorted({int(p) for p in args.processes.split(",")})
    largest = process_counts[-1]
    runs_planned = [(p, args.clients) for p in process_counts] + ([(largest, 1)] if args.clients != 1 else [])
    per_run = max(args.tasks_per_run, args.clients * (WARM_UP_CYCLES + 2))
    wanted = args.samples + 5 + per_run * len(runs_planned)

    with database(args.database_url) as url:
        started = time.perf_counter()
        settings = replace(Settings.from_env({}), database_url=url, bpmn_dir=PROJECT_ROOT / "bpmn",
                           forms_dir=PROJECT_ROOT / "forms")
        services = bootstrap(settings, FixedClock(NOW))
        setup.migrate(services)
        setup.seed(services, demo=True)
        definitions.deploy(services, definitions.read_paths([settings.bpmn_dir]), "bench")
        print(f"preparing {wanted} tasks through the services ...", file=sys.stderr, flush=True)
        tasks = make_tasks(services, wanted)
        token, _ = api_tokens.create(services, auth.load_identity(services, "maria"), "bench")
        with services.uow() as uow:
            requests_before = uow.session.scalar(select(func.count()).select_from(ServiceRequest)) or 0
        analyze(services)  # the statistics autovacuum gathers once a table has grown so (SQLite: its own ANALYZE)
        set_up = time.perf_counter() - started

        log = Path(os.environ.get("TMPDIR", "/tmp")) / f"rf-bench-actions-{uuid.uuid4().hex[:8]}.log"
        load_before = os.getloadavg()[0]
        used: list[str] = []
        new_requests = 0
        latency: list[Sample] = []
        server_cpu: dict[str, float] = {}
        runs: list[Throughput] = []
        pending = iter(tasks)

        def take(n: int) -> list[str]:
            return [next(pending) for _ in range(n)]

        for processes in sorted(process_counts, reverse=True):  # the largest first: it also gives the latency
            port = _free_port()
            print(f"serving with {processes} processes ...", file=sys.stderr, flush=True)
            server = start_server(settings, port, processes, log)
            base = f"http://127.0.0.1:{port}"
            try:
                if processes == largest:
                    client = Client(base, token)
                    warm = take(5)
                    for i, task_id in enumerate(warm):
                        client.cycle(i, task_id)
                    used += warm
                    new_requests += len(warm)
                    measured = take(args.samples)
                    used += measured
                    samples, server_cpu = measure_latency(client, server.pid, measured)
                    latency += samples
                    new_requests += len(measured)
                for p, clients in runs_planned:
                    if p != processes:
                        continue
                    print(f"  {clients} client(s) for {args.seconds:g} s ...", file=sys.stderr, flush=True)
                    batch = take(per_run)
                    run = throughput(base, token, processes, clients, batch, args.seconds)
                    runs.append(run)
                    used += run.used
                    new_requests += len(run.used)  # one new request per cycle, warm-up included
            finally:
                stop_server(server)
        load_after = os.getloadavg()[0]
        print("raw SpiffWorkflow ...", file=sys.stderr, flush=True)
        raw = raw_step_times(RAW_REPEATS)
        checks = verify(services, used, new_requests, requests_before)
        facts = {
            "python": f"{platform.python_implementation()} {platform.python_version()} on {platform.platform()}",
            "cpus": f"{os.cpu_count()} (usable {len(os.sched_getaffinity(0))})",
            "database": backend_facts(services),
            "libraries": f"SpiffWorkflow {version('SpiffWorkflow')}, Flask {version('flask')}, "
                         f"SQLAlchemy {version('sqlalchemy')}, gunicorn {version('gunicorn')}",
            "server": "rf serve --processes N --threads 4 (gunicorn), no worker; clients: requests.Session",
            "load average": f"{load_before:.2f} before measuring, {load_after:.2f} after (1 min)",
            "set-up": f"{set_up:.1f} s ({len(tasks)} requests through the services)",
            "samples": f"latency: {args.samples} per action (the two completions alternate) after 5 warm-up cycles; "
                       f"throughput: {args.seconds:g} s per run after {WARM_UP_CYCLES} warm-up cycles per client",
        }
        services.engine.dispose()
    report(facts, latency, server_cpu, runs, raw, checks, largest)
    return 0


if __name__ == "__main__":
    multiprocessing.set_start_method("fork", force=True)
    sys.exit(main())
