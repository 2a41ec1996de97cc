"""Full-lifecycle throughput: the app's services on a real database versus raw in-memory SpiffWorkflow.

Run from the repository root:

    .venv/bin/python -m bench.lifecycle [--requests N] [--database-url URL]

Two paths, N instances each, both measured on both sides in one run:

* enhancement: chargeable, with one failed test (the longest path: work plan, fulfil, test fail, fulfil, test pass,
  chargeability, billing case, initiate billing, wait until the service is live, ASD update, notify, email);
* assistance: take the CRM case, assign, fulfil, close the CRM case, email.

"services" drives each request through `app.services.intake/tasks/worker` on a real database (a temporary SQLite
file unless --database-url is given), with a FixedClock and a local aiosmtpd server that really receives the mail.
"raw" runs the same diagrams in memory with plain SpiffWorkflow: no database, no serialization, no restricted
scripts, no forms, service tasks answered by a stub `call_service`. The ratio is services time / raw time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import sqlite3
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import create_engine, func, select, text

from app.bootstrap import Services, bootstrap
from app.clock import FixedClock
from app.config import PROJECT_ROOT, Settings
from app.domain.permissions import OPERATOR
from app.engine.spiff_patches import engine_time
from app.services import worker
from app.services.admin import setup
from app.services.definitions import deploy as definitions
from app.services.requests import intake, queries
from app.services.requests import sla_targets as sla
from app.services.tasks import actions as tasks
from app.store.models import Notification, ServiceJob, ServiceRequest
from tests.driver import REQUEST

DEFAULT_REQUESTS = 30
START = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
MAIN_PROCESS = "request_fulfillment"

WORK_PLAN = {"work_plan": "Add the new report to the agency portal", "estimated_hours": 16,
             "planned_start": "2026-12-02", "planned_finish": "2026-12-18"}
FULFILMENT = {"fulfilment_notes": "Report built and deployed to staging", "hours_spent": 6}
LIVE_DATE = "<service live date>"  # replaced per side: a date the clock then passes (services), a past date (raw)


@dataclass(frozen=True)
class Step:
    kind: str  # "task": a person completes a user task; "work": one worker pass; "live": the live date passes
    bpmn_id: str = ""
    user: str = ""
    data: dict[str, Any] = field(default_factory=dict)


WORK = Step("work")
LIVE = Step("live")

# The same steps as tests/bpmn/test_request_fulfillment_paths.py.
PATHS: dict[str, list[Step]] = {
    "enhancement": [
        Step("task", "draw_up_work_plan", "pete", WORK_PLAN),
        WORK,
        Step("task", "fulfil_enhancement_request", "pete", FULFILMENT),
        Step("task", "test_solution", "pete", {"test_result": "fail", "test_notes": "Totals are wrong"}),
        Step("task", "fulfil_enhancement_request", "pete", {**FULFILMENT, "fulfilment_notes": "Fixed totals"}),
        Step("task", "test_solution", "pete", {"test_result": "pass", "test_notes": "Totals match"}),
        Step("task", "determine_chargeability", "pete",
             {"chargeable": True, "billable_hours": 12.5, "hourly_rate": 85, "billing_code": "PS-628"}),
        WORK,
        Step("task", "initiate_billing", "carla", {"billing_notes": "Bill Q1", "service_live_date": LIVE_DATE}),
        WORK,  # not live yet: nothing happens but the pass itself
        LIVE,
        Step("task", "notify_customer_of_fulfilment", "carla", {"customer_message": "Billed and live."}),
        WORK,
    ],
    "assistance": [
        WORK,
        Step("task", "assign_specialist", "maria", {"specialist": "sam", "assignment_note": "VPN team"}),
        Step("task", "fulfil_assistance_request", "sam",
             {"resolution_notes": "Created the VPN profile", "resolution_code": "resolved", "time_spent_hours": 1.5}),
        WORK,
    ],
}
KINDS = list(PATHS)
HUMAN_STEPS = {kind: sum(step.kind == "task" for step in steps) for kind, steps in PATHS.items()}


def _with_live_date(data: dict[str, Any], live: str) -> dict[str, Any]:
    return {k: (live if v == LIVE_DATE else v) for k, v in data.items()}


# --- the services side -------------------------------------------------------------------------------------------


class Inbox:
    """aiosmtpd handler that counts what it receives."""

    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd API
        with self.lock:
            self.count += 1
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@contextmanager
def database(url: str | None) -> Iterator[str]:
    """A temporary SQLite file by default; for PostgreSQL a private schema that is dropped afterwards."""
    if not url:
        with tempfile.TemporaryDirectory(prefix="rf-bench-") as tmp:
            yield f"sqlite:///{Path(tmp) / 'rf.sqlite3'}"
        return
    if not url.startswith("postgresql"):
        yield url
        return
    schema = f"rf_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        sep = "&" if "?" in url else "?"
        yield f"{url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _open_task_id(services: Services, request_id: int, bpmn_id: str) -> str:
    found = [t.id for t in tasks.list_tasks(services, request_id=request_id) if t.bpmn_id == bpmn_id]
    if len(found) != 1:
        raise RuntimeError(f"expected one open {bpmn_id} on request {request_id}, found {len(found)}")
    return found[0]


def services_lifecycle(services: Services, clock: FixedClock, kind: str) -> str:
    """Create one request and drive it to closed through the services; returns its number."""
    request = intake.new_request(services, kind, REQUEST, "ann.logger")
    live = ""
    for step in PATHS[kind]:
        if step.kind == "work":
            worker.run_once(services, now=clock.now())
        elif step.kind == "live":
            clock.set(datetime.fromisoformat(live + "T15:05:00+00:00"))  # after 08:00 Central, when a date timer fires
            worker.run_once(services, now=clock.now())
        else:
            data = step.data
            if LIVE_DATE in data.values():
                live = (clock.now() + timedelta(days=1)).date().isoformat()
                data = _with_live_date(data, live)
            tasks.complete(services, _open_task_id(services, request.id, step.bpmn_id), step.user, data)
    assert request.number
    return request.number


# --- the raw side ------------------------------------------------------------------------------------------------


class StubServices(TaskDataEnvironment):
    """Answers every service task at once, the way a handler would: a small JSON result."""

    def call_service(self, context: dict[str, Any], operation_name: str = "", operation_params: Any = None,
                     **_kwargs: Any) -> str:
        params = {name: spec["value"] for name, spec in (operation_params or {}).items()}
        return json.dumps({"operator": operation_name, "status": "ok", "request_number": params.get("request_number")})


@dataclass
class RawSpecs:
    spec: Any
    subprocess_specs: dict[str, Any]
    engine: PythonScriptEngine


def parse_raw(bpmn_dir: Path) -> RawSpecs:
    parser = SpiffBpmnParser(validator=VALIDATOR)
    parser.add_bpmn_files(sorted(str(p) for p in bpmn_dir.glob("*.bpmn")))
    return RawSpecs(parser.get_spec(MAIN_PROCESS), parser.get_subprocess_specs(MAIN_PROCESS),
                    PythonScriptEngine(environment=StubServices()))


def raw_variables(kind: str, n: int) -> dict[str, Any]:
    """The data intake.new_request gives the instance, with an SLA target that does not pass during the run."""
    due = sla.default_due(kind, REQUEST["priority"], datetime.now(UTC))
    return {
        "request_id": n, "request_number": f"RF-{n:06d}", "request_type": kind, "routine": True,
        "title": REQUEST["title"], "description": "", "agency": REQUEST["agency"],
        "requester_name": REQUEST["requester_name"], "requester_email": REQUEST["requester_email"],
        "provider_group": REQUEST["provider_group"], "priority": REQUEST["priority"],
        "crm_case_id": f"CRM-{n:06d}", "sla_due_at": due.isoformat(),
    }


def raw_lifecycle(specs: RawSpecs, kind: str, variables: dict[str, Any]) -> BpmnWorkflow:
    """The raw side runs on the wall clock: the app's engine patch asks for the time explicitly (`engine_time`)."""
    with engine_time(datetime.now(UTC)):
        return _raw_lifecycle(specs, kind, variables)


