"""Incidents: the list, one incident with what failed and the data it read, and the three repairs (retry as it is,
correct the data and retry, cancel the request with a reason)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from markupsafe import Markup
from werkzeug.wrappers import Response

from app.domain.permissions import abilities
from app.errors import Forbidden, InvalidData
from app.services.requests import incidents
from app.web.context import identity, services
from app.web.forms import read_submission, render_form

bp = Blueprint("incidents", __name__, url_prefix="/incidents")


@bp.get("")
def incident_list() -> str:
    if not abilities(identity()).see_incidents:
        abort(403, description="Incidents are for administrators, process owners and provider group managers.")
    return render_template("incidents.html", rows=incidents.list_incidents(services(), identity()))


def _page(job_id: int, values: dict[str, Any] | None = None, errors: dict[str, str] | None = None,
          reason: str = "", status: int = 200) -> tuple[str, int]:
    detail = incidents.incident(services(), identity(), job_id)
    shown = dict(detail.inputs.reads) if values is None else values
    form = render_form(detail.edit_schema, None, shown, errors or {}) if detail.edit_schema["properties"] else ""
    return render_template("incident.html", d=detail, form=Markup(form), reason=reason), status


@bp.get("/<int:job_id>")
def incident(job_id: int) -> tuple[str, int]:
    return _page(job_id)


@bp.post("/<int:job_id>/retry")
def retry(job_id: int) -> Response:
    incidents.retry(services(), identity(), job_id)
    flash("The step will run again in a moment.", "ok")
    return redirect(url_for("incidents.incident_list"))


@bp.post("/<int:job_id>/edit")
def edit(job_id: int) -> Response | tuple[str, int]:
    detail = incidents.incident(services(), identity(), job_id)
    if not detail.may_act:
        raise Forbidden("only administrators and the group's managers act on an incident")
    data, errors = read_submission(detail.edit_schema, request.form)
    if errors:
        return _page(job_id, dict(request.form) | data, errors, status=422)
    try:
        changed = incidents.edit_and_retry(services(), identity(), job_id, data)
    except InvalidData as err:
        return _page(job_id, data, {e.field: e.message for e in err.errors} or {"": str(err)}, status=422)
    flash(f"Data corrected ({', '.join(changed).replace('_', ' ')}); the step will run again in a moment.", "ok")
    return redirect(url_for("incidents.incident_list"))


@bp.post("/<int:job_id>/cancel")
def cancel(job_id: int) -> Response | tuple[str, int]:
    reason = request.form.get("reason", "")
    try:
        number = incidents.cancel_request(services(), identity(), job_id, reason)
    except InvalidData as err:
        flash(f"Not cancelled: {err}.", "warn")
        return _page(job_id, reason=reason, status=422)
    flash(f"{number} cancelled; the customer is told why.", "ok")
    return redirect(url_for("pages.request_page", ref=number))
