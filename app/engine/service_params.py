"""The deploy check of a service task's parameters against its operator's declaration (handlers/parameters.py, the
same list the modeler's properties panel offers): every required parameter is there, none is unknown, and a
parameter whose value is a literal (not an expression read from the request's data) has the declared type.

A value is a Python expression evaluated when the task runs; only literals (`"text"`, `2.5`, `-1`, `True`,
`None`) can be checked before that. The findings name the parameter and say what to change in the modeler.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from typing import Any, Protocol


class Declared(Protocol):
    """One declared parameter of an operator (handlers.parameters.Parameter)."""

    @property
    def name(self) -> str: ...

    @property
    def type(self) -> str: ...

    @property
    def required(self) -> bool: ...


Declarations = Mapping[str, Iterable[Declared]]
_WORDS = {"str": "text", "float": "a number", "bool": "True or False"}
_EXAMPLES = {"str": '"Done" (quoted) or a variable name such as title', "float": "2.5 or a variable name such as "
             "estimated_hours", "bool": "True, False or a variable name"}
_MISSING = object()


def _literal(source: str) -> Any:
    """The value of a literal expression, or _MISSING when the value is computed (or not Python at all)."""
    try:
        node = ast.parse(source.strip(), mode="eval").body
    except SyntaxError:
        return _MISSING
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)) \
            and isinstance(node.operand, ast.Constant) and isinstance(node.operand.value, (int, float)):
        node = node.operand
    return node.value if isinstance(node, ast.Constant) else _MISSING


def _fits(value: Any, kind: str) -> bool:
    if value is None:  # None is "no value", which a handler treats like a missing optional parameter
        return True
    if kind == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "bool":
        return isinstance(value, bool)
    return isinstance(value, str)


def _kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return "True/False"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    return type(value).__name__


def parameter_findings(operator: str, params: Mapping[str, Any], declared: Declarations) -> list[str]:
    """What is wrong with a service task's parameters for `operator` (empty when nothing is, or when the operator
    declares nothing: an unknown operator is reported on its own)."""
    if operator not in declared:
        return []
    known = {p.name: p for p in declared[operator]}
    takes = ", ".join(f"{p.name} ({p.type}{'' if p.required else ', optional'})" for p in known.values())
    found: list[str] = []
    for name, spec in known.items():
        if spec.required and name not in params:
            found.append(f"service operator {operator!r} needs parameter {name!r} ({spec.type}), which is missing: "
                         f"add it in the properties panel (it takes {takes})")
    for name, given in params.items():
        if name not in known:
            found.append(f"service operator {operator!r} takes no parameter {name!r}: remove it or correct its name "
                         f"(it takes {takes})")
            continue
        spec = known[name]
        source = given.get("value") if isinstance(given, Mapping) else given
        if source is None or not str(source).strip():
            if spec.required:
                found.append(f"parameter {name!r} of service operator {operator!r} has no value: write "
                             f"{_EXAMPLES.get(spec.type, 'a value')}")
            continue
        value = _literal(str(source))
        if value is not _MISSING and not _fits(value, spec.type):
            found.append(f"parameter {name!r} of service operator {operator!r} takes "
                         f"{_WORDS.get(spec.type, spec.type)}, but its value {str(source).strip()} is "
                         f"{_kind_of(value)}: write {_EXAMPLES.get(spec.type, 'a value of that type')}")
    return found
