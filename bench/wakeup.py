"""Worker wake-up latency: from the commit that makes a service job due to the worker starting it, polling vs woken.

Run from the repository root:

    .venv/bin/python -m bench.wakeup [--samples N] [--poll SECONDS] [--database-url URL]

For each database (PostgreSQL at --database-url in a private schema, default the local test server; then a temporary
SQLite file) and each mode, a worker loop (`app.run.worker_loop.run`, the loop `rf worker` and `rf serve` run) runs
in a thread of this process while the main thread drives assistance requests through the services:

* single: `intake.new_request` commits a request whose first step is a service task (`crm.take_case`); measured from
  the commit's return to the handler being called in the worker;
* chain: completing `fulfil_assistance_request` readies two service steps in a row (`crm.close_case`, then
  `notify.customer`, which the first one's commit readies); measured from the commit's return to the second handler
  having returned.

Modes:

* poll: `RF_WORKER_LISTEN=0`, a worker with services of its own (as a separate `rf worker`): it looks every
  --poll seconds (default 2, the default RF_WORKER_POLL_SECONDS);
* notify (PostgreSQL): the worker has services (engine, pool, wake-up) of its own, so only the `NOTIFY rf_work` of
  the committing transaction, heard on its LISTEN connection, can wake it: what a separate `rf worker` process gets;
* in-process (SQLite): the worker shares the committer's services, as `rf serve`'s embedded worker does: the commit
  wakes it directly. Between processes SQLite has no wake-up; an `rf worker` there is the poll mode.

Between samples the driver waits a random time (up to the poll interval in poll mode) so that commits fall at random
points of the worker's pause.
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from sqlalchemy import create_engine, text

from app.bootstrap import Services, bootstrap
from app.config import PROJECT_ROOT, Settings
from app.run import worker_loop
from app.services.admin import setup
from app.services.definitions import deploy as definitions
from app.services.requests import intake
from app.services.tasks import actions as tasks
from bench.lifecycle import _open_task_id, backend_facts, database, smtp_server
from tests.driver import REQUEST

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
OPERATORS = ("crm.take_case", "crm.close_case", "notify.customer")
ASSIGN = {"specialist": "sam", "assignment_note": "VPN team"}
FULFIL = {"resolution_notes": "Created the VPN profile", "resolution_code": "resolved", "time_spent_hours": 1.5}


class Probe:
    """Wraps the worker's handlers: when each operator of the current sample was called and returned."""

    def __init__(self, services: Services) -> None:
        self.started: dict[str, float] = {}
        self.finished: dict[str, float] = {}
        self.changed = threading.Condition()
        for operator in OPERATORS:
            services.handlers[operator] = self._wrap(operator, services.handlers[operator])

    def _wrap(self, operator: str, handler: Callable[..., Any]) -> Callable[..., Any]:
        def timed(params: dict[str, Any], ctx: Any) -> Any:
            self.started.setdefault(operator, time.monotonic())
            try:
                return handler(params, ctx)
            finally:
                with self.changed:
                    self.finished[operator] = time.monotonic()
                    self.changed.notify_all()

        return timed

    def reset(self) -> None:
        self.started.clear()
        self.finished.clear()

    def wait_finished(self, operator: str, timeout: float = 60.0) -> None:
        with self.changed:
            if not self.changed.wait_for(lambda: operator in self.finished, timeout):
                raise RuntimeError(f"{operator} never ran within {timeout:.0f} s")


