"""Administration pages: users, their roles in provider groups, provider groups."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from app.domain.permissions import ADMIN
from app.errors import Conflict, InvalidData
from app.services.admin import users as admin
from app.web.auth import require_role
from app.web.context import identity, services

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/users")
@require_role(ADMIN)
def users() -> str:
    return render_template("admin_users.html", data=admin.overview(services(), identity()))


def _done(message: str) -> Response:
    flash(message, "ok")
    return redirect(url_for("admin.users"))


def _failed(err: InvalidData | Conflict) -> tuple[str, int]:
    details = "; ".join(f"{e.field}: {e.message}" for e in getattr(err, "errors", []))
    flash(f"{err.args[0]}{' (' + details + ')' if details else ''}", "warn")
    return render_template("admin_users.html", data=admin.overview(services(), identity())), err.status


@bp.post("/users")
@require_role(ADMIN)
def create_user() -> Response | tuple[str, int]:
    fields = {k: request.form.get(k, "") for k in ("username", "full_name", "email", "password")}
    try:
        admin.create_user(services(), identity(), fields)
    except (InvalidData, Conflict) as err:
        return _failed(err)
    return _done(f"User {fields['username']} created.")


@bp.post("/users/<username>/grant")
@require_role(ADMIN)
def grant(username: str) -> Response | tuple[str, int]:
    try:
        admin.grant(services(), identity(), username, request.form.get("role", ""), request.form.get("group") or None)
    except (InvalidData, Conflict) as err:
        return _failed(err)
    return _done(f"Role granted to {username}.")


@bp.post("/memberships/<int:membership_id>/revoke")
@require_role(ADMIN)
def revoke(membership_id: int) -> Response | tuple[str, int]:
    try:
        admin.revoke(services(), identity(), membership_id)
    except Conflict as err:
        return _failed(err)
    return _done("Role removed.")


@bp.post("/users/<username>/active")
@require_role(ADMIN)
def set_active(username: str) -> Response | tuple[str, int]:
    active = request.form.get("active") == "1"
    try:
        admin.set_active(services(), identity(), username, active)
    except Conflict as err:
        return _failed(err)
    return _done(f"{username} {'activated' if active else 'deactivated'}.")


@bp.post("/groups")
@require_role(ADMIN)
def create_group() -> Response | tuple[str, int]:
    try:
        admin.create_group(services(), identity(), request.form.get("code", ""), request.form.get("name", ""))
    except (InvalidData, Conflict) as err:
        return _failed(err)
    return _done("Provider group created.")
