"""The worker loop: a pass over due service tasks, timers, escalations and mail, then a pause; until stopped.

The pause ends as soon as a commit makes work due (`services.wakeup`: set by this process's own commits, and on
PostgreSQL by a `NOTIFY rf_work` from any process, heard on a LISTEN connection of the worker's own), else at the
earliest future due time (a timer, a retry's backoff), else after the poll interval (`RF_WORKER_POLL_SECONDS`,
`--interval`). With the wake-up off (`RF_WORKER_LISTEN=0`), or between processes on SQLite, the poll is all there is.

`rf worker` runs it in the foreground, `rf serve` in a thread beside the web server. A pass that fails is reported and
the next pass tries again: nothing one pass meets stops the loop, whatever it raises (BaseException included). Only
the operator's Ctrl-C of `rf worker` (a KeyboardInterrupt in the main thread) or `stop` ends it; `stop` (SIGTERM)
lets the job being run finish first.

Every job run is a log line of the `rf.worker` logger carrying the request id of the web request that made the job
ready (`request_id`), the job, its operator, the RF request number, the outcome and the duration; and it is counted
in the metrics (`rf_worker_jobs_total`, `rf_worker_job_duration_seconds`).
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from app.bootstrap import Services
from app.observability import logs, metrics
from app.services import job_failures, worker, worker_schedule

log = logs.logger("worker")
_LEVELS = {"done": logging.INFO, "retry": logging.WARNING, "incident": logging.ERROR, "error": logging.ERROR}
_EVENTS = ("timers_fired", "escalations", "mails_sent", "webhooks_delivered", "webhook_attempts_failed")


def describe(summary: worker.WorkerPass) -> str:
    return ", ".join(f"{name.replace('_', ' ')} {count}" for name, count in summary.__dict__.items() if count)


def observe(run: worker.JobRun) -> None:
    """Log and count one job the worker ran (called with the job's originating request id current)."""
    if run.outcome in ("done", "retry", "incident"):
        metrics.JOBS.labels(run.outcome).inc()
        metrics.JOB_DURATION.observe(run.seconds)
    log.log(_LEVELS.get(run.outcome, logging.DEBUG), "job %s %s for %s: %s", run.job.id, run.job.operator,
            run.job.request_number, run.outcome,
            extra={"job": run.job.id, "operator": run.job.operator, "rf_request": run.job.request_number,
                   "outcome": run.outcome, "duration_ms": round(run.seconds * 1000, 1)})


def report(message: str) -> None:
    metrics.WORKER_PASSES_FAILED.inc()
    log.error(message)


def pause(services: Services, began: datetime, interval: float) -> float:
    """Seconds to sleep after a pass that began at `began`: until the earliest future due time, at most `interval`."""
    due = worker_schedule.next_due(services, began)
    if due is None:
        return interval
    return max(0.0, min(interval, (due - services.clock.now()).total_seconds()))


def run(services: Services, stop: threading.Event, interval: float | None = None) -> None:
    """Loop until `stop` is set; whoever sets it should also set `services.wakeup`, to end the pause at once."""
    interval = services.settings.worker_poll_seconds if interval is None else interval
    listener = None
    if services.settings.worker_listen:
        listener = services.wakeup.listen(services.engine, report=log.warning)
        if listener is not None:
            log.info("worker listening for work on PostgreSQL (LISTEN rf_work)")
    try:
        _loop(services, stop, interval)
    finally:
        if listener is not None:
            listener.close()


def _loop(services: Services, stop: threading.Event, interval: float) -> None:
    wakeup = services.wakeup
    while not stop.is_set():
        wakeup.clear()  # what is committed from here on wakes the pause below at once
        began = services.clock.now()
        delay = interval
        try:
            summary = worker.run_once(services, report=report, stop=stop, observe=observe)
            for kind in _EVENTS:
                if getattr(summary, kind):
                    metrics.WORKER_EVENTS.labels(kind).inc(getattr(summary, kind))
            if summary.did_something():
                log.info("worker pass: %s", describe(summary), extra={"pass": summary.__dict__})
            if not stop.is_set():
                delay = pause(services, began, interval)
        except BaseException as err:  # noqa: BLE001 - keep the worker alive; the next pass retries
            if job_failures.operator_interrupt(err):
                raise
            report(f"worker: pass failed: {type(err).__name__}: {err}")
        if not stop.is_set() and services.settings.worker_listen:
            wakeup.wait(delay)
        else:
            stop.wait(delay)
