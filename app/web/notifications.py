"""The bell in the header and /notifications: the signed-in user's notifications, newest first; marking them read."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from app.errors import NotFound
from app.services.notices import inbox as notices
from app.web.context import identity, services

bp = Blueprint("notifications", __name__, url_prefix="/notifications")


@bp.app_context_processor
def _bell() -> dict[str, Any]:
    def unread_notices() -> int:
        """Counted only when a page draws the bell (a signed-in user's page)."""
        if "unread_notices" not in g:
            try:
                g.unread_notices = notices.unread_count(services(), identity())
            except NotFound:
                g.unread_notices = 0
        return int(g.unread_notices)

    return {"unread_notices": unread_notices}


def _page_arg() -> int:
    raw = request.args.get("page", "1")
    return int(raw) if raw.isdigit() and len(raw) < 7 else 1


@bp.get("")
def notification_list() -> str:
    return render_template("notifications.html", page=notices.page_of(services(), identity(), _page_arg()))


@bp.post("/<int:notice_id>/read")
def mark_read(notice_id: int) -> Response:
    notices.mark_read(services(), identity(), notice_id)  # NotFound: the app's 404 page
    return redirect(url_for("notifications.notification_list", page=_page_arg()))


@bp.post("/read-all")
def mark_all_read() -> Response:
    marked = notices.mark_all_read(services(), identity())
    flash(f"{marked} notification{'s' * (marked != 1)} marked read." if marked else "Nothing unread.", "ok")
    return redirect(url_for("notifications.notification_list"))