def _raw_lifecycle(specs: RawSpecs, kind: str, variables: dict[str, Any]) -> BpmnWorkflow:
    wf = BpmnWorkflow(specs.spec, specs.subprocess_specs, script_engine=specs.engine)
    wf.get_tasks(state=TaskState.READY)[0].data.update(variables)
    wf.do_engine_steps()
    past = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    for step in PATHS[kind]:
        if step.kind == "work":
            continue  # service tasks already ran inside do_engine_steps
        if step.kind == "live":
            wf.refresh_timers()
            wf.do_engine_steps()
            continue
        ready = [t for t in wf.get_tasks(state=TaskState.READY, manual=True) if t.task_spec.bpmn_id == step.bpmn_id]
        if len(ready) != 1:
            raise RuntimeError(f"raw {kind}: expected one ready {step.bpmn_id}, found {len(ready)}")
        ready[0].data.update(_with_live_date(step.data, past))
        ready[0].run()
        wf.do_engine_steps()
    if not wf.is_completed():
        raise RuntimeError(f"raw {kind}: the workflow did not complete")
    return wf


def raw_path(wf: BpmnWorkflow) -> list[str]:
    """Completed element ids in order, as the app's engine reports them (`rf show`'s path)."""
    seen: dict[Any, Any] = {}
    for workflow in [wf, *wf.subprocesses.values()]:
        for task in workflow.get_tasks(state=TaskState.COMPLETED):
            if task.task_spec.bpmn_id:
                seen.setdefault(task.id, task)
    return [t.task_spec.bpmn_id for t in sorted(seen.values(), key=lambda t: t.last_state_change)]


