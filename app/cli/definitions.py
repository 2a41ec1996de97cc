"""`rf init`, `rf deploy`, `rf check`, `rf make-current`: the database and the deployed process definitions.

New requests start on a process's *current* version: the latest deploy of new content, or an older version made
current again (`rf make-current PROCESS VERSION`, or `rf deploy --make-current` with content identical to it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from app.cli.support import actor, command, emit, json_option, open_services


@click.command("init", help="Migrate the database, seed reference data, deploy the process models (RF_BPMN_DIR: "
                            "default the checkout's bpmn/ or the installed package's) if they changed.")
@click.option("--demo", is_flag=True, help="Also add demo provider groups and users (password 'demo').")
@json_option
@command
def init_cmd(demo: bool, as_json: bool) -> None:
    from app.services.admin import setup
    from app.services.definitions import deploy as definitions

    services = open_services()
    setup.migrate(services)
    seeded = setup.seed(services, demo)
    result = definitions.deploy(services, definitions.read_paths([services.settings.bpmn_dir]), "system")
    data = {"seeded": seeded, "process_id": result.process_id, "version": result.version,
            "deployed": result.created, "current_version": result.current_version}
    emit(data, as_json, lambda d: f"database ready; {d['process_id']} v{d['version']} " + (
        "deployed" if d["deployed"] else "already current" if d["version"] == d["current_version"]
        else f"already deployed; new requests start on v{d['current_version']}"))


def _deploy_line(d: dict[str, Any]) -> str:
    pid, version, current = d["process_id"], d["version"], d["current_version"]
    if d["created"]:
        line = f"{pid} v{version} deployed; new requests start on it"
    elif d["made_current"]:
        line = f"{pid} v{version} unchanged (identical content); made current: new requests start on it " \
               f"(was v{d['previous_version']})"
    elif version == current:
        line = f"{pid} v{version} unchanged (identical content); it is the current version"
    else:
        line = (f"{pid} v{version} unchanged (identical content); new requests start on v{current}.\n"
                f"  To start them on v{version} again: rf make-current {pid} {version}")
    return line + "".join(f"\n  {w}" for w in d["warnings"])


@click.command("deploy", help="Validate and deploy BPMN/DMN files (or directories) as a new version; new requests "
                              "start on it. Content identical to an existing version is not deployed again: "
                              "--make-current then starts new requests on that version.")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--user", help="Who deploys (recorded in the audit log).")
@click.option("--make-current", "make_current", is_flag=True,
              help="When the content is identical to an older version, make that version current (audited).")
@json_option
@command
def deploy_cmd(paths: tuple[Path, ...], user: str | None, make_current: bool, as_json: bool) -> None:
    from app.services.definitions import current
    from app.services.definitions import deploy as definitions

    services = open_services()
    result = definitions.deploy(services, definitions.read_paths(list(paths)), actor(user))
    data: dict[str, Any] = {"process_id": result.process_id, "version": result.version, "sha256": result.sha256,
                            "created": result.created, "current_version": result.current_version,
                            "made_current": False, "warnings": [str(w) for w in result.warnings]}
    if make_current and not result.is_current:
        done = current.make_current(services, actor(user), result.process_id, result.version)
        data.update(made_current=done.changed, previous_version=done.previous_version, current_version=done.version)
    emit(data, as_json, _deploy_line)


@click.command("make-current", help="Start new requests of PROCESS_ID on VERSION (an older version, to go back; "
                                    "audited). Running requests stay on their versions.")
@click.argument("process_id")
@click.argument("version", type=click.IntRange(min=1))
@click.option("--user", help="Who decides (recorded in the audit log).")
@json_option
@command
def make_current_cmd(process_id: str, version: int, user: str | None, as_json: bool) -> None:
    from app.services.definitions import current

    done = current.make_current(open_services(), actor(user), process_id, version)
    emit(done.as_dict(), as_json, lambda d: d["summary"] + ".")


@click.command("check", help="Run every deploy check on BPMN/DMN files without deploying (exit 2 on errors).")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@json_option
@command
def check_cmd(paths: tuple[Path, ...], as_json: bool) -> None:
    from app.services.definitions import deploy as definitions

    bundle = definitions.check(open_services(), definitions.read_paths(list(paths)))
    data = {"process_id": bundle.process_id, "processes": bundle.process_ids, "forms": bundle.forms,
            "warnings": [str(w) for w in bundle.warnings]}
    emit(data, as_json, lambda d: f"ok: {d['process_id']} ({', '.join(d['processes'])}), "
                                   f"{len(d['forms'])} forms, {len(d['warnings'])} warnings"
                                   + "".join(f"\n  {w}" for w in d["warnings"]))
