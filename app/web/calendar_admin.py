"""Administration page of the business calendar (holidays, ICS import) and of the SLA targets."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from app.domain.permissions import ADMIN
from app.errors import Conflict, FieldError, InvalidData, NotFound
from app.services.admin import calendar as calendar_admin
from app.web.auth import require_role
from app.web.context import identity, services

bp = Blueprint("calendar_admin", __name__, url_prefix="/admin/calendar")


def _page(status: int = 200) -> tuple[str, int]:
    return render_template("admin_calendar.html", data=calendar_admin.overview(services(), identity())), status


@bp.get("")
@require_role(ADMIN)
def calendar() -> tuple[str, int]:
    return _page()


def _done(message: str) -> Response:
    flash(message, "ok")
    return redirect(url_for("calendar_admin.calendar"))


def _failed(err: InvalidData | Conflict | NotFound) -> tuple[str, int]:
    details = "; ".join(f"{e.field}: {e.message}" for e in getattr(err, "errors", []))
    flash(f"{err.args[0]}{' (' + details + ')' if details else ''}", "warn")
    return _page(err.status)


@bp.post("/holidays")
@require_role(ADMIN)
def add_holiday() -> Response | tuple[str, int]:
    try:
        holiday = calendar_admin.add_holiday(services(), identity(), request.form.get("day", ""),
                                             request.form.get("name", ""))
    except (InvalidData, Conflict) as err:
        return _failed(err)
    return _done(f"{holiday.day:%A, %B %-d, %Y} ({holiday.name}) is now a holiday.")


@bp.post("/holidays/<int:holiday_id>/remove")
@require_role(ADMIN)
def remove_holiday(holiday_id: int) -> Response | tuple[str, int]:
    try:
        holiday = calendar_admin.remove_holiday(services(), identity(), holiday_id)
    except NotFound as err:
        return _failed(err)
    return _done(f"{holiday.day:%A, %B %-d, %Y} ({holiday.name}) is a working day again.")


@bp.post("/years")
@require_role(ADMIN)
def load_year() -> Response | tuple[str, int]:
    year = request.form.get("year", "")
    try:
        added = calendar_admin.load_year(services(), identity(), year)
    except (InvalidData, Conflict) as err:
        return _failed(err)
    return _done(f"Loaded {added} statutory holidays for {year.strip()}; check them against the Governor's "
                 "Executive Order.")


@bp.post("/import")
@require_role(ADMIN)
def import_ics() -> Response | tuple[str, int]:
    upload = request.files.get("ics")
    if upload is None or not upload.filename:
        return _failed(InvalidData("the calendar file was not imported", [FieldError("ics", "choose an .ics file")]))
    content = upload.stream.read(calendar_admin.ICS_MAX_BYTES + 1)
    try:
        result = calendar_admin.import_ics(services(), identity(), content, upload.filename)
    except InvalidData as err:
        return _failed(err)
    parts = [f"Imported {len(result.added)} holiday{'' if len(result.added) == 1 else 's'} from {upload.filename}"]
    if result.already_present:
        parts.append(f"{len(result.already_present)} already present")
    if result.weekend:
        parts.append(f"{len(result.weekend)} on a weekend skipped")
    if result.cancelled:
        parts.append(f"{result.cancelled} cancelled skipped")
    return _done("; ".join(parts) + ".")


@bp.post("/targets")
@require_role(ADMIN)
def set_targets() -> Response | tuple[str, int]:
    try:
        changes = calendar_admin.set_targets(services(), identity(), request.form.to_dict())
    except InvalidData as err:
        return _failed(err)
    if not changes:
        return _done("No SLA target changed.")
    listed = "; ".join(f"{c['request_type']} {c['priority']}: {c['before']} → {c['after']}" for c in changes)
    return _done(f"SLA targets saved ({listed}). Requests logged from now on use them.")
