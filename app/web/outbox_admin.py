"""Administration: the email outbox's failed messages, with the reason each failed, and retrying them."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from werkzeug.wrappers import Response

from app.domain.permissions import ADMIN
from app.errors import Conflict, NotFound
from app.services.admin import outbox
from app.web.auth import require_role
from app.web.context import identity, services

bp = Blueprint("outbox_admin", __name__, url_prefix="/admin/outbox")


@bp.get("")
@require_role(ADMIN)
def failed() -> str:
    return render_template("admin_outbox.html", data=outbox.overview(services(), identity()))


@bp.post("/<int:notification_id>/retry")
@require_role(ADMIN)
def retry(notification_id: int) -> Response:
    try:
        shown = outbox.retry_message(services(), identity(), notification_id)
    except (Conflict, NotFound) as err:
        flash(str(err), "warn")
    else:
        flash(f"Message #{shown.id} to {shown.to} is queued again; the worker sends it on its next pass.", "ok")
    return redirect(url_for("outbox_admin.failed"))


@bp.post("/retry-all")
@require_role(ADMIN)
def retry_all() -> Response:
    queued = outbox.retry_all(services(), identity())
    flash(f"{queued} failed message{'s' * (queued != 1)} queued again." if queued else "No failed messages.", "ok")
    return redirect(url_for("outbox_admin.failed"))
