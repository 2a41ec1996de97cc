"""Replay throughput: audit events replayed per second for requests with histories of 10, 100 and 1,000 events.

Run from the repository root:

    .venv/bin/python -m bench.replay [--sizes 10 100 1000] [--repeat 5] [--database-url URL]

Set-up (not timed): one enhancement request per size, driven through the real services (`intake`, `tasks`,
`worker`) on a real database (a temporary SQLite file unless --database-url is given; a PostgreSQL URL gets a
private schema that is dropped afterwards): work plan, work list update, then the fulfil -> test fails -> fulfil
loop until the request's audit log holds at least the size's number of events. Each round of the loop adds four
events (two completions, two tasks ready) and two completed tasks to the instance.

Measured: `replay.replay_request` (read the request's events, replay them in memory on the pinned definition,
describe and compare with the stored state) `--repeat` times per request; the best time is reported, next to the
engine part alone (`engine.replay_inputs` on the already-read inputs) and the engine part with SpiffWorkflow's own
task-tree walks (`indexed=False`, for comparison). Every replay must report identical.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from importlib.metadata import version

from sqlalchemy import func, select

from app import engine
from app.bootstrap import Services, bootstrap
from app.clock import FixedClock
from app.config import PROJECT_ROOT, Settings
from app.domain.permissions import OPERATOR
from app.services import worker
from app.services.admin import setup
from app.services.audit import replay
from app.services.definitions import deploy as definitions
from app.services.requests import intake
from app.services.tasks import actions as tasks
from app.store.models import AuditEvent, DefinitionVersion, ProcessInstance, ServiceRequest
from bench.lifecycle import backend_facts, database
from tests.driver import REQUEST

START = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
WORK_PLAN = {"work_plan": "Add the new report to the agency portal", "estimated_hours": 16,
             "planned_start": "2026-12-02", "planned_finish": "2026-12-18"}
FULFILMENT = {"fulfilment_notes": "Report built and deployed to staging", "hours_spent": 6}
FAILED = {"test_result": "fail", "test_notes": "Totals are wrong"}


def _events(services: Services, request_id: int) -> int:
    with services.uow() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(AuditEvent)
                                      .where(AuditEvent.request_id == request_id)) or 0)


def _complete(services: Services, request_id: int, bpmn_id: str, data: dict) -> None:
    [task] = [t for t in tasks.list_tasks(services, request_id=request_id) if t.bpmn_id == bpmn_id]
    tasks.complete(services, task.id, "pete", data)


def build_history(services: Services, clock: FixedClock, size: int) -> tuple[str, int]:
    """An enhancement request whose audit log holds at least `size` events (the fulfil/test failure loop)."""
    request = intake.new_request(services, "enhancement", {**REQUEST, "provider_group": "apps",
                                                           "title": f"Replay benchmark, {size} events"}, "bench")
    assert request.number
    _complete(services, request.id, "draw_up_work_plan", WORK_PLAN)
    worker.run_once(services, now=clock.now())
    step = 0
    while _events(services, request.id) < size:
        clock.advance(timedelta(minutes=1))
        if step % 2 == 0:
            _complete(services, request.id, "fulfil_enhancement_request", FULFILMENT)
        else:
            _complete(services, request.id, "test_solution", FAILED)
        step += 1
    return request.number, _events(services, request.id)


def _inputs(services: Services, number: str) -> tuple[str, list[engine.RecordedInput]]:
    with services.uow() as uow:
        s = uow.session
        request = s.scalars(select(ServiceRequest).where(ServiceRequest.number == number)).one()
        instance = s.scalars(select(ProcessInstance).where(ProcessInstance.request_id == request.id)).one()
        definition = s.get(DefinitionVersion, instance.definition_version_id)
        assert definition is not None
        events = list(s.scalars(select(AuditEvent).where(AuditEvent.request_id == request.id)
                                .order_by(AuditEvent.seq)))
        return definition.spec_json, replay.recorded_inputs(events)


def best_of(repeat: int, fn: object) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.replay", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000], help="history sizes (events)")
    parser.add_argument("--repeat", type=int, default=5, help="timed replays per request; the best is reported")
    parser.add_argument("--database-url", default=None, help="a PostgreSQL URL (private schema) or any SQLAlchemy URL")
    args = parser.parse_args(argv)

    with database(args.database_url) as url:
        clock = FixedClock(START)
        settings = replace(Settings.from_env({}), database_url=url, bpmn_dir=PROJECT_ROOT / "bpmn",
                           forms_dir=PROJECT_ROOT / "forms")
        services = bootstrap(settings, clock)
        try:
            setup.migrate(services)
            setup.seed(services, demo=True)
            definitions.deploy(services, definitions.read_paths([settings.bpmn_dir]), "bench")
            built = []
            for size in args.sizes:
                started = time.perf_counter()
                number, events = build_history(services, clock, size)
                built.append((size, number, events))
                print(f"set-up: {number} with {events} events in {time.perf_counter() - started:.1f} s",
                      file=sys.stderr)

            rows = []
            for size, number, events in built:
                report = replay.replay_request(services, number, reader=OPERATOR)  # warm-up, and the outcome check
                if not report.identical:
                    print(f"FAIL: {number} does not replay identical: {report.as_dict()}")
                    return 1
                spec_json, inputs = _inputs(services, number)
                whole = best_of(args.repeat, lambda n=number: replay.replay_request(services, n, reader=OPERATOR))
                engine_only = best_of(args.repeat, lambda s=spec_json, i=inputs: engine.replay_inputs(s, i))
                walking = best_of(args.repeat, lambda s=spec_json, i=inputs: engine.replay_inputs(s, i, indexed=False))
                rows.append((size, number, events, len(inputs), whole, engine_only, walking))
        finally:
            facts = backend_facts(services)
            services.engine.dispose()

    print(f"CPython {platform.python_version()}, {platform.system()}, SpiffWorkflow {version('spiffworkflow')}, "
          f"SQLAlchemy {version('sqlalchemy')}, {facts}; best of {args.repeat}")
    print()
    header = (f"{'size':>6} {'request':<10} {'events':>7} {'inputs':>7} {'replay ms':>10} {'events/s':>10} "
              f"{'us/event':>9} {'marginal us/event':>18} {'engine ms':>10} {'engine us/event':>16} "
              f"{'tree-walk us/event':>19}")
    print(header)
    print("-" * len(header))
    previous = None
    for size, number, events, inputs, whole, engine_only, walking in rows:
        marginal = "" if previous is None or events == previous[0] else \
            f"{(whole - previous[1]) / (events - previous[0]) * 1e6:.1f}"
        print(f"{size:>6} {number:<10} {events:>7} {inputs:>7} {whole * 1e3:>10.2f} {events / whole:>10.0f} "
              f"{whole / events * 1e6:>9.1f} {marginal:>18} {engine_only * 1e3:>10.2f} "
              f"{engine_only / events * 1e6:>16.1f} {walking / events * 1e6:>19.1f}")
        previous = (events, whole)
    print()
    print("us/event: replay time / events. marginal: the extra time per extra event since the previous size; a flat "
          "marginal cost\nmeans the cost grows linearly with the history (the first size carries the fixed cost "
          "of reading and comparing).\nengine: the in-memory replay alone; tree-walk: the same with SpiffWorkflow's "
          "own task-tree walks (indexed=False), which grow with the tree.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
