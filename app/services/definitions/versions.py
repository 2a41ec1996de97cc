"""The process owner's view of deployed definitions: processes, their versions with who deployed them, which one new
requests start on (current) and how many instances run and finished on each, a version's diagrams with how many
running instances wait at each element now, and checking or deploying an uploaded or edited bundle (through
`definitions`, so the same checks as `rf check`).

Waiting counts come from the inbox projection (open human tasks), the service-job table (pending service tasks and
incidents) and, for instances waiting on a timer, the stored instance state read as plain JSON; no workflow is
deserialized.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from sqlalchemy import func, select

from app.domain.permissions import PROCESS_OWNERS, Identity
from app.engine.xml_safety import UnsafeXml, parse_xml
from app.errors import DefinitionRejected, Forbidden, NotFound, Problem
from app.services.context import Context
from app.services.definitions import deploy as definitions
from app.services.definitions import form_edits, what_if
from app.store.models import CurrentVersion, DefinitionVersion, ProcessInstance, ServiceJob, TaskRow

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
_WAITING = 8  # SpiffWorkflow TaskState.WAITING
_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\- ]{0,199}$")


def require_owner(identity: Identity) -> None:
    if not identity.holds_any(PROCESS_OWNERS):
        raise Forbidden("only process owners and administrators manage process definitions")


def _counts(session: Any) -> dict[int, Counter[str]]:
    rows = session.execute(select(ProcessInstance.definition_version_id, ProcessInstance.status, func.count())
                           .group_by(ProcessInstance.definition_version_id, ProcessInstance.status))
    counts: dict[int, Counter[str]] = {}
    for version_id, status, n in rows:
        counts.setdefault(version_id, Counter())[status] += n
    return counts


def _current_ids(session: Any) -> dict[str, int]:
    """process id -> id of the version new requests start on (the latest when none was recorded)."""
    latest = {process_id: version_id for process_id, version_id in session.execute(
        select(DefinitionVersion.process_id, DefinitionVersion.id).order_by(DefinitionVersion.version))}
    return {**latest, **{row.process_id: row.definition_version_id for row in session.scalars(select(CurrentVersion))}}


def _version_row(v: DefinitionVersion, counts: dict[int, Counter[str]], current_id: int | None) -> dict[str, Any]:
    c = counts.get(v.id, Counter())
    return {"process_id": v.process_id, "version": v.version, "sha256": v.sha256, "deployed_by": v.deployed_by,
            "deployed_at": v.deployed_at, "running": c["running"], "finished": c["completed"],
            "files": sorted(v.files or {}), "current": v.id == current_id}


def list_processes(services: Context, identity: Identity) -> list[dict[str, Any]]:
    """Every deployed process: its latest and its current version (the one new requests start on), number of
    versions, running and finished instances."""
    require_owner(identity)
    with services.uow() as uow:
        counts, current = _counts(uow.session), _current_ids(uow.session)
        by_process: dict[str, list[DefinitionVersion]] = {}
        for v in uow.session.scalars(select(DefinitionVersion).order_by(DefinitionVersion.process_id,
                                                                        DefinitionVersion.version.desc())):
            by_process.setdefault(v.process_id, []).append(v)
        result = []
        for process_id, versions in by_process.items():
            latest = versions[0]
            rows = [_version_row(v, counts, current.get(process_id)) for v in versions]
            result.append({"process_id": process_id, "name": _process_name(latest), "versions": len(versions),
                           "latest": latest.version, "current": next(r["version"] for r in rows if r["current"]),
                           "deployed_by": latest.deployed_by,
                           "deployed_at": latest.deployed_at, "running": sum(r["running"] for r in rows),
                           "finished": sum(r["finished"] for r in rows)})
        return result


def _process_name(version: DefinitionVersion) -> str:
    for name, text in sorted((version.files or {}).items()):
        if name.endswith(".bpmn"):
            found = re.search(r'<[\w:]*process\b[^>]*\bid="' + re.escape(version.process_id) + r'"[^>]*>', text)
            if found:
                named = re.search(r'\bname="([^"]*)"', found.group(0))
                if named:
                    return named.group(1)
    return version.process_id


def process_versions(services: Context, identity: Identity, process_id: str) -> dict[str, Any]:
    """A process's versions, newest first, with their instance counts."""
    require_owner(identity)
    with services.uow() as uow:
        versions = list(uow.session.scalars(select(DefinitionVersion).where(
            DefinitionVersion.process_id == process_id).order_by(DefinitionVersion.version.desc())))
        if not versions:
            raise NotFound(f"process {process_id} is not deployed")
        counts, current = _counts(uow.session), _current_ids(uow.session).get(process_id)
        rows = [_version_row(v, counts, current) for v in versions]
        return {"process_id": process_id, "name": _process_name(versions[0]), "versions": rows,
                "current": next(r["version"] for r in rows if r["current"])}


