"""Moving a running instance to a newer definition version, with SpiffWorkflow's spec and workflow diffs.

An instance can move when no task spec that the new version changed or removed has a task in the instance that has
been reached (any state but FUTURE, LIKELY or MAYBE: started, completed, ready, waiting, cancelled, in error). The top
process and every subprocess the instance has already entered are diffed; a subprocess not entered yet simply runs
on the new version when it is reached. What counts as "changed" is SpiffWorkflow's `SpecDiff`: any serialised
attribute of the task spec (name, documentation, lane, extensions, its incoming or outgoing flows, ...).

Migrating keeps every reached task as it is (same task ids, data, timers and their due times) and only re-predicts
the not yet reached tasks after the waiting ones from the new version, so the inbox and worker projections of the
open work stay valid.

The check performs the move on the loaded copy (and throws it away), so an instance is *eligible* only when the move
itself succeeds; anything SpiffWorkflow raises on the way is translated into a Conflict naming it, never let through.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from SpiffWorkflow.bpmn.util.diff import SpecDiff, WorkflowDiff
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from app.engine.runtime import InstanceState, _describe
from app.engine.scripts import AppScriptEngine
from app.engine.serialization import SERIALIZER, load_workflow, specs_of
from app.errors import Conflict

_NOT_REACHED = TaskState.PREDICTED_MASK | TaskState.FUTURE
_FRONTIER = TaskState.READY | TaskState.WAITING | TaskState.STARTED
_WAITING = TaskState.READY | TaskState.WAITING
# how a changed task spec attribute is named to a process owner
_ATTRIBUTES = {"bpmn_name": "name", "inputs": "incoming flows", "outputs": "outgoing flows", "extensions": "properties",
               "typename": "element type", "lane": "lane", "documentation": "documentation"}


@dataclass(frozen=True)
class Blocker:
    """A reached task whose element the new version changed or removed."""

    process_id: str
    bpmn_id: str
    name: str
    change: str  # changed | removed
    state: str  # the task's state, lower case: completed, ready, waiting, started, ...
    attributes: tuple[str, ...] = ()

    def __str__(self) -> str:
        label = f"{self.name} ({self.bpmn_id})" if self.name != self.bpmn_id else self.bpmn_id
        what = f" ({', '.join(self.attributes)})" if self.attributes else ""
        return f"{label} in {self.process_id} is {self.state} and was {self.change} in the new version{what}"


@dataclass(frozen=True)
class MigrationCheck:
    eligible: bool
    blockers: list[Blocker]
    waiting_at: list[str]  # names of the ready and waiting elements (human tasks, service tasks, timers)
    problem: str = ""  # why the move itself failed although no blocker was found

    @property
    def reason(self) -> str:
        if self.eligible:
            return "no element it has reached was changed or removed"
        return self.problem or "; ".join(dict.fromkeys(str(b) for b in self.blockers))


def _label(spec: Any) -> tuple[str, str]:
    bpmn_id = getattr(spec, "bpmn_id", None) or spec.name
    return bpmn_id, getattr(spec, "bpmn_name", None) or bpmn_id


def _attributes(changes: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(_ATTRIBUTES.get(change, change.replace("_", " ")) for change in changes))


def _waiting_at(wf: BpmnWorkflow) -> list[str]:
    tasks = [t for w in [wf, *wf.subprocesses.values()] for t in w.tasks.values()
             if t.state & _WAITING and getattr(t.task_spec, "bpmn_id", None)]
    return sorted({_label(t.task_spec)[1] for t in tasks})


def _blockers(process_id: str, diff: WorkflowDiff, spec_diff: SpecDiff) -> list[Blocker]:
    found = []
    changes = spec_diff.changed
    for change, tasks in (("changed", diff.changed), ("removed", diff.removed)):
        for task in tasks:
            if task.state & _NOT_REACHED:
                continue
            bpmn_id, name = _label(task.task_spec)
            found.append(Blocker(process_id, bpmn_id, name, change, TaskState.get_name(task.state).lower(),
                                 _attributes(changes.get(task.task_spec, [])) if change == "changed" else ()))
    return found


@dataclass
class _Plan:
    """The diffs of one instance against a new version: the top workflow's and each entered subprocess's."""

    verdict: MigrationCheck
    spec: Any
    dependencies: dict[str, Any]
    top: WorkflowDiff
    subprocesses: dict[Any, WorkflowDiff]


def _diff(wf: BpmnWorkflow, to_spec_json: str) -> _Plan:
    new_spec, new_dependencies = specs_of(to_spec_json)
    registry = SERIALIZER.registry
    try:
        top_spec_diff = SpecDiff(registry, wf.spec, new_spec)
        top = WorkflowDiff(wf, top_spec_diff)
        blockers = _blockers(wf.spec.name, top, top_spec_diff)
        subs: dict[Any, WorkflowDiff] = {}
        for sp_id, sub in wf.subprocesses.items():
            new_sub_spec = new_dependencies.get(sub.spec.name)
            if new_sub_spec is None:
                blockers.extend(_removed_process(wf, sp_id, sub))
                continue
            sub_spec_diff = SpecDiff(registry, sub.spec, new_sub_spec)
            subs[sp_id] = WorkflowDiff(sub, sub_spec_diff)
            blockers.extend(_blockers(sub.spec.name, subs[sp_id], sub_spec_diff))
    except KeyError as err:  # a task whose spec the diff could not reach from the start event
        raise Conflict(f"the instance cannot be compared with the new version (element {err} is not aligned)") from None
    return _Plan(MigrationCheck(not blockers, blockers, _waiting_at(wf)), new_spec, dict(new_dependencies), top, subs)


def _removed_process(wf: BpmnWorkflow, sp_id: Any, sub: Any) -> list[Blocker]:
    caller = wf.tasks.get(sp_id) or next((s.tasks[sp_id] for s in wf.subprocesses.values() if sp_id in s.tasks),
                                         None)
    bpmn_id, name = _label(caller.task_spec) if caller is not None else (sub.spec.name, sub.spec.name)
    process_id = caller.workflow.spec.name if caller is not None else wf.spec.name
    return [Blocker(process_id, bpmn_id, name, "removed", "started", (f"called process {sub.spec.name}",))]


def _unexpected(err: Exception) -> Conflict:
    return Conflict(f"cannot migrate: the instance could not be moved to the new version ({type(err).__name__}: "
                    f"{err})")


def _load(from_spec_json: str, state_json: str) -> BpmnWorkflow:
    try:
        return load_workflow(from_spec_json, state_json, AppScriptEngine())
    except Exception as err:  # noqa: BLE001 - a state that does not load is a refusal, not a crash
        raise _unexpected(err) from err


def _moved(wf: BpmnWorkflow, to_spec_json: str) -> MigrationCheck:
    """Diff the instance against the new version and, when nothing is in the way, move it (in memory)."""
    try:
        plan = _diff(wf, to_spec_json)
        if plan.verdict.eligible:
            _move(wf, plan.top, plan.spec)
            for sp_id, sub in wf.subprocesses.items():
                _move(sub, plan.subprocesses[sp_id], plan.dependencies[sub.spec.name])
            wf.subprocess_specs = plan.dependencies
    except Conflict as err:
        return MigrationCheck(False, [], _waiting_at(wf), str(err).removeprefix("cannot migrate: "))
    except Exception as err:  # noqa: BLE001 - SpiffWorkflow's own failures become a stated refusal
        return MigrationCheck(False, [], _waiting_at(wf), str(_unexpected(err)).removeprefix("cannot migrate: "))
    return plan.verdict


def check_migration(from_spec_json: str, state_json: str, to_spec_json: str) -> MigrationCheck:
    """Whether the instance can move to the new version (the move is tried on a throw-away copy), and if not, every
    reached element in the way or what failed."""
    return _moved(_load(from_spec_json, state_json), to_spec_json)


def _move(workflow: Any, diff: WorkflowDiff, spec: Any) -> None:
    """Point the workflow and each of its tasks at the aligned task specs of the new version, then rebuild the not
    yet reached tasks after each reached, unfinished one (SpiffWorkflow's `migrate_workflow` resets ready and
    waiting tasks instead, which would give them new due times and drop their data)."""
    workflow.spec = spec
    for task in workflow.tasks.values():
        aligned = diff.alignment.get(task)
        if aligned is not None:
            task.task_spec = aligned
    for task in [t for t in workflow.tasks.values() if t.state & _FRONTIER]:
        if task.id not in workflow.tasks:
            continue
        for child in list(task.children):
            if child.state & _NOT_REACHED:
                workflow._remove_task(child.id)
        task.task_spec._predict(task, mask=_NOT_REACHED | task.state)
    stale = [t for t in workflow.tasks.values() if spec.task_specs.get(t.task_spec.name) is not t.task_spec]
    if stale:
        _, name = _label(stale[0].task_spec)
        raise Conflict(f"cannot migrate: the task {name} of {spec.name} has no place in the new version")


def migrate_instance(from_spec_json: str, state_json: str, to_spec_json: str) -> InstanceState:
    """The instance's state on the new version; raises Conflict naming the blockers when it cannot move."""
    wf = _load(from_spec_json, state_json)
    verdict = _moved(wf, to_spec_json)
    if not verdict.eligible:
        raise Conflict(f"cannot migrate: {verdict.reason}")
    try:
        return _describe(wf)
    except Exception as err:  # noqa: BLE001 - see _moved
        raise _unexpected(err) from err
