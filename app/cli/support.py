"""What every `rf` command module shares: --json, the services, error handling and output."""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any

import click

from app.bootstrap import Services, bootstrap
from app.domain import input_limits
from app.errors import AppError, DefinitionRejected, InvalidData

json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")


def open_services() -> Services:
    try:
        services = bootstrap()
    except ValueError as err:  # a setting in the environment that cannot be read
        click.echo(f"error: {err}", err=True)
        sys.exit(2)
    context = click.get_current_context(silent=True)
    if context is not None:  # the command's database connections close with it (also when run in-process)
        context.call_on_close(services.engine.dispose)
    return services


def fail(err: AppError, as_json: bool) -> None:
    details: list[dict[str, Any]] = []
    if isinstance(err, InvalidData):
        details = [{"field": e.field, "message": e.message} for e in err.errors]
    if isinstance(err, DefinitionRejected):
        details = [{"file": p.file, "line": p.line, "element_id": p.element_id, "severity": p.severity,
                    "message": p.message} for p in err.problems]
    if as_json:
        click.echo(json.dumps({"error": str(err.args[0]) if err.args else str(err), "status": err.status,
                               "details": details}, indent=2))
    else:
        click.echo(f"error: {err}", err=True)
    sys.exit(2 if err.status < 500 else 1)


def command(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn AppErrors into a message and exit code instead of a traceback."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except AppError as err:
            fail(err, kwargs.get("as_json", False))

    return wrapper


def emit(data: Any, as_json: bool, human: Callable[[Any], str]) -> None:
    click.echo(json.dumps(data, indent=2, default=str) if as_json else human(data))


def parse_data(raw: str) -> Any:
    try:
        return input_limits.loads(raw)
    except input_limits.JsonTooDeep as err:
        raise InvalidData(f"--data is {err}: flatten it (at most {err.limit} levels)") from None
    except json.JSONDecodeError as err:
        raise InvalidData(f"--data is not valid JSON: {err.msg} at line {err.lineno} column {err.colno}") from None


# a whole-number argument or option that names a record (a version, a job): 1 to the database's INTEGER maximum
RECORD_NUMBER = click.IntRange(1, input_limits.MAX_RECORD_NUMBER)


def actor(user: str | None) -> str:
    return user or f"cli:{getpass.getuser()}"
