"""Simulated users: threads that each log a request through the REST API and carry it along one path of the process
by completing its user tasks as the right person, again and again, until told to stop.

Every step is what a program using the API would do: `POST /api/v1/requests` (with an `Idempotency-Key`), then for
each user task read the request (`GET /api/v1/requests/{number}`) until the task is open (the worker runs the
service steps in between), claim it when nobody holds it, and complete it with the form's data. A connection error,
a timeout or a 5xx is retried: the creation with the same `Idempotency-Key` (a 409 "still being processed" too), a
completion only after reading the request again (the task is no longer open: the completion went through and only
its answer was lost). Anything else (a 4xx) is a failure of that request, recorded, and the user moves on.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from tests.driver import REQUEST

USERS = ("maria", "sam", "sara", "pete", "carla")
PATH_WEIGHTS = {"assistance": 4, "enhancement_failed_test_chargeable": 3, "enhancement_not_chargeable": 2,
                "discovery": 2}
POLL_SECONDS = 0.5  # between reads while waiting for the worker (a read describes the whole request)


@dataclass(frozen=True)
class Step:
    bpmn_id: str
    user: str
    data: dict[str, Any]


@dataclass(frozen=True)
class Path:
    name: str
    creator: str
    request_type: str
    fields: dict[str, Any]
    steps: list[Step]


def _today(days: int = 0) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).date().isoformat()


def path(name: str, rng: random.Random) -> Path:
    """The steps of one request along `name` (the paths of tests/driver.py and bench.lifecycle)."""
    if name == "assistance":
        specialist = rng.choice(("sam", "sara"))
        return Path(name, "maria", "assistance", {"provider_group": "network"}, [
            Step("assign_specialist", "maria", {"specialist": specialist, "assignment_note": "VPN team"}),
            Step("fulfil_assistance_request", specialist, {"resolution_notes": "Created the VPN profile",
                                                           "resolution_code": "resolved", "time_spent_hours": 1.5}),
        ])
    plan = Step("draw_up_work_plan", "pete", {"work_plan": "Add the new report to the agency portal",
                                              "estimated_hours": 16, "planned_start": _today(),
                                              "planned_finish": _today(14)})
    fulfil = Step("fulfil_enhancement_request", "pete", {"fulfilment_notes": "Report built", "hours_spent": 6})
    passed = Step("test_solution", "pete", {"test_result": "pass", "test_notes": "Totals match"})
    notify = Step("notify_customer_of_fulfilment", "carla", {"customer_message": "Your report is live."})
    not_chargeable = Step("determine_chargeability", "pete", {"chargeable": False})
    if name == "enhancement_failed_test_chargeable":
        return Path(name, "carla", "enhancement", {"provider_group": "apps", "routine": True}, [
            plan, fulfil, Step("test_solution", "pete", {"test_result": "fail", "test_notes": "Totals are wrong"}),
            fulfil, passed,
            Step("determine_chargeability", "pete",
                 {"chargeable": True, "billable_hours": 12.5, "hourly_rate": 85, "billing_code": "PS-628"}),
            # live today: the timer (00:00 UTC of that date) is already due, the worker fires it on its next pass
            Step("initiate_billing", "carla", {"billing_notes": "Bill Q1", "service_live_date": _today()}),
            notify,
        ])
    if name == "enhancement_not_chargeable":
        return Path(name, "carla", "enhancement", {"provider_group": "apps", "routine": True},
                    [plan, fulfil, passed, not_chargeable, notify])
    if name == "discovery":
        return Path(name, "carla", "enhancement", {"provider_group": "apps", "routine": False}, [
            Step("document_customer_need", "carla", {"need_summary": "SFTP drop for vendors",
                                                     "customer_is_current": True, "new_service": True}),
            Step("prepare_proposal", "pete", {"proposal_summary": "Managed SFTP", "estimated_cost": 4200,
                                              "po_number": "PO-2026-0042"}),
            plan, fulfil, passed, not_chargeable, notify,
        ])
    raise ValueError(name)


@dataclass
class Stats:
    """What all users did, shared (under `lock`)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies: dict[str, list[float]] = field(default_factory=dict)  # action -> seconds (including its retries)
    retries: Counter[str] = field(default_factory=Counter)  # why an attempt was repeated
    failures: list[str] = field(default_factory=list)  # requests a user gave up on, and why
    known: dict[str, str] = field(default_factory=dict)  # request number -> path, as the users learnt them
    unanswered: list[str] = field(default_factory=list)  # Idempotency-Keys of creations never answered
    paths_done: Counter[str] = field(default_factory=Counter)  # every user task of the path completed
    lost_answers: int = 0  # completions whose answer was lost but which went through
    reads: int = 0  # GET /api/v1/requests/{number}: looking for the next task

    def action(self, kind: str, seconds: float) -> None:
        with self.lock:
            self.latencies.setdefault(kind, []).append(seconds)

    def all_latencies(self) -> list[float]:
        with self.lock:
            return [s for values in self.latencies.values() for s in values]

    def actions(self) -> int:
        with self.lock:
            return sum(len(v) for v in self.latencies.values())


