"""The restricted script language, and the child process that runs it under a memory limit.

Two uses of one module:

* imported (by `app.engine.scripts` and the deploy checks): the restricted builtins, guards and compilers;
* run as a program (`python -I script_host.py <memory_mb>`, started by `app.engine.sandbox`): a small evaluator that
  reads one request at a time from stdin (a 4-byte length, then JSON: mode, source, task data, external context),
  runs it and writes the reply the same way. It caps its own address space at its baseline plus `<memory_mb>`
  (RLIMIT_AS), so a memory bomb ends in a MemoryError inside the child and never grows the application. The parent
  enforces the time limit by killing the child.

As a program this module imports only the standard library and RestrictedPython (never `app`, never SpiffWorkflow),
so a child starts in well under 100 ms.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import struct
import sys
import time
import traceback
from collections.abc import Callable
from functools import lru_cache
from types import CodeType, FunctionType, ModuleType
from typing import Any, BinaryIO

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

SCRIPT_FILE = "<script>"
EXPRESSION_FILE = "<expression>"
# Exceptions that are not `Exception`s end threads and processes (SystemExit, KeyboardInterrupt) or drive generator
# shutdown (GeneratorExit): a script can neither name nor raise them.
NOT_EXCEPTIONS = frozenset({"BaseException", "SystemExit", "KeyboardInterrupt", "GeneratorExit"})
FRAME = struct.Struct("!I")
READY = b"R"


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
    allowed = {name: value for name, value in safe_builtins.items() if name not in NOT_EXCEPTIONS}
    allowed.update(limited_builtins)
    import builtins

    for name in ("min", "max", "sum", "any", "all", "enumerate", "sorted", "reversed", "dict", "list", "map", "filter"):
        allowed[name] = getattr(builtins, name)
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
    result = compile_restricted_eval(source.strip(), EXPRESSION_FILE)
    if result.errors or result.code is None:
        raise ScriptRejected("; ".join(result.errors) or "does not compile")
    return result.code


@lru_cache(maxsize=1024)
def compile_script(source: str) -> CodeType:
    result = compile_restricted_exec(source, SCRIPT_FILE)
    if result.errors or result.code is None:
        raise ScriptRejected("; ".join(result.errors) or "does not compile")
    return result.code


def task_data_of(scope: dict[str, Any], external: dict[str, Any]) -> dict[str, Any]:
    """What a script leaves in the task data: its variables, less globals, external context and functions."""
    return {key: value for key, value in scope.items()
            if key not in RESTRICTED_GLOBALS and key not in external and not key.startswith("_")
            and not isinstance(value, FunctionType | ModuleType | type)}


def _line_of(err: BaseException) -> int | None:
    if isinstance(err, SyntaxError):
        return err.lineno
    line = None
    for frame in traceback.extract_tb(err.__traceback__):
        if frame.filename in (SCRIPT_FILE, EXPRESSION_FILE):
            line = frame.lineno
    return line


def evaluate_request(request: dict[str, Any]) -> dict[str, Any]:
    """Run one request; every outcome, BaseException included, becomes a reply (never an exit)."""
    context: dict[str, Any] = request.get("context") or {}
    external: dict[str, Any] = request.get("external") or {}
    started = time.monotonic()
    reply: dict[str, Any]
    try:
        if request["mode"] == "eval":
            scope = dict(RESTRICTED_GLOBALS)
            scope.update(external)
            scope.update(context)
            reply = {"ok": True, "value": eval(compile_expression(request["source"]), scope)}  # noqa: S307
        else:
            scope = dict(context)
            scope.update(RESTRICTED_GLOBALS)
            scope.update(external)
            exec(compile_script(request["source"]), scope)  # noqa: S102 - restricted bytecode, guarded globals
            reply = {"ok": True, "context": task_data_of(scope, external)}
    except MemoryError:
        reply = {"ok": False, "kind": "memory"}
    except BaseException as err:  # noqa: BLE001 - a script's failure is reported, whatever it raised
        reply = {"ok": False, "kind": "error", "type": type(err).__name__, "message": str(err)[:2000],
                 "line": _line_of(err)}
    reply["seconds"] = time.monotonic() - started
    return reply


def encode(reply: dict[str, Any]) -> bytes:
    try:
        return json.dumps(reply, allow_nan=True).encode()
    except (TypeError, ValueError, RecursionError) as err:
        return json.dumps({"ok": False, "kind": "error", "type": "TypeError", "line": None,
                           "message": f"the script left a value that is not JSON in the task data ({err})",
                           "seconds": reply.get("seconds", 0.0)}).encode()
    except MemoryError:
        return json.dumps({"ok": False, "kind": "memory", "seconds": reply.get("seconds", 0.0)}).encode()


def _read_exact(stream: BinaryIO, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _cap_memory(megabytes: int) -> None:
    with open("/proc/self/statm") as statm:
        baseline = int(statm.read().split()[0]) * resource.getpagesize()
    limit = baseline + megabytes * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def serve(megabytes: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when a child ends
    requests = os.fdopen(os.dup(0), "rb")
    replies = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)  # nothing a script prints can reach the protocol stream
    encode(evaluate_request({"mode": "exec", "source": "x = [1, 2]\ny = sum(x)", "context": {}}))  # warm up
    _cap_memory(megabytes)
    replies.write(READY)
    replies.flush()
    while True:
        header = _read_exact(requests, FRAME.size)
        if header is None:
            return  # the parent closed the pipe: it ended or dropped this child
        body = _read_exact(requests, FRAME.unpack(header)[0])
        if body is None:
            return
        try:
            reply = encode(evaluate_request(json.loads(body)))
        except MemoryError:
            reply = json.dumps({"ok": False, "kind": "memory", "seconds": 0.0}).encode()
        replies.write(FRAME.pack(len(reply)) + reply)
        replies.flush()


if __name__ == "__main__":
    serve(int(sys.argv[1]))
