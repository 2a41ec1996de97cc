"""`rf request new`, `rf show`, `rf users`: requests and the people who work them."""

from __future__ import annotations

from typing import Any

import click

from app.cli.support import actor, command, emit, json_option, open_services, parse_data


@click.group("request", help="Requests.")
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
    from app.services.requests import intake

    request = intake.new_request(open_services(), request_type, parse_data(raw), actor(user))
    data = {"id": request.id, "number": request.number, "crm_case_id": request.crm_case_id,
            "sla_due_at": request.sla_due_at.isoformat() if request.sla_due_at else None}
    emit(data, as_json, lambda d: f"{d['number']} created (CRM case {d['crm_case_id']})")


def _show_human(d: dict[str, Any]) -> str:
    lines = [f"{d['number']}  {d['title']}  [{d['type']}, {d['priority']}]  status: {d['status']}",
             f"  agency: {d['agency']}   group: {d['provider_group']}   SLA due: {d['sla_due_at']}",
             f"  path: {' -> '.join(d['path'])}"]
    lines += [f"  open task: {t['name']} ({t['lane']}) {t['assignee'] or ''}" for t in d["open_tasks"]]
    lines += [f"  service: {j['operator']} {j['status']} attempts={j['attempts']} {j['last_error'] or ''}"
              for j in d["pending_services"]]
    return "\n".join(lines)


@click.command("show", help="A request: status, path taken, open tasks, data.")
@click.argument("request_ref")
@json_option
@command
def show_cmd(request_ref: str, as_json: bool) -> None:
    from app.domain.permissions import OPERATOR  # the CLI is the operator's tool: it reads every request
    from app.services.requests import queries

    emit(queries.show_request(open_services(), request_ref, reader=OPERATOR), as_json, _show_human)


@click.command("users", help="Users with their roles and provider groups.")
@json_option
@command
def users_cmd(as_json: bool) -> None:
    from app.services.requests import queries

    emit(queries.list_users(open_services()), as_json,
          lambda d: "\n".join(f"{u['username']:<10} {u['full_name']:<20} {', '.join(u['roles'])}" for u in d))
