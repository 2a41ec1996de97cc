"""Running instances: start, complete a human task, run a service task, fire due timers.

Every operation loads the instance from (spec JSON of its definition version + its own state JSON), acts, and
serialises it again, so a save/load happens between every step. Service tasks are marked `manual` at compile time,
so SpiffWorkflow's engine steps stop in front of them and the worker runs them outside the web request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.service_task import ServiceTask as ServiceTaskMixin
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException, WorkflowException
from SpiffWorkflow.util.task import TaskState

from app.engine.scripts import AppScriptEngine, ServiceCaller
from app.engine.serialization import SERIALIZER, load_workflow, specs_of, state_json_of
from app.engine.spiff_patches import engine_time
from app.errors import Conflict, EngineError, NotFound


@dataclass(frozen=True)
class HumanTask:
    task_id: str
    bpmn_id: str
    name: str
    process_id: str
    lane: str | None
    form_schema: str | None
    ui_schema: str | None
    instructions: str | None
    documentation: str | None
    assignee_variable: str | None
    data: dict[str, Any]
    pauses_sla: bool = False  # property slaClock = paused: the request waits on the customer (or the schedule)
    waits_on: str | None = None  # property waitsOn (e.g. "schedule"): completed from outside the inbox


@dataclass(frozen=True)
class ServiceCall:
    task_id: str
    bpmn_id: str
    name: str
    operator: str
    retries: int | None


@dataclass
class InstanceState:
    state_json: str
    serializer_version: str
    completed: bool
    human_tasks: list[HumanTask]
    service_calls: list[ServiceCall]
    next_timer_at: datetime | None
    path: list[str]
    data: dict[str, Any]
    fired_timers: list[str] = field(default_factory=list)
    service_result: dict[str, Any] | None = None


def tasks_in(wf: BpmnWorkflow, state: int | None = None) -> list[Any]:
    """Every task of the instance and its subprocesses (optionally in `state`), without walking the tree."""
    found = [task for workflow in [wf, *wf.subprocesses.values()] for task in workflow.tasks.values()]
    return found if state is None else [task for task in found if task.state & state]


def is_service(task: Any) -> bool:
    return isinstance(task.task_spec, ServiceTaskMixin)


def timer_tasks(wf: BpmnWorkflow, waiting: list[Any] | None = None) -> list[tuple[Any, datetime]]:
    """The waiting timer tasks (among `waiting`, default: all waiting tasks) and when each is due."""
    timers = []
    for task in tasks_in(wf, TaskState.WAITING) if waiting is None else waiting:
        definition = getattr(task.task_spec, "event_definition", None)
        if isinstance(definition, TimerEventDefinition):
            value = task.internal_data.get("event_value")
            if isinstance(value, dict):
                value = value.get("next")
            if isinstance(value, str):
                due = TimerEventDefinition.get_datetime(value)  # no offset: the installation's zone
                timers.append((task, due))
    return timers


def _human_task(task: Any) -> HumanTask:
    spec = task.task_spec
    ext = getattr(spec, "extensions", {}) or {}
    props = ext.get("properties", {}) or {}
    return HumanTask(
        task_id=str(task.id), bpmn_id=spec.bpmn_id, name=spec.bpmn_name or spec.bpmn_id,
        process_id=task.workflow.spec.name, lane=spec.lane,
        form_schema=props.get("formJsonSchemaFilename"), ui_schema=props.get("formUiSchemaFilename"),
        instructions=ext.get("instructionsForEndUser"), documentation=spec.documentation,
        assignee_variable=props.get("assigneeVariable"), data=dict(task.data),
        pauses_sla=str(props.get("slaClock", "")).strip().lower() == "paused",
        waits_on=str(props["waitsOn"]).strip().lower() or None if props.get("waitsOn") else None,
    )


def path_taken(wf: BpmnWorkflow) -> list[str]:
    done = [t for t in tasks_in(wf, TaskState.COMPLETED) if t.task_spec.bpmn_id]
    done.sort(key=lambda t: t.last_state_change)
    return [t.task_spec.bpmn_id for t in done]


def current_data(wf: BpmnWorkflow, ready: list[Any], waiting: list[Any]) -> dict[str, Any]:
    """The instance's data as shown: the first ready task's, else the first waiting event's (a timer inside a
    called process holds what that process recorded; the call activity around it holds only what it was given),
    else the first started task's, else the last completed task's."""
    frontier = ready or [t for t in waiting if t.state == TaskState.WAITING] or waiting
    return dict(frontier[0].data) if frontier else dict(wf.last_task.data if wf.last_task else wf.data)


def _describe(wf: BpmnWorkflow, fired: list[str] | None = None) -> InstanceState:
    state_json = state_json_of(wf)
    ready = tasks_in(wf, TaskState.READY)
    humans = [_human_task(t) for t in ready if t.task_spec.manual and not is_service(t)]
    services = [ServiceCall(str(t.id), t.task_spec.bpmn_id, t.task_spec.bpmn_name or t.task_spec.bpmn_id,
                            t.task_spec.operation_name, t.task_spec.retries) for t in ready if is_service(t)]
    timers = timer_tasks(wf)
    completed = wf.is_completed()
    waiting = tasks_in(wf, TaskState.WAITING | TaskState.STARTED)
    data = current_data(wf, ready, waiting)
    if not completed and not ready and not waiting:
        raise EngineError("the instance has stopped: nothing is ready or waiting, yet it is not complete")
    return InstanceState(
        state_json=state_json, serializer_version=SERIALIZER.VERSION, completed=completed, human_tasks=humans,
        service_calls=services, next_timer_at=min((due for _, due in timers), default=None), path=path_taken(wf),
        data=data, fired_timers=fired or [],
    )


def advance(wf: BpmnWorkflow) -> list[str]:
    """Run engine steps (never service tasks) and fire due timers; return the ids of timers that fired."""
    before = {t.id: t.task_spec.bpmn_id for t, _ in timer_tasks(wf)}
    try:
        wf.do_engine_steps()  # ends with refresh_timers(); run again while that readied engine work
        while any(not t.task_spec.manual for t in tasks_in(wf, TaskState.READY)):
            wf.do_engine_steps()
    except SpiffWorkflowException as err:
        raise engine_error(err) from err
    completed = {t.id for t in tasks_in(wf, TaskState.COMPLETED)}
    return [bpmn_id for task_id, bpmn_id in before.items() if task_id in completed]  # not merely withdrawn


def engine_error(err: SpiffWorkflowException) -> EngineError:
    task = getattr(err, "task", None)
    where = f" at {task.task_spec.bpmn_id}" if task is not None and task.task_spec.bpmn_id else ""
    line = getattr(err, "line_number", None)
    return EngineError(f"engine error{where}{f' (line {line})' if line else ''}: {err}")


def start(spec_json: str, data: dict[str, Any], now: datetime) -> InstanceState:
    with engine_time(now):
        wf = load_workflow(spec_json, None, AppScriptEngine())
        wf.get_tasks(state=TaskState.READY)[0].data.update(data)
        fired = advance(wf)
        return _describe(wf, fired)


def find_task(wf: BpmnWorkflow, task_id: str) -> Any:
    """The task with this id in the loaded workflow, else NotFound."""
    try:
        task = wf.get_task_from_id(UUID(task_id))
    except (ValueError, WorkflowException, KeyError):
        task = None
    if task is None:
        raise NotFound(f"no task {task_id} in this instance")
    return task


def complete_human_task(spec_json: str, state_json: str, task_id: str, data: dict[str, Any],
                        now: datetime) -> InstanceState:
    with engine_time(now):
        wf = load_workflow(spec_json, state_json, AppScriptEngine())
        task = find_task(wf, task_id)
        if task.state != TaskState.READY or not task.task_spec.manual or is_service(task):
            raise Conflict(f"task {task.task_spec.bpmn_name or task.task_spec.bpmn_id} is not open any more")
        task.data.update(data)
        try:
            task.run()
        except SpiffWorkflowException as err:
            raise engine_error(err) from err
        fired = advance(wf)
        return _describe(wf, fired)


def run_service_task(spec_json: str, state_json: str, task_id: str, caller: ServiceCaller,
                     now: datetime) -> InstanceState:
    """Run one ready service task through `caller(operator, params, idempotency_key)`; its exceptions propagate."""
    with engine_time(now):
        wf = load_workflow(spec_json, state_json, AppScriptEngine(caller))
        task = find_task(wf, task_id)
        if task.state != TaskState.READY or not is_service(task):
            raise Conflict(f"service task {task.task_spec.bpmn_id} is not ready")
        try:
            task.run()
        except SpiffWorkflowException as err:
            raise engine_error(err) from err
        result = task.data.get(task.task_spec.result_variable)
        fired = advance(wf)
        state = _describe(wf, fired)
        state.service_result = result if isinstance(result, dict) else {"value": result}
        return state


def fire_due_timers(spec_json: str, state_json: str, now: datetime) -> InstanceState:
    with engine_time(now):
        wf = load_workflow(spec_json, state_json, AppScriptEngine())
        fired = advance(wf)
        return _describe(wf, fired)


def prepare_spec(spec_json: str) -> None:
    """Restore a version's spec now (it is kept: `serialization.specs_of`), not on the first request that needs it."""
    specs_of(spec_json)


def inspect(spec_json: str, state_json: str) -> InstanceState:
    wf = load_workflow(spec_json, state_json, AppScriptEngine())
    return _describe(wf)


def describe(wf: BpmnWorkflow) -> InstanceState:
    """What the services need to know about a loaded workflow (for engine modules beside this one)."""
    return _describe(wf)
