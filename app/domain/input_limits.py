"""Bounds on what users type, so that no input can reach a database or the interpreter outside its range: record
numbers (request ids, versions, steps, job ids) are whole numbers that fit the database's INTEGER column, and JSON
given by a user (`rf … --data`, a form's JSON widget, a task's data) is nested at most `MAX_JSON_DEPTH` deep.

Pure: callers turn the `None`/`JsonTooDeep` answers into their own 4xx message or exit code.
"""

from __future__ import annotations

import json
from typing import Any

MAX_RECORD_NUMBER = 2**31 - 1  # the largest value of an SQL INTEGER column (ids, version numbers, steps)
MAX_JSON_DEPTH = 64  # far deeper than any form or request needs; far below the interpreter's recursion limit


def record_number(text: str | None) -> int | None:
    """`text` as a record number 1..MAX_RECORD_NUMBER (ASCII digits only, blanks around allowed), else None."""
    digits = (text or "").strip()
    if not digits or len(digits) > 10 or not (digits.isascii() and digits.isdigit()):
        return None
    number = int(digits)
    return number if 1 <= number <= MAX_RECORD_NUMBER else None


class JsonTooDeep(ValueError):
    """JSON nested deeper than MAX_JSON_DEPTH (refused before anything recurses through it)."""

    def __init__(self, limit: int = MAX_JSON_DEPTH) -> None:
        super().__init__(f"nested more than {limit} levels deep")
        self.limit = limit


def json_depth(value: Any) -> int:
    """How deeply lists and objects nest in `value` (a scalar is 0, [] is 1); iterative, so any depth is safe."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        else:
            deepest = max(deepest, depth)
            continue
        deepest = max(deepest, depth + 1)
        stack.extend((child, depth + 1) for child in children)
    return deepest


def check_json_depth(value: Any, limit: int = MAX_JSON_DEPTH) -> Any:
    """`value` itself when it nests at most `limit` deep; else JsonTooDeep."""
    if json_depth(value) > limit:
        raise JsonTooDeep(limit)
    return value


def loads(text: str | bytes, limit: int = MAX_JSON_DEPTH) -> Any:
    """`json.loads` that refuses deep nesting with JsonTooDeep (a ValueError) instead of a RecursionError."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise JsonTooDeep(limit) from None
    return check_json_depth(value, limit)