@dataclass
class _Model:
    file: str
    process_ids: list[str] = field(default_factory=list)
    calls: dict[str, str] = field(default_factory=dict)  # call activity id -> called process id
    timers: set[str] = field(default_factory=set)  # intermediate timer catch events
    names: dict[str, str] = field(default_factory=dict)
    ids: set[str] = field(default_factory=set)


def _model(file: str, xml: str) -> _Model:
    model = _Model(file)
    try:
        root = parse_xml(xml.encode())
    except UnsafeXml:
        return model
    model.process_ids = [p.get("id") or "" for p in root.iter(f"{{{BPMN}}}process")]
    for element in root.iter():
        element_id = element.get("id") if isinstance(element.tag, str) else None
        if not element_id:
            continue
        model.ids.add(element_id)
        if element.get("name"):
            model.names[element_id] = " ".join((element.get("name") or "").split())
        local = element.tag.rsplit("}", 1)[-1]
        if local == "callActivity" and element.get("calledElement"):
            model.calls[element_id] = element.get("calledElement") or ""
        elif local == "intermediateCatchEvent" and element.find(f"{{{BPMN}}}timerEventDefinition") is not None:
            model.timers.add(element_id)
    return model


def _timer_waits(states: list[str], timers: set[str]) -> Counter[str]:
    """Intermediate timer events each instance state (plain JSON) has WAITING tasks at."""
    waiting: Counter[str] = Counter()
    for state in states:
        try:
            dct = json.loads(state)
        except ValueError:
            continue
        task_maps = [dct.get("tasks") or {}] + [sub.get("tasks") or {} for sub in (dct.get("subprocesses") or {})
                                                .values() if isinstance(sub, dict)]
        seen = {t.get("task_spec") for tasks in task_maps for t in tasks.values()
                if isinstance(t, dict) and t.get("state") == _WAITING and t.get("task_spec") in timers}
        waiting.update(s for s in seen if s)
    return waiting


def version_detail(services: Context, identity: Identity, process_id: str, version: int) -> dict[str, Any]:
    """A version with its BPMN diagrams and, per element, how many of its running instances wait there now."""
    require_owner(identity)
    with services.uow() as uow:
        s = uow.session
        found = definitions.find_version(s, process_id, version)
        row = _version_row(found, _counts(s), _current_ids(s).get(process_id))
        files = dict(found.files or {})
        running = select(ProcessInstance.id).where(ProcessInstance.definition_version_id == found.id,
                                                   ProcessInstance.status == "running")
        waiting: Counter[str] = Counter()
        for bpmn_id, n in s.execute(select(TaskRow.bpmn_id, func.count(func.distinct(TaskRow.instance_id)))
                                    .where(TaskRow.status == "open", TaskRow.instance_id.in_(running))
                                    .group_by(TaskRow.bpmn_id)):
            waiting[bpmn_id] += n
        incidents: Counter[str] = Counter()
        for bpmn_id, status, n in s.execute(select(ServiceJob.bpmn_id, ServiceJob.status,
                                                   func.count(func.distinct(ServiceJob.instance_id)))
                                            .where(ServiceJob.status.in_(("pending", "incident")),
                                                   ServiceJob.instance_id.in_(running))
                                            .group_by(ServiceJob.bpmn_id, ServiceJob.status)):
            waiting[bpmn_id] += n
            if status == "incident":
                incidents[bpmn_id] += n
        models = [_model(name, text) for name, text in sorted(files.items()) if name.endswith(".bpmn")]
        timers = set().union(*(m.timers for m in models)) if models else set()
        if timers:
            states = list(s.scalars(select(ProcessInstance.state_json).where(
                ProcessInstance.id.in_(running), ProcessInstance.next_timer_at.is_not(None))))
            waiting.update(_timer_waits(states, timers))
    diagrams: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    for model in models:
        inner = {m.file: m for m in models}
        counts = {i: n for i, n in waiting.items() if i in model.ids}
        rows += [{"file": model.file, "element_id": i, "name": model.names.get(i, ""), "waiting": n,
                  "incidents": incidents.get(i, 0)} for i, n in counts.items()]
        for call_id, called in model.calls.items():  # a call activity counts what waits in the process it calls
            callee = next((m for m in inner.values() if called in m.process_ids), None)
            if callee is not None and callee is not model:
                total = sum(n for i, n in waiting.items() if i in callee.ids)
                if total:
                    counts[call_id] = counts.get(call_id, 0) + total
        diagrams.append({"file": model.file, "xml": files[model.file], "counts": counts,
                         "incidents": {i: n for i, n in incidents.items() if i in counts},
                         "names": model.names, "main": process_id in model.process_ids})
    diagrams.sort(key=lambda d: (not d["main"], d["file"]))
    rows.sort(key=lambda r: (-r["waiting"], r["file"], r["element_id"]))
    return {**row, "diagrams": diagrams, "waiting": rows}


