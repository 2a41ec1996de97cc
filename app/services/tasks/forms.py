"""User-task forms: load the task's JSON Schema from its definition version, fill dynamic choices, validate."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from app.errors import InvalidData
from app.services.definitions.deploy import form_file
from app.services.definitions.version_cache import VersionData
from app.services.requests.intake import validate
from app.store import reference_cache
from app.store.models import Membership, ProviderGroup, Role, TaskRow, User

_MEMBERS = (select(User.username).join(Membership).join(Role).join(ProviderGroup)
            .where(Role.code == bindparam("role_code"), ProviderGroup.code == bindparam("group_code"), User.is_active)
            .order_by(User.username))


def group_members(session: Session, role_code: str, group_code: str) -> list[str]:
    """The active holders of the role in the group, by username (reference data: read once per process and
    reference generation)."""
    return list(reference_cache.cached(session, "group_members", (role_code, group_code), lambda: tuple(
        session.scalars(_MEMBERS, {"role_code": role_code, "group_code": group_code}))))


def _fill_choices(session: Session, node: Any, group_code: str) -> None:
    if isinstance(node, dict):
        source = node.get("x-choices")
        if isinstance(source, str) and source.startswith("group_members:"):
            node["enum"] = group_members(session, source.split(":", 1)[1], group_code) or [""]
        for value in node.values():
            _fill_choices(session, value, group_code)
    elif isinstance(node, list):
        for value in node:
            _fill_choices(session, value, group_code)


def schema_for(session: Session, task: TaskRow, definition_version_id: int,
               version: VersionData | None = None) -> dict[str, Any]:
    """The task's form schema with its dynamic choices filled in (a fresh copy); `version`, when the caller already
    has it, saves looking the version up again."""
    if not task.form_schema:
        return {"type": "object"}
    schema = copy.deepcopy(version.form(task.form_schema)) if version is not None else \
        form_file(session, definition_version_id, task.form_schema)
    _fill_choices(session, schema, task.provider_group)
    return schema


def validate_submission(schema: dict[str, Any], data: Any, today: date | None = None, *,
                        schema_checked: bool = False) -> dict[str, Any]:
    """The submission checked against the form's schema and its rules (app.domain.form_rules: cross-field
    comparisons, single-line fields); `today` (the clock's date) decides comparisons with "today".
    `schema_checked`: the caller already ran that same validator (the HTML form's reader, for its messages), so
    only the checks beyond the schema are left (nesting depth, control characters)."""
    if not isinstance(data, dict):
        raise InvalidData("form data must be a JSON object")
    validate(schema, data, "form data", today, schema_checked=schema_checked)
    return data
