"""Staff inbox and task page latency with tens of thousands of open tasks, through the real web app.

Run from the repository root:

    .venv/bin/python -m bench.inbox [--tasks 20000] [--database-url URL]

Set-up (timed and printed, not part of the measurement): a fresh database (a temporary SQLite file unless
--database-url is given; PostgreSQL gets a private schema that is dropped afterwards), migrated, seeded with the demo
users and the bundled process deployed. A few hundred requests go through the real services
(`intake.new_request`, `worker.run_once`, `tasks.complete`, `tasks.claim`) so that every user task of the process
is open somewhere, in both provider groups. The rest of the N open tasks are bulk-inserted with SQLAlchemy core:
for each, a service_request, crm_case and process_instance row (the instance's state_json copied from a real
instance waiting at the same task), the task row, and a copy of that instance's audit events (hash chain kept
intact). The inbox never loads a workflow; it reads the `task` projection.

Measured: the Flask test client signed in through the login form as maria (manager of both groups), sam
(specialist) and pete (service provider) requests the inbox queues and the task (form) page of random tasks
they may see; p50/p95/max per page and user, against the target p95 < 100 ms.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import re
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from typing import Any

from sqlalchemy import Connection, and_, func, insert, or_, select, text, update

from app.adapters.crm import case_number
from app.bootstrap import Services, bootstrap
from app.clock import FixedClock
from app.config import PROJECT_ROOT, Settings
from app.domain.vocabulary import PRIORITIES
from app.services import worker
from app.services.admin import setup
from app.services.admin.auth import load_identity
from app.services.definitions import deploy as definitions
from app.services.requests import intake
from app.services.requests import sla_targets as sla
from app.services.tasks import actions as tasks
from app.store import audit
from app.store.audit import _digest  # the chain's own digest, so bulk-copied events keep `audit.verify` intact
from app.store.models import AuditEvent, AuditHead, CrmCase, ProcessInstance, ServiceRequest, TaskRow
from bench.lifecycle import backend_facts, database
from tests.web import WebUser

DEFAULT_TASKS = 20_000
DEFAULT_REAL = 300
DEFAULT_SAMPLES = 200
WARM_UP = 20
TARGET_P95_MS = 100.0
ASSIGNED_SHARE = 0.20
NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
SEED = 20261201

USERS = ("maria", "sam", "pete")
ROLE_USERS = {"manager": ("maria",), "specialist": ("sam", "sara"), "service_provider": ("pete",), "car": ("carla",)}
ACTOR = {"manager": "maria", "service_provider": "pete", "car": "carla"}  # who completes the steps on the way
PAGES = [
    ("GET /inbox (mine)", "/inbox"),
    ("GET /inbox?queue=available", "/inbox?queue=available"),
    ("GET /inbox?queue=groups&sort=priority&page=5", "/inbox?queue=groups&sort=priority&page=5"),
    ("GET /inbox?queue=groups&overdue=1&type=assistance", "/inbox?queue=groups&overdue=1&type=assistance"),
    ("GET /tasks/<id> (form page)", "/tasks/{task}"),
]
TOTAL = re.compile(r"Page \d+ of \d+ · (\d+) task")

AGENCIES = ["Oklahoma Department of Tourism", "Department of Corrections", "Health Care Authority",
            "Department of Transportation", "Tax Commission", "Office of Juvenile Affairs", "Water Resources Board",
            "Department of Human Services", "State Department of Education", "Employment Security Commission"]
SUBJECTS = ["VPN access for the field office", "Printer queue for the front desk", "New report on the agency portal",
            "Mailbox migration", "Firewall rule for the permit system", "Password reset for shared account",
            "Data export for the annual audit", "Wi-Fi coverage in building B", "Licence renewal workflow",
            "Self-service form for permit renewals"]
PEOPLE = ["Ann Agency", "Bob Builder", "Cora Clerk", "Dan Director", "Eve Examiner", "Fay Finance"]

# Forms filled in on the way to a stage (where the paths overlap, the data bench.lifecycle uses).
PLAN = ("draw_up_work_plan", {"work_plan": "Add the new report to the agency portal", "estimated_hours": 16,
                              "planned_start": "2026-12-02", "planned_finish": "2026-12-18"})
BUILD = ("fulfil_enhancement_request", {"fulfilment_notes": "Report built and deployed to staging", "hours_spent": 6})
TESTED = ("test_solution", {"test_result": "pass", "test_notes": "Totals match"})
CHARGEABLE = ("determine_chargeability", {"chargeable": True, "billable_hours": 12.5, "hourly_rate": 85,
                                          "billing_code": "PS-628"})
FREE = ("determine_chargeability", {"chargeable": False})
NEED = ("document_customer_need", {"need_summary": "A portal for permit renewals", "customer_is_current": True,
                                   "new_service": True})
ASSIGN = ("assign_specialist", {"specialist": "<sam or sara>", "assignment_note": "VPN team"})


@dataclass(frozen=True)
class Stage:
    """A user task open on a request, and the forms completed before it (after creation)."""

    bpmn_id: str
    request_type: str
    weight: float  # share of all open tasks waiting here
    steps: tuple[tuple[str, dict[str, Any]], ...] = ()
    routine: bool = True
    groups: tuple[str, ...] = ("network", "apps")


STAGES = [
    Stage("assign_specialist", "assistance", 0.22),
    # apps has no specialists (demo data), so fulfilment only happens in network
    Stage("fulfil_assistance_request", "assistance", 0.12, (ASSIGN,), groups=("network",)),
    Stage("draw_up_work_plan", "enhancement", 0.14),
    Stage("fulfil_enhancement_request", "enhancement", 0.12, (PLAN,)),
    Stage("test_solution", "enhancement", 0.08, (PLAN, BUILD)),
    Stage("determine_chargeability", "enhancement", 0.06, (PLAN, BUILD, TESTED)),
    Stage("initiate_billing", "enhancement", 0.05, (PLAN, BUILD, TESTED, CHARGEABLE)),
    Stage("notify_customer_of_fulfilment", "enhancement", 0.04, (PLAN, BUILD, TESTED, FREE)),
    Stage("document_customer_need", "enhancement", 0.10, routine=False),
    Stage("prepare_proposal", "enhancement", 0.07, (NEED,), routine=False),
]
PRIORITY_WEIGHTS = {"low": 0.25, "medium": 0.40, "high": 0.25, "critical": 0.10}


# --- set-up: real requests through the services ------------------------------------------------------------------


def _request_data(rng: random.Random, group: str, priority: str, routine: bool) -> dict[str, Any]:
    person = rng.choice(PEOPLE)
    return {"title": rng.choice(SUBJECTS), "agency": rng.choice(AGENCIES), "requester_name": person,
            "requester_email": person.split()[0].lower() + "@agency.example", "provider_group": group,
            "priority": priority, "routine": routine}


def _open_tasks(services: Services, request_id: int) -> list[TaskRow]:
    with services.uow() as uow:
        rows = list(uow.session.scalars(select(TaskRow).where(TaskRow.request_id == request_id,
                                                              TaskRow.status == "open")))
        uow.session.expunge_all()
    return rows


def real_requests(services: Services, rng: random.Random, n: int) -> list[tuple[int, Stage, str]]:
    """n requests through intake, the worker and the task services, spread over every (stage, group)."""
    combos = [(stage, group) for stage in STAGES for group in stage.groups]
    made: list[tuple[int, Stage, str]] = []
    for i in range(n):
        stage, group = combos[i % len(combos)]
        data = _request_data(rng, group, PRIORITIES[i % len(PRIORITIES)], stage.routine)
        made.append((intake.new_request(services, stage.request_type, data, "ann.logger").id, stage, group))
    worker.run_once(services, now=NOW)
    for k in range(max(len(stage.steps) for stage in STAGES)):
        for i, (request_id, stage, _group) in enumerate(made):
            if k >= len(stage.steps):
                continue
            bpmn_id, form = stage.steps[k]
            if bpmn_id == "assign_specialist":
                form = {**form, "specialist": ROLE_USERS["specialist"][i % 2]}
            task = next(t for t in _open_tasks(services, request_id) if t.bpmn_id == bpmn_id)
            assert task.role_code
            tasks.complete(services, task.task_uuid, ACTOR[task.role_code], form)
        worker.run_once(services, now=NOW)
    for request_id, stage, _group in made:
        found = _open_tasks(services, request_id)
        if [t.bpmn_id for t in found] != [stage.bpmn_id]:
            raise RuntimeError(f"request {request_id}: expected open {stage.bpmn_id}, found "
                               f"{[t.bpmn_id for t in found]}")
        task = found[0]
        if task.assignee is None and task.role_code and rng.random() < ASSIGNED_SHARE:
            tasks.claim(services, task.task_uuid, rng.choice(ROLE_USERS[task.role_code]))
    return made


# --- set-up: bulk rows copied from the real ones -----------------------------------------------------------------


@dataclass
class Template:
    request: dict[str, Any]
    case: dict[str, Any]
    instance: dict[str, Any]
    task: dict[str, Any]
    events: list[dict[str, Any]]


def _rows(conn: Connection, table: Any, *where: Any) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in conn.execute(select(table).where(*where))]


def load_templates(conn: Connection, made: list[tuple[int, Stage, str]]) -> dict[tuple[str, str], list[Template]]:
    templates: dict[tuple[str, str], list[Template]] = {}
    for request_id, stage, group in made:
        request = _rows(conn, ServiceRequest.__table__, ServiceRequest.id == request_id)[0]
        case = _rows(conn, CrmCase.__table__, CrmCase.case_number == request["crm_case_id"])[0]
        instance = _rows(conn, ProcessInstance.__table__, ProcessInstance.request_id == request_id)[0]
        task = _rows(conn, TaskRow.__table__, TaskRow.request_id == request_id, TaskRow.status == "open")[0]
        events = sorted(_rows(conn, AuditEvent.__table__, AuditEvent.request_id == request_id), key=lambda e: e["seq"])
        templates.setdefault((stage.bpmn_id, group), []).append(Template(request, case, instance, task, events))
    return templates


def _next_id(conn: Connection, column: Any) -> int:
    return int(conn.scalar(select(func.max(column))) or 0) + 1


@dataclass
class Bulk:
    requests: list[dict[str, Any]]
    cases: list[dict[str, Any]]
    instances: list[dict[str, Any]]
    tasks: list[dict[str, Any]]
    events: list[dict[str, Any]]


def bulk_rows(conn: Connection, rng: random.Random, templates: dict[tuple[str, str], list[Template]],
              n: int) -> Bulk:
    """n more requests, each waiting at one open task, shaped like (and copied from) the real ones."""
    ids = {name: _next_id(conn, col) for name, col in [("request", ServiceRequest.id), ("case", CrmCase.id),
                                                      ("instance", ProcessInstance.id), ("task", TaskRow.id)]}
    head = conn.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).one()
    seq, prev = int(head.seq), str(head.hash)
    pre_assigned = sum(s.weight for s in STAGES if any(k == "assign_specialist" for k, _ in s.steps))
    pre_assigned /= sum(s.weight for s in STAGES)
    claim_share = max(0.0, (ASSIGNED_SHARE - pre_assigned) / (1 - pre_assigned))
    out = Bulk([], [], [], [], [])
    stages = rng.choices(STAGES, weights=[s.weight for s in STAGES], k=n)
    sla_spans: dict[tuple[str, str], timedelta] = {}
    for i, stage in enumerate(stages):
        t = rng.choice(templates[(stage.bpmn_id, rng.choice(stage.groups))])
        request_id, case_id = ids["request"] + i, ids["case"] + i
        number, crm = f"RF-{request_id:06d}", case_number(case_id)
        priority = rng.choices(list(PRIORITY_WEIGHTS), weights=list(PRIORITY_WEIGHTS.values()))[0]
        if (stage.request_type, priority) not in sla_spans:
            sla_spans[stage.request_type, priority] = sla.default_due(stage.request_type, priority, NOW) - NOW
        span = sla_spans[stage.request_type, priority]
        created = NOW - timedelta(seconds=rng.uniform(0, 1.15 * span.total_seconds()))  # about 1 in 8 overdue
        due = created + span  # the business-calendar target measured from NOW, close enough for load
        person = rng.choice(PEOPLE)
        out.requests.append({**t.request, "id": request_id, "number": number, "title": rng.choice(SUBJECTS),
                             "agency": rng.choice(AGENCIES), "requester_name": person,
                             "requester_email": person.split()[0].lower() + "@agency.example",
                             "priority": priority, "crm_case_id": crm, "sla_due_at": due, "created_at": created})
        out.cases.append({**t.case, "id": case_id, "case_number": crm, "request_number": number,
                          "agency": out.requests[-1]["agency"], "subject": out.requests[-1]["title"],
                          "opened_at": created})
        instance_id = ids["instance"] + i
        out.instances.append({**t.instance, "id": instance_id, "request_id": request_id, "created_at": created,
                              "updated_at": created})
        # the process itself assigns fulfilment to the chosen specialist; anything else a user claimed (or not)
        assignee = t.task["assignee"] if any(k == "assign_specialist" for k, _ in stage.steps) else None
        if assignee is None and rng.random() < claim_share:
            assignee = rng.choice(ROLE_USERS[t.task["role_code"]])
        task_uuid = str(uuid.uuid4())
        out.tasks.append({**t.task, "id": ids["task"] + i, "task_uuid": task_uuid, "instance_id": instance_id,
                          "request_id": request_id, "assignee": assignee, "priority": priority, "due_at": due,
                          "request_number": number, "request_title": out.requests[-1]["title"],
                          "agency": out.requests[-1]["agency"], "created_at": created})
        for k, e in enumerate(t.events):
            payload = json.loads(json.dumps(e["payload"]).replace(t.request["number"], number)
                                 .replace(t.task["task_uuid"], task_uuid))
            at = created + timedelta(minutes=k)
            seq += 1
            digest = _digest(seq, at, e["actor"], e["event_type"], request_id, payload, prev)
            out.events.append({"seq": seq, "at": at, "actor": e["actor"], "event_type": e["event_type"],
                               "request_id": request_id, "payload": payload, "prev_hash": prev, "hash": digest})
            prev = digest
    conn.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=seq, hash=prev))
    return out


def insert_bulk(conn: Connection, bulk: Bulk, chunk: int = 2000) -> None:
    for table, rows in [(ServiceRequest.__table__, bulk.requests), (CrmCase.__table__, bulk.cases),
                        (ProcessInstance.__table__, bulk.instances), (TaskRow.__table__, bulk.tasks),
                        (AuditEvent.__table__, bulk.events)]:
        for start in range(0, len(rows), chunk):
            conn.execute(insert(table), rows[start:start + chunk])
    if conn.dialect.name == "postgresql":  # explicit ids: move the serial sequences past them
        for table in ("service_request", "crm_case", "process_instance", "task"):
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))


@dataclass
class SetUp:
    seconds: dict[str, float]
    real: int
    bulk: int


@contextmanager
def _timed(into: dict[str, float], name: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    into[name] = time.perf_counter() - start


def build(services: Services, n_tasks: int, n_real: int, rng: random.Random) -> SetUp:
    seconds: dict[str, float] = {}
    with _timed(seconds, "migrate, seed demo users, deploy"):
        setup.migrate(services)
        setup.seed(services, demo=True)
        definitions.deploy(services, definitions.read_paths([services.settings.bpmn_dir]), "bench")
    with _timed(seconds, f"{n_real} requests through the services"):
        made = real_requests(services, rng, n_real)
    n_bulk = max(0, n_tasks - len(made))
    with _timed(seconds, f"{n_bulk} requests bulk-inserted"), services.engine.begin() as conn:
        insert_bulk(conn, bulk_rows(conn, rng, load_templates(conn, made), n_bulk))
    if services.engine.dialect.name == "postgresql":
        with _timed(seconds, "ANALYZE (PostgreSQL)"), services.engine.connect() as conn:
            conn.execute(text("ANALYZE"))
            conn.commit()
    return SetUp(seconds, len(made), n_bulk)


# --- measuring ---------------------------------------------------------------------------------------------------


def visible_tasks(services: Services, username: str) -> list[str]:
    """Open tasks the user's roles let them see (what the inbox lists as 'groups')."""
    grants = [(r, g) for r, g in load_identity(services, username).grants if g]
    with services.uow() as uow:
        return list(uow.session.scalars(select(TaskRow.task_uuid).where(
            TaskRow.status == "open", or_(*(and_(TaskRow.role_code == r, TaskRow.provider_group == g)
                                            for r, g in grants))).order_by(TaskRow.id)))


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p * len(ordered)) - 1)]


