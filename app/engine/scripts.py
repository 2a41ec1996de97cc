"""Restricted, bounded evaluation of BPMN scripts, conditions and expressions, and the service-call bridge.

SpiffWorkflow evaluates them with plain exec/eval and full builtins. Here every script and expression is compiled
with RestrictedPython's compile_restricted_* (which refuses dunder access, imports and the like at compile time),
runs with safe builtins and guards only (no exception outside `Exception` is reachable), and runs in an evaluator
process under a wall-time and a memory limit (`app.engine.sandbox`). The time limit is a budget per engine operation:
all the scripts and expressions one start, completion, service task or timer pass evaluates share it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.exceptions import SpiffWorkflowException

from app.engine.sandbox import Budget, ScriptLimitExceeded, ScriptLimits
from app.engine.script_host import RESTRICTED_GLOBALS, ScriptRejected, compile_expression, compile_script

ServiceCaller = Callable[[str, dict[str, Any], str], dict[str, Any]]

__all__ = ["AppScriptEngine", "RestrictedEnvironment", "ScriptLimitExceeded", "ScriptRejected", "ServiceCaller",
           "compile_expression", "compile_script"]


class RestrictedEnvironment(TaskDataEnvironment):  # type: ignore[misc]  # SpiffWorkflow ships no type information
    def __init__(self, limits: ScriptLimits | None = None) -> None:
        super().__init__(environment_globals=RESTRICTED_GLOBALS)
        self.budget = Budget(limits)

    def evaluate(self, expression: str, context: dict[str, Any], external_context: dict[str, Any] | None = None) -> Any:
        compile_expression(expression)  # refused at once, without a round trip
        return self.budget.evaluate(expression, context, external_context)

    def execute(self, script: str, context: dict[str, Any], external_context: dict[str, Any] | None = None) -> bool:
        compile_script(script)
        self.check_for_overwrite(context, external_context or {})
        self.budget.execute(script, context, external_context)
        return True


def _limit_of(err: BaseException) -> ScriptLimitExceeded | None:
    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, ScriptLimitExceeded):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _at(task: Any, limit: ScriptLimitExceeded) -> ScriptLimitExceeded:
    spec = task.task_spec
    name = f"“{spec.bpmn_name}” ({spec.bpmn_id})" if spec.bpmn_name else str(spec.bpmn_id)
    message = str(limit)
    return type(limit)(f"{message[:1].upper()}{message[1:]} at {name}; nothing was saved. The process owner must "
                       "fix the diagram.")


class AppScriptEngine(PythonScriptEngine):  # type: ignore[misc]  # SpiffWorkflow ships no type information
    """Restricted, bounded scripts, plus a call_service that passes the real handler error through.

    SpiffWorkflow 3.2's PythonScriptEngine.call_service masks every handler exception as
    `NameError: name 'script' is not defined`; this override lets the caller's exception propagate unchanged.
    A script that hits its limit raises `ScriptLimitExceeded` (an `AppError`, 422) unwrapped, naming the element.
    """

    def __init__(self, service_caller: ServiceCaller | None = None, limits: ScriptLimits | None = None) -> None:
        super().__init__(environment=RestrictedEnvironment(limits))
        self.service_caller = service_caller

    def evaluate(self, task: Any, expression: str, external_context: dict[str, Any] | None = None) -> Any:
        try:
            return super().evaluate(task, expression, external_context)
        except SpiffWorkflowException as err:
            limit = _limit_of(err)
            if limit is not None:
                raise _at(task, limit) from None
            raise

    def execute(self, task: Any, script: str, external_context: dict[str, Any] | None = None) -> bool:
        try:
            return bool(super().execute(task, script, external_context))
        except SpiffWorkflowException as err:
            limit = _limit_of(err)
            if limit is not None:
                raise _at(task, limit) from None
            raise

    def call_service(self, task: Any, **kwargs: Any) -> str:
        if self.service_caller is None:
            raise RuntimeError("service tasks run only in the worker")
        params = {name: spec["value"] for name, spec in kwargs["operation_params"].items()}
        result = self.service_caller(kwargs["operation_name"], params, str(task.id))
        return json.dumps(result)
