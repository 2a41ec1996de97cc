"""`rf token`: API tokens from the command line: create (printed once), list, revoke. Acts as `--user` (their
permissions apply: a user's own tokens, or any user's for an administrator).

Registered on the `rf` group in app/cli/main.py.
"""

from __future__ import annotations

from typing import Any

import click

from app.cli.support import RECORD_NUMBER, command, emit, json_option, open_services

user_option = click.option("--user", required=True, help="Who acts (the token's owner or an administrator).")


@click.group("token", help="API tokens (Authorization: Bearer): create, list, revoke.")
def token_group() -> None:
    pass


def _line(t: dict[str, Any]) -> str:
    return f"#{t['id']}  {t['state']:<8} {t['owner']:<12} {t['kind']:<9} {t['prefix']}…  {t['name']!r}  " \
           f"expires {t['expires_at'] or 'never'}"


@token_group.command("create", help="Create a token; it is printed once (only its hash is kept).")
@click.option("--name", required=True, help="What the token is for (shown in lists and in the audit log).")
@click.option("--owner", default=None, help="The user the token acts as (default: --user).")
@click.option("--kind", type=click.Choice(["personal", "service"]), default="personal", show_default=True)
@click.option("--days", type=click.IntRange(1, 366), default=90, show_default=True, help="Days until it expires.")
@user_option
@json_option
@command
def create_cmd(name: str, owner: str | None, kind: str, days: int, user: str, as_json: bool) -> None:
    from app.services.admin import api_tokens
    from app.services.admin.auth import load_identity

    services = open_services()
    secret, view = api_tokens.create(services, load_identity(services, user), name, owner=owner, kind=kind,
                                     days=days)
    emit({"token": secret, **view.as_dict()}, as_json,
         lambda d: f"{d['token']}\n(token #{d['id']} for {d['owner']}, expires {d['expires_at']}; shown only once)")


@token_group.command("list", help="Tokens of --user (an administrator sees everyone's).")
@user_option
@json_option
@command
def list_cmd(user: str, as_json: bool) -> None:
    from app.services.admin import api_tokens
    from app.services.admin.auth import load_identity

    services = open_services()
    found = [t.as_dict() for t in api_tokens.list_tokens(services, load_identity(services, user))]
    emit(found, as_json, lambda rows: "\n".join(_line(t) for t in rows) or "no tokens")


@token_group.command("revoke", help="Revoke token ID: it no longer signs anyone in.")
@click.argument("token_id", type=RECORD_NUMBER)
@user_option
@json_option
@command
def revoke_cmd(token_id: int, user: str, as_json: bool) -> None:
    from app.services.admin import api_tokens
    from app.services.admin.auth import load_identity

    services = open_services()
    emit(api_tokens.revoke(services, load_identity(services, user), token_id).as_dict(), as_json, _line)