@dataclass
class Result:
    page: str
    user: str
    matched: int
    ms: list[float]  # wall clock per request
    cpu_ms: list[float]  # this process's CPU time per request (excludes the PostgreSQL server's)

    def pct(self, p: float) -> float:
        return percentile(self.ms, p)

    @property
    def passed(self) -> bool:
        return self.pct(0.95) < TARGET_P95_MS


def measure(services: Services, rng: random.Random, samples: int) -> list[Result]:
    results: list[Result] = []
    for username in USERS:
        web = WebUser(services, username)
        visible = visible_tasks(services, username)
        for label, path in PAGES:
            print(f"measuring {label} as {username} ...", file=sys.stderr, flush=True)
            ms: list[float] = []
            cpu_ms: list[float] = []
            matched = len(visible)
            for i in range(WARM_UP + samples):
                url = path.format(task=rng.choice(visible)) if "{task}" in path else path
                cpu, start = time.process_time(), time.perf_counter()
                page = web.get(url)
                body = page.get_data(as_text=True)
                elapsed, cpu = 1000 * (time.perf_counter() - start), 1000 * (time.process_time() - cpu)
                if page.status_code != 200:
                    raise RuntimeError(f"{url} as {username}: HTTP {page.status_code}")
                if "{task}" not in path:
                    found = TOTAL.search(body)
                    matched = int(found.group(1)) if found else 0
                if i >= WARM_UP:
                    ms.append(elapsed)
                    cpu_ms.append(cpu)
            results.append(Result(label, username, matched, ms, cpu_ms))
    return results