# --- checking and deploying an uploaded or edited bundle ------------------------------------------------------

@dataclass
class Outcome:
    """What a check or deploy found: the findings (warnings, and errors when refused) and, when deployed, where."""

    ok: bool
    problems: list[Problem]
    process_id: str = ""
    version: int | None = None
    created: bool = False
    status: int = 200
    current_version: int | None = None  # after a deploy: the version new requests start on
    diagrams: list[dict[str, Any]] = field(default_factory=list)
    sha256: str = ""  # after a deploy: the content's hash (of the new version, or of the identical one)
    what_if: dict[str, Any] | None = None  # after a check: the last finished requests replayed through it

    def rejected(self) -> DefinitionRejected:
        """A refusal as the error it is (for callers that answer errors by raising, like the REST API); its
        status is this outcome's (422, or 413 for a bundle over the limit)."""
        err = DefinitionRejected(self.problems)
        err.status = self.status
        return err


def clean_name(raw: str) -> str:
    """The file's own name (no directories); raises DefinitionRejected for names we would not store."""
    name = PurePath(raw.replace("\\", "/")).name
    if not _FILE_NAME.match(name):
        raise DefinitionRejected([Problem(file=raw[:200], message="file names may use letters, digits, spaces, "
                                                                  "'.', '_' and '-' only")])
    return name


def _drawn(root: Any) -> bool:
    """Whether the file carries diagram interchange (shapes with positions); without it the browser lays the
    process out itself (bpmn-auto-layout), as files written by hand or by generators often have none."""
    return bool(root.xpath("//*[local-name()='BPMNShape']"))


def _flagged_diagrams(files: dict[str, bytes], problems: list[Problem]) -> list[dict[str, Any]]:
    flagged: dict[str, dict[str, str]] = {}
    for p in problems:
        if p.element_id and p.file:
            worst = flagged.setdefault(p.file, {})
            if worst.get(p.element_id) != "error":
                worst[p.element_id] = p.severity
    diagrams = []
    for name, data in sorted(files.items()):
        if not name.endswith(".bpmn"):
            continue
        try:
            root = parse_xml(data)  # never hand an unsafe document to the browser either
            text = data.decode("utf-8")
        except (UnsafeXml, UnicodeDecodeError):
            continue
        diagrams.append({"file": name, "xml": text, "flagged": flagged.get(name, {}), "layout": not _drawn(root)})
    return diagrams


