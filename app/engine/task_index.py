"""Keeping a replay linear: an index of each workflow's unfinished tasks.

SpiffWorkflow walks an instance's whole task tree to find its ready tasks (every engine step) and its waiting tasks
(every task completion). A task tree only grows (a rework loop adds its tasks again on every round), so replaying
a long history that way costs O(events x tree size). During a replay every workflow (the instance and each
subprocess) keeps the set of its tasks that are not finished yet, and answers those two questions from it, in the
same depth-first order the tree walk gives; nothing else about the engine changes. `indexed=False` replays with
SpiffWorkflow's own walks (the tests check both give the same result).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState

from app.engine.runtime import engine_error, timer_tasks

_FINISHED = TaskState.FINISHED_MASK


class _TaskIndex(dict):  # type: ignore[type-arg]
    """A workflow's `tasks` dict that also keeps the tasks that may still be unfinished (finished is final)."""

    def __init__(self, tasks: dict[UUID, Any]) -> None:
        super().__init__(tasks)
        self.live: dict[UUID, Any] = {key: task for key, task in tasks.items() if not task.state & _FINISHED}

    def __setitem__(self, key: UUID, task: Any) -> None:
        super().__setitem__(key, task)
        self.live[key] = task

    def __delitem__(self, key: UUID) -> None:
        super().__delitem__(key)
        self.live.pop(key, None)

    def pop(self, key: UUID, *default: Any) -> Any:
        self.live.pop(key, None)
        return super().pop(key, *default)

    def in_state(self, state: int) -> list[Any]:
        found = []
        for key, task in list(self.live.items()):
            if task.state & _FINISHED:
                del self.live[key]
            elif task.state & state:
                found.append(task)
        return found


def _workflows(wf: BpmnWorkflow) -> list[Any]:
    return [wf, *wf.subprocesses.values()]


def indexed(wf: BpmnWorkflow, state: int) -> list[Any]:
    """Like runtime.tasks_in(wf, state) for unfinished states, from the index (same order: instance, subprocesses)."""
    return [task for workflow in _workflows(wf) for task in workflow.tasks.in_state(state)]


def _tree_key(task: Any) -> tuple[int, ...]:
    """Position of a task in SpiffWorkflow's depth-first walk (a subprocess's tree comes before the children of
    the task that runs it)."""
    parts: list[int] = []
    while True:
        parent = task.parent
        if parent is None:
            parent_id = getattr(task.workflow, "parent_task_id", None)
            if parent_id is None:
                break
            parts.append(-1)
            task = task.workflow.top_workflow.get_task_from_id(parent_id)
            continue
        parts.append(parent._children.index(task.id))
        task = parent
    return tuple(reversed(parts))


def _in_tree_order(tasks: list[Any]) -> list[Any]:
    return tasks if len(tasks) < 2 else sorted(tasks, key=_tree_key)


def _descends_from(workflow: Any, ancestor: Any) -> bool:
    while workflow is not ancestor:
        parent_id = getattr(workflow, "parent_task_id", None)
        if parent_id is None:
            return False
        workflow = workflow.top_workflow.get_task_from_id(parent_id).workflow
    return True


def install_index(top: BpmnWorkflow) -> None:
    def install(workflow: Any) -> None:
        original_get_tasks = workflow.get_tasks
        workflow.tasks = _TaskIndex(workflow.tasks)

        def get_tasks(first_task: Any = None, **kwargs: Any) -> list[Any]:
            # what BpmnTaskIterator(state=READY) yields: the ready tasks of this workflow and of every subprocess
            # under it, depth first
            if first_task is not None or set(kwargs) != {"state"} or kwargs["state"] != TaskState.READY:
                return list(original_get_tasks(first_task, **kwargs))
            found = [task for sub in _workflows(top) if _descends_from(sub, workflow)
                     for task in sub.tasks.in_state(TaskState.READY)]
            return _in_tree_order(found)

        def update_waiting_tasks() -> None:
            # Workflow.update_waiting_tasks: _update every WAITING task of this workflow (not its subprocesses),
            # depth first; a task that becomes WAITING meanwhile is visited when it comes later in the walk
            done: set[UUID] = set()
            previous: Any = None
            while True:
                waiting = [t for t in workflow.tasks.in_state(TaskState.WAITING) if t.id not in done]
                if not waiting:
                    return
                if previous is None and len(waiting) == 1:
                    task = waiting[0]
                else:
                    last = None if previous is None else _tree_key(previous)
                    keyed = [(_tree_key(t), t) for t in waiting]
                    later = [pair for pair in keyed if last is None or pair[0] > last]
                    if not later:
                        return
                    task = min(later, key=lambda pair: pair[0])[1]
                done.add(task.id)
                previous = task
                task.task_spec._update(task)

        workflow.get_tasks = get_tasks
        workflow.update_waiting_tasks = update_waiting_tasks

    install(top)
    for sub in top.subprocesses.values():
        install(sub)
    original_create = top.create_subprocess

    def create_subprocess(my_task: Any, spec_name: str) -> Any:
        sub = original_create(my_task, spec_name)
        install(sub)
        return sub

    top.create_subprocess = create_subprocess


def advance_indexed(wf: BpmnWorkflow) -> list[str]:
    """runtime.advance, answering its own questions about ready and waiting tasks from the index."""
    before = [task for task, _ in timer_tasks(wf, indexed(wf, TaskState.WAITING))]
    try:
        wf.do_engine_steps()
        while any(not t.task_spec.manual for t in indexed(wf, TaskState.READY)):
            wf.do_engine_steps()
    except SpiffWorkflowException as err:
        raise engine_error(err) from err
    return [task.task_spec.bpmn_id for task in before
            if task.state == TaskState.COMPLETED and task.workflow.tasks.get(task.id) is task]
