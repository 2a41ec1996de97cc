"""`rf init`, `rf deploy`, `rf check`: the database and the deployed process definitions."""

from __future__ import annotations

from pathlib import Path

import click

from app.cli.support import actor, command, emit, json_option, open_services


@click.command("init", help="Migrate the database, seed reference data, deploy bpmn/ if it changed.")
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
            "deployed": result.created}
    emit(data, as_json, lambda d: (f"database ready; {d['process_id']} v{d['version']} "
                                    f"{'deployed' if d['deployed'] else 'already current'}"))


@click.command("deploy", help="Validate and deploy BPMN/DMN files (or directories) as a new version.")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--user", help="Who deploys (recorded in the audit log).")
@json_option
@command
def deploy_cmd(paths: tuple[Path, ...], user: str | None, as_json: bool) -> None:
    from app.services.definitions import deploy as definitions

    result = definitions.deploy(open_services(), definitions.read_paths(list(paths)), actor(user))
    data = {"process_id": result.process_id, "version": result.version, "sha256": result.sha256,
            "created": result.created, "warnings": [str(w) for w in result.warnings]}
    emit(data, as_json, lambda d: f"{d['process_id']} v{d['version']} "
                                   f"{'deployed' if d['created'] else 'unchanged (identical content)'}"
                                   + "".join(f"\n  {w}" for w in d["warnings"]))


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