def open_task(services: Services, request_id: int, bpmn_id: str, timeout: float = 30.0) -> str:
    """The task's id once the worker's transaction that readied it has committed."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return _open_task_id(services, request_id, bpmn_id)
        except RuntimeError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def measure(url: str, mode: str, samples: int, poll: float, smtp_port: int) -> dict[str, list[float]]:
    """`samples` single-step and chain latencies (seconds) with a worker in `mode` on the database at `url`."""
    settings = replace(Settings.from_env({}), database_url=url, smtp_host="127.0.0.1", smtp_port=smtp_port,
                       bpmn_dir=PROJECT_ROOT / "bpmn", forms_dir=PROJECT_ROOT / "forms", worker_poll_seconds=poll,
                       worker_listen=mode != "poll")
    services = bootstrap(settings)
    setup.migrate(services)
    setup.seed(services, demo=True)
    definitions.deploy(services, definitions.read_paths([settings.bpmn_dir]), "bench")
    own = mode != "in-process"
    working = bootstrap(settings) if own else services
    probe = Probe(working)
    stop = threading.Event()
    thread = threading.Thread(target=worker_loop.run, args=(working, stop, poll), daemon=True, name="bench-worker")
    thread.start()
    rng = random.Random(14)
    single: list[float] = []
    chain: list[float] = []
    try:
        time.sleep(0.5)  # the worker's first pass, and its LISTEN connection
        for i in range(samples + 1):  # the first one warms up and is not counted
            time.sleep(rng.uniform(0.1, poll) if mode == "poll" else rng.uniform(0.05, 0.2))
            probe.reset()
            request = intake.new_request(services, "assistance", {**REQUEST, "title": f"VPN {i}"}, "ann.logger")
            committed = time.monotonic()
            probe.wait_finished("crm.take_case")
            if i:
                single.append(probe.started["crm.take_case"] - committed)
            tasks.complete(services, open_task(services, request.id, "assign_specialist"), "maria", ASSIGN)
            time.sleep(rng.uniform(0.1, poll) if mode == "poll" else rng.uniform(0.05, 0.2))
            probe.reset()
            tasks.complete(services, open_task(services, request.id, "fulfil_assistance_request"), "sam", FULFIL)
            committed = time.monotonic()
            probe.wait_finished("notify.customer")
            if i:
                chain.append(probe.finished["notify.customer"] - committed)
    finally:
        stop.set()
        working.wakeup.set()
        thread.join(timeout=30)
        if own:
            working.close()
        services.close()
    return {"single": single, "chain": chain}


def postgres_available(url: str) -> str | None:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return None
    except Exception as err:  # noqa: BLE001 - any failure: skip PostgreSQL, say why
        return f"{type(err).__name__}: {str(err).splitlines()[0]}"
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.wakeup", description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=20, help="requests per database and mode (default 20)")
    parser.add_argument("--poll", type=float, default=2.0, help="the worker's poll interval, seconds (default 2)")
    parser.add_argument("--database-url", default=DEFAULT_POSTGRES,
                        help=f"PostgreSQL URL (a private schema is made and dropped; default {DEFAULT_POSTGRES}); "
                             "'' for SQLite only")
    args = parser.parse_args(argv)
    if args.samples < 2 or args.poll <= 0:
        parser.error("--samples must be at least 2 and --poll above 0")
    runs: list[tuple[str | None, str]] = []
    facts: dict[str, str] = {"python": f"{platform.python_implementation()} {platform.python_version()} on "
                                       f"{platform.platform()}"}
    if args.database_url:
        why = postgres_available(args.database_url)
        if why:
            print(f"PostgreSQL skipped: {why}", file=sys.stderr)
        else:
            runs += [(args.database_url, "poll"), (args.database_url, "notify")]
    runs += [(None, "poll"), (None, "in-process")]
    rows: list[tuple[str, str, str, list[float]]] = []
    with smtp_server() as (_inbox, port):
        for url, mode in runs:
            with database(url) as db:
                name = "postgresql" if db.startswith("postgresql") else "sqlite"
                print(f"measuring {name} {mode}: {args.samples} samples ...", file=sys.stderr, flush=True)
                found = measure(db, mode, args.samples, args.poll, port)
                if name not in facts:
                    probe = bootstrap(replace(Settings.from_env({}), database_url=db))
                    facts[name] = backend_facts(probe)
                    probe.close()
                rows += [(name, mode, what, values) for what, values in found.items()]
    print()
    for key, value in facts.items():
        print(f"{key:<11} {value}")
    print(f"{'worker':<11} poll interval {args.poll:g} s; {args.samples} samples per row after one warm-up")
    print()
    header = f"{'database':<11} {'mode':<11} {'measured':<36} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}"
    print(header)
    print("-" * len(header))
    labels = {"single": "commit -> service step started", "chain": "commit -> 2nd of 2 service steps done"}
    for name, mode, what, values in rows:
        print(f"{name:<11} {mode:<11} {labels[what]:<36} {1000 * statistics.median(values):>8.1f} "
              f"{1000 * percentile(values, 0.95):>8.1f} {1000 * max(values):>8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
