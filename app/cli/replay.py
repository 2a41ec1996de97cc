"""`rf replay`: re-execute requests in memory from their audit log and compare with their stored state.

Exit status: 0 when every replayed request is identical, 3 when any differs, 2 for bad input (as every command).
Registered on the `rf` group in app/cli/main.py.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from app.cli.support import fail, open_services
from app.errors import AppError, FieldError, InvalidData

DIFFERENT = 3


def _difference_lines(report: dict[str, Any]) -> list[str]:
    lines = []
    for d in report["differences"]:
        name = f" ({d['name']})" if d["name"] and d["name"] != d["element"] else ""
        event = f" [audit event {d['event']}]" if d["event"] and f"event {d['event']}" not in d["message"] else ""
        lines.append(f"  - {d['message']}{name}{event}")
    return lines


def _one_line(report: dict[str, Any]) -> str:
    head = f"{report['request']} ({report['definition']}): "
    if report["identical"]:
        return head + (f"identical ({report['inputs']} inputs of {report['events']} audit events replayed in "
                       f"{report['seconds'] * 1000:.0f} ms)")
    count = len(report["differences"])
    return head + f"{count} difference{'s' if count != 1 else ''}"


@click.command("replay", help="Replay a request (or --all) in memory from its audit log on its pinned definition "
                              "version and compare with the stored state. Exit 0: identical; 3: differences.")
@click.argument("request_ref", metavar="REQUEST", required=False)
@click.option("--all", "all_requests", is_flag=True, help="Replay every request, with a progress bar and a summary.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def replay_cmd(request_ref: str | None, all_requests: bool, as_json: bool) -> None:
    from app.domain.permissions import OPERATOR  # the CLI is the operator's tool: it reads every request
    from app.services.audit import replay

    try:
        if bool(request_ref) == all_requests:
            raise InvalidData("give one REQUEST or --all", [FieldError("REQUEST", "name one request, or pass --all")])
        services = open_services()
        if request_ref:
            report = replay.replay_request(services, request_ref, reader=OPERATOR).as_dict()
            if as_json:
                click.echo(json.dumps(report, indent=2, default=str))
            else:
                click.echo("\n".join([_one_line(report), *_difference_lines(report)]))
            sys.exit(0 if report["identical"] else DIFFERENT)
        numbers = replay.request_numbers(services, reader=OPERATOR)
        reports: list[dict[str, Any]] = []
        with click.progressbar(numbers, label="Replaying", show_pos=True, file=sys.stderr,
                               item_show_func=lambda n: n or "") as bar:
            for number in bar:
                reports.append(replay.replay_request(services, number, reader=OPERATOR).as_dict())
    except AppError as err:
        fail(err, as_json)
        return
    different = [r for r in reports if not r["identical"]]
    summary = {"requests": len(reports), "identical": len(reports) - len(different), "with_differences": len(different),
               "different": different}
    if as_json:
        click.echo(json.dumps(summary, indent=2, default=str))
    else:
        lines = [f"{summary['requests']} request{'s' if summary['requests'] != 1 else ''} replayed: "
                 f"{summary['identical']} identical, "
                 f"{summary['with_differences']} with differences"]
        for report in different:
            lines += [_one_line(report), *_difference_lines(report)]
        click.echo("\n".join(lines))
    sys.exit(DIFFERENT if different else 0)
