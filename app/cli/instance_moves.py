"""`rf migrate`: check and move running instances of a definition version to a newer version.

Exit status: 0 when everything asked for was migrated (or with --check), 3 when any instance was refused (each is
listed with its reason and left unchanged), 2 for bad input (as every command).
Registered on the `rf` group in app/cli/main.py.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from app.cli.support import RECORD_NUMBER, actor, fail, open_services
from app.errors import AppError, FieldError, InvalidData

REFUSED = 3


def _check_lines(data: dict[str, Any]) -> list[str]:
    target = f"version {data['to_version']}" if data["to_version"] else "no newer version"
    lines = [f"{data['process_id']} version {data['from_version']} -> {target}: "
             f"{len(data['instances'])} running instance{'s' if len(data['instances']) != 1 else ''}"]
    for item in data["instances"]:
        where = ", ".join(item["waiting_at"]) or "-"
        verdict = "eligible" if item["eligible"] else f"refused: {item['reason']}"
        lines.append(f"  {item['request_number']}  at {where}  {verdict}")
    return lines


@click.command("migrate", help="Move running instances of PROCESS_ID --from-version N to a newer version (default: "
                               "the latest): --request NUMBER (repeatable) or --all eligible; --check only lists "
                               "per instance whether it can move and why not. Exit 3 when any instance is refused.")
@click.argument("process_id")
@click.option("--from-version", "from_version", type=RECORD_NUMBER, required=True,
              help="The version the instances run on.")
@click.option("--to-version", "to_version", type=RECORD_NUMBER, help="The version to move to (default: the latest).")
@click.option("--request", "requests", multiple=True, metavar="NUMBER", help="A request to migrate (repeatable).")
@click.option("--all", "all_eligible", is_flag=True, help="Migrate every eligible running instance of the version.")
@click.option("--check", "check_only", is_flag=True, help="Only list whether each instance can move; change nothing.")
@click.option("--user", help="Who migrates (recorded in the audit log).")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def migrate_cmd(process_id: str, from_version: int, to_version: int | None, requests: tuple[str, ...],
                all_eligible: bool, check_only: bool, user: str | None, as_json: bool) -> None:
    from app.services.definitions import instance_moves as migration

    try:
        services = open_services()
        if check_only:
            result = migration.check(services, actor(user), process_id, from_version, to_version)
            data = result.as_dict()
            if requests:
                wanted = {r.strip().upper() for r in requests}
                data["instances"] = [i for i in data["instances"] if i["request_number"] in wanted]
            click.echo(json.dumps(data, indent=2) if as_json else "\n".join(_check_lines(data)))
            return
        if bool(requests) == all_eligible:
            raise InvalidData("give --request NUMBER (repeatable), --all or --check",
                              [FieldError("--request", "name the requests to migrate, or pass --all (not both)")])
        report = migration.migrate(services, actor(user), process_id, from_version, to_version=to_version,
                                   requests=list(requests), all_eligible=all_eligible)
    except AppError as err:
        fail(err, as_json)
        return
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
    else:
        lines = [report.summary]
        lines += [f"  migrated {number}: version {report.from_version} -> {report.to_version}"
                  for number in report.migrated]
        lines += [f"  refused {number}: {reason}" for number, reason in report.refused]
        click.echo("\n".join(lines))
    sys.exit(REFUSED if report.refused else 0)