def submit(services: Context, identity: Identity, files: dict[str, bytes], *, deploy: bool,
           replay: int | None = what_if.LAST) -> Outcome:
    """Check (deploy=False, stores nothing) or deploy a bundle; findings come back instead of an exception. A check
    that passes replays the last `replay` finished requests of the current version through it (None: none)."""
    require_owner(identity)
    size = sum(len(d) for d in files.values())
    if size > definitions.MAX_BUNDLE_BYTES:
        limit = definitions.MAX_BUNDLE_BYTES // (1024 * 1024)
        return Outcome(False, [Problem(file=", ".join(sorted(files))[:200], message=f"the upload is "
                                       f"{size / (1024 * 1024):.1f} MB; the limit for a bundle is {limit} MB")],
                       status=413)
    if not files:
        return Outcome(False, [Problem(file="", message="choose at least one .bpmn file")], status=422)
    try:
        if deploy:
            result = definitions.deploy(services, files, identity.username)
            return Outcome(True, result.warnings, result.process_id, result.version, result.created,
                           current_version=result.current_version, diagrams=_flagged_diagrams(files, result.warnings),
                           sha256=result.sha256)
        bundle = definitions.check(services, files)
    except DefinitionRejected as err:
        return Outcome(False, err.problems, status=422, diagrams=_flagged_diagrams(files, err.problems))
    return Outcome(True, bundle.warnings, bundle.process_id, diagrams=_flagged_diagrams(files, bundle.warnings),
                   what_if=None if replay is None else what_if.compare(services, bundle.process_id, bundle.spec_json,
                                                                       replay))


def submit_upload(services: Context, identity: Identity, uploads: list[tuple[str, bytes]], *,
                  deploy: bool, replay: int | None = what_if.LAST) -> Outcome:
    """Check or deploy uploaded files as sent (name as the client gave it, content): each name is reduced to the
    file's own name and refused when odd or sent twice; then `submit`. An upload without a name is skipped."""
    require_owner(identity)
    files: dict[str, bytes] = {}
    problems: list[Problem] = []
    for raw_name, data in uploads:
        if not raw_name:
            continue
        try:
            name = clean_name(raw_name)
        except DefinitionRejected as err:
            problems += err.problems
            continue
        if name in files:
            problems.append(Problem(file=name, message="uploaded twice; each file name may appear once"))
        files[name] = data
    if problems:
        return Outcome(False, problems, status=422)
    return submit(services, identity, files, deploy=deploy, replay=replay)


def version_bpmn(services: Context, identity: Identity, process_id: str, version: int,
                 file: str | None = None) -> tuple[str, str]:
    """One BPMN file of a version as (name, XML): the named one, else the one defining the process itself."""
    files = version_files(services, identity, process_id, version)
    bpmn = {name: text for name, text in files.items() if name.endswith(".bpmn")}
    if file is not None:
        if file not in bpmn:
            raise NotFound(f"{process_id} version {version} has no BPMN file {file}")
        return file, bpmn[file]
    model = {name: _model(name, text) for name, text in sorted(bpmn.items())}
    name = next((n for n, m in model.items() if process_id in m.process_ids), min(bpmn, default=""))
    if not name:
        raise NotFound(f"{process_id} version {version} has no BPMN file")
    return name, bpmn[name]


def version_files(services: Context, identity: Identity, process_id: str, version: int) -> dict[str, str]:
    """The files of a version (for the modeler)."""
    require_owner(identity)
    with services.uow() as uow:
        return dict(definitions.find_version(uow.session, process_id, version).files or {})


def submit_edit(services: Context, identity: Identity, process_id: str, version: int,
                edited: dict[str, str], *, deploy: bool, replay: int | None = what_if.LAST,
                forms: dict[str, str] | None = None) -> Outcome:
    """A version's files with some BPMN files replaced by edited XML and some form files (`*.schema.json`,
    `*.uischema.json`) edited or added, checked or deployed like an upload."""
    base = version_files(services, identity, process_id, version)
    unknown = sorted(set(edited) - {n for n in base if n.endswith(".bpmn")})
    problems = [Problem(file=n, message=f"is not a BPMN file of {process_id} version {version}") for n in unknown]
    changed, form_problems = form_edits.edited_forms(base, forms or {})
    if problems or form_problems:
        return Outcome(False, problems + form_problems, status=422)
    files = {name: text.encode("utf-8") for name, text in {**base, **edited, **changed}.items()}
    outcome = submit(services, identity, files, deploy=deploy, replay=replay)
    if outcome.ok:
        outcome.problems = outcome.problems + form_edits.unused(changed, files)
    return outcome
