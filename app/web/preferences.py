"""Preferences (/account/preferences): the time zone the signed-in user reads times in, and which staff emails they
want."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from app.domain import local_time
from app.errors import InvalidData
from app.services.admin import preferences as prefs
from app.web.context import identity, services

bp = Blueprint("preferences", __name__, url_prefix="/account")


def _page(shown: prefs.Preferences, status: int = 200, error: str | None = None,
          asked: str | None = None) -> tuple[str, int]:
    return render_template("preferences.html", prefs=shown, zones=local_time.zone_names(), error=error,
                           now=services().clock.now(),
                           asked=shown.time_zone or "" if asked is None else asked), status


@bp.get("/preferences")
def preferences() -> tuple[str, int]:
    return _page(prefs.preferences(services(), identity()))


@bp.post("/preferences")
def save() -> Response | tuple[str, int]:
    asked = request.form.get("time_zone", "")
    try:
        saved = prefs.set_time_zone(services(), identity(), asked)
    except InvalidData as err:
        message = err.errors[0].message if err.errors else str(err)
        return _page(prefs.preferences(services(), identity()), status=err.status, error=message, asked=asked)
    flash(f"Times are now shown in {saved.effective_zone}"
          f"{'' if saved.time_zone else ' (the installation’s zone)'}.", "ok")
    return redirect(url_for("preferences.preferences"))


@bp.post("/preferences/email")
def save_email() -> Response:
    prefs.set_email_switches(services(), identity(),
                             {name: request.form.get(name) == "on" for name in prefs.EMAIL_SWITCHES})
    flash("Email preferences saved. Notifications under the bell keep coming either way.", "ok")
    return redirect(url_for("preferences.preferences"))
