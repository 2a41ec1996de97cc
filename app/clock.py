"""The application's notion of now: the only module that reads the wall clock.

Everything that writes or compares a timestamp asks the one `Clock` the composition root built: `SystemClock` in
production, `RunningClock` when `RF_CLOCK_START` sets another start (tests, demos, training on a chosen date), and
tests inject a `FixedClock` they move by hand.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class RunningClock:
    """Starts at `start` when built and runs forward at the wall clock's pace (time.monotonic: never jumps back)."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("the clock's start must carry a UTC offset")
        self._start = start.astimezone(UTC)
        self._began = time.monotonic()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=time.monotonic() - self._began)


def parse_instant(text: str) -> datetime:
    """An ISO 8601 date and time with a UTC offset (`2026-12-01T15:00:00+00:00` or `…Z`), else ValueError."""
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 date and time") from None
    if when.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset (write e.g. 2026-12-01T15:00:00Z)")
    return when.astimezone(UTC)


class FixedClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime) -> None:
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta

    def set(self, when: datetime) -> None:
        self._now = when
