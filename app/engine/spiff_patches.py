"""The two places where we change SpiffWorkflow 3.2 itself, each pinned to that version (a unit test fails on an
upgrade, so both are looked at again then).

1. The caller decides what "now" is for SpiffWorkflow's timers (tests inject a clock; production passes real time).
SpiffWorkflow reads `datetime.now(timezone.utc)` inside its timer module. We replace that module's `datetime` name
with a subclass whose `now()` answers from a context variable, so each thread/operation sees its own clock. Outside
`engine_time` there is no "now" for the engine at all: asking is a programming error, never a silent wall-clock read.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, tzinfo

from SpiffWorkflow.bpmn.specs.event_definitions import timer as _timer_module
from SpiffWorkflow.bpmn.util.task import BpmnTaskIterator
from SpiffWorkflow.util.task import TaskIterator

PATCHED_VERSION = "3.2.0"  # the SpiffWorkflow these patches were written for and checked against

_NOW: ContextVar[datetime | None] = ContextVar("rf_engine_now", default=None)


class _ClockedDatetime(datetime):
    @classmethod
    def now(cls, tz: tzinfo | None = None) -> datetime:  # type: ignore[override]
        fixed = _NOW.get()
        if fixed is None:
            raise RuntimeError("the engine asked for the time outside engine_time(now): pass the application's clock")
        return fixed.astimezone(tz) if tz is not None else fixed.astimezone(UTC).replace(tzinfo=None)


_timer_module.datetime = _ClockedDatetime


@contextmanager
def engine_time(now: datetime) -> Iterator[None]:
    if now.tzinfo is None:
        raise ValueError("engine time must be timezone-aware")
    token = _NOW.set(now)
    try:
        yield
    finally:
        _NOW.reset(token)


# 2. SpiffWorkflow 3.2 stops iterating the task tree at depth 1000, so a long rework loop (fulfil -> test -> fail ...)
# silently stalls after a few hundred rounds. Lift the cap for every iterator; iteration is not recursive.
UNLIMITED_DEPTH = 10**9
TaskIterator.__init__.__defaults__ = (None, UNLIMITED_DEPTH, True, None)
BpmnTaskIterator.__init__.__defaults__ = (None, UNLIMITED_DEPTH, True, False, None)
