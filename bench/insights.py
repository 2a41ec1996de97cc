"""Insights of a version over a large history: building the overlay data (the service call) and rendering the page
for 10,000 finished requests.

Run from the repository root:

    .venv/bin/python -m bench.insights [--requests 10000] [--samples 20] [--before-samples 3]
                                       [--database-url URL | --postgres]

Set-up (not timed, reported): two assistance requests, one straight and one that asks the customer and comes back
to fulfilment, are driven to closed through the real services (`intake`, `tasks`, `worker`, real mail to a local
SMTP server), on a temporary SQLite file or, with `--database-url`/`--postgres` (RF_TEST_POSTGRES_URL), a private
PostgreSQL schema dropped afterwards. Their rows are then cloned `--requests` times (two thirds straight, one third
looped, spread over 35 days) with bulk inserts of the tables the insights read: the request, its process
instance (status, version, start time, the stored state) and every audit event of its history, re-chained (each
clone is its own hash chain with its head row, as `app.store.audit` writes them). One clone in a hundred loses its
assignment step, so the conformance section has rows to show.

Before: the clones have no `instance_path` rows (bulk inserts bypass the transaction that writes one when an
instance finishes), so the insights read every instance from its audit events, as they all did before those rows
existed: `--before-samples` calls of the service and the page. Then `instance_paths.rebuild` derives the rows from
the log (what migration 0020 does for existing instances; timed and reported) and the database gathers statistics.

Measured, `--samples` sequential calls after a warm-up: `insights.version_insights` (read the steps, element
statistics, variants, the flows and the conformance replay over the bundle's graph), of which reading the steps
alone (`insights._runs`); the whole page over HTTP (`GET …/insights` over a real socket to the app served by werkzeug
in a thread, signed in through the login form as olive, a process owner: the service plus the template with the
diagrams) and its JSON; p50 and p95 of the wall time, p50 of this process's CPU time (the server thread's
included). The run fails when the counts or the deviating
instances are not the expected ones, or when the numbers from the rows differ in anything from those read from the
audit log. The target: the page for 10,000 finished requests in under a second.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import platform
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from typing import Any

import httpx
from sqlalchemy import func, insert, select, text

from app.bootstrap import Services, bootstrap
from app.clock import FixedClock
from app.config import PROJECT_ROOT, Settings
from app.services.admin import setup
from app.services.admin.auth import authenticate
from app.services.definitions import deploy as definitions
from app.services.definitions import insights
from app.store import audit, instance_paths
from app.store.models import AuditChain, AuditEvent, ProcessInstance, ServiceRequest
from bench.lifecycle import backend_facts, database, smtp_server
from bench.search import serving, signed_in
from tests.driver import Driver

START = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)  # as bench.lifecycle (its paths fit this date)
BATCH = 2000
PAGE = "/processes/request_fulfillment/versions/1/insights"


RESOLVED = {"resolution_notes": "Created the VPN profile", "resolution_code": "resolved", "time_spent_hours": 1.5}
ASK = {"resolution_notes": "Which office?", "resolution_code": "awaiting_customer", "time_spent_hours": 0.5}


def drive(services: Services, clock: FixedClock, looped: bool) -> str:
    """An assistance request driven to closed, assigned after 2 h and fulfilled 4 h later (asking the customer
    first, who answers 3 h later, when `looped`)."""
    driver = Driver(services, clock)
    number = driver.new("assistance")
    driver.work()
    clock.advance(timedelta(hours=2))
    driver.complete(number, "assign_specialist", "maria", {"specialist": "sam", "assignment_note": "VPN team"})
    if looped:
        clock.advance(timedelta(hours=1))
        driver.complete(number, "fulfil_assistance_request", "sam", ASK)
        driver.work()
        clock.advance(timedelta(hours=3))
        driver.complete(number, "await_customer_reply", "sam", {"customer_reply": "The Tulsa office"})
    clock.advance(timedelta(hours=4))
    driver.complete(number, "fulfil_assistance_request", "sam", RESOLVED)
    driver.work()
    return number


def _rows(session: Any, model: Any, *where: Any) -> list[dict[str, Any]]:
    table = model.__table__
    return [dict(row._mapping) for row in session.execute(select(table).where(*where))]


def _template(services: Services, number: str) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    with services.uow() as uow:
        s = uow.session
        [request] = _rows(s, ServiceRequest, ServiceRequest.number == number)
        [instance] = _rows(s, ProcessInstance, ProcessInstance.request_id == request["id"])
        events = sorted(_rows(s, AuditEvent, AuditEvent.request_id == request["id"]), key=lambda e: e["seq"])
        return request, instance, events


def clone(services: Services, templates: list[tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]],
          count: int, now: datetime) -> int:
    """`count` finished requests cloned from the templates with bulk inserts; returns the audit events written."""
    written = 0
    with services.uow() as uow:
        s = uow.session
        next_request = int(s.scalar(select(func.max(ServiceRequest.id))) or 0) + 1
        next_instance = int(s.scalar(select(func.max(ProcessInstance.id))) or 0) + 1
        next_seq = int(s.scalar(select(func.max(AuditEvent.seq))) or 0) + 1
    for first in range(0, count, BATCH):
        requests, instances, events, heads = [], [], [], []
        for k in range(first, min(first + BATCH, count)):
            request, instance, history = templates[0 if k % 3 else 1]
            rid, shift = next_request + k, now - timedelta(seconds=300 * (k + 1)) - history[-1]["at"]
            requests.append({**request, "id": rid, "number": f"RF-B{k:06d}", "crm_case_id": None,
                             "created_at": request["created_at"] + shift,
                             "closed_at": request["closed_at"] + shift if request["closed_at"] else None})
            instances.append({**instance, "id": next_instance + k, "request_id": rid,
                              "created_at": instance["created_at"] + shift,
                              "updated_at": instance["updated_at"] + shift})
            chain, previous, position = f"request:{rid}", audit.GENESIS, 0
            skip = k % 100 == 99  # a deviating history: the assignment was never recorded
            for event in history:
                payload = event["payload"] if isinstance(event["payload"], dict) else {}
                if skip and payload.get("bpmn_id") == "assign_specialist":
                    continue
                position += 1
                row = AuditEvent(seq=next_seq, at=event["at"] + shift, actor=event["actor"],
                                 event_type=event["event_type"], request_id=rid, payload=payload, chain=chain,
                                 chain_seq=position, prev_hash=previous)
                row.hash = previous = audit._digest(row)  # noqa: SLF001 - the store's own hash of an event
                events.append({c: getattr(row, c) for c in ("seq", "at", "actor", "event_type", "request_id",
                                                            "payload", "chain", "chain_seq", "prev_hash", "hash")})
                next_seq += 1
            heads.append({"chain": chain, "length": position, "head_hash": previous})
        with services.uow() as uow:
            s = uow.session
            s.execute(insert(ServiceRequest.__table__), requests)
            s.execute(insert(ProcessInstance.__table__), instances)
            s.execute(insert(AuditEvent.__table__), events)
            s.execute(insert(AuditChain.__table__), heads)
            uow.commit()
        written += len(events)
    with services.uow() as uow:  # PostgreSQL numbers rows from sequences: move them past the clones
        if uow.session.get_bind().dialect.name == "postgresql":
            uow.session.execute(text(f"SELECT setval('{audit.SEQUENCE}', (SELECT max(seq) FROM audit_event))"))
            for table in ("service_request", "process_instance"):
                uow.session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                         f"(SELECT max(id) FROM {table}))"))
            uow.commit()
    analyze(services)
    return written


def analyze(services: Services) -> None:
    with services.engine.connect() as connection:  # statistics, as autovacuum would gather after such a load
        connection.execute(text("ANALYZE"))
        connection.commit()


def percentile(values: list[float], p: float) -> float:
    """Nearest rank, as the app's own p90."""
    ordered = sorted(values)
    return ordered[max(math.ceil(p / 100 * len(ordered)), 1) - 1]


