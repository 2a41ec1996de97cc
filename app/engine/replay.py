"""Replay: re-execute an instance in memory, on its pinned definition version, from the inputs its audit log
recorded, and compare the outcome with the stored state.

The inputs are plain `RecordedInput`s (the services turn audit rows into them): the start variables, every
submitted task form, every service task's recorded result (no handler is ever called) and every timer that fired,
each with the time it happened, which becomes the engine's clock for that step. Task ids differ in a replay, so
a recorded completion is matched to the ready task with the same BPMN id (and process, when recorded).

The workflow stays in memory for the whole replay (no save/load between steps), and nothing is described until the
end (`Snapshot`), so a replay costs one engine step per recorded input plus one description.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState

from app.engine.runtime import (
    advance,
    current_data,
    engine_error,
    is_service,
    path_taken,
    tasks_in,
    timer_tasks,
)
from app.engine.scripts import AppScriptEngine
from app.engine.serialization import load_workflow, specs_of
from app.engine.spiff_patches import engine_time
from app.engine.task_index import advance_indexed, indexed, install_index
from app.errors import AppError

START, COMPLETE, SERVICE, TIMER = "start", "complete", "service", "timer"


@dataclass(frozen=True)
class RecordedInput:
    """One input of the instance as the audit log recorded it.

    kind: start (data = start variables), complete (data = submitted form), service (data = the recorded result,
    params/operator as called), timer (bpmn_id of the timer that fired).
    """

    seq: int
    at: datetime
    kind: str
    bpmn_id: str = ""
    name: str = ""
    process_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    operator: str | None = None
    params: dict[str, Any] | None = None


@dataclass(frozen=True)
class WaitingTimer:
    bpmn_id: str
    due: str  # ISO 8601


@dataclass(frozen=True)
class Snapshot:
    """What an instance looks like at one point: comparable between a stored state and a replay."""

    completed: bool
    path: list[str]
    human_tasks: list[str]  # bpmn ids of the ready human tasks, sorted
    service_tasks: list[str]  # bpmn ids of the ready service tasks, sorted
    timers: list[WaitingTimer]  # sorted by bpmn id and due time
    data: dict[str, Any]


@dataclass(frozen=True)
class Difference:
    """One way the replay disagrees with the record. `element` is a BPMN element id or a data key ('' if none)."""

    aspect: str  # input | completed | path | human_task | service_task | timer | data
    element: str
    message: str
    stored: Any = None
    replayed: Any = None
    seq: int | None = None  # the audit event it concerns, when it concerns one


@dataclass
class ReplayRun:
    snapshot: Snapshot | None  # None when no instance_started was replayed
    problems: list[Difference]  # inputs the replay could not apply as recorded
    applied: int  # inputs replayed (matched or not)
    stopped_at: int | None = None  # seq of an input whose step failed in the engine; nothing after it ran


def _json(value: Any) -> Any:
    """What the value looks like after a trip through the database (how stored state and audit rows are kept)."""
    return json.loads(json.dumps(value, default=str))


def element_names(spec_json: str) -> dict[str, str]:
    """BPMN element id -> name (or the id) for every task spec of a definition version."""
    spec, subprocess_specs = specs_of(spec_json)
    names: dict[str, str] = {}
    for process in [spec, *subprocess_specs.values()]:
        for task_spec in process.task_specs.values():
            bpmn_id = getattr(task_spec, "bpmn_id", None)
            if bpmn_id:
                names[bpmn_id] = getattr(task_spec, "bpmn_name", None) or bpmn_id
    return names


def _snapshot(wf: BpmnWorkflow) -> Snapshot:
    ready = tasks_in(wf, TaskState.READY)
    waiting = tasks_in(wf, TaskState.WAITING | TaskState.STARTED)
    timers = sorted((WaitingTimer(task.task_spec.bpmn_id, due.isoformat()) for task, due in timer_tasks(wf)),
                    key=lambda t: (t.bpmn_id, t.due))
    return Snapshot(
        completed=wf.is_completed(), path=path_taken(wf),
        human_tasks=sorted(t.task_spec.bpmn_id for t in ready if t.task_spec.manual and not is_service(t)),
        service_tasks=sorted(t.task_spec.bpmn_id for t in ready if is_service(t)),
        timers=timers, data=_json(current_data(wf, ready, waiting)))


def snapshot(spec_json: str, state_json: str) -> Snapshot:
    """The stored state, described like a replay (unlike `inspect`, a stalled state is described, not refused)."""
    return _snapshot(load_workflow(spec_json, state_json, AppScriptEngine()))


class _Replay:
    def __init__(self, spec_json: str, indexed: bool) -> None:
        self.spec_json = spec_json
        self.indexed = indexed
        self.wf: BpmnWorkflow | None = None
        self.problems: list[Difference] = []
        self.fired: dict[str, list[int]] = {}  # timers fired in the replay, not yet matched to a record: at which seq

    def ready(self) -> list[Any]:
        assert self.wf is not None
        return indexed(self.wf, TaskState.READY) if self.indexed else tasks_in(self.wf, TaskState.READY)

    def advance(self) -> list[str]:
        assert self.wf is not None
        return advance_indexed(self.wf) if self.indexed else advance(self.wf)

    def problem(self, item: RecordedInput, element: str, message: str, **values: Any) -> None:
        self.problems.append(Difference("input", element, message, seq=item.seq, **values))

    def _ready(self, item: RecordedInput, service: bool) -> Any:
        for task in self.ready():
            if task.task_spec.bpmn_id != item.bpmn_id or is_service(task) != service:
                continue
            if not service and not task.task_spec.manual:
                continue
            if item.process_id and task.workflow.spec.name != item.process_id:
                continue
            return task
        return None

    def _not_ready(self, item: RecordedInput, what: str) -> None:
        ready = sorted(t.task_spec.bpmn_id for t in self.ready() if t.task_spec.manual)
        label = f"“{item.name}” ({item.bpmn_id})" if item.name and item.name != item.bpmn_id else item.bpmn_id
        self.problem(item, item.bpmn_id, f"event {item.seq}: {what} {label} was recorded, but in the replay it is "
                                         f"not ready (ready: {', '.join(ready) or 'nothing'})",
                     stored=item.bpmn_id, replayed=ready)

    def apply(self, item: RecordedInput) -> None:
        if item.kind == START:
            if self.wf is not None:
                self.problem(item, "", f"event {item.seq}: the instance was recorded as started twice")
                return
            self.wf = load_workflow(self.spec_json, None, AppScriptEngine())
            if self.indexed:
                install_index(self.wf)
            self.wf.get_tasks(state=TaskState.READY)[0].data.update(item.data)
            self._fired(item, self.advance())
            return
        if self.wf is None:
            self.problem(item, item.bpmn_id, f"event {item.seq}: recorded before the instance started")
            return
        if item.kind == COMPLETE:
            task = self._ready(item, service=False)
            if task is None:
                self._not_ready(item, "completion of task")
                return
            task.data.update(item.data)
            self._run(task)
        elif item.kind == SERVICE:
            task = self._ready(item, service=True)
            if task is None:
                self._not_ready(item, "service task")
                return
            self._run_service(task, item)
        elif item.kind == TIMER:
            self._fired(item, self.advance())
            if self.fired.get(item.bpmn_id):
                self.fired[item.bpmn_id].pop(0)
            else:
                self.problem(item, item.bpmn_id, f"event {item.seq}: timer {item.bpmn_id} was recorded as fired at "
                                                 f"{item.at.isoformat()}, but in the replay it did not fire",
                             stored="fired", replayed="not fired")
            return
        else:
            return
        self._fired(item, self.advance())

    def _run(self, task: Any) -> None:
        try:
            task.run()
        except SpiffWorkflowException as err:
            raise engine_error(err) from err

    def _run_service(self, task: Any, item: RecordedInput) -> None:
        def recorded(operator: str, params: dict[str, Any], _key: str) -> dict[str, Any]:
            if item.operator and operator != item.operator:
                self.problem(item, item.bpmn_id, f"event {item.seq}: service task {item.bpmn_id} calls {operator} in "
                                                 f"the replay, {item.operator} in the record",
                             stored=item.operator, replayed=operator)
            if item.params is not None and _json(params) != item.params:
                changed = sorted(k for k in set(params) | set(item.params)
                                 if _json(params.get(k)) != item.params.get(k))
                self.problem(item, item.bpmn_id, f"event {item.seq}: service task {item.bpmn_id} is called with other "
                                                 f"parameters in the replay ({', '.join(changed)})",
                             stored=item.params, replayed=_json(params))
            return item.data

        assert self.wf is not None
        engine = self.wf.script_engine
        self.wf.script_engine = AppScriptEngine(recorded)
        try:
            self._run(task)
        finally:
            self.wf.script_engine = engine

    def _fired(self, item: RecordedInput, fired: list[str]) -> None:
        for bpmn_id in fired:
            self.fired.setdefault(bpmn_id, []).append(item.seq)


def replay_inputs(spec_json: str, inputs: list[RecordedInput], *, until_seq: int | None = None,
                  indexed: bool = True) -> ReplayRun:
    """Replay `inputs` (in audit order) up to and including `until_seq` (all when None)."""
    run = _Replay(spec_json, indexed)
    applied = 0
    stopped_at = None
    for item in inputs:
        if until_seq is not None and item.seq > until_seq:
            break
        applied += 1
        try:
            with engine_time(item.at):
                run.apply(item)
        except (AppError, SpiffWorkflowException) as err:
            run.problem(item, item.bpmn_id, f"event {item.seq}: the replay stopped: {err}")
            stopped_at = item.seq
            break
    if until_seq is None and stopped_at is None:
        for bpmn_id, seqs in sorted(run.fired.items()):
            for seq in seqs:
                run.problems.append(Difference(
                    "input", bpmn_id, f"timer {bpmn_id} fired in the replay (at event {seq}) but no timer_fired "
                                      "event was recorded", stored="not fired", replayed="fired", seq=seq))
    shown = None
    if run.wf is not None:
        try:
            shown = _snapshot(run.wf)
        except (AppError, SpiffWorkflowException) as err:
            run.problems.append(Difference("input", "", f"the replayed instance cannot be described: {err}"))
    return ReplayRun(snapshot=shown, problems=run.problems, applied=applied, stopped_at=stopped_at)


def _counted(stored: list[str], replayed: list[str], aspect: str, what: str) -> list[Difference]:
    """Per element, how often it appears in each list; `what` words it ("{element} completed {n} times")."""
    a, b = Counter(stored), Counter(replayed)
    found = []
    for element in sorted(set(a) | set(b)):
        if a[element] != b[element]:
            found.append(Difference(aspect, element, f"{what.format(element=element, n=a[element])} in the stored "
                                                     f"state, {b[element]} in the replay", stored=a[element],
                                    replayed=b[element]))
    return found


def compare(stored: Snapshot, replayed: Snapshot) -> list[Difference]:
    """Every way `replayed` differs from `stored`; empty when they are identical."""
    found: list[Difference] = []
    if stored.completed != replayed.completed:
        words = {True: "complete", False: "not complete"}
        found.append(Difference("completed", "", f"the stored instance is {words[stored.completed]}, the replayed "
                                                 f"one is {words[replayed.completed]}", stored=stored.completed,
                                replayed=replayed.completed))
    by_count = _counted(stored.path, replayed.path, "path", "{element} completed {n} time(s)")
    found += by_count
    if not by_count and stored.path != replayed.path:
        at = next(i for i, (a, b) in enumerate(zip(stored.path, replayed.path, strict=True)) if a != b)
        found.append(Difference("path", stored.path[at], f"the path differs in order at step {at + 1}: "
                                                         f"{stored.path[at]} stored, {replayed.path[at]} replayed",
                                stored=stored.path, replayed=replayed.path))
    found += _counted(stored.human_tasks, replayed.human_tasks, "human_task", "open human task {element}: {n}")
    found += _counted(stored.service_tasks, replayed.service_tasks, "service_task",
                      "pending service task {element}: {n}")
    stored_timers, replayed_timers = _dues(stored.timers), _dues(replayed.timers)
    for element in sorted(set(stored_timers) | set(replayed_timers)):
        a, b = stored_timers.get(element, []), replayed_timers.get(element, [])
        if a != b:
            found.append(Difference("timer", element, f"waiting timer {element}: {_due_words(a)} in the stored "
                                                      f"state, {_due_words(b)} in the replay", stored=a, replayed=b))
    for key in sorted(set(stored.data) | set(replayed.data)):
        a, b = stored.data.get(key, _MISSING), replayed.data.get(key, _MISSING)
        if a != b:
            found.append(Difference("data", key, f"data {key}: {_show(a)} in the stored state, {_show(b)} in the "
                                                 "replay", stored=None if a is _MISSING else a,
                                    replayed=None if b is _MISSING else b))
    return found


def _dues(timers: list[WaitingTimer]) -> dict[str, list[str]]:
    dues: dict[str, list[str]] = {}
    for timer in timers:
        dues.setdefault(timer.bpmn_id, []).append(timer.due)
    return {key: sorted(value) for key, value in dues.items()}


def _due_words(dues: list[str]) -> str:
    return "due " + ", ".join(dues) if dues else "not waiting"


class _Missing:
    def __repr__(self) -> str:
        return "absent"


_MISSING: Any = _Missing()


def _show(value: Any, limit: int = 80) -> str:
    if value is _MISSING:
        return "absent"
    text = json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"
