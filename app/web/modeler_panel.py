"""What the modeler's properties panel and form editor ask the server: a form of the version, or a form's JSON Schema
as the owner types it, rendered by the same renderer as the inbox (its preview), and one condition or timer value
checked by the deploy check's code as it is typed."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from markupsafe import Markup
from werkzeug.wrappers import Response

from app.domain.permissions import PROCESS_OWNERS
from app.errors import AppError
from app.services.definitions import modeler
from app.web.auth import require_role
from app.web.context import identity, services
from app.web.forms.render import render_form

bp = Blueprint("modeler_panel", __name__, url_prefix="/processes")
owner_only = require_role(*PROCESS_OWNERS)


@bp.get("/<process_id>/versions/<int:version>/form-preview")
@owner_only
def form_preview(process_id: str, version: int) -> Any:
    """?schema=<name>.schema.json: the form's fields as an HTML fragment (fresh, with the schema's defaults), in a
    disabled fieldset: shown, never submitted with the modeler's form."""
    name = request.args.get("schema", "").strip()
    if not name:
        return Response("Give the form's schema file as ?schema=<name>.schema.json", status=400,
                        mimetype="text/plain")
    try:
        schema, ui = modeler.form_schemas(services(), identity(), process_id, version, name)
    except AppError as err:
        return Response(str(err), status=err.status, mimetype="text/plain")
    return Response(_fields(schema, ui), mimetype="text/html")


def _fields(schema: dict[str, Any], ui: dict[str, Any] | None) -> str:
    return str(Markup('<fieldset class="rf-preview-fields" disabled>{}</fieldset>').format(
        render_form(schema, ui, {}, {})))


@bp.post("/<process_id>/versions/<int:version>/form-preview")
@owner_only
def typed_form_preview(process_id: str, version: int) -> Any:
    """The form editor's live preview: form fields `schema` (the JSON Schema's text, at most 64 KiB), `ui` (its UI
    schema's text, optional) and `name` (the file's name, for the messages); the form as the task page shows it (its
    description, then its fields in a disabled fieldset), or a 4xx with the reason in plain text."""
    try:
        schema, ui = modeler.preview_schemas(services(), identity(), process_id, version,
                                             request.form.get("schema", ""), request.form.get("ui", ""),
                                             request.form.get("name", "").strip())
    except AppError as err:
        return Response(str(err), status=err.status, mimetype="text/plain")
    description = schema.get("description")
    intro = Markup('<p class="muted">{}</p>').format(description) if isinstance(description, str) and description \
        else Markup("")
    return Response(str(intro) + _fields(schema, ui), mimetype="text/html")


@bp.get("/check-value")
@owner_only
def check_value() -> Any:
    """?kind=condition|timeDuration|timeCycle|timeDate&value=...: {"ok", "findings"} from the deploy check's code."""
    try:
        return jsonify(modeler.check_one_value(identity(), request.args.get("kind", ""),
                                               request.args.get("value", "")))
    except AppError as err:
        return jsonify({"ok": False, "message": str(err), "findings": [str(err)]}), err.status
