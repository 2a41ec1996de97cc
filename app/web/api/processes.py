"""Process definitions (process owners and administrators): the deployed processes, their versions, one version with
where its running instances wait, its BPMN XML, checking and deploying a bundle, and choosing the version new
requests start on. The same services and checks as the *Processes* pages and `rf check` / `rf deploy`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote

from flask import Response
from flask_openapi3.blueprint import APIBlueprint
from flask_openapi3.models.file import FileStorage
from pydantic import BaseModel, Field

from app.services.definitions import current
from app.services.definitions import versions as processes
from app.services.definitions.deploy import MAX_VERSION
from app.services.definitions.what_if import MOST as WHAT_IF_MOST
from app.web.api.common import (
    ERRORS,
    SECURITY,
    WRITE_ERRORS,
    Finding,
    Refusal,
    Responses,
    caller,
    finding,
    idempotent,
    respond,
    tag,
)
from app.web.context import services

bp = APIBlueprint("api_processes", __name__, url_prefix="/api/v1", abp_tags=[tag(
    "Processes", "Deployed process definitions and their versions (process owners and administrators): where running "
                 "instances wait, the BPMN, checking and deploying a bundle, the version new requests start on.")],
    abp_security=SECURITY)

ProcessId = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z_][A-Za-z0-9_.\-]*$",
                                 description="The BPMN process id (e.g. request_fulfillment)")]
VersionNumber = Annotated[int, Field(ge=1, le=MAX_VERSION, description="The version number (1, 2, …)")]
UPLOAD_ERRORS: Responses = {**WRITE_ERRORS, 413: Refusal, 422: Refusal}
MAX_FILES = 100


class ProcessPath(BaseModel):
    process_id: ProcessId


class VersionPath(BaseModel):
    process_id: ProcessId
    version: VersionNumber


class BpmnQuery(BaseModel):
    file: str | None = Field(None, min_length=1, max_length=200,
                             description="A BPMN file of the version; default: the one that defines the process")


class ProcessSummary(BaseModel):
    process_id: str
    name: str
    versions: int = Field(description="How many versions are deployed")
    latest: int = Field(description="The newest version")
    current: int = Field(description="The version new requests start on")
    deployed_by: str = Field(description="Who deployed the newest version")
    deployed_at: datetime
    running: int = Field(description="Running instances of every version (each waits somewhere)")
    finished: int = Field(description="Finished instances of every version")


class ProcessList(BaseModel):
    items: list[ProcessSummary]


class VersionSummary(BaseModel):
    process_id: str
    version: int
    sha256: str
    deployed_by: str
    deployed_at: datetime
    running: int
    finished: int
    files: list[str] = Field(description="The BPMN, DMN and form (JSON) files of the version")
    current: bool = Field(description="New requests start on this version")


class ProcessVersions(BaseModel):
    process_id: str
    name: str
    current: int
    versions: list[VersionSummary] = Field(description="Newest first")


class WaitingAt(BaseModel):
    file: str
    element_id: str
    name: str
    waiting: int = Field(description="Running instances waiting at the element now")
    incidents: int = Field(description="Of those, how many are stopped by an incident")


class DiagramCounts(BaseModel):
    file: str
    main: bool = Field(description="This file defines the process itself")
    counts: dict[str, int] = Field(description="element id -> running instances waiting there (a call activity "
                                               "counts what waits in the process it calls)")
    incidents: dict[str, int]
    bpmn: str = Field(description="Where to get the file's XML")


class VersionDetail(VersionSummary):
    forms: list[str] = Field(description="The JSON form files of the version")
    waiting: list[WaitingAt] = Field(description="Most waiting first")
    diagrams: list[DiagramCounts]


class Bundle(BaseModel):
    files: list[FileStorage] = Field(min_length=1, max_length=MAX_FILES,
                                     description="BPMN, DMN and JSON form files (at most 10 MB together); each "
                                                 "name is reduced to the file's own name and may appear once")


class CheckQuery(BaseModel):
    what_if: int | None = Field(None, ge=1, le=WHAT_IF_MOST, description=(
        f"Replay the last N (1-{WHAT_IF_MOST}) finished requests of the process's current version through the "
        "bundle and report each one's outcome and recorded times in `what_if`; omitted: no replay"))


class WhatIfRequest(BaseModel):
    request: str = Field(description="The request's number")
    outcome: Literal["same", "other_path", "fails", "waits"] = Field(description=(
        "same: the same path; other_path: it finishes through other elements; fails: a recorded step cannot "
        "happen on the new version; waits: its recorded inputs run out before the end (a new task, say)"))
    detail: str = Field(description="From which step it goes another way, where it fails, where it would wait")
    recorded: list[str] = Field(description="The path it took on the current version (element names)")
    replayed: list[str] = Field(description="Its path on the new version, as far as the replay got")
    took_hours: float | None = Field(description="On the current version: from its start to its last recorded step")
    kept_hours: float | None = Field(description=(
        "The recorded time at the elements its new path still passes (a user task: ready to completed; a service "
        "task or timer: the step before it to it): what the recorded work would take on the new version"))
    dropped_hours: float | None = Field(description="The recorded time at elements its new path no longer passes "
                                                    "(skipped, or gone from the new version)")
    new_elements: list[str] = Field(description="Elements its new path passes for the first time; no time was ever "
                                                "recorded there, so none is estimated")


class WhatIfCounts(BaseModel):
    same: int
    other_path: int
    fails: int
    waits: int


class WhatIf(BaseModel):
    version: int = Field(description="The current version whose finished requests were replayed")
    asked: int = Field(description="How many were asked for (fewer are replayed when fewer have finished)")
    counts: WhatIfCounts
    requests: list[WhatIfRequest] = Field(description="The most recently finished first")


class Checked(BaseModel):
    process_id: str
    findings: list[Finding] = Field(description="Warnings (a bundle with an error is refused instead)")
    what_if: WhatIf | None = Field(None, description=(
        "With `?what_if=N`: the last N finished requests of the current version replayed through the bundle; null "
        "when not asked for or when the process has no deployed version yet"))


class Deployed(BaseModel):
    process_id: str
    version: int = Field(description="The new version, or the existing one with identical content")
    sha256: str
    created: bool = Field(description="False: identical to an existing version; nothing was deployed")
    current_version: int = Field(description="The version new requests start on now")
    findings: list[Finding] = Field(description="Warnings")
    url: str


class MadeCurrent(BaseModel):
    process_id: str
    version: int
    previous_version: int
    changed: bool = Field(description="False: it was already current; nothing changed")
    summary: str


def _version(row: dict[str, Any]) -> VersionSummary:
    return VersionSummary(**{key: row[key] for key in VersionSummary.model_fields})


def _uploads(form: Bundle) -> list[tuple[str, bytes]]:
    return [(upload.filename or "", upload.read()) for upload in form.files]


@bp.get("/processes", summary="List the deployed processes", responses={200: ProcessList, **ERRORS},
        description="Every deployed process with its newest version, the version new requests start on (current), "
                    "and its running and finished instances.")
def list_processes() -> tuple[dict[str, Any], int]:
    return respond(ProcessList(items=[ProcessSummary(**row) for row in
                                      processes.list_processes(services(), caller())]))


@bp.get("/processes/<process_id>/versions", summary="List a process's versions",
        responses={200: ProcessVersions, **ERRORS},
        description="Newest first: number, sha256, who deployed it and when, its files, running and finished "
                    "instances, and which one is current.")
def list_versions(path: ProcessPath) -> tuple[dict[str, Any], int]:
    found = processes.process_versions(services(), caller(), path.process_id)
    return respond(ProcessVersions(process_id=found["process_id"], name=found["name"], current=found["current"],
                                   versions=[_version(row) for row in found["versions"]]))


@bp.get("/processes/<process_id>/versions/<version>", summary="Read a version with where its instances wait",
        responses={200: VersionDetail, **ERRORS},
        description="The version, and per BPMN element how many of its running instances wait there now (user "
                    "tasks, service tasks, incidents, intermediate timers), per diagram and as one list.")
def read_version(path: VersionPath) -> tuple[dict[str, Any], int]:
    found = processes.version_detail(services(), caller(), path.process_id, path.version)
    base = f"/api/v1/processes/{path.process_id}/versions/{path.version}/bpmn"
    return respond(VersionDetail(
        **_version(found).model_dump(), forms=[f for f in found["files"] if f.endswith(".json")],
        waiting=[WaitingAt(**row) for row in found["waiting"]],
        diagrams=[DiagramCounts(file=d["file"], main=d["main"], counts=d["counts"], incidents=d["incidents"],
                                bpmn=f"{base}?file={quote(d['file'])}") for d in found["diagrams"]]))


@bp.get("/processes/<process_id>/versions/<version>/bpmn", summary="Download a version's BPMN XML",
        responses={200: {"description": "The BPMN 2.0 XML as deployed",
                         "content": {"application/xml": {"schema": {"type": "string"}}}}, **ERRORS},
        description="The XML of the BPMN file that defines the process, or of the file named by `file`.")
def read_bpmn(path: VersionPath, query: BpmnQuery) -> Response:
    name, xml = processes.version_bpmn(services(), caller(), path.process_id, path.version, query.file)
    return Response(xml, mimetype="application/xml",
                    headers={"Content-Disposition": f'inline; filename="{name}"'})


@bp.post("/processes/check", summary="Check a bundle without deploying it",
         responses={200: Checked, **UPLOAD_ERRORS},
         description="Runs every deploy check (XML safety, XSD, the engine's parse, handlers, forms, lanes, "
                     "restricted scripts, timers, the flows) and stores nothing, like `rf check`. Passing: 200 with "
                     "the warnings. Refused: 422 (413 over 10 MB) problem details whose `errors` name each problem "
                     "and whose `findings` locate them. With `?what_if=N` (1-200) a passing bundle is also tried "
                     "on the last N finished requests of the current version, with their recorded data and times: "
                     "`what_if` says per request whether it takes the same path, another one (from which step), "
                     "fails or would wait, how long it took, and the recorded time still and no longer on its path.")
def check(form: Bundle, query: CheckQuery) -> tuple[dict[str, Any], int]:
    outcome = processes.submit_upload(services(), caller(), _uploads(form), deploy=False, replay=query.what_if)
    if not outcome.ok:
        raise outcome.rejected()
    return respond(Checked(process_id=outcome.process_id, findings=[finding(p) for p in outcome.problems],
                           what_if=WhatIf(**outcome.what_if) if outcome.what_if is not None else None))


@bp.post("/processes", summary="Deploy a bundle as a new version",
         responses={200: Deployed, 201: Deployed, **UPLOAD_ERRORS},
         description="The same checks as `check`, then a new version that new requests start on (201). Content "
                     "identical to an existing version deploys nothing: 200 with that version and `created` false "
                     "(make it current with `…/versions/{version}/current`). A refusal is 422 (413 over 10 MB) "
                     "problem details and stores nothing. Honours `Idempotency-Key`.")
@idempotent
def deploy(form: Bundle) -> tuple[dict[str, Any], int]:
    outcome = processes.submit_upload(services(), caller(), _uploads(form), deploy=True)
    if not outcome.ok:
        raise outcome.rejected()
    assert outcome.version is not None and outcome.current_version is not None
    return respond(Deployed(process_id=outcome.process_id, version=outcome.version, sha256=outcome.sha256,
                            created=outcome.created, current_version=outcome.current_version,
                            findings=[finding(p) for p in outcome.problems],
                            url=f"/api/v1/processes/{outcome.process_id}/versions/{outcome.version}"),
                   201 if outcome.created else 200)


@bp.post("/processes/<process_id>/versions/<version>/current", summary="Start new requests on this version",
         responses={200: MadeCurrent, **WRITE_ERRORS},
         description="Makes the version the one new requests start on (going back to an older one, or forward "
                     "again); audited as `definition_made_current`. Running requests stay on their versions. "
                     "Making the current version current changes nothing (`changed` false).")
def make_current(path: VersionPath) -> tuple[dict[str, Any], int]:
    done = current.make_current(services(), caller(), path.process_id, path.version)
    return respond(MadeCurrent(**done.as_dict()))