# --- measuring and reporting -------------------------------------------------------------------------------------


@dataclass
class Timing:
    kind: str
    side: str
    instances: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.instances / self.seconds

    @property
    def ms_each(self) -> float:
        return 1000 * self.seconds / self.instances

    @property
    def steps_per_second(self) -> float:
        return self.instances * HUMAN_STEPS[self.kind] / self.seconds


def measure(kind: str, side: str, n: int, one: Callable[[int], Any]) -> tuple[Timing, Any]:
    last = None
    start = time.perf_counter()
    for i in range(n):
        last = one(i)
    return Timing(kind, side, n, time.perf_counter() - start), last


def backend_facts(services: Services) -> str:
    dialect = services.engine.dialect
    if dialect.name == "sqlite":
        return f"sqlite {sqlite3.sqlite_version} (file, WAL)"
    with services.engine.connect() as conn:
        server = conn.execute(text("SHOW server_version")).scalar() if dialect.name == "postgresql" else "?"
    return f"{dialect.name} {server} (driver {dialect.driver})"


def print_report(timings: list[Timing], facts: dict[str, str], checks: list[str]) -> None:
    sys.stderr.flush()
    print()
    for name, value in facts.items():
        print(f"{name:<14} {value}")
    print()
    header = (f"{'path':<12} {'side':<9} {'n':>4} {'total s':>9} {'inst/s':>9} {'ms/inst':>9} "
              f"{'human steps/s':>14} {'services/raw':>13}")
    print(header)
    print("-" * len(header))
    by_key = {(t.kind, t.side): t for t in timings}
    for t in timings:
        ratio = ""
        if t.side == "services":
            ratio = f"{t.seconds / by_key[(t.kind, 'raw')].seconds:,.1f}x"
        print(f"{t.kind:<12} {t.side:<9} {t.instances:>4} {t.seconds:>9.3f} {t.per_second:>9.1f} {t.ms_each:>9.2f} "
              f"{t.steps_per_second:>14.1f} {ratio:>13}")
    print()
    print("human steps per instance: " + ", ".join(f"{k} {v}" for k, v in HUMAN_STEPS.items()))
    for line in checks:
        print(f"checked: {line}")
    sys.stdout.flush()


