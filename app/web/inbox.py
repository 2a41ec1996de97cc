"""The staff inbox and task pages: list, claim, release, assign, fill in and submit the task's form."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from markupsafe import Markup
from werkzeug.wrappers import Response

from app.domain.vocabulary import PRIORITIES, REQUEST_TYPES
from app.errors import Conflict, InvalidData
from app.observability import metrics
from app.services.requests import story
from app.services.tasks import actions as tasks
from app.services.tasks import inbox as inbox_service
from app.web.context import identity, services
from app.web.forms import read_submission, render_form

bp = Blueprint("inbox", __name__)


def _int(value: str | None, default: int) -> int:
    try:
        return max(1, int(value or default))
    except ValueError:
        return default


@bp.get("/inbox")
def inbox() -> str:
    args = request.args
    queue = args.get("queue", "")
    filters = inbox_service.InboxFilters(
        queue=queue if queue in inbox_service.QUEUES else "mine",
        group=args.get("group") or None, request_type=args.get("type") if args.get("type") in REQUEST_TYPES else None,
        priority=args.get("priority") if args.get("priority") in PRIORITIES else None,
        overdue=args.get("overdue") == "1", sort=args.get("sort") or "due", page=_int(args.get("page"), 1))
    page = inbox_service.inbox(services(), identity(), filters)
    return render_template("inbox.html", page=page, filters=filters, priorities=PRIORITIES, types=REQUEST_TYPES,
                           queues=inbox_service.QUEUES, sorts=inbox_service.SORTS)


def _task_page(task_id: str, values: dict[str, Any] | None = None, errors: dict[str, str] | None = None,
               status: int = 200) -> tuple[str, int]:
    detail = tasks.task_detail(services(), task_id, identity().username)
    form = render_form(detail.schema, detail.ui_schema, values or {}, errors or {})
    return render_template("task.html", d=detail, form=Markup(form),
                           billing=story.billing_cases(services(), detail.request["number"])), status


@bp.get("/tasks/<task_id>")
def task(task_id: str) -> tuple[str, int]:
    return _task_page(task_id)


@bp.post("/tasks/<task_id>")
def submit(task_id: str) -> Any:
    """One service call: it reads the form with the schema of the task's version, validates once and completes; only
    a rejected form renders the task page again."""
    form = request.form

    def read(schema: dict[str, Any], ui_schema: dict[str, Any] | None,
             today: date) -> tuple[dict[str, Any], dict[str, str]]:
        return read_submission(schema, form, ui_schema, today)

    try:
        done = tasks.complete(services(), task_id, identity(), read_form=read)
    except tasks.FormRejected as err:
        return _task_page(task_id, dict(form) | err.data, err.fields, 422)
    except InvalidData as err:
        return _task_page(task_id, dict(form), {e.field: e.message for e in err.errors} or {"": str(err)}, 422)
    except Conflict as err:
        flash(str(err), "warn")
        return redirect(url_for("inbox.inbox"))
    metrics.TASKS_COMPLETED.labels(done.bpmn_id, "web").inc()
    flash(f"“{done.name}” completed for {done.request_number}.", "ok")
    return redirect(url_for("inbox.inbox"))


def _back(task_id: str) -> Response:
    target = request.form.get("next") or url_for("inbox.task", task_id=task_id)
    return redirect(target if target.startswith("/") and not target.startswith("//") else url_for("inbox.inbox"))


def _act(task_id: str, action: Callable[[], tasks.TaskView], message: Callable[[tasks.TaskView], str]) -> Response:
    try:
        flash(message(action()), "ok")
    except Conflict as err:
        flash(str(err), "warn")
    return _back(task_id)


@bp.post("/tasks/<task_id>/claim")
def claim(task_id: str) -> Response:
    """A claimed task is the claimer's next work: they land on its form, not on a list it has just left."""
    try:
        taken = tasks.claim(services(), task_id, identity())
    except Conflict as err:
        flash(str(err), "warn")
        return _back(task_id)
    flash(f"You took “{taken.name}” ({taken.request_number}).", "ok")
    return redirect(url_for("inbox.task", task_id=task_id))


@bp.post("/tasks/<task_id>/unclaim")
def unclaim(task_id: str) -> Response:
    return _act(task_id, lambda: tasks.unclaim(services(), task_id, identity().username),
                lambda v: f"“{v.name}” is back in the group queue.")


@bp.post("/tasks/<task_id>/assign")
def assign(task_id: str) -> Response:
    assignee = request.form.get("assignee", "")
    return _act(task_id, lambda: tasks.assign(services(), task_id, identity().username, assignee),
                lambda v: f"“{v.name}” assigned to {v.assignee}.")
