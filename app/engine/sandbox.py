"""Bounded evaluation of scripts and expressions: each runs in a separate evaluator process with a wall-time and a
memory limit.

Why a process and not a trace function in this one: a trace/deadline check only runs between Python bytecodes, so
it cannot stop one long C-level operation (`2 ** 10**9`, a multiplication of two huge ints, `sorted` of a
million-item list) and it measures no memory; guarding every such operation in RestrictedPython's transformer is a
list that is never complete. A child process is stopped by the kernel: `RLIMIT_AS` turns a memory bomb into a
MemoryError inside the child, and a child that overruns its time is killed (SIGKILL), whatever it was doing. It works
from any thread (the in-process worker runs in one), on any database, and the application's own memory never grows.

The cost is one round trip per evaluation (JSON over a pipe, about 0.1 ms for a condition), see `bench/scripts.py`.
Evaluator processes are kept in a small pool per application process and reused; a killed one is replaced on the
next evaluation (about 50-100 ms to start). Values cross the boundary as JSON: task data must be JSON-native anyway
(it is saved as JSON after every step), so a tuple comes back as a list and a dict's keys as strings.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import os
import select
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.engine.script_host import FRAME, NOT_EXCEPTIONS, READY
from app.errors import AppError

HOST_PROGRAM = str(Path(__file__).with_name("script_host.py"))
DEFAULT_SECONDS = 2.0
DEFAULT_MEMORY_MB = 64
STARTUP_SECONDS = 30.0  # a cold start on a loaded machine; never counted against a script's limit
MAX_IDLE = 4


@dataclass(frozen=True)
class ScriptLimits:
    """Limits for the scripts of one engine operation (a start, a completion, a service task, a timer pass)."""

    seconds: float = DEFAULT_SECONDS  # total evaluation time of all scripts and expressions of one operation
    memory_mb: int = DEFAULT_MEMORY_MB  # what one evaluation may allocate above the evaluator's baseline


class ScriptLimitExceeded(AppError):
    """A script or expression ran longer, or used more memory, than its limit; it was stopped."""

    status = 422


class ScriptTimeLimit(ScriptLimitExceeded):
    pass


class ScriptMemoryLimit(ScriptLimitExceeded):
    pass


class ScriptFailed(Exception):  # noqa: N818 - reads as what happened
    """A script raised an error the parent cannot rebuild as the same built-in type."""


class _Host:
    """One evaluator child process."""

    def __init__(self, memory_mb: int) -> None:
        self.memory_mb = memory_mb
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and program, no shell
            [sys.executable, "-I", HOST_PROGRAM, str(memory_mb)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True)
        assert self.process.stdin is not None and self.process.stdout is not None
        self.stdin = self.process.stdin
        self.stdout_fd = self.process.stdout.fileno()
        if self._read(1, time.monotonic() + STARTUP_SECONDS) != READY:
            self.kill()
            raise RuntimeError("the script evaluator did not start")

    def _read(self, size: int, deadline: float) -> bytes | None:
        data = b""
        poller = select.poll()
        poller.register(self.stdout_fd, select.POLLIN | select.POLLHUP)
        while len(data) < size:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not poller.poll(remaining * 1000):
                return None
            chunk = os.read(self.stdout_fd, size - len(data))
            if not chunk:
                return None
            data += chunk
        return data

    def call(self, body: bytes, timeout: float) -> tuple[str, dict[str, Any] | None]:
        """('ok', reply) or ('timeout' | 'died', None)."""
        deadline = time.monotonic() + timeout
        try:
            self.stdin.write(FRAME.pack(len(body)) + body)
            self.stdin.flush()
        except (BrokenPipeError, OSError):
            return "died", None
        header = self._read(FRAME.size, deadline)
        if header is None:
            return ("timeout" if self.process.poll() is None else "died"), None
        payload = self._read(FRAME.unpack(header)[0], deadline)
        if payload is None:
            return ("timeout" if self.process.poll() is None else "died"), None
        return "ok", json.loads(payload)

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.process.kill()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()
        self.process.wait()


class _Pool:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.idle: list[_Host] = []
        self.pid = os.getpid()
        self.limits = ScriptLimits()

    def configure(self, limits: ScriptLimits) -> None:
        with self.lock:
            if limits == self.limits:  # every bootstrap configures: keep the warm evaluators when nothing changed
                return
            self.limits = limits
            stale, self.idle = self.idle, []
        for host in stale:
            host.kill()

    def _take(self) -> _Host:
        with self.lock:
            if self.pid != os.getpid():  # forked (a pre-forking server): the children belong to the parent
                self.idle, self.pid = [], os.getpid()
            while self.idle:
                host = self.idle.pop()
                if host.memory_mb == self.limits.memory_mb and host.process.poll() is None:
                    return host
                host.kill()
            memory_mb = self.limits.memory_mb
        return _Host(memory_mb)

    def _give_back(self, host: _Host) -> None:
        with self.lock:
            if len(self.idle) < MAX_IDLE and host.memory_mb == self.limits.memory_mb and self.pid == os.getpid():
                self.idle.append(host)
                return
        host.kill()

    def run(self, request: dict[str, Any], timeout: float) -> dict[str, Any]:
        body = json.dumps(request).encode()
        host = self._take()
        outcome, reply = host.call(body, timeout)
        if outcome == "ok" and reply is not None and reply.get("kind") != "memory":
            self._give_back(host)
            return reply
        host.kill()
        if outcome == "timeout":
            return {"ok": False, "kind": "timeout", "seconds": timeout}
        return {"ok": False, "kind": "memory", "seconds": 0.0}  # a child that dies mid-evaluation ran out of memory

    def close(self) -> None:
        with self.lock:
            hosts, self.idle = self.idle, []
        for host in hosts:
            host.kill()


POOL = _Pool()


def configure(limits: ScriptLimits) -> None:
    """Set the limits for this process (the composition root calls it with the settings)."""
    POOL.configure(limits)


def current_limits() -> ScriptLimits:
    return POOL.limits


def _rebuilt(reply: dict[str, Any]) -> Exception:
    name, message, line = str(reply.get("type", "Error")), str(reply.get("message", "")), reply.get("line")
    where = f" (line {line})" if line else ""
    kind = getattr(builtins, name, None)
    if (isinstance(kind, type) and issubclass(kind, Exception) and name not in NOT_EXCEPTIONS
            and not issubclass(kind, UnicodeError | OSError)):
        try:
            return kind(f"{message}{where}") if where else kind(message)
        except TypeError:
            pass
    return ScriptFailed(f"{name}: {message}{where}")


class Budget:
    """The script time of one engine operation: every evaluation draws on it; when it is spent, the next stops."""

    def __init__(self, limits: ScriptLimits | None = None) -> None:
        self.limits = limits or current_limits()
        self.spent = 0.0

    def _run(self, request: dict[str, Any], what: str) -> dict[str, Any]:
        remaining = self.limits.seconds - self.spent
        if remaining <= 0:
            raise ScriptTimeLimit(f"{what} was not run: the scripts of this step already used the "
                                  f"{self.limits.seconds:g} s limit")
        reply = POOL.run(request, remaining)
        self.spent += float(reply.get("seconds") or 0.0)
        if reply.get("ok"):
            return reply
        if reply.get("kind") == "timeout":
            self.spent = self.limits.seconds
            raise ScriptTimeLimit(f"{what} was stopped: it ran longer than the {self.limits.seconds:g} s script "
                                  "time limit")
        if reply.get("kind") == "memory":
            raise ScriptMemoryLimit(f"{what} was stopped: it needed more than the {self.limits.memory_mb} MB script "
                                    "memory limit")
        raise _rebuilt(reply)

    def evaluate(self, source: str, context: dict[str, Any], external: dict[str, Any] | None = None) -> Any:
        reply = self._run({"mode": "eval", "source": source, "context": context, "external": external or {}},
                          "an expression")
        return reply.get("value")

    def execute(self, source: str, context: dict[str, Any], external: dict[str, Any] | None = None) -> None:
        """Run a script; `context` (the task data) becomes what the script left in it."""
        reply = self._run({"mode": "exec", "source": source, "context": context, "external": external or {}},
                          "a script")
        context.clear()
        context.update(reply.get("context") or {})
