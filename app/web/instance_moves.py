"""Migrating the running instances of a definition version to a newer version (process owners, administrators)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from app.domain.input_limits import MAX_RECORD_NUMBER, record_number
from app.domain.permissions import PROCESS_OWNERS
from app.errors import FieldError, InvalidData
from app.services.definitions import instance_moves as migration
from app.web.auth import require_role
from app.web.context import identity, services

bp = Blueprint("migration", __name__)
PATH = "/processes/<process_id>/versions/<int:version>/migrate"


def _version_arg(raw: str | None, name: str) -> int | None:
    if not raw:
        return None
    number = record_number(raw)
    if number is None:
        raise InvalidData(f"{name} must be a version number",
                          [FieldError(name, f"{raw[:40]!r} is not a version number (1 to {MAX_RECORD_NUMBER})")])
    return number


@bp.get(PATH)
@require_role(*PROCESS_OWNERS)
def migrate_page(process_id: str, version: int) -> str:
    result = migration.check(services(), identity(), process_id, version, _version_arg(request.args.get("to"), "to"))
    return render_template("migrate.html", check=result)


@bp.post(PATH)
@require_role(*PROCESS_OWNERS)
def migrate_instances(process_id: str, version: int) -> Response:
    form = request.form
    seen = {}
    for item in form.getlist("seen"):
        number, _, seen_version = item.partition(":")
        seen_number = record_number(seen_version)
        if seen_number is not None:
            seen[number] = seen_number
    everything = form.get("action") == "all"
    try:
        report = migration.migrate(services(), identity(), process_id, version,
                                   to_version=_version_arg(form.get("to"), "to"),
                                   requests=[] if everything else form.getlist("request"), all_eligible=everything,
                                   seen={} if everything else seen)
    except InvalidData as err:
        flash(f"Nothing migrated: {err}.", "warn")
        return redirect(url_for("migration.migrate_page", process_id=process_id, version=version,
                                to=form.get("to") or None), code=303)
    flash(report.summary + ".", "warn" if report.refused else "ok")
    for number, reason in report.refused:
        flash(f"{number} refused: {reason}", "warn")
    return redirect(url_for("migration.migrate_page", process_id=process_id, version=version,
                            to=report.to_version), code=303)
