"""Intake pages: a new request, the CRM Pending Queue, the 60 day schedule."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from markupsafe import Markup

from app.domain.measures import NO_PLAN_LIMIT_DAYS
from app.domain.permissions import REQUEST_LOGGERS, may_cancel_scheduled, may_pull_crm
from app.domain.vocabulary import PRIORITIES, new_request_form
from app.errors import InvalidData
from app.services.reports import schedule as schedules
from app.services.requests import cancellation, queries
from app.services.requests import crm_queue as intake
from app.services.requests import schedule_queue as queue
from app.web.context import identity, services
from app.web.forms import read_submission, render_form

bp = Blueprint("intake", __name__)

NEW_REQUEST_UI: dict[str, Any] = {
    "ui:order": ["request_type", "routine", "title", "description", "agency", "requester_name", "requester_email",
                 "provider_group", "priority"],
    "request_type": {"ui:widget": "radio", "ui:enumNames": ["Assistance Request", "Enhancement Request"]},
    "description": {"ui:widget": "textarea", "ui:options": {"rows": 4}},
    "requester_email": {"ui:placeholder": "name@agency.ok.gov"},
}


def _schema() -> dict[str, Any]:
    me = identity()
    schema = new_request_form(sorted({g for role in REQUEST_LOGGERS for g in me.groups_with(role)}))
    if not schema["properties"]["provider_group"]["enum"]:
        abort(403, description="Only provider group managers and customer account representatives log requests.")
    return schema


@bp.route("/requests/new", methods=["GET", "POST"])
def new_request() -> Any:
    schema = _schema()
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    if request.method == "POST":
        data, errors = read_submission(schema, request.form, NEW_REQUEST_UI)
        values = dict(request.form) | data
        if not errors:
            request_type = data.pop("request_type")
            try:
                created = intake.new_request_as(services(), identity(), request_type, data, schedule=True)
            except InvalidData as err:
                errors = {e.field: e.message for e in err.errors} or {"": str(err)}
            else:
                waits = (f"; it waits on the 60 day schedule for the week of {created.planned_week:%d %b %Y}"
                         if created.status == "scheduled" and created.planned_week else "")
                flash(f"{created.number} logged (CRM case {created.crm_case_id}){waits}.", "ok")
                return redirect(url_for("pages.request_page", ref=created.number))
    form = Markup(render_form(schema, NEW_REQUEST_UI, values, errors))
    return render_template("new_request.html", form=form), 422 if errors else 200


@bp.get("/crm/queue")
def crm_queue() -> str:
    if not may_pull_crm(identity()):
        abort(403, description="The CRM Pending Queue is worked by provider group managers.")
    return render_template("crm_queue.html", cases=intake.pending_cases(services(), identity()),
                           priorities=PRIORITIES)


@bp.post("/crm/queue/<case_number>/pull")
def pull(case_number: str) -> Any:
    priority = request.form.get("priority", "medium")
    if priority not in PRIORITIES:
        abort(400, description=f"unknown priority {priority!r}")
    as_type = request.form.get("as", "assistance")
    created = intake.pull_case(services(), identity(), case_number, priority, as_type)
    if created.status == "scheduled":
        flash(f"{case_number} pulled into {created.number}, a Request for Change on the 60 day schedule for the week "
              f"of {created.planned_week:%-d %b %Y}; a service provider pulls it when its week comes.", "ok")
    else:
        flash(f"{case_number} pulled into {created.number}; it waits for a specialist to be assigned.", "ok")
    return redirect(url_for("pages.request_page", ref=created.number))


@bp.get("/schedule")
def schedule() -> str:
    plan = schedules.schedule(services(), identity(), services().clock.now(),
                                 group=request.args.get("group", "").strip() or None)
    return render_template("schedule.html", plan=plan, no_plan_days=NO_PLAN_LIMIT_DAYS)


@bp.post("/schedule/<ref>/pull")
def pull_scheduled(ref: str) -> Any:
    """Start a scheduled enhancement request; the puller lands on its first task (drawing up the work plan)."""
    pulled = queue.pull(services(), identity(), ref)
    flash(f"{pulled.number} pulled from the schedule; draw up its work plan and estimates.", "ok")
    if pulled.first_task:
        return redirect(url_for("inbox.task", task_id=pulled.first_task))
    return redirect(url_for("pages.request_page", ref=pulled.number))


@bp.post("/schedule/<ref>/plan")
def replan(ref: str) -> Any:
    planned = queue.replan(services(), identity(), ref, request.form.get("week", ""))
    flash(f"{planned.number} planned for the week of {planned.week:%d %b %Y}.", "ok")
    return redirect(url_for("intake.schedule", group=request.form.get("group") or None))


@bp.route("/schedule/<ref>/cancel", methods=["GET", "POST"])
def cancel_scheduled(ref: str) -> Any:
    """Cancel a request waiting on the schedule: a confirmation page asks for the reason, its form cancels."""
    shown = queries.show_request(services(), ref, reader=identity())  # need-to-know: 404 for anyone else
    if not may_cancel_scheduled(identity(), shown["provider_group"]):
        abort(403, description=f"Only a manager of {shown['provider_group']} cancels a request waiting on its "
                               "60 day schedule.")
    if shown["status"] != "scheduled":
        flash(f"{shown['number']} is not waiting on the schedule any more (it is {shown['status']}); nothing was "
              "cancelled.", "warn")
        return redirect(url_for("pages.request_page", ref=shown["number"]))
    reason, error = "", ""
    if request.method == "POST":
        reason = request.form.get("reason", "")
        try:
            number = cancellation.cancel_scheduled(services(), identity(), ref, reason)
        except InvalidData as err:
            error = "; ".join(e.message for e in err.errors) or str(err)
        else:
            flash(f"{number} cancelled and taken off the 60 day schedule; the customer is told why.", "ok")
            return redirect(url_for("pages.request_page", ref=number))
    return render_template("cancel_scheduled.html", r=shown, reason=reason, error=error,
                           max_reason=cancellation.CANCEL_REASON_MAX), 422 if error else 200
