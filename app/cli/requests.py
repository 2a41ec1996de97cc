"""`rf request new|pull|cancel`, `rf show`, `rf users`: requests and the people who work them."""

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
@click.option("--schedule", is_flag=True, help="A routine enhancement waits on its group's 60 day schedule (planned "
                                                "for this week) until it is pulled, instead of starting at once.")
@json_option
@command
def request_new(request_type: str, raw: str, user: str | None, schedule: bool, as_json: bool) -> None:
    from app.services.requests import intake

    request = intake.new_request(open_services(), request_type, parse_data(raw), actor(user), schedule=schedule)
    data = {"id": request.id, "number": request.number, "crm_case_id": request.crm_case_id, "status": request.status,
            "sla_due_at": request.sla_due_at.isoformat() if request.sla_due_at else None}
    emit(data, as_json, lambda d: f"{d['number']} created (CRM case {d['crm_case_id']})"
                                  + (", waiting on the 60 day schedule" if d["status"] == "scheduled" else ""))


_acting = click.option("--user", required=True,
                       help="Who acts: a service provider or manager of the request's group (recorded in the audit "
                            "log; the same rules as the schedule page).")


@request_group.command("pull", help="Pull a request off the 60 day schedule: its process starts (or goes on after "
                                    "Discovery).")
@click.argument("request_ref")
@_acting
@json_option
@command
def request_pull(request_ref: str, user: str, as_json: bool) -> None:
    from app.services.admin.auth import load_identity
    from app.services.requests import schedule_queue

    services = open_services()
    pulled = schedule_queue.pull(services, load_identity(services, user), request_ref)
    emit({"number": pulled.number, "first_task": pulled.first_task}, as_json,
         lambda d: f"{d['number']} pulled from the schedule; its process runs")


@request_group.command("cancel", help="Cancel a request waiting on the 60 day schedule (a manager of its group): its "
                                      "CRM case closes as cancelled and the customer is emailed the reason.")
@click.argument("request_ref")
@click.option("--reason", required=True, help="Why (required; the customer is told).")
@_acting
@json_option
@command
def request_cancel(request_ref: str, reason: str, user: str, as_json: bool) -> None:
    from app.services.admin.auth import load_identity
    from app.services.requests import cancellation

    services = open_services()
    number = cancellation.cancel_scheduled(services, load_identity(services, user), request_ref, reason)
    emit({"number": number, "status": "cancelled"}, as_json, lambda d: f"{d['number']} cancelled")


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
