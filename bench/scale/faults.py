"""The faults of a fault run, injected on a schedule while the users work:

* every `kill_every` seconds, `kill -9` of one process picked at random among gunicorn's web processes and the
  `rf worker`s (gunicorn starts a new web process, the supervisor a new `rf worker`);
* at `restart_at` (a share of the run), PostgreSQL restarted (see `bench.scale.postgres`);
* from `smtp_down_at` for `smtp_down` seconds, the SMTP server stopped (connections refused), then started again.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass

from bench.scale.postgres import Restarter
from bench.scale.processes import Stack
from bench.scale.sinks import Sinks


@dataclass(frozen=True)
class FaultPlan:
    seconds: float  # the load's length
    kill_every: float = 5.0
    restart_at: float = 0.5  # share of the run
    smtp_down_at: float = 0.2
    smtp_down: float = 60.0


def inject(plan: FaultPlan, stack: Stack, sinks: Sinks, restarter: Restarter, started: float,
           stop: threading.Event, log: list[str], rng: random.Random) -> None:
    def at() -> str:
        return f"{time.monotonic() - started:6.1f} s"

    next_kill = plan.kill_every
    restart = plan.seconds * plan.restart_at
    smtp_down = plan.seconds * plan.smtp_down_at
    smtp_up = smtp_down + plan.smtp_down
    restarted = smtp_stopped = False
    while True:
        elapsed = time.monotonic() - started
        if not smtp_stopped and elapsed >= smtp_down and not stop.is_set():
            sinks.smtp.stop()
            smtp_stopped = True
            log.append(f"{at()}  SMTP server stopped")
        if smtp_stopped and sinks.smtp.running is False and (elapsed >= smtp_up or stop.is_set()):
            sinks.smtp.start()
            log.append(f"{at()}  SMTP server started again")
        if not restarted and elapsed >= restart and not stop.is_set():
            restarted = True
            try:
                log.append(f"{at()}  {restarter.restart()}")
            except Exception as err:  # noqa: BLE001 - say so in the report
                log.append(f"{at()}  PostgreSQL restart FAILED: {err}")
        if elapsed >= next_kill and not stop.is_set():
            log.append(f"{at()}  {stack.kill_random(rng)}")
            next_kill += plan.kill_every
        if stop.is_set() and (not smtp_stopped or sinks.smtp.running):
            return
        time.sleep(0.1)
