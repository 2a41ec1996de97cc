"""Administration: outbound webhook subscriptions (create, deactivate, rotate the secret, send a test event) and each
one's delivery log with its attempts and a Redeliver button. The secret is shown once, in the answer to the form
that made it (never put in a flash message, which would ride in the session cookie)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from app.domain import webhooks as catalogue
from app.domain.permissions import may_manage_webhooks
from app.errors import Conflict, InvalidData
from app.services.admin import webhooks
from app.web.context import identity, services

bp = Blueprint("webhooks_admin", __name__, url_prefix="/admin/webhooks")


@bp.before_request
def _administrators_only() -> None:
    if not may_manage_webhooks(identity()):  # the same rule the navigation and the services use
        abort(403, description="Webhooks are for administrators only.")


def _list(status: int = 200, **extra: Any) -> tuple[str, int]:
    return render_template("admin_webhooks.html", subscriptions=webhooks.subscriptions(services(), identity()),
                           catalogue=catalogue.CATALOGUE, form=extra.pop("form", {}), **extra), status


@bp.get("")
def subscriptions() -> tuple[str, int]:
    return _list()


@bp.post("")
def subscribe() -> tuple[str, int]:
    url, description = request.form.get("url", ""), request.form.get("description", "")
    events = request.form.getlist("events")
    form: dict[str, Any] = {"url": url, "description": description, "events": events}
    try:
        created = webhooks.subscribe(services(), identity(), url, description, events)
    except InvalidData as err:
        return _list(err.status, form=form, errors={e.field: e.message for e in err.errors},
                     problem=str(err.args[0]))
    return _list(201, new_secret=created.secret, secret_for=created.subscription)


def _log(sub_id: int, status: int = 200, **extra: Any) -> tuple[str, int]:
    return render_template("admin_webhook.html", data=webhooks.delivery_log(services(), identity(), sub_id),
                           catalogue=catalogue.CATALOGUE, **extra), status


@bp.get("/<int:sub_id>")
def deliveries(sub_id: int) -> tuple[str, int]:
    return _log(sub_id)


def _back(sub_id: int, message: str, category: str = "ok") -> Response:
    flash(message, category)
    return redirect(url_for("webhooks_admin.deliveries", sub_id=sub_id))


@bp.post("/<int:sub_id>/active")
def set_active(sub_id: int) -> Response:
    active = request.form.get("active") == "1"
    try:
        view = webhooks.set_active(services(), identity(), sub_id, active)
    except Conflict as err:
        return _back(sub_id, str(err), "warn")
    return _back(sub_id, f"Subscription #{view.id} is {'active again' if active else 'inactive: it gets nothing'}.")


@bp.post("/<int:sub_id>/rotate")
def rotate(sub_id: int) -> tuple[str, int]:
    secret = webhooks.rotate_secret(services(), identity(), sub_id)
    return _log(sub_id, new_secret=secret)


@bp.post("/<int:sub_id>/ping")
def ping(sub_id: int) -> Response:
    try:
        event_id = webhooks.ping(services(), identity(), sub_id)
    except Conflict as err:
        return _back(sub_id, str(err), "warn")
    return _back(sub_id, f"Test event {event_id} queued; the worker posts it on its next pass.")


@bp.post("/<int:sub_id>/deliveries/<int:delivery_id>/redeliver")
def redeliver(sub_id: int, delivery_id: int) -> Response:
    try:
        view = webhooks.redeliver(services(), identity(), sub_id, delivery_id)
    except Conflict as err:
        return _back(sub_id, str(err), "warn")
    return _back(sub_id, f"Event {view.event_id} ({view.event_type}) queued again with the same event id.")
