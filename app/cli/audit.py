"""`rf audit verify` and `rf export`: the auditors' commands (registered on `rf` in app/cli/main.py).

Kept free of imports from app.cli at module level so either module can be imported first."""

from __future__ import annotations

import getpass
import json
import sys
from pathlib import Path

import click

from app.cli.support import command as _command
from app.cli.support import open_services

EXIT_BROKEN = 3


@click.group("audit", help="The audit log: verify its hash chains, record a checkpoint, rebuild what is derived "
                           "from it.")
def audit_group() -> None:
    pass


@audit_group.command("verify", help="Walk the audit log's hash chains and checkpoints; exit 0 when intact, 3 at "
                                    "the first broken link (its sequence number, chain, position and why).")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@_command
def verify_cmd(as_json: bool) -> None:
    from app.services.audit import events as audit_views

    report = audit_views.verify_chain(open_services())
    data = {"intact": report.intact, "events": report.count, "head": report.head_hash,
            "broken_at": report.broken_at, "reason": report.reason or None, "where": report.where or None,
            "chain": report.chain, "position": report.position, "chains": report.chains,
            "checkpoint": report.checkpoint, "checkpoint_hash": report.checkpoint_hash}
    if as_json:
        click.echo(json.dumps(data, indent=2))
    elif report.intact:
        click.echo(f"intact: {report.count} events, head {report.head_hash}")
    else:
        where = f" at event {report.broken_at}" if report.broken_at is not None else ""
        click.echo(f"broken{where}: {report.message} "
                   f"({report.count} events intact before it, last good hash {report.head_hash})")
    if not report.intact:
        sys.exit(EXIT_BROKEN)


@audit_group.command("checkpoint", help="Record every audit chain's head in a new checkpoint (the worker does so "
                                        "every 10 minutes) and print its hash: keep it outside the database, where "
                                        "nobody who can change the database can change it too.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@_command
def checkpoint_cmd(as_json: bool) -> None:
    from app.services.audit import events as audit_views

    made = audit_views.checkpoint(open_services())
    if made is None:
        data: dict[str, object] = {"checkpoint": None}
        text = "no checkpoint: the audit log is empty"
    else:
        data = {"checkpoint": made.number, "at": made.at.isoformat(), "hash": made.hash, "events": made.events,
                "new": made.new}
        text = (f"checkpoint #{made.number} at {made.at.isoformat()}: {made.hash} ({made.events} events"
                f"{'' if made.new else '; nothing new since it'})")
    click.echo(json.dumps(data, indent=2) if as_json else text)


@audit_group.command("rebuild-paths", help="Derive the recorded steps of every finished instance (what the insights "
                                           "of a version read) again from the audit log; the log is only read.")
@_command
def rebuild_paths_cmd() -> None:
    from app.services.definitions import insights

    rebuilt = insights.rebuild_paths(open_services())
    click.echo(f"rebuilt the recorded steps of {rebuilt} finished instance{'' if rebuilt == 1 else 's'}")


@click.command("export", help="Export the audit log as CSV (one row per event) or XES (IEEE 1849-2016, one trace "
                              "per request) for process-mining tools. The export is itself logged.")
@click.option("--format", "fmt", required=True, type=click.Choice(["csv", "xes"]))
@click.option("--request", "request_ref", help="Only this request (number or id).")
@click.option("--since", help="Events from this date/time on (YYYY-MM-DD or ISO 8601, UTC).")
@click.option("--until", help="Events up to this date (inclusive, the whole day) or time.")
@click.option("--version", "version", metavar="PROCESS:V", help="Only requests on this deployed process version, "
                                                                 "e.g. request_fulfillment:1.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file instead of standard output.")
@click.option("--user", help="Who exports (recorded in the audit log).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary (needs --output).")
@_command
def export_cmd(fmt: str, request_ref: str | None, since: str | None, until: str | None, version: str | None,
               output: Path | None, user: str | None, as_json: bool) -> None:
    from app.domain.permissions import OPERATOR  # the CLI is the operator's tool: it reads every request
    from app.errors import FieldError, InvalidData
    from app.services.audit import export

    if as_json and output is None:
        raise InvalidData("--json prints a summary; give --output for the export itself",
                          [FieldError("output", "required with --json")])
    query = export.parse_query(request=request_ref, since=since, until=until, version=version)
    done = export.export(open_services(), fmt, query, user or f"cli:{getpass.getuser()}", reader=OPERATOR)
    if output is None:
        click.echo(done.content.decode(), nl=False)
        return
    output.write_bytes(done.content)
    data = {"format": fmt, "output": str(output), "events": done.events, "traces": done.traces, **query.describe()}
    if as_json:
        click.echo(json.dumps(data, indent=2))
    else:
        click.echo(f"{done.events} events ({done.traces} requests) written to {output}")
