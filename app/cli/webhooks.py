"""`rf webhooks`: the outbound webhook subscriptions, with their deliveries per status (read-only; administrators
manage them on Admin → Webhooks).

Registered on the `rf` group in app/cli/main.py.
"""

from __future__ import annotations

from typing import Any

import click

from app.cli.support import command, emit, json_option, open_services


def _lines(data: list[dict[str, Any]]) -> str:
    if not data:
        return "no webhook subscriptions"
    rows = []
    for sub in data:
        counts = sub["deliveries"]
        rows.append(f"#{sub['id']}  {'active  ' if sub['active'] else 'inactive'}  {sub['url']}\n"
                    f"      {', '.join(sub['events'])}\n"
                    f"      {counts.get('delivered', 0)} delivered, {counts.get('queued', 0)} queued, "
                    f"{counts.get('failed', 0)} failed")
    return "\n".join(rows)


@click.group("webhooks", help="Outbound webhook subscriptions and their deliveries.")
def webhooks_group() -> None:
    pass


@webhooks_group.command("list", help="Every subscription: URL, events, deliveries per status (never the secret).")
@json_option
@command
def list_cmd(as_json: bool) -> None:
    from app.domain.permissions import OPERATOR
    from app.services.admin import webhooks

    emit([sub.as_dict() for sub in webhooks.subscriptions(open_services(), OPERATOR)], as_json, _lines)
