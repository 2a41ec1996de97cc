"""`rf outbox`: the email outbox for administrators: messages that failed, and retrying them (audited).

Registered on the `rf` group in app/cli/main.py.
"""

from __future__ import annotations

from typing import Any

import click

from app.cli.support import command, emit, json_option, open_services

user_option = click.option("--user", required=True, help="The administrator acting (recorded in the audit log).")


def _lines(data: dict[str, Any]) -> str:
    head = f"{data['failed_total']} failed, {data['queued']} queued, {data['sent']} sent"
    rows = [f"#{m['id']}  {m['failed_at']}  {m['kind']:<12} to {m['to']}  {m['subject']!r}\n      {m['reason']}"
            for m in data["failed"]]
    return "\n".join([head, *rows])


@click.group("outbox", help="Email that failed: list it (with the reason) and queue it again.")
def outbox_group() -> None:
    pass


@outbox_group.command("failed", help="Failed messages, newest first, with why each failed.")
@user_option
@json_option
@command
def failed_cmd(user: str, as_json: bool) -> None:
    from app.services.admin import outbox
    from app.services.admin.auth import load_identity

    services = open_services()
    emit(outbox.overview(services, load_identity(services, user)).as_dict(), as_json, _lines)


@outbox_group.command("retry", help="Queue failed message ID again (or every failed one with --all).")
@click.argument("notification_id", type=int, required=False)
@click.option("--all", "retry_all", is_flag=True, help="Queue every failed message again.")
@user_option
@json_option
@command
def retry_cmd(notification_id: int | None, retry_all: bool, user: str, as_json: bool) -> None:
    from app.errors import FieldError, InvalidData
    from app.services.admin import outbox
    from app.services.admin.auth import load_identity

    if (notification_id is None) == (not retry_all):
        raise InvalidData("give a message ID or --all", [FieldError("ID", "name one failed message, or pass --all")])
    services = open_services()
    identity = load_identity(services, user)
    if retry_all:
        queued = outbox.retry_all(services, identity)
        emit({"queued": queued}, as_json, lambda d: f"{d['queued']} failed message(s) queued again")
        return
    assert notification_id is not None
    shown = outbox.retry_message(services, identity, notification_id)
    emit({"id": shown.id, "status": "queued", "previous_error": shown.reason}, as_json,
         lambda d: f"message #{d['id']} queued again (it had failed: {d['previous_error']})")
