"""Restricted evaluation of BPMN scripts, conditions and expressions, and the service-call bridge.

SpiffWorkflow evaluates them with plain exec/eval and full builtins. Here every script and expression is compiled
with RestrictedPython's compile_restricted_* (which refuses dunder access, imports and the like at compile time)
and runs with safe builtins and guards only.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from functools import lru_cache
from types import CodeType
from typing import Any

from RestrictedPython.compile import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safe_builtins,
    safer_getattr,
)
from RestrictedPython.Limits import limited_builtins
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment

ServiceCaller = Callable[[str, dict[str, Any], str], dict[str, Any]]


class ScriptRejected(ValueError):
    """A script or expression does not compile under the restricted engine."""


def _inplacevar(op: str, x: Any, y: Any) -> Any:
    ops: dict[str, Callable[[Any, Any], Any]] = {
        "+=": lambda a, b: a + b, "-=": lambda a, b: a - b, "*=": lambda a, b: a * b,
        "/=": lambda a, b: a / b, "//=": lambda a, b: a // b, "%=": lambda a, b: a % b,
    }
    if op not in ops:
        raise ScriptRejected(f"operator {op} is not allowed")
    return ops[op](x, y)


def _builtins() -> dict[str, Any]:
    allowed = dict(safe_builtins)
    allowed.update(limited_builtins)
    for name in ("min", "max", "sum", "any", "all", "enumerate", "sorted", "reversed", "dict", "list", "map", "filter"):
        allowed[name] = __builtins__[name] if isinstance(__builtins__, dict) else getattr(__builtins__, name)
    return allowed


RESTRICTED_GLOBALS: dict[str, Any] = {
    "__builtins__": _builtins(),
    "_getattr_": safer_getattr,
    "_getitem_": default_guarded_getitem,
    "_getiter_": default_guarded_getiter,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_write_": full_write_guard,
    "_inplacevar_": _inplacevar,
}


@lru_cache(maxsize=2048)
def compile_expression(source: str) -> CodeType:
    result = compile_restricted_eval(source.strip(), "<expression>")
    if result.errors or result.code is None:
        raise ScriptRejected("; ".join(result.errors) or "does not compile")
    return result.code


@lru_cache(maxsize=1024)
def compile_script(source: str) -> CodeType:
    result = compile_restricted_exec(source, "<script>")
    if result.errors or result.code is None:
        raise ScriptRejected("; ".join(result.errors) or "does not compile")
    return result.code


class RestrictedEnvironment(TaskDataEnvironment):  # type: ignore[misc]  # SpiffWorkflow ships no type information
    def __init__(self) -> None:
        super().__init__(environment_globals=RESTRICTED_GLOBALS)

    def evaluate(self, expression: str, context: dict[str, Any], external_context: dict[str, Any] | None = None) -> Any:
        code = compile_expression(expression)
        scope = copy.copy(self.globals)
        scope.update(external_context or {})
        scope.update(context)
        return eval(code, scope)  # noqa: S307 - restricted bytecode with guarded globals

    def execute(self, script: str, context: dict[str, Any], external_context: dict[str, Any] | None = None) -> bool:
        code = compile_script(script)
        self.check_for_overwrite(context, external_context or {})
        context.update(copy.copy(self.globals))
        context.update(external_context or {})
        try:
            exec(code, context)  # noqa: S102 - restricted bytecode with guarded globals
        finally:
            self._remove_globals_and_functions_from_context(context, external_context)
            for key in [k for k in context if k.startswith("_")]:
                context.pop(key)
        return True


class AppScriptEngine(PythonScriptEngine):  # type: ignore[misc]  # SpiffWorkflow ships no type information
    """Restricted scripts, plus a call_service that passes the real handler error through.

    SpiffWorkflow 3.2's PythonScriptEngine.call_service masks every handler exception as
    `NameError: name 'script' is not defined`; this override lets the caller's exception propagate unchanged.
    """

    def __init__(self, service_caller: ServiceCaller | None = None) -> None:
        super().__init__(environment=RestrictedEnvironment())
        self.service_caller = service_caller

    def call_service(self, task: Any, **kwargs: Any) -> str:
        if self.service_caller is None:
            raise RuntimeError("service tasks run only in the worker")
        params = {name: spec["value"] for name, spec in kwargs["operation_params"].items()}
        result = self.service_caller(kwargs["operation_name"], params, str(task.id))
        return json.dumps(result)
