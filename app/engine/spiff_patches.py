"""The three places where we change SpiffWorkflow 3.2 itself, each pinned to that version (a unit test fails on an
upgrade, so they are looked at again then).

1. The caller decides what "now" is for SpiffWorkflow's timers (tests inject a clock; production passes real time).
SpiffWorkflow reads `datetime.now(timezone.utc)` inside its timer module. We replace that module's `datetime` name
with a subclass whose `now()` answers from a context variable, so each thread/operation sees its own clock. Outside
`engine_time` there is no "now" for the engine at all: asking is a programming error, never a silent wall-clock read.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from SpiffWorkflow.bpmn.specs.event_definitions import timer as _timer_module
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimeDateEventDefinition, TimerEventDefinition
from SpiffWorkflow.bpmn.util.task import BpmnTaskIterator
from SpiffWorkflow.util.task import TaskIterator

from app.domain.local_time import DEFAULT_ZONE, business_start, local_wall_time, zone

PATCHED_VERSION = "3.2.0"  # the SpiffWorkflow these patches were written for and checked against

_NOW: ContextVar[datetime | None] = ContextVar("rf_engine_now", default=None)


class _AnyDatetime(type):
    """Keeps SpiffWorkflow's `isinstance(value, datetime)` checks true for every datetime, not only ours (a repeating
    interval with a start or end date, `R3/2026-12-01T08:00:00Z/PT1H`, is told apart from one without by them)."""

    def __instancecheck__(cls, instance: object) -> bool:
        return isinstance(instance, datetime)


class _ClockedDatetime(datetime, metaclass=_AnyDatetime):
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


# 3. A timer date without a UTC offset. SpiffWorkflow reads one in the server machine's zone (fixed when its module
# is imported), so the same diagram fired at different moments on different machines. We read it in the
# installation's zone (RF_TIME_ZONE): a bare date (`2026-12-10`, what a date field of a form holds) is the start of
# that date's business day there (08:00), a date and time without an offset (`2026-12-10T09:30`) is wall-clock time
# there, and a value with an offset is exact, as before. A time-date timer stores the instant it computed (ISO 8601
# with its offset) when it starts waiting, so its due time never moves afterwards, even if the zone is changed.
_TIMER_ZONE: list[ZoneInfo] = [zone(DEFAULT_ZONE)]


def configure_timer_zone(name: str) -> None:
    """The installation's zone for dates and times written without an offset (the composition root calls this)."""
    _TIMER_ZONE[0] = zone(name)


def timer_zone() -> ZoneInfo:
    return _TIMER_ZONE[0]


def _timer_datetime(expression: str) -> datetime:
    text = expression.strip()
    if len(text) == 10:
        try:
            return business_start(date.fromisoformat(text), _TIMER_ZONE[0])
        except ValueError:
            pass
    when = datetime.fromisoformat(text)
    if when.tzinfo is None:
        return local_wall_time(when, _TIMER_ZONE[0])
    return when.astimezone(UTC)


_original_time_date_has_fired = TimeDateEventDefinition.has_fired


def _time_date_has_fired(self: TimeDateEventDefinition, my_task: Any) -> bool:
    if my_task._get_internal_data("event_value") is None:
        value = my_task.workflow.script_engine.evaluate(my_task, self.expression)
        if isinstance(value, str):
            try:
                found = TimerEventDefinition.parse_time_or_duration(value)
            except Exception:  # noqa: BLE001 - left as it is: SpiffWorkflow raises its own error for it below
                found = None
            if isinstance(found, datetime):
                value = found.isoformat()
        my_task._set_internal_data(event_value=value)
    fired: bool = _original_time_date_has_fired(self, my_task)
    return fired


TimerEventDefinition.get_datetime = staticmethod(_timer_datetime)
TimeDateEventDefinition.has_fired = _time_date_has_fired