def census(services: Services) -> dict[str, str]:
    with services.uow() as uow:
        s = uow.session
        open_ = TaskRow.status == "open"
        total = int(s.scalar(select(func.count()).select_from(TaskRow).where(open_)) or 0)
        lanes = Counter(dict(s.execute(select(TaskRow.role_code, func.count()).where(open_)
                                       .group_by(TaskRow.role_code)).all()))
        groups = dict(s.execute(select(TaskRow.provider_group, func.count()).where(open_)
                                .group_by(TaskRow.provider_group)).all())
        assigned = int(s.scalar(select(func.count()).select_from(TaskRow).where(
            open_, TaskRow.assignee.is_not(None))) or 0)
        overdue = int(s.scalar(select(func.count()).select_from(TaskRow).where(open_, TaskRow.due_at < NOW)) or 0)
        requests = int(s.scalar(select(func.count()).select_from(ServiceRequest)) or 0)
        events = int(s.scalar(select(func.count()).select_from(AuditEvent)) or 0)
    return {
        "open tasks": f"{total:,} (" + ", ".join(f"{g} {c:,}" for g, c in sorted(groups.items())) + "); "
                      f"{assigned:,} assigned ({100 * assigned / max(total, 1):.0f}%), "
                      f"{overdue:,} overdue ({100 * overdue / max(total, 1):.0f}%)",
        "by lane role": ", ".join(f"{r} {c:,}" for r, c in lanes.most_common()),
        "rows": f"{requests:,} service_request / process_instance, {events:,} audit_event",
    }


