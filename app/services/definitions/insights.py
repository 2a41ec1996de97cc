"""Insights for a version: how its instances actually ran, read from the audit log (issue 16).

For the instances of a version started in a period: how many passed each element and each sequence flow, how long
work waited at each user task (ready -> completed), service task and timer (the step before it ended -> it ran),
where work looped back, and the most frequent paths of the finished ones. Only what the audit log recorded is used;
no workflow is loaded.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from app.domain.local_time import zone
from app.domain.permissions import PROCESS_OWNERS, Identity, may_read_audit
from app.domain.process_insights import Flow, Step, element_stats, flow_counts, paths, variants
from app.engine.xml_safety import UnsafeXml, parse_xml
from app.errors import Forbidden
from app.services.context import Context
from app.services.definitions import deploy as definitions
from app.services.reports.filters import ReportFilters, parse_filters
from app.store.models import AuditEvent, ProcessInstance

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
STEP_EVENTS = {"task_completed": "user", "service_called": "service", "timer_fired": "timer"}
_READY_EVENTS = ("instance_started", "task_ready", *STEP_EVENTS)


@dataclass
class Diagram:
    file: str
    xml: str
    main: bool
    process_ids: list[str]
    names: dict[str, str]
    flows: list[Flow]
    starts: list[str]
    ends: list[str]
    recorded: set[str]  # tasks and timers: the elements that leave a record when passed
    calls: dict[str, str]  # call activity id -> the process it calls


def _diagram(file: str, xml: str, main_process: str) -> Diagram:
    found = Diagram(file, xml, False, [], {}, [], [], [], set(), {})
    try:
        root = parse_xml(xml.encode())
    except UnsafeXml:
        return found
    found.process_ids = [p.get("id") or "" for p in root.iter(f"{{{BPMN}}}process")]
    found.main = main_process in found.process_ids
    for element in root.iter():
        if not isinstance(element.tag, str) or not element.get("id"):
            continue
        element_id, local = element.get("id") or "", element.tag.rsplit("}", 1)[-1]
        if element.get("name"):
            found.names[element_id] = " ".join((element.get("name") or "").split())
        if local == "sequenceFlow":
            found.flows.append(Flow(element_id, element.get("sourceRef") or "", element.get("targetRef") or ""))
        elif local == "startEvent":
            found.starts.append(element_id)
        elif local == "endEvent":
            found.ends.append(element_id)
        elif local.endswith("Task") or local == "task" or local in ("intermediateCatchEvent", "boundaryEvent") and \
                element.find(f"{{{BPMN}}}timerEventDefinition") is not None:
            found.recorded.add(element_id)
        elif local == "callActivity" and element.get("calledElement"):
            found.calls[element_id] = element.get("calledElement") or ""
    return found


def _require_reader(identity: Identity) -> None:
    if not (identity.holds_any(PROCESS_OWNERS) or may_read_audit(identity)):
        raise Forbidden("only process owners, auditors and administrators see how a process has run")


def period(services: Context, since: str | None, until: str | None) -> ReportFilters:
    """The period asked for (default the last 90 days, in the installation's zone); BadFilter (400) when not
    readable."""
    today = services.clock.now().astimezone(zone(services.settings.time_zone)).date()
    return parse_filters(today, since, until)


def _steps(session: Any, version_id: int, start: datetime,
           stop: datetime) -> tuple[list[Step], set[int], int, dict[int, list[str]]]:
    """The recorded steps of the version's instances started in the period, the finished ones, how many, and the
    user tasks each instance has reached but not completed (open now)."""
    instances = {request_id: status for request_id, status in session.execute(
        select(ProcessInstance.request_id, ProcessInstance.status)
        .where(ProcessInstance.definition_version_id == version_id,
               ProcessInstance.created_at >= start, ProcessInstance.created_at < stop))}
    steps: list[Step] = []
    if not instances:
        return steps, set(), 0, {}
    last_end: dict[int, datetime] = {}
    ready: dict[tuple[int, str], tuple[datetime, str]] = {}
    ids = list(instances)
    for chunk in (ids[i:i + 5000] for i in range(0, len(ids), 5000)):
        rows = session.execute(
            select(AuditEvent.request_id, AuditEvent.event_type, AuditEvent.at,
                   AuditEvent.payload["bpmn_id"].as_string(), AuditEvent.payload["task"].as_string())
            .where(AuditEvent.request_id.in_(chunk), AuditEvent.event_type.in_(_READY_EVENTS))
            .order_by(AuditEvent.request_id, AuditEvent.seq))
        for request_id, kind, at, bpmn_id, task in rows:
            if kind == "task_ready":
                ready[(request_id, task or "")] = (at, bpmn_id or "")
                continue
            if kind in STEP_EVENTS and bpmn_id:
                opened = ready.pop((request_id, task or ""), None) if kind == "task_completed" else None
                since = opened[0] if opened else last_end.get(request_id, at)
                steps.append(Step(request_id, bpmn_id, STEP_EVENTS[kind], since, at))
            last_end[request_id] = at
    finished = {request_id for request_id, status in instances.items() if status == "completed"}
    open_now: dict[int, list[str]] = defaultdict(list)
    for (request_id, _), (_, bpmn_id) in sorted(ready.items(), key=lambda item: item[1][0]):
        if bpmn_id:
            open_now[request_id].append(bpmn_id)
    return steps, finished, len(instances), open_now


def version_insights(services: Context, identity: Identity, process_id: str, version: int,
                     since: str | None = None, until: str | None = None) -> dict[str, Any]:
    """What the version's diagram overlays and the insights page lists (see the module's docstring)."""
    _require_reader(identity)
    filters = period(services, since, until)
    start, stop = filters.window
    with services.uow() as uow:
        found = definitions.find_version(uow.session, process_id, version)
        files = dict(found.files or {})
        steps, finished, started, open_now = _steps(uow.session, found.id, start, stop)
    diagrams = [_diagram(name, text, process_id) for name, text in sorted(files.items()) if name.endswith(".bpmn")]
    diagrams.sort(key=lambda d: (not d.main, d.file))
    stats = element_stats(steps)
    taken = paths(steps)
    recorded = set().union(*(d.recorded for d in diagrams)) if diagrams else set()
    flows: Counter[str] = Counter()
    for d in diagrams:  # each diagram's flows from the steps taken in it
        reached = {i: [*taken.get(i, []), *open_now.get(i, [])] for i in {*taken, *open_now}}  # open tasks too
        inside = {i: [e for e in p if e in d.recorded] for i, p in reached.items()}
        flows.update(flow_counts({i: p for i, p in inside.items() if p}, d.flows, recorded, d.starts, d.ends,
                                 finished))
    names = {k: v for d in diagrams for k, v in d.names.items()}
    file_of = {e: d.file for d in diagrams for e in d.recorded}
    ranked = sorted(stats.values(), key=lambda st: (-(st.mean_hours or 0), st.element))
    elements = [{"file": file_of.get(s.element, ""), "element_id": s.element, "name": names.get(s.element, ""),
                 "kind": s.kind, "passed": s.passed, "instances": s.instances, "loops": s.loops,
                 "looping": s.looping, "mean_hours": _hours(s.mean_hours), "p90_hours": _hours(s.p90_hours)}
                for s in ranked]
    out_diagrams = []
    for d in diagrams:
        counts = {e: stats[e].passed for e in d.recorded if e in stats}
        for call_id, called in d.calls.items():  # a call activity: the instances that entered what it calls
            callee = next((c for c in diagrams if called in c.process_ids), None)
            if callee is not None:
                entered = {s.instance for s in steps if s.element in callee.recorded}
                if entered:
                    counts[call_id] = len(entered)
        out_diagrams.append({
            "file": d.file, "xml": d.xml, "main": d.main, "names": d.names, "counts": counts,
            "flows": {f.id: flows[f.id] for f in d.flows if flows.get(f.id)},
            "loops": {e: stats[e].loops for e in d.recorded if e in stats and stats[e].loops},
            "waits": {e: {"mean_hours": _hours(stats[e].mean_hours), "p90_hours": _hours(stats[e].p90_hours)}
                      for e in d.recorded if e in stats}})
    finished_paths = {i: p for i, p in taken.items() if i in finished}
    return {"process_id": process_id, "version": version, "since": filters.since, "until": filters.until,
            "started": started, "finished": len(finished), "elements": elements, "diagrams": out_diagrams,
            "variants": [{"path": list(v.path), "names": [names.get(e, e) for e in v.path], "instances": v.instances,
                          "share": v.share} for v in variants(finished_paths)]}


def _hours(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


CSV_COLUMNS = (("file", "text"), ("element_id", "text"), ("name", "text"), ("kind", "text"), ("passed", "int"),
               ("instances", "int"), ("loops", "int"), ("looping", "int"), ("mean_hours", "hours"),
               ("p90_hours", "hours"))


def to_csv(found: dict[str, Any]) -> str:
    """The per-element numbers as CSV (one row per element; the variants follow after an empty line)."""
    import csv
    import io

    from app.services.reports.tables import csv_value

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([name for name, _ in CSV_COLUMNS])
    for row in found["elements"]:
        writer.writerow([csv_value(row[name], kind) for name, kind in CSV_COLUMNS])
    writer.writerow([])
    writer.writerow(["variant", "instances", "share_percent", "path"])
    for n, variant in enumerate(found["variants"], 1):
        writer.writerow([n, variant["instances"], f"{variant['share']:.1f}",
                         csv_value(" > ".join(variant["path"]), "text")])
    return out.getvalue()