def verify_services(services: Services, inbox: Inbox, numbers: dict[str, list[str]],
                    last_raw: dict[str, BpmnWorkflow]) -> list[str]:
    """Outcome checks after timing: everything closed, mail really received, same paths as the raw side."""
    all_numbers = [n for ns in numbers.values() for n in ns]
    with services.uow() as uow:
        s = uow.session
        closed = s.scalar(select(func.count()).select_from(ServiceRequest).where(
            ServiceRequest.number.in_(all_numbers), ServiceRequest.status == "closed"))
        left = s.scalar(select(func.count()).select_from(ServiceJob).where(ServiceJob.status != "done"))
        mails = dict(s.execute(select(Notification.status, func.count()).group_by(Notification.status)).all())
    if closed != len(all_numbers):
        raise RuntimeError(f"only {closed} of {len(all_numbers)} requests closed")
    if left:
        raise RuntimeError(f"{left} service jobs are not done (incident, pending or cancelled)")
    if mails != {"sent": len(all_numbers)} or inbox.count != len(all_numbers):
        raise RuntimeError(f"expected {len(all_numbers)} mails sent and received; outbox {mails}, "
                           f"SMTP server received {inbox.count}")
    for kind in KINDS:
        path = queries.show_request(services, numbers[kind][-1], reader=OPERATOR)["path"]
        if path != raw_path(last_raw[kind]):
            raise RuntimeError(f"{kind}: services path {path} differs from raw path {raw_path(last_raw[kind])}")
    return [f"{closed} requests closed through the services (incl. warm-up), {inbox.count} mails received "
            "by the SMTP server, every service job done",
            "services and raw took the same path: " + "; ".join(
                f"{kind} {len(raw_path(last_raw[kind]))} elements" for kind in KINDS)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.lifecycle", description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=DEFAULT_REQUESTS,
                        help=f"instances of each path per side (default {DEFAULT_REQUESTS})")
    parser.add_argument("--database-url", default=None,
                        help="SQLAlchemy URL; default a temporary SQLite file. PostgreSQL runs in a private schema.")
    args = parser.parse_args(argv)
    if args.requests < 1:
        parser.error("--requests must be at least 1")
    n = args.requests

    specs = parse_raw(PROJECT_ROOT / "bpmn")
    with smtp_server() as (inbox, port), database(args.database_url) as url:
        settings = replace(Settings.from_env({}), database_url=url, smtp_host="127.0.0.1", smtp_port=port,
                           bpmn_dir=PROJECT_ROOT / "bpmn", forms_dir=PROJECT_ROOT / "forms")
        clock = FixedClock(START)
        services = bootstrap(settings, clock)
        try:
            setup.migrate(services)
            setup.seed(services, demo=True)
            definitions.deploy(services, definitions.read_paths([settings.bpmn_dir]), "bench")

            numbers: dict[str, list[str]] = {kind: [] for kind in KINDS}
            last_raw: dict[str, BpmnWorkflow] = {}
            for kind in KINDS:  # warm-up: one of each, each side
                numbers[kind].append(services_lifecycle(services, clock, kind))
                raw_lifecycle(specs, kind, raw_variables(kind, 0))

            timings: list[Timing] = []
            for kind in KINDS:
                print(f"measuring {kind}: {n} through the services ...", file=sys.stderr, flush=True)
                timing, _ = measure(kind, "services", n,
                                    lambda _i, k=kind: numbers[k].append(services_lifecycle(services, clock, k)))
                timings.append(timing)
                print(f"measuring {kind}: {n} raw in memory ...", file=sys.stderr, flush=True)
                timing, last_raw[kind] = measure(kind, "raw", n,
                                                 lambda i, k=kind: raw_lifecycle(specs, k, raw_variables(k, i + 1)))
                timings.append(timing)

            checks = verify_services(services, inbox, numbers, last_raw)
            facts = {
                "python": f"{platform.python_implementation()} {platform.python_version()} on {platform.platform()}",
                "cpus": f"{os.cpu_count()} (usable {len(os.sched_getaffinity(0))})"
                        if hasattr(os, "sched_getaffinity") else str(os.cpu_count()),
                "database": backend_facts(services),
                "libraries": f"SpiffWorkflow {version('SpiffWorkflow')}, SQLAlchemy {version('SQLAlchemy')}",
                "instances": f"{n} per path per side, after one warm-up of each; sequential, one process",
            }
        finally:
            services.engine.dispose()
    print_report(timings, facts, checks)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
