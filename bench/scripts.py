"""The cost of bounded scripts per engine step: the same engine steps with the limits (every script, condition,
timer and parameter expression evaluated in the evaluator process) and without them (RestrictedPython in this
process, unbounded: how it was before), measured in one run.

Run from the repository root:

    .venv/bin/python -m bench.scripts [--rounds N] [--repeat R]

One "instance" is the bundled enhancement path at the engine level, in memory (no database): start, draw up the
work plan, the work-list service task (a stub handler), then N rounds of fulfil -> test fails, then fulfil -> test
passes -> chargeable -> billing service task. Every operation is one engine step as the app runs it (load from JSON,
act, describe, save to JSON). Both sides run the same steps, interleaved, best of R.
"""

from __future__ import annotations

import argparse
import copy
import platform
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from app import engine
from app.config import PROJECT_ROOT
from app.engine import sandbox, scripts
from app.engine.script_host import RESTRICTED_GLOBALS, compile_expression, compile_script, task_data_of
from handlers import REGISTRY

NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
LANES = {"Provider Group Manager", "Specialist", "Service Provider", "Customer Account Representative"}
START = {"request_id": 1, "request_number": "RF-000001", "request_type": "enhancement", "routine": True,
         "title": "Report", "description": "", "agency": "Tourism", "requester_name": "Ann",
         "requester_email": "ann@tourism.example", "provider_group": "apps", "priority": "medium",
         "crm_case_id": "CRM-000001", "sla_due_at": "2027-03-01T00:00:00+00:00"}
PLAN = {"work_plan": "x", "estimated_hours": 1, "planned_start": "2026-12-02", "planned_finish": "2026-12-03"}
EVALUATIONS = {"count": 0}


class InlineBudget:
    """The unbounded in-process evaluation the limits replaced (RestrictedPython, same globals, no limits)."""

    def __init__(self, limits: Any = None) -> None:
        pass

    def evaluate(self, source: str, context: dict[str, Any], external: dict[str, Any] | None = None) -> Any:
        EVALUATIONS["count"] += 1
        scope = copy.copy(RESTRICTED_GLOBALS)
        scope.update(external or {})
        scope.update(context)
        return eval(compile_expression(source), scope)  # noqa: S307

    def execute(self, source: str, context: dict[str, Any], external: dict[str, Any] | None = None) -> None:
        EVALUATIONS["count"] += 1
        scope = dict(context)
        scope.update(RESTRICTED_GLOBALS)
        scope.update(external or {})
        exec(compile_script(source), scope)  # noqa: S102
        context.clear()
        context.update(task_data_of(scope, external or {}))


class CountingBudget(sandbox.Budget):
    def _run(self, request: dict[str, Any], what: str) -> dict[str, Any]:
        EVALUATIONS["count"] += 1
        return super()._run(request, what)


@contextmanager
def evaluation(kind: type) -> Iterator[None]:
    saved = scripts.Budget
    scripts.Budget = kind  # type: ignore[misc]  # the bench swaps the evaluator, nothing else
    try:
        yield
    finally:
        scripts.Budget = saved  # type: ignore[misc]


def ok_service(operator: str, params: dict, key: str) -> dict:
    return {"ok": True, "operator": operator}


def lifecycle(spec_json: str, rounds: int) -> int:
    """One instance; returns the number of engine steps."""
    steps = 1
    state = engine.start(spec_json, START, NOW)

    def human(bpmn_id: str, data: dict[str, Any]) -> None:
        nonlocal state, steps
        [task] = [t for t in state.human_tasks if t.bpmn_id == bpmn_id]
        state = engine.complete_human_task(spec_json, state.state_json, task.task_id, data, NOW)
        steps += 1
        while state.service_calls:
            state = engine.run_service_task(spec_json, state.state_json, state.service_calls[0].task_id, ok_service,
                                            NOW)
            steps += 1

    human("draw_up_work_plan", PLAN)
    for _ in range(rounds):
        human("fulfil_enhancement_request", {"fulfilment_notes": "n", "hours_spent": 1})
        human("test_solution", {"test_result": "fail", "test_notes": "again"})
    human("fulfil_enhancement_request", {"fulfilment_notes": "n", "hours_spent": 1})
    human("test_solution", {"test_result": "pass", "test_notes": "ok"})
    human("determine_chargeability", {"chargeable": False, "chargeability_notes": "warranty"})
    return steps


def measure(run: Callable[[], int]) -> tuple[float, int]:
    started = time.perf_counter()
    steps = run()
    return time.perf_counter() - started, steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="failed tests per instance (default 5)")
    parser.add_argument("--instances", type=int, default=10, help="instances per side and repeat (default 10)")
    parser.add_argument("--repeat", type=int, default=3, help="best of (default 3)")
    args = parser.parse_args()
    files = {p.name: p.read_bytes() for p in (PROJECT_ROOT / "bpmn").glob("*.bpmn")}
    forms = {p.name: p.read_bytes() for p in (PROJECT_ROOT / "forms").glob("*.json")}
    spec_json = engine.compile_bundle(files, operators=set(REGISTRY), lanes=LANES, forms=forms).spec_json

    def run() -> int:
        return sum(lifecycle(spec_json, args.rounds) for _ in range(args.instances))

    best: dict[str, tuple[float, int, int]] = {}
    for _side, kind in (("limits", CountingBudget), ("none", InlineBudget)):  # warm-up (starts the evaluator)
        with evaluation(kind):
            lifecycle(spec_json, 1)
    for _ in range(args.repeat):
        for side, kind in (("limits", CountingBudget), ("none", InlineBudget)):
            EVALUATIONS["count"] = 0
            with evaluation(kind):
                seconds, steps = measure(run)
            if side not in best or seconds < best[side][0]:
                best[side] = (seconds, steps, EVALUATIONS["count"])
    limits = sandbox.current_limits()
    print(f"python {platform.python_implementation()} {platform.python_version()} on {platform.system()}; "
          f"limits {limits.seconds:g} s / {limits.memory_mb} MB; {args.instances} instances x {args.rounds} rework "
          f"rounds, best of {args.repeat}")
    print(f"{'side':8} {'steps':>6} {'evals':>6} {'total s':>8} {'ms/step':>8} {'us/eval':>8}")
    for side in ("limits", "none"):
        seconds, steps, evals = best[side]
        print(f"{side:8} {steps:6d} {evals:6d} {seconds:8.3f} {seconds / steps * 1000:8.3f} "
              f"{seconds / max(evals, 1) * 1e6:8.1f}")
    (with_s, steps, evals), (without_s, _, _) = best["limits"], best["none"]
    print(f"cost of the limits: {with_s / without_s:.3f}x per engine step "
          f"(+{(with_s - without_s) / steps * 1000:.3f} ms per step, +{(with_s - without_s) / evals * 1e6:.1f} us per "
          f"evaluation; {evals / steps:.2f} evaluations per step)")


if __name__ == "__main__":
    main()
