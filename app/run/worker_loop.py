"""The worker loop: a pass over due service tasks, timers, escalations and mail, then a pause; until stopped.

`rf worker` runs it in the foreground, `rf serve` in a thread beside the web server. A pass that fails is reported and
the next pass tries again: nothing one pass meets stops the loop, whatever it raises (BaseException included). Only
the operator's Ctrl-C of `rf worker` (a KeyboardInterrupt in the main thread) or `stop` ends it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from app.bootstrap import Services
from app.services import worker


def describe(summary: worker.WorkerPass) -> str:
    return ", ".join(f"{name.replace('_', ' ')} {count}" for name, count in summary.__dict__.items() if count)


def run(services: Services, stop: threading.Event, echo: Callable[[str], None], interval: float = 2.0) -> None:
    while not stop.is_set():
        try:
            summary = worker.run_once(services, report=echo)
            if summary.did_something():
                echo(f"worker: {describe(summary)}")
        except BaseException as err:  # noqa: BLE001 - keep the worker alive; the next pass retries
            if worker.operator_interrupt(err):
                raise
            echo(f"worker: pass failed: {type(err).__name__}: {err}")
        stop.wait(interval)
