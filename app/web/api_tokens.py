"""API tokens as their owners see them: create (the secret is shown once), list, revoke. Administrators see everyone's
and create service-account tokens for the user a system acts as."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from app.domain.permissions import may_create_service_tokens
from app.errors import AppError, InvalidData
from app.services.admin import api_tokens
from app.web.context import identity, services

bp = Blueprint("api_tokens", __name__, url_prefix="/account")


def _page(created: tuple[str, api_tokens.TokenView] | None = None, status: int = 200,
          form: dict[str, Any] | None = None) -> tuple[str, int]:
    me = identity()
    return render_template("api_tokens.html", tokens=api_tokens.list_tokens(services(), me), created=created,
                           admin=may_create_service_tokens(me), form=form or {},
                           default_days=api_tokens.DEFAULT_DAYS, longest_days=api_tokens.LONGEST_DAYS), status


@bp.get("/tokens")
def tokens() -> tuple[str, int]:
    return _page()


@bp.post("/tokens")
def create() -> tuple[str, int]:
    form = {k: request.form.get(k, "").strip() for k in ("name", "owner", "kind", "days")}
    try:
        days = int(form["days"] or api_tokens.DEFAULT_DAYS)
    except ValueError:
        flash("Expiry: a whole number of days.", "warn")
        return _page(status=422, form=form)
    try:
        created = api_tokens.create(services(), identity(), form["name"], owner=form["owner"] or None,
                                    kind=form["kind"] or "personal", days=days)
    except InvalidData as err:
        flash(str(err), "warn")
        return _page(status=err.status, form=form)
    except AppError as err:
        flash(str(err), "warn")
        return _page(status=err.status, form=form)
    return _page(created)


@bp.post("/tokens/<int:token_id>/revoke")
def revoke(token_id: int) -> Response:
    revoked = api_tokens.revoke(services(), identity(), token_id)
    flash(f"Token “{revoked.name}” of {revoked.owner} revoked: it no longer signs anyone in.", "ok")
    return redirect(url_for("api_tokens.tokens"))
