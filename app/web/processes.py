"""The process owner's area: deployed processes and their versions (and which one new requests start on: making an
older version current again), a version's diagram with where its running instances wait, uploading a bundle to check
or deploy it, and the bpmn-js modeler to edit a version and deploy the result through the same checks."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from app.domain.permissions import PROCESS_OWNERS
from app.errors import DefinitionRejected, InvalidData, Problem
from app.services.definitions import current, form_edits, insights, modeler, what_if
from app.services.definitions import versions as processes
from app.web.auth import require_role
from app.web.context import identity, services
from app.web.downloads import attachment

bp = Blueprint("processes", __name__, url_prefix="/processes")
owner_only = require_role(*PROCESS_OWNERS)


@bp.get("")
@owner_only
def process_list() -> str:
    return render_template("processes.html", rows=processes.list_processes(services(), identity()))


def _uploaded() -> tuple[dict[str, bytes], list[Problem]]:
    files: dict[str, bytes] = {}
    problems: list[Problem] = []
    for upload in request.files.getlist("files"):
        if not upload.filename:
            continue
        try:
            name = processes.clean_name(upload.filename)
        except DefinitionRejected as err:
            problems += err.problems
            continue
        if name in files:
            problems.append(Problem(file=name, message="uploaded twice; each file name may appear once"))
        files[name] = upload.read()
    return files, problems


def _deployed(outcome: processes.Outcome) -> Response:
    """Back to the versions page; content identical to a version that is not current offers to make it current."""
    offer = None
    if outcome.created:
        flash(f"Deployed {outcome.process_id} version {outcome.version}; new requests start on it", "ok")
    elif outcome.version == outcome.current_version:
        flash(f"Identical to version {outcome.version}; nothing deployed. Version {outcome.version} is current", "ok")
    else:
        flash(f"Identical to version {outcome.version}; nothing deployed. New requests start on version "
              f"{outcome.current_version}, the current version", "warn")
        offer = outcome.version
    warnings = [p for p in outcome.problems if p.severity != "error"]
    if warnings:
        flash(f"{len(warnings)} warning(s): " + "; ".join(str(w) for w in warnings), "warn")
    return redirect(url_for("processes.versions", process_id=outcome.process_id, offer=offer), code=303)


@bp.route("/deploy", methods=["GET", "POST"])
@owner_only
def deploy() -> Any:
    if request.method == "GET":
        return render_template("processes_deploy.html", outcome=None, action="", replay=what_if.LAST)
    action = "deploy" if request.form.get("action") == "deploy" else "check"
    files, problems = _uploaded()
    raw = request.form.get("what_if")
    replay = what_if.LAST
    try:
        replay = what_if.count(raw)
    except InvalidData as err:
        if action == "check":
            problems.append(Problem(file="", message=str(err)))
    if problems:
        outcome = processes.Outcome(False, problems, status=422)
    else:
        outcome = processes.submit(services(), identity(), files, deploy=action == "deploy", replay=replay)
    if outcome.ok and action == "deploy":
        return _deployed(outcome)
    return render_template("processes_deploy.html", outcome=outcome, action=action,
                           uploaded=sorted(files), replay=raw if raw is not None else replay), outcome.status


@bp.get("/<process_id>")
@owner_only
def versions(process_id: str) -> str:
    process = processes.process_versions(services(), identity(), process_id)
    offered = request.args.get("offer", "")
    offer = next((v for v in process["versions"] if str(v["version"]) == offered and not v["current"]), None)
    return render_template("processes_versions.html", process=process, offer=offer)


@bp.post("/<process_id>/versions/<int:version>/make-current")
@owner_only
def make_current(process_id: str, version: int) -> Response:
    """Going back (or forward) a version: new requests start on this one from now on."""
    done = current.make_current(services(), identity(), process_id, version)
    flash(done.summary + ".", "ok")
    return redirect(url_for("processes.versions", process_id=process_id), code=303)


@bp.get("/<process_id>/versions/<int:version>")
@owner_only
def version(process_id: str, version: int) -> str:
    detail = processes.version_detail(services(), identity(), process_id, version)
    return render_template("processes_version.html", v=detail)


@bp.get("/<process_id>/versions/<int:version>/insights")
def version_insights(process_id: str, version: int) -> Any:
    """How the version's instances have run (counts, waits, loops, variants) on its diagram, for a period; also as
    CSV (`?format=csv`) and JSON (`?format=json`). Process owners, auditors and administrators (the service checks)."""
    fmt = request.args.get("format", "html")
    if fmt not in ("html", "csv", "json"):
        return {"error": f"unknown format {fmt!r}: use html, csv or json"}, 400
    found = insights.version_insights(services(), identity(), process_id, version,
                                      request.args.get("since"), request.args.get("until"))
    if fmt == "json":
        return {**found, "since": found["since"].isoformat(), "until": found["until"].isoformat(),
                "diagrams": [{k: v for k, v in d.items() if k != "xml"} for d in found["diagrams"]]}
    if fmt == "csv":
        name = f"{process_id}-v{version}-insights-{found['since']}-{found['until']}.csv"
        return attachment(insights.to_csv(found).encode(), name, "text/csv; charset=utf-8")
    return render_template("processes_insights.html", v=found)


@bp.get("/<process_id>/versions/<int:version>/waiting.json")
@owner_only
def waiting(process_id: str, version: int) -> dict[str, Any]:
    """Where the version's running instances wait now: what the version page's diagram polls to stay live."""
    detail = processes.version_detail(services(), identity(), process_id, version)
    return {"process_id": process_id, "version": version, "running": detail["running"],
            "finished": detail["finished"], "waiting": detail["waiting"],
            "diagrams": [{key: d[key] for key in ("file", "counts", "incidents")} for d in detail["diagrams"]]}


@bp.route("/<process_id>/versions/<int:version>/edit", methods=["GET", "POST"])
@owner_only
def edit(process_id: str, version: int) -> Any:
    files = processes.version_files(services(), identity(), process_id, version)
    main = f'id="{process_id}"'
    bpmn_files = {name: text for name, text in sorted(files.items(), key=lambda item: (main not in item[1], item[0]))
                  if name.endswith(".bpmn")}
    form_files = {name: text for name, text in sorted(files.items()) if form_edits.is_form_file(name)}
    panel = {**modeler.panel_data(services(), identity(), process_id, version),
             "previewUrl": url_for("modeler_panel.form_preview", process_id=process_id, version=version),
             "checkUrl": url_for("modeler_panel.check_value")}
    page = {"process_id": process_id, "version": version, "panel": panel, "max_form_bytes": form_edits.MAX_FORM_BYTES}
    if request.method == "GET":
        return render_template("modeler.html", bpmn_files=bpmn_files, form_files=form_files, outcome=None, action="",
                               flagged={}, **page)
    action = "deploy" if request.form.get("action") == "deploy" else "check"
    edited = {key.removeprefix("bpmn:"): value.replace("\r\n", "\n") for key, value in request.form.items()
              if key.startswith("bpmn:")}
    forms = {key.removeprefix("form:"): value.replace("\r\n", "\n") for key, value in request.form.items()
             if key.startswith("form:")}
    outcome = processes.submit_edit(services(), identity(), process_id, version, edited, deploy=action == "deploy",
                                    forms=forms)
    if outcome.ok and action == "deploy":
        return _deployed(outcome)
    shown = {name: edited.get(name, text) for name, text in bpmn_files.items()}
    shown_forms = dict(sorted({**form_files, **{n: t for n, t in forms.items() if form_edits.is_form_file(n)}}.items()))
    flagged = {d["file"]: d["flagged"] for d in outcome.diagrams}
    return render_template("modeler.html", bpmn_files=shown, form_files=shown_forms, outcome=outcome, action=action,
                           flagged=flagged, **page), outcome.status