@dataclass
class Measured:
    label: str
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)  # this process's CPU time (on SQLite the database's too)

    def row(self, requests: int) -> str:
        p50, p95 = percentile(self.walls, 50), percentile(self.walls, 95)
        return (f"{self.label:<40} {len(self.walls):>3} {p50 * 1e3:>8.1f} {p95 * 1e3:>8.1f} "
                f"{percentile(self.cpus, 50) * 1e3:>8.1f} {p50 / requests * 1e6:>11.1f}")


def sample(label: str, samples: int, fn: Callable[[], Any]) -> tuple[Measured, Any]:
    """`samples` sequential calls of `fn` (after the caller's warm-up); the last result."""
    measured, result = Measured(label), None
    for _ in range(samples):
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn()
        measured.walls.append(time.perf_counter() - wall)
        measured.cpus.append(time.process_time() - cpu)
    return measured, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.insights", description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=10_000, help="finished requests in the history")
    parser.add_argument("--samples", type=int, default=20, help="timed calls of each measure after a warm-up")
    parser.add_argument("--before-samples", type=int, default=3,
                        help="timed calls from the audit log alone, before the rows are built (0: skip)")
    parser.add_argument("--database-url", default=None, help="a PostgreSQL URL (private schema) or any SQLAlchemy URL")
    parser.add_argument("--postgres", action="store_true", help="use RF_TEST_POSTGRES_URL")
    args = parser.parse_args(argv)
    url_given = args.database_url or (os.environ.get("RF_TEST_POSTGRES_URL") if args.postgres else None)
    if args.postgres and not url_given:
        parser.error("--postgres needs RF_TEST_POSTGRES_URL")

    with smtp_server() as (_, port), database(url_given) as url, ExitStack() as stack:
        clock = FixedClock(START)
        settings = replace(Settings.from_env({}), database_url=url, smtp_host="127.0.0.1", smtp_port=port,
                           bpmn_dir=PROJECT_ROOT / "bpmn", forms_dir=PROJECT_ROOT / "forms")
        services = bootstrap(settings, clock)
        try:
            setup.migrate(services)
            setup.seed(services, demo=True)
            definitions.deploy(services, definitions.read_paths([settings.bpmn_dir]), "bench")
            started = time.perf_counter()
            templates = [_template(services, drive(services, clock, looped)) for looped in (False, True)]
            driven = time.perf_counter() - started
            started = time.perf_counter()
            events = clone(services, templates, args.requests, clock.now())
            cloned = time.perf_counter() - started
            print(f"set-up: 2 requests driven in {driven:.1f} s, {args.requests} cloned with {events} audit events in "
                  f"{cloned:.1f} s", file=sys.stderr)
            olive = authenticate(services, "olive", "demo")
            since, until = (clock.now() - timedelta(days=60)).date().isoformat(), clock.now().date().isoformat()
            query = f"{PAGE}?since={since}&until={until}"
            logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request on the terminal
            base = stack.enter_context(serving(services))
            web = signed_in(base, "olive")
            stack.callback(web.close)

            def page(suffix: str = "") -> httpx.Response:
                answer = web.get(query + suffix)
                answer.read()
                return answer

            def service() -> dict[str, Any]:
                return insights.version_insights(services, olive, "request_fulfillment", 1, since, until)

            def read() -> Any:
                with services.uow() as uow:
                    version_id = definitions.find_version(uow.session, "request_fulfillment", 1).id
                    start, stop = insights.period(services, since, until).window
                    return insights._runs(uow.session, version_id, start, stop)  # noqa: SLF001 - its part

            before: list[Measured] = []
            from_log = service()  # warm-up; the clones have no instance_path rows: every instance from its events
            if args.before_samples:
                page()
                before = [sample("service, from the audit log (before)", args.before_samples, service)[0],
                          sample("page, from the audit log (before)", args.before_samples, page)[0]]
            started = time.perf_counter()
            with services.uow() as uow:  # what migration 0020 does for the instances finished before it
                rows = instance_paths.rebuild(uow.session)
                uow.commit()
            rebuilt = time.perf_counter() - started
            analyze(services)
            found = service()  # warm-up and the outcome check
            page()
            page("&format=json")
            service_m, _ = sample("service (overlay data)", args.samples, service)
            read_m, _ = sample("  of which reading the steps", args.samples, read)
            page_m, shown = sample("page over HTTP (service + template)", args.samples, page)
            json_m, _ = sample("JSON over HTTP", args.samples, lambda: page("&format=json"))
            facts = backend_facts(services)
        finally:
            services.engine.dispose()

    finished = args.requests + 2
    expected_deviating = (args.requests + 1) // 100
    problems = []
    if found["started"] != finished or found["finished"] != finished:
        problems.append(f"expected {finished} started and finished, got {found['started']}, {found['finished']}")
    deviating = found["conformance"]["deviating"]
    if deviating != expected_deviating:
        problems.append(f"expected {expected_deviating} deviating instances, found {deviating}")
    if found != from_log:
        problems.append("the numbers from the instance_path rows differ from those read from the audit log")
    if shown.status_code != 200 or "instances of this version started" not in shown.text:
        problems.append(f"the page answered {shown.status_code}")
    print(f"CPython {platform.python_version()}, {platform.system()}, SQLAlchemy {version('sqlalchemy')}, {facts}; "
          f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} at the end ({os.cpu_count()} CPUs)")
    print(f"{finished} finished requests, {events} cloned audit events; {deviating} deviating (as expected); "
          f"instance_path rows built from the log in {rebuilt:.1f} s ({rows} rows)")
    print()
    print(f"{'measure':<40} {'n':>3} {'p50 ms':>8} {'p95 ms':>8} {'cpu p50':>8} {'us/request':>11}")
    for measured in (service_m, read_m, page_m, json_m, *before):
        print(measured.row(finished))
    print()
    if before:
        print(f"before/after (p50): service {percentile(before[0].walls, 50) / percentile(service_m.walls, 50):.1f}x, "
              f"page {percentile(before[1].walls, 50) / percentile(page_m.walls, 50):.1f}x; identical numbers: "
              f"{'yes' if found == from_log else 'NO'}")
    page_p95, service_p95 = percentile(page_m.walls, 95), percentile(service_m.walls, 95)
    print(f"wall: elapsed per call; cpu: this process's CPU time (on a shared machine the steadier number; it leaves "
          f"out the PostgreSQL server's work).\nus/request: p50 / requests. Target: the page under 1 s (p95 "
          f"{page_p95 * 1e3:.0f} ms: {'met' if page_p95 < 1 else 'NOT met'}), the service too (p95 "
          f"{service_p95 * 1e3:.0f} ms: {'met' if service_p95 < 1 else 'NOT met'}).")
    for problem in problems:
        print(f"FAIL: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