class GaveUp(Exception):
    """This request is left where it is (the reason is recorded)."""


class User(threading.Thread):
    def __init__(self, n: int, base: str, tokens: dict[str, str], stats: Stats, stop: threading.Event,
                 patience: float, run_id: str, seed: int) -> None:
        super().__init__(name=f"user-{n}", daemon=True)
        self.n, self.base, self.tokens, self.stats, self.stop = n, base, tokens, stats, stop
        self.patience, self.run_id = patience, run_id
        self.rng = random.Random(seed)
        self.http = requests.Session()
        self.made = 0

    # -- HTTP --------------------------------------------------------------------------------------------------------

    def _send(self, method: str, url: str, user: str, **kwargs: Any) -> requests.Response | None:
        """One HTTP call; None for a connection error or timeout."""
        headers = {"Authorization": f"Bearer {self.tokens[user]}", **kwargs.pop("headers", {})}
        try:
            return self.http.request(method, self.base + url, headers=headers, timeout=30, **kwargs)
        except requests.RequestException:
            return None

    def _retrying(self, what: str, attempt: Callable[[], Any]) -> Any:
        """Call `attempt` until it returns something other than None, within the patience; back off between."""
        deadline = time.monotonic() + self.patience
        pause = 0.1
        while True:
            result = attempt()
            if result is not None:
                return result
            if time.monotonic() > deadline:
                raise GaveUp(f"{what}: no answer within {self.patience:.0f} s")
            time.sleep(pause)
            pause = min(pause * 2, 2.0)

    def _transient(self, answer: requests.Response | None, why: str) -> bool:
        if answer is None or answer.status_code >= 500:
            with self.stats.lock:
                self.stats.retries[f"{why}: {'connection' if answer is None else answer.status_code}"] += 1
            return True
        return False

    def read(self, number: str, user: str) -> dict[str, Any]:
        def attempt() -> dict[str, Any] | None:
            answer = self._send("GET", f"/api/v1/requests/{number}", user)
            with self.stats.lock:
                self.stats.reads += 1
            if self._transient(answer, "read"):
                return None
            assert answer is not None
            if answer.status_code != 200:
                raise GaveUp(f"reading {number}: {answer.status_code} {answer.text[:200]}")
            found: dict[str, Any] = answer.json()
            return found

        result: dict[str, Any] = self._retrying(f"reading {number}", attempt)
        return result

    # -- the actions -------------------------------------------------------------------------------------------------

    def create(self, chosen: Path) -> str:
        self.made += 1
        key = f"{self.run_id}-u{self.n}-{self.made}"
        body = {"request_type": chosen.request_type,
                "data": {**REQUEST, **chosen.fields, "title": f"Scale run {self.run_id} user {self.n} #{self.made}"}}
        started = time.perf_counter()

        def attempt() -> str | None:
            answer = self._send("POST", "/api/v1/requests", chosen.creator, json=body,
                                headers={"Idempotency-Key": key})
            if self._transient(answer, "create"):
                return None
            assert answer is not None
            if answer.status_code == 409:  # the first try with this key is still running (or died midway)
                with self.stats.lock:
                    self.stats.retries["create: 409 key still being processed"] += 1
                return None
            if answer.status_code != 201:
                raise GaveUp(f"create: {answer.status_code} {answer.text[:300]}")
            number: str = answer.json()["number"]
            return number

        try:
            number: str = self._retrying("create", attempt)
        except GaveUp:
            with self.stats.lock:
                self.stats.unanswered.append(key)
            raise
        self.stats.action("create", time.perf_counter() - started)
        with self.stats.lock:
            self.stats.known[number] = chosen.name
        return number

    def open_task(self, number: str, step: Step) -> dict[str, Any] | None:
        """Wait until the request has `step` open (the worker may be running service steps); None when stopped."""
        deadline = time.monotonic() + self.patience
        while not self.stop.is_set():
            shown = self.read(number, step.user)
            for task in shown["open_tasks"]:
                if task["bpmn_id"] == step.bpmn_id:
                    return dict(task)
            if time.monotonic() > deadline:
                raise GaveUp(f"{number}: {step.bpmn_id} not open after {self.patience:.0f} s "
                             f"(status {shown['status']}, open {[t['bpmn_id'] for t in shown['open_tasks']]})")
            time.sleep(POLL_SECONDS)
        return None

    def still_open(self, number: str, step: Step, task_id: str) -> dict[str, Any] | None:
        shown = self.read(number, step.user)
        return next((t for t in shown["open_tasks"] if t["id"] == task_id), None)

    def claim(self, number: str, step: Step, task: dict[str, Any]) -> None:
        started = time.perf_counter()

        def attempt() -> bool | None:
            answer = self._send("POST", f"/api/v1/tasks/{task['id']}/claim", step.user)
            if self._transient(answer, "claim") or (answer is not None and answer.status_code == 409):
                now = self.still_open(number, step, task["id"])  # did it go through?
                if now is not None and now["assignee"] == step.user:
                    return True
                if now is None:
                    raise GaveUp(f"{number}: {step.bpmn_id} closed while claiming it")
                return None
            assert answer is not None
            if answer.status_code != 200:
                raise GaveUp(f"claim {step.bpmn_id} on {number}: {answer.status_code} {answer.text[:300]}")
            return True

        self._retrying(f"claim {step.bpmn_id}", attempt)
        self.stats.action("claim", time.perf_counter() - started)

    def complete(self, number: str, step: Step, task: dict[str, Any]) -> None:
        started = time.perf_counter()

        def attempt() -> bool | None:
            answer = self._send("POST", f"/api/v1/tasks/{task['id']}/complete", step.user, json={"data": step.data})
            if answer is not None and answer.status_code == 200:
                return True
            if self._transient(answer, "complete") or (answer is not None and answer.status_code == 409):
                if answer is not None and answer.status_code == 409:
                    with self.stats.lock:
                        self.stats.retries["complete: 409"] += 1
                if self.still_open(number, step, task["id"]) is None:  # it went through; the answer was lost
                    with self.stats.lock:
                        self.stats.lost_answers += 1
                    return True
                return None
            assert answer is not None
            raise GaveUp(f"complete {step.bpmn_id} on {number}: {answer.status_code} {answer.text[:300]}")

        self._retrying(f"complete {step.bpmn_id}", attempt)
        self.stats.action("complete", time.perf_counter() - started)

    # -- the loop ----------------------------------------------------------------------------------------------------

    def run(self) -> None:
        names = [name for name, weight in PATH_WEIGHTS.items() for _ in range(weight)]
        while not self.stop.is_set():
            chosen = path(self.rng.choice(names), self.rng)
            number = None
            try:
                number = self.create(chosen)
                for step in chosen.steps:
                    task = self.open_task(number, step)
                    if task is None:
                        break
                    if task["assignee"] is None:
                        self.claim(number, step, task)
                    self.complete(number, step, task)
                else:
                    with self.stats.lock:
                        self.stats.paths_done[chosen.name] += 1
            except GaveUp as err:
                with self.stats.lock:
                    self.stats.failures.append(f"{number or 'create'} ({chosen.name}): {err}")
            except Exception as err:  # noqa: BLE001 - a bug in the simulation: record it, keep the others going
                with self.stats.lock:
                    self.stats.failures.append(f"{number or 'create'} ({chosen.name}): {type(err).__name__}: {err}")
