"""What the modeler's properties panel offers and checks: the version's forms (and one form's schemas for its
preview, stored or as the owner types it in the page's form editor), the roles a lane can act for, the service
operators with their parameters, and one condition or timer value checked by the deploy check's own code."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from app.domain.permissions import Identity
from app.engine.value_check import KINDS, check_value
from app.errors import InvalidData, NotFound
from app.services.context import Context
from app.services.definitions.form_edits import SCHEMA_SUFFIX, UI_SUFFIX, read_form
from app.services.definitions.versions import require_owner, version_files
from app.store.models import Role
from handlers.parameters import operator_specs


def panel_data(services: Context, identity: Identity, process_id: str, version: int) -> dict[str, Any]:
    """The page data of the modeler's properties panel (JSON-ready)."""
    files = version_files(services, identity, process_id, version)
    with services.uow() as uow:
        roles = [{"code": r.code, "name": r.name, "lane": r.lane}
                 for r in uow.session.scalars(select(Role).order_by(Role.name)) if r.lane]
    return {"forms": sorted(n for n in files if n.endswith(SCHEMA_SUFFIX)),
            "uiSchemas": sorted(n for n in files if n.endswith(UI_SUFFIX)),
            "roles": roles, "operators": operator_specs(list(services.handlers))}


def form_schemas(services: Context, identity: Identity, process_id: str, version: int,
                 name: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """A form of the version: its JSON Schema and, when the version has one beside it, its UI schema."""
    if not name.endswith(SCHEMA_SUFFIX):
        raise InvalidData(f"{name!r} is not a form schema (a file name ending in {SCHEMA_SUFFIX})")
    files = version_files(services, identity, process_id, version)
    if name not in files:
        raise NotFound(f"{process_id} version {version} has no form {name}")
    try:
        schema = json.loads(files[name])
        ui_text = files.get(name.removesuffix(SCHEMA_SUFFIX) + UI_SUFFIX)
        ui = json.loads(ui_text) if ui_text else None
    except ValueError as err:
        raise InvalidData(f"form {name} is not valid JSON: {err}") from None
    if not isinstance(schema, dict):
        raise InvalidData(f"form {name} is not a JSON Schema object")
    return schema, ui if isinstance(ui, dict) else None


def preview_schemas(services: Context, identity: Identity, process_id: str, version: int, schema_text: str,
                    ui_text: str = "", name: str = "") -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The schema (and UI schema, when given) the owner is typing for a form of the version, read for its preview;
    `name` (the form's file name, if it has one) is only said in the messages."""
    version_files(services, identity, process_id, version)  # an owner, and a version that exists
    named = name.endswith(SCHEMA_SUFFIX) and len(name) <= 200
    schema = read_form(name if named else "the form", schema_text, ui=False)
    ui_name = name.removesuffix(SCHEMA_SUFFIX) + UI_SUFFIX if named else "the UI schema"
    return schema, read_form(ui_name, ui_text, ui=True) if ui_text.strip() else None


def check_one_value(identity: Identity, kind: str, value: str) -> dict[str, Any]:
    """{"ok": no error, "findings": the messages (errors and warnings)}; InvalidData for an unknown kind or an empty
    or too long value."""
    require_owner(identity)
    if kind not in KINDS:
        raise InvalidData(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    try:
        problems = check_value(kind, value)
    except ValueError as err:
        raise InvalidData(str(err)) from None
    return {"ok": not any(p.severity == "error" for p in problems),
            "findings": [("warning: " if p.severity != "error" else "") + p.message for p in problems]}
