"""`rf worker`, `rf incidents`, `rf retry`: service tasks, timers and mail, and the ones that failed."""

from __future__ import annotations

import click

from app.cli.support import RECORD_NUMBER, actor, command, emit, json_option, open_services


@click.command("worker", help="Run due service tasks, timers and mail; loops unless --once. SIGTERM (or Ctrl-C) "
                             "stops it: SIGTERM after the job it is running, a second SIGTERM or Ctrl-C at once (the "
                             "job is rolled back and stays pending).")
@click.option("--once", is_flag=True)
@click.option("--interval", type=click.FloatRange(min=0, min_open=True), default=None,
              help="The longest pause between passes, in seconds (default RF_WORKER_POLL_SECONDS, 2). A commit that "
                   "makes work due ends the pause at once (on PostgreSQL, from any process).")
@click.option("--metrics-port", type=click.IntRange(1, 65535), default=None,
              help="Serve this worker's Prometheus metrics on http://METRICS-HOST:PORT/metrics (no authentication: "
                   "keep it on a private address).")
@click.option("--metrics-host", default="127.0.0.1", show_default=True)
@json_option
@command
def worker_cmd(once: bool, interval: float | None, metrics_port: int | None, metrics_host: str, as_json: bool) -> None:
    import os
    import signal
    import threading

    from app.observability import logs

    services = open_services()
    if once:
        from app.services import worker

        summary = worker.run_once(services)
        emit(summary.__dict__, as_json, lambda d: ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in d.items()))
        return
    logs.configure(services.settings.log_format, services.settings.log_level)
    from app.observability import metrics
    from app.run import worker_loop
    from app.services import monitoring

    log = logs.logger("worker")
    stop = threading.Event()

    def on_sigterm(_signum: int, _frame: object) -> None:
        if stop.is_set():  # asked twice: do not wait for the job (it is rolled back and stays pending)
            raise KeyboardInterrupt
        log.info("SIGTERM: stopping after the current job")
        stop.set()
        services.wakeup.set()  # end the pause between passes at once

    signal.signal(signal.SIGTERM, on_sigterm)
    if metrics_port:
        metrics.serve(metrics_port, metrics_host, metrics.DatabaseCollector(lambda: monitoring.snapshot(services)))
        log.info("worker metrics on http://%s:%s/metrics", metrics_host, metrics_port)
    interval = services.settings.worker_poll_seconds if interval is None else interval
    log.info("worker started (pid %s, polling every %s s%s)", os.getpid(), interval,
             ", woken by new work" if services.settings.worker_listen else "")
    try:
        worker_loop.run(services, stop, interval)
    except KeyboardInterrupt:
        log.info("worker interrupted: the job it was running is rolled back and stays pending")
    finally:
        services.close()
    log.info("worker stopped")


@click.command("incidents", help="Service tasks that failed their last retry.")
@json_option
@command
def incidents_cmd(as_json: bool) -> None:
    from app.services.requests import queries

    emit(queries.list_incidents(open_services()), as_json,
          lambda d: "\n".join(f"#{i['job']} request {i['request_id']} {i['operator']}: {i['error']}" for i in d)
          or "no open incidents")


@click.command("retry", help="Retry a service task that raised an incident.")
@click.argument("job_id", type=RECORD_NUMBER)
@click.option("--user")
@json_option
@command
def retry_cmd(job_id: int, user: str | None, as_json: bool) -> None:
    from app.services import job_failures

    job_failures.retry_incident(open_services(), job_id, actor(user))
    emit({"job": job_id, "status": "pending"}, as_json, lambda d: f"incident #{job_id} queued for retry")
