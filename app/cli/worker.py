"""`rf worker`, `rf incidents`, `rf retry`: service tasks, timers and mail, and the ones that failed."""

from __future__ import annotations

import click

from app.cli.support import RECORD_NUMBER, actor, command, emit, json_option, open_services


@click.command("worker", help="Run due service tasks, timers and mail; loops unless --once.")
@click.option("--once", is_flag=True)
@click.option("--interval", default=2.0, show_default=True, help="Seconds between passes.")
@json_option
@command
def worker_cmd(once: bool, interval: float, as_json: bool) -> None:
    import threading

    from app.run import worker_loop
    from app.services import worker

    services = open_services()
    if once:
        summary = worker.run_once(services)
        emit(summary.__dict__, as_json, lambda d: ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in d.items()))
        return
    try:
        worker_loop.run(services, threading.Event(), click.echo, interval)
    except KeyboardInterrupt:
        click.echo("worker stopped")


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
    from app.services import worker

    worker.retry_incident(open_services(), job_id, actor(user))
    emit({"job": job_id, "status": "pending"}, as_json, lambda d: f"incident #{job_id} queued for retry")
