"""Repairing an instance stopped at a failed service task: what the task reads, changing that data, cancelling.

A service task's parameters are Python expressions over the task's data. `service_inputs` names the data keys those
expressions read (with their current values); `edit_service_inputs` changes some of them on the ready task, so the
next attempt computes its parameters from the corrected data; `cancel` ends the whole instance.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from SpiffWorkflow.util.task import TaskState

from app.engine.runtime import InstanceState, describe, find_task, is_service
from app.engine.scripts import AppScriptEngine
from app.engine.serialization import load_workflow
from app.engine.spiff_patches import engine_time
from app.errors import Conflict, InvalidData


@dataclass(frozen=True)
class ServiceInputs:
    bpmn_id: str
    name: str
    operator: str
    parameters: dict[str, str]  # parameter name -> its expression
    reads: dict[str, Any]  # data key read by the expressions -> its current value


def _names_read(expression: str) -> set[str]:
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError:
        return set()
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}


def _ready_service_task(wf: Any, task_id: str) -> Any:
    task = find_task(wf, task_id)
    if task.state != TaskState.READY or not is_service(task):
        raise Conflict(f"service task {task.task_spec.bpmn_id} is not waiting to run any more")
    return task


def service_inputs(spec_json: str, state_json: str, task_id: str) -> ServiceInputs:
    wf = load_workflow(spec_json, state_json, AppScriptEngine())
    task = _ready_service_task(wf, task_id)
    spec = task.task_spec
    parameters = {name: str(param.get("value", "")) for name, param in (spec.operation_params or {}).items()}
    read = set().union(*(_names_read(expr) for expr in parameters.values())) if parameters else set()
    return ServiceInputs(bpmn_id=spec.bpmn_id, name=spec.bpmn_name or spec.bpmn_id, operator=spec.operation_name,
                         parameters=parameters, reads={key: task.data[key] for key in sorted(read) if key in task.data})


def edit_service_inputs(spec_json: str, state_json: str, task_id: str, changes: dict[str, Any],
                        now: datetime) -> InstanceState:
    """Set data keys the failed service task reads (and only those) on that task; nothing runs."""
    with engine_time(now):
        wf = load_workflow(spec_json, state_json, AppScriptEngine())
        task = _ready_service_task(wf, task_id)
        readable = set().union(*(_names_read(str(p.get("value", "")))
                                 for p in (task.task_spec.operation_params or {}).values()))
        unknown = sorted(set(changes) - (readable & set(task.data)))
        if unknown:
            raise InvalidData(f"{task.task_spec.bpmn_id} does not read {', '.join(unknown)}")
        task.data.update(changes)
        return describe(wf)


def cancel(spec_json: str, state_json: str, now: datetime) -> InstanceState:
    """End the instance: every unfinished task is cancelled."""
    with engine_time(now):
        wf = load_workflow(spec_json, state_json, AppScriptEngine())
        wf.cancel()
        return describe(wf)
