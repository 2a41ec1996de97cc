"""`rf`: the command line. Every command takes --json for scripting; bad input exits non-zero with a clear message."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click

from app.cli_support import _actor, _emit, _fail, _parse_data, _services, command, json_option  # noqa: F401


@click.group(help="Request Fulfillment: BPMN-driven assistance and enhancement requests.")
def cli() -> None:
    pass


@cli.command("init", help="Migrate the database, seed reference data, deploy bpmn/ if it changed.")
@click.option("--demo", is_flag=True, help="Also add demo provider groups and users (password 'demo').")
@json_option
@command
def init_cmd(demo: bool, as_json: bool) -> None:
    from app.services import definitions, setup

    services = _services()
    setup.migrate(services)
    seeded = setup.seed(services, demo)
    result = definitions.deploy(services, definitions.read_paths([services.settings.bpmn_dir]), "system")
    data = {"seeded": seeded, "process_id": result.process_id, "version": result.version,
            "deployed": result.created}
    _emit(data, as_json, lambda d: (f"database ready; {d['process_id']} v{d['version']} "
                                    f"{'deployed' if d['deployed'] else 'already current'}"))


@cli.command("deploy", help="Validate and deploy BPMN/DMN files (or directories) as a new version.")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--user", help="Who deploys (recorded in the audit log).")
@json_option
@command
def deploy_cmd(paths: tuple[Path, ...], user: str | None, as_json: bool) -> None:
    from app.services import definitions

    result = definitions.deploy(_services(), definitions.read_paths(list(paths)), _actor(user))
    data = {"process_id": result.process_id, "version": result.version, "sha256": result.sha256,
            "created": result.created, "warnings": [str(w) for w in result.warnings]}
    _emit(data, as_json, lambda d: f"{d['process_id']} v{d['version']} "
                                   f"{'deployed' if d['created'] else 'unchanged (identical content)'}"
                                   + "".join(f"\n  {w}" for w in d["warnings"]))


@cli.command("check", help="Run every deploy check on BPMN/DMN files without deploying (exit 2 on errors).")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@json_option
@command
def check_cmd(paths: tuple[Path, ...], as_json: bool) -> None:
    from app.services import definitions

    bundle = definitions.check(_services(), definitions.read_paths(list(paths)))
    data = {"process_id": bundle.process_id, "processes": bundle.process_ids, "forms": bundle.forms,
            "warnings": [str(w) for w in bundle.warnings]}
    _emit(data, as_json, lambda d: f"ok: {d['process_id']} ({', '.join(d['processes'])}), "
                                   f"{len(d['forms'])} forms, {len(d['warnings'])} warnings"
                                   + "".join(f"\n  {w}" for w in d["warnings"]))


@cli.group("request", help="Requests.")
def request_group() -> None:
    pass


@request_group.command("new", help="Create a request and start its process.")
@click.option("--type", "request_type", required=True, type=click.Choice(["assistance", "enhancement"]))
@click.option("--data", "raw", required=True, help="JSON: title, agency, requester_name, requester_email, "
                                                     "provider_group, [priority, routine, description, crm_case_id]")
@click.option("--user", help="Who logs the request.")
@json_option
@command
def request_new(request_type: str, raw: str, user: str | None, as_json: bool) -> None:
    from app.services import intake

    request = intake.new_request(_services(), request_type, _parse_data(raw), _actor(user))
    data = {"id": request.id, "number": request.number, "crm_case_id": request.crm_case_id,
            "sla_due_at": request.sla_due_at.isoformat() if request.sla_due_at else None}
    _emit(data, as_json, lambda d: f"{d['number']} created (CRM case {d['crm_case_id']})")


def _task_line(t: dict[str, Any]) -> str:
    who = t["assignee"] or ("any of " + ", ".join(t["candidates"]) if t["candidates"] else "nobody")
    return f"{t['id']}  {t['request_number']}  {t['name']:<42} {t['provider_group']:<8} {who}"


@cli.command("tasks", help="Open human tasks (for one user: those they may act on).")
@click.option("--user", help="Only tasks this user may act on.")
@click.option("--request", "request_ref", help="Only tasks of this request (id or number).")
@json_option
@command
def tasks_cmd(user: str | None, request_ref: str | None, as_json: bool) -> None:
    from app.services import queries, tasks

    services = _services()
    request_id = None
    if request_ref:
        with services.uow() as uow:
            request_id = queries.find_request(uow.session, request_ref).id
    views = [t.as_dict() for t in tasks.list_tasks(services, user, request_id)]
    _emit(views, as_json, lambda d: "\n".join(_task_line(t) for t in d) or "no open tasks")


@cli.command("claim", help="Claim a task.")
@click.argument("task_id")
@click.option("--user", required=True)
@json_option
@command
def claim_cmd(task_id: str, user: str, as_json: bool) -> None:
    from app.services import tasks

    view = tasks.claim(_services(), task_id, user).as_dict()
    _emit(view, as_json, lambda d: f"{d['name']} claimed by {d['assignee']}")


@cli.command("complete", help="Complete a task with form data (validated against its JSON Schema).")
@click.argument("task_id")
@click.option("--user", required=True)
@click.option("--data", "raw", default="{}")
@json_option
@command
def complete_cmd(task_id: str, user: str, raw: str, as_json: bool) -> None:
    from app.services import tasks

    view = tasks.complete(_services(), task_id, user, _parse_data(raw)).as_dict()
    _emit(view, as_json, lambda d: f"{d['name']} completed by {user}")


@cli.command("form", help="Print the JSON Schema of a task's form.")
@click.argument("task_id")
@command
def form_cmd(task_id: str) -> None:
    from app.services import tasks

    click.echo(json.dumps(tasks.task_form(_services(), task_id), indent=2))


@cli.command("worker", help="Run due service tasks, timers and mail; loops unless --once.")
@click.option("--once", is_flag=True)
@click.option("--interval", default=2.0, show_default=True, help="Seconds between passes.")
@json_option
@command
def worker_cmd(once: bool, interval: float, as_json: bool) -> None:
    from app.services import worker

    services = _services()
    while True:
        summary = worker.run_once(services)
        if once:
            _emit(summary.__dict__, as_json, lambda d: ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in d.items()))
            return
        if summary.did_something():
            click.echo(", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in summary.__dict__.items()))
        time.sleep(interval)


def _show_human(d: dict[str, Any]) -> str:
    lines = [f"{d['number']}  {d['title']}  [{d['type']}, {d['priority']}]  status: {d['status']}",
             f"  agency: {d['agency']}   group: {d['provider_group']}   SLA due: {d['sla_due_at']}",
             f"  path: {' -> '.join(d['path'])}"]
    lines += [f"  open task: {t['name']} ({t['lane']}) {t['assignee'] or ''}" for t in d["open_tasks"]]
    lines += [f"  service: {j['operator']} {j['status']} attempts={j['attempts']} {j['last_error'] or ''}"
              for j in d["pending_services"]]
    return "\n".join(lines)


@cli.command("show", help="A request: status, path taken, open tasks, data.")
@click.argument("request_ref")
@json_option
@command
def show_cmd(request_ref: str, as_json: bool) -> None:
    from app.services import queries

    _emit(queries.show_request(_services(), request_ref), as_json, _show_human)


@cli.command("users", help="Users with their roles and provider groups.")
@json_option
@command
def users_cmd(as_json: bool) -> None:
    from app.services import queries

    _emit(queries.list_users(_services()), as_json,
          lambda d: "\n".join(f"{u['username']:<10} {u['full_name']:<20} {', '.join(u['roles'])}" for u in d))


@cli.command("incidents", help="Service tasks that failed their last retry.")
@json_option
@command
def incidents_cmd(as_json: bool) -> None:
    from app.services import queries

    _emit(queries.list_incidents(_services()), as_json,
          lambda d: "\n".join(f"#{i['job']} request {i['request_id']} {i['operator']}: {i['error']}" for i in d)
          or "no open incidents")


@cli.command("retry", help="Retry a service task that raised an incident.")
@click.argument("job_id", type=int)
@click.option("--user")
@json_option
@command
def retry_cmd(job_id: int, user: str | None, as_json: bool) -> None:
    from app.services import worker

    worker.retry_incident(_services(), job_id, _actor(user))
    _emit({"job": job_id, "status": "pending"}, as_json, lambda d: f"incident #{job_id} queued for retry")


@cli.command("serve", help="Start the web app with the worker running beside it.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--worker/--no-worker", default=True, show_default=True, help="Run the worker in this process.")
@click.option("--mail-sink/--no-mail-sink", default=None,
              help="Start a local SMTP server that stores mail under instance/mail (default: on unless "
                   "RF_SMTP_HOST is set).")
@command
def serve_cmd(host: str, port: int, worker: bool, mail_sink: bool | None) -> None:
    import os

    from app.services import queries
    from app.web import create_app
    from app.web.runner import serve

    services = _services()
    if mail_sink is None:
        mail_sink = "RF_SMTP_HOST" not in os.environ
    users = queries.list_users(services)
    click.echo(f"Request Fulfillment on http://{host}:{port}/  (database: {services.engine.url.render_as_string()})")
    if users:
        click.echo("Accounts (demo password 'demo'):")
        for user in users:
            click.echo(f"  {user['username']:<8} {user['full_name']:<18} {', '.join(user['roles'])}")
    if services.settings.clock_start:
        click.echo(f"The clock started at {services.settings.clock_start.isoformat()} (RF_CLOCK_START), not now.")
    serve(create_app(services), services, host=host, port=port, worker=worker, mail_sink=mail_sink, echo=click.echo)


from app.cli_audit import audit_group, export_cmd  # noqa: E402 - the auditors' commands, in their own module

cli.add_command(audit_group)
cli.add_command(export_cmd)

from app.cli_replay import replay_cmd  # noqa: E402 - replay, in its own module

cli.add_command(replay_cmd)

from app.cli_migrate import migrate_cmd  # noqa: E402 - migrating running instances, in its own module

cli.add_command(migrate_cmd)


def main() -> None:
    cli(prog_name="rf")
