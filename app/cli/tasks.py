"""`rf tasks`, `rf claim`, `rf complete`, `rf form`: human tasks."""

from __future__ import annotations

import json
from typing import Any

import click

from app.cli.support import command, emit, json_option, open_services, parse_data


def _task_line(t: dict[str, Any]) -> str:
    who = t["assignee"] or ("any of " + ", ".join(t["candidates"]) if t["candidates"] else "nobody")
    return f"{t['id']}  {t['request_number']}  {t['name']:<42} {t['provider_group']:<8} {who}"


@click.command("tasks", help="Open human tasks (for one user: those they may act on).")
@click.option("--user", help="Only tasks this user may act on.")
@click.option("--request", "request_ref", help="Only tasks of this request (id or number).")
@json_option
@command
def tasks_cmd(user: str | None, request_ref: str | None, as_json: bool) -> None:
    from app.services.requests import queries
    from app.services.tasks import actions as tasks

    services = open_services()
    request_id = None
    if request_ref:
        with services.uow() as uow:
            request_id = queries.find_request(uow.session, request_ref).id
    views = [t.as_dict() for t in tasks.list_tasks(services, user, request_id)]
    emit(views, as_json, lambda d: "\n".join(_task_line(t) for t in d) or "no open tasks")


@click.command("claim", help="Claim a task.")
@click.argument("task_id")
@click.option("--user", required=True)
@json_option
@command
def claim_cmd(task_id: str, user: str, as_json: bool) -> None:
    from app.services.tasks import actions as tasks

    view = tasks.claim(open_services(), task_id, user).as_dict()
    emit(view, as_json, lambda d: f"{d['name']} claimed by {d['assignee']}")


@click.command("complete", help="Complete a task with form data (validated against its JSON Schema).")
@click.argument("task_id")
@click.option("--user", required=True)
@click.option("--data", "raw", default="{}")
@json_option
@command
def complete_cmd(task_id: str, user: str, raw: str, as_json: bool) -> None:
    from app.services.tasks import actions as tasks

    view = tasks.complete(open_services(), task_id, user, parse_data(raw)).as_dict()
    emit(view, as_json, lambda d: f"{d['name']} completed by {user}")


@click.command("form", help="Print the JSON Schema of a task's form.")
@click.argument("task_id")
@command
def form_cmd(task_id: str) -> None:
    from app.services.tasks import actions as tasks

    click.echo(json.dumps(tasks.task_form(open_services(), task_id), indent=2))
