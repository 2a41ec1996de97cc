"""A manager's Team queue: their groups' open tasks by person, with load counts, and bulk release/reassign."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from app.errors import InvalidData
from app.services.tasks import team as team_service
from app.web.context import identity, services

bp = Blueprint("team", __name__)


def _page(person: str | None, error: InvalidData | None = None, selected: frozenset[str] = frozenset(),
          status: int = 200) -> tuple[str, int]:
    page = team_service.team(services(), identity(), person or None)
    return render_template("team.html", page=page, error=error, selected=selected), status


@bp.get("/team")
def team_queue() -> tuple[str, int]:
    return _page(request.args.get("person"))


@bp.post("/team/bulk")
def bulk() -> Response | tuple[str, int]:
    chosen = request.form.getlist("task")
    action, assignee = request.form.get("action", ""), request.form.get("assignee", "").strip()
    person = request.form.get("person") or None
    try:
        if action == "release":
            done = team_service.bulk_release(services(), chosen, identity().username)
            flash(f"{done} task{'s' if done != 1 else ''} back in the group queue.", "ok")
        elif action == "assign":
            done = team_service.bulk_assign(services(), chosen, identity().username, assignee)
            flash(f"{done} task{'s' if done != 1 else ''} assigned to {assignee}.", "ok")
        else:
            raise InvalidData("choose Release or Reassign", [])
    except InvalidData as err:
        return _page(person, err, frozenset(chosen), err.status)
    return redirect(url_for("team.team_queue", person=person), 303)