def verify(services: Services) -> list[str]:
    """After measuring: the bulk rows kept the audit chain intact, and every request still has its one open task."""
    with services.uow() as uow:
        report = audit.verify(uow.session)
        requests = uow.session.scalar(select(func.count()).select_from(ServiceRequest))
        open_tasks = uow.session.scalar(select(func.count()).select_from(TaskRow).where(TaskRow.status == "open"))
        lonely = uow.session.scalar(select(func.count()).select_from(ServiceRequest).where(
            ~ServiceRequest.id.in_(select(TaskRow.request_id).where(TaskRow.status == "open"))))
    if not report.intact:
        raise RuntimeError(f"audit chain broken at {report.broken_at}: {report.reason}")
    if lonely or requests != open_tasks:
        raise RuntimeError(f"{requests} requests, {open_tasks} open tasks, {lonely} requests without one")
    return [f"audit hash chain intact over {report.count:,} events (bulk copies included, logins appended since)",
            "every request has exactly one open task; every page answered 200"]


def print_report(facts: dict[str, str], built: SetUp, results: list[Result], samples: int,
                 checks: list[str]) -> None:
    sys.stderr.flush()
    print()
    for name, value in facts.items():
        print(f"{name:<14} {value}")
    print(f"{'set-up':<14} {sum(built.seconds.values()):.1f} s: "
          + "; ".join(f"{name} {s:.1f} s" for name, s in built.seconds.items()))
    print(f"{'samples':<14} {samples} per page and user after {WARM_UP} warm-up requests; sequential, one process, "
          "Flask test client")
    print()
    header = (f"{'page':<50} {'user':<6} {'matched':>8} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'cpu p50':>8}  "
              f"p95 < {TARGET_P95_MS:.0f} ms")
    print(header)
    print("-" * len(header))
    for r in results:
        print(f"{r.page:<50} {r.user:<6} {r.matched:>8,} {r.pct(0.5):>8.1f} {r.pct(0.95):>8.1f} {max(r.ms):>8.1f} "
              f"{percentile(r.cpu_ms, 0.5):>8.1f}  {'PASS' if r.passed else 'FAIL'}")
    print()
    failed = [r for r in results if not r.passed]
    print(f"{len(results) - len(failed)} of {len(results)} PASS (target p95 < {TARGET_P95_MS:.0f} ms)"
          + (": FAIL " + "; ".join(f"{r.page} as {r.user}" for r in failed) if failed else ""))
    print("matched: tasks the page reports in total (task page: open tasks the user may see, picked at random)")
    print("cpu p50: median CPU time of this process per request (wall time well above it: waiting for the "
          "database server or for a busy machine's CPUs)")
    for line in checks:
        print(f"checked: {line}")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.inbox", description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=DEFAULT_TASKS, help=f"open tasks (default {DEFAULT_TASKS})")
    parser.add_argument("--real-requests", type=int, default=DEFAULT_REAL,
                        help=f"of those, requests made through the services (default {DEFAULT_REAL})")
    parser.add_argument("--samples", type=int, default=DEFAULT_SAMPLES,
                        help=f"timed requests per page and user (default {DEFAULT_SAMPLES})")
    parser.add_argument("--database-url", default=None,
                        help="SQLAlchemy URL; default a temporary SQLite file. PostgreSQL runs in a private schema.")
    args = parser.parse_args(argv)
    combos = sum(len(s.groups) for s in STAGES)
    if args.real_requests < combos:
        parser.error(f"--real-requests must be at least {combos} (one per task and provider group)")
    if args.tasks < args.real_requests or args.samples < 1:
        parser.error("--tasks must be at least --real-requests, --samples at least 1")

    rng = random.Random(SEED)
    with database(args.database_url) as url:
        settings = replace(Settings.from_env({}), database_url=url, bpmn_dir=PROJECT_ROOT / "bpmn",
                           forms_dir=PROJECT_ROOT / "forms")
        services = bootstrap(settings, FixedClock(NOW))
        try:
            print(f"setting up {args.tasks:,} open tasks ...", file=sys.stderr, flush=True)
            built = build(services, args.tasks, args.real_requests, rng)
            facts = {
                "python": f"{platform.python_implementation()} {platform.python_version()} on {platform.platform()}",
                "cpus": f"{os.cpu_count()} (usable {len(os.sched_getaffinity(0))})"
                        if hasattr(os, "sched_getaffinity") else str(os.cpu_count()),
                "database": backend_facts(services),
                "libraries": f"Flask {version('Flask')}, SQLAlchemy {version('SQLAlchemy')}",
                **census(services),
                "made": f"{built.real} requests through the services, {built.bulk:,} bulk-inserted copies",
            }
            load = os.getloadavg()
            results = measure(services, rng, args.samples)
            facts["load average"] = (f"{load[0]:.2f} before measuring, {os.getloadavg()[0]:.2f} after "
                                     f"(1 min; {os.cpu_count()} CPUs)")
            checks = verify(services)
        finally:
            services.engine.dispose()
    print_report(facts, built, results, args.samples, checks)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
