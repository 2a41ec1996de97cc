"""Scale and fault campaign against real processes on loopback, on PostgreSQL.

Run from the repository root:

    .venv/bin/python -m bench.scale [--quick] [--seconds S] [--users K] [--database-url URL]
    .venv/bin/python -m bench.scale --faults [--quick] [--seconds S] [--smtp-down S] [--kill-every S]

Throughput curve (default): for 1, 2 and 4 web processes (`rf serve --processes N --no-worker`, gunicorn) x 1, 2
and 4 `rf worker` processes, each cell on a fresh private schema of the PostgreSQL at --database-url (dropped
afterwards): K simulated users (threads of this process) carry requests through every path of the process over
the REST API for S seconds, then the workers drain and the checks run. Prints completed user actions per second,
requests closed per second and the users' action latency per cell.

Fault run (--faults): the same load on 2 web processes + 2 workers, on a private PostgreSQL cluster (so that
restarting it disturbs nobody else), with kill -9 of a random web or worker process every few seconds, a PostgreSQL
restart midway and the SMTP server down for a minute; then the drain and the checks.

The checks (every run): 0 requests lost, every request closed or waiting where its process instance waits, at most
one billing case (and CRM take/close, ASD entry) per request at the fake external systems, no email or webhook
event doubled, `rf audit verify` intact, `rf replay --all` identical. Exit status 1 when a check fails.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from importlib.metadata import version

from sqlalchemy import create_engine, text

from bench.scale.faults import FaultPlan
from bench.scale.postgres import Restarter, private_cluster
from bench.scale.run import Result, one_run

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SIZES = (1, 2, 4)


def _server(url: str) -> str:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return str(conn.execute(text("SHOW server_version")).scalar())
    finally:
        engine.dispose()


def facts(url: str, users: int, seconds: float) -> list[str]:
    return [
        f"python        {platform.python_implementation()} {platform.python_version()} on {platform.platform()}",
        f"cpus          {os.cpu_count()} (usable {len(os.sched_getaffinity(0))}), load average "
        f"{os.getloadavg()[0]:.2f} (1 min) at the start (other work on the machine counts too)",
        f"database      PostgreSQL {_server(url)}",
        f"libraries     gunicorn {version('gunicorn')}, SQLAlchemy {version('sqlalchemy')}, "
        f"psycopg {version('psycopg')}, SpiffWorkflow {version('SpiffWorkflow')}",
        f"load          {users} simulated users (threads, REST API, bearer tokens), {seconds:.0f} s per run",
    ]


def curve_table(results: list[Result]) -> list[str]:
    head = (f"{'web':>3} {'workers':>7} {'actions':>7} {'actions/s':>9} {'reads/s':>7} {'closed':>6} "
            f"{'closed/s':>8} {'p50 ms':>7} {'p95 ms':>7} {'retries':>7} {'gave up':>7} {'checks':>6}")
    lines = [head, "-" * len(head)]
    for r in results:
        lines.append(f"{r.web:>3} {r.workers:>7} {r.actions:>7} {r.actions / r.seconds:>9.1f} "
                     f"{r.stats.reads / r.seconds:>7.1f} {r.closed:>6} "
                     f"{r.closed / r.seconds:>8.2f} {r.latency_ms(50):>7.0f} {r.latency_ms(95):>7.0f} "
                     f"{sum(r.stats.retries.values()):>7} {len(r.stats.failures):>7} "
                     f"{'pass' if r.ok else 'FAIL':>6}")
    return lines


def check_table(result: Result) -> list[str]:
    width = max(len(c.name) for c in result.checks)
    lines = [f"{'check':<{width}}  result  found", "-" * (width + 40)]
    for c in result.checks:
        lines.append(f"{c.name:<{width}}  {'pass' if c.ok else 'FAIL':<6}  {c.found}")
    return lines


def details(result: Result) -> list[str]:
    s = result.stats
    lines = [f"user actions  {result.actions} ({', '.join(f'{k} {len(v)}' for k, v in sorted(s.latencies.items()))}"
             f"); paths carried to their end: {sum(s.paths_done.values())} "
             f"({', '.join(f'{k} {v}' for k, v in sorted(s.paths_done.items()))})",
             f"latency       p50 {result.latency_ms(50):.0f} ms, p95 {result.latency_ms(95):.0f} ms, "
             f"max {result.latency_ms(100):.0f} ms (an action with its retries)",
             f"retries       {sum(s.retries.values())}"
             + (f": {', '.join(f'{k} x{v}' for k, v in s.retries.most_common())}" if s.retries else ""),
             f"lost answers  {s.lost_answers} completions went through but their answer was lost (re-read: done)",
             f"drain         {result.drain_seconds:.1f} s{'' if result.drained else ' NOT DRAINED'}",
             "waiting       " + ", ".join(f"{k} {v}" for k, v in sorted(result.waiting.items()))]
    if s.failures:
        lines.append(f"gave up       {len(s.failures)} requests:")
        lines += [f"  - {f}" for f in s.failures[:10]]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL,
                        help="PostgreSQL for the curve (a private schema per cell, dropped afterwards)")
    parser.add_argument("--faults", action="store_true", help="the fault run instead of the curve")
    parser.add_argument("--quick", action="store_true",
                        help="shorter: curve 8 s per cell on 1 and 2 processes; fault run 45 s, SMTP down 15 s")
    parser.add_argument("--seconds", type=float, default=None, help="load per run (curve 20, fault run 120)")
    parser.add_argument("--users", type=int, default=8, help="simulated users (default 8)")
    parser.add_argument("--smtp-down", type=float, default=None, help="fault run: SMTP down this long (default 60)")
    parser.add_argument("--kill-every", type=float, default=5.0, help="fault run: kill -9 one process this often")
    parser.add_argument("--no-private-cluster", action="store_true",
                        help="fault run: use --database-url and cut its connections instead of a restart")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    began = time.monotonic()
    if not args.faults:
        seconds = args.seconds or (8.0 if args.quick else 20.0)
        sizes = (1, 2) if args.quick else SIZES
        header = facts(args.database_url, args.users, seconds)
        results = []
        for web in sizes:
            for workers in sizes:
                log(f"{web} web x {workers} workers: {args.users} users for {seconds:.0f} s ...")
                results.append(one_run(args.database_url, web=web, workers=workers, users=args.users,
                                       seconds=seconds, patience=30, drain_timeout=60, seed=args.seed, log=log,
                                       cli_checks=False))
        print("\n".join(header))
        print()
        print("\n".join(curve_table(results)))
        print()
        print("actions: requests created, tasks claimed and completed by the users; reads: the users' reads of a "
              "request while looking for its next task; closed: requests closed during the load; p50/p95: one action "
              "as a user waits for it (HTTP, with its retries)")
        failed = [r for r in results if not r.ok]
        for r in failed:
            print(f"\n{r.web} web x {r.workers} workers FAILED:")
            print("\n".join(check_table(r)))
        print(f"\nload average {os.getloadavg()[0]:.2f} (1 min) at the end")
        print(f"whole run {time.monotonic() - began:.0f} s; checks: {len(results) - len(failed)} of "
              f"{len(results)} runs pass every check")
        return 1 if failed else 0

    seconds = args.seconds or (45.0 if args.quick else 120.0)
    smtp_down = args.smtp_down if args.smtp_down is not None else (15.0 if args.quick else 60.0)
    plan = FaultPlan(seconds=seconds, kill_every=args.kill_every, smtp_down=smtp_down)

    def fault_run(url: str, restarter: Restarter) -> Result:
        print("\n".join(facts(url, args.users, seconds)))
        log(f"fault run: 2 web x 2 workers, {args.users} users for {seconds:.0f} s; PostgreSQL: {restarter.what}")
        return one_run(url, web=2, workers=2, users=args.users, seconds=seconds, patience=120, drain_timeout=180,
                       plan=plan, restarter=restarter, seed=args.seed, log=log)

    if args.no_private_cluster:
        result = fault_run(args.database_url, Restarter("the server at --database-url (connections cut)",
                                                        url=args.database_url))
    else:
        with private_cluster() as (url, restarter):
            result = fault_run(url, restarter)
    print(f"faults        kill -9 every {plan.kill_every:.0f} s, PostgreSQL restart at {plan.restart_at:.0%} of the "
          f"load, SMTP down {plan.smtp_down:.0f} s from {plan.smtp_down_at:.0%}")
    print()
    kills = [f for f in result.faults if "kill -9" in f]
    print(f"fault log     {len([k for k in kills if 'web' in k])} web and {len([k for k in kills if 'worker' in k])} "
          f"worker processes killed; {result.worker_restarts} rf worker restarts by the supervisor")
    for line in result.faults:
        if "kill -9" not in line:
            print(f"  {line}")
    print("\n".join(details(result)))
    print()
    print("\n".join(check_table(result)))
    print(f"\nwhole run {time.monotonic() - began:.0f} s; {'every check passes' if result.ok else 'CHECKS FAILED'}")
    return 0 if result.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
