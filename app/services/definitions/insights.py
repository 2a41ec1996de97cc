"""Insights for a version: how its instances actually ran, read from the audit log (issue 16).

For the instances of a version started in a period: how many passed each element and each sequence flow, how long
work waited at each user task (ready -> completed), service task and timer (the step before it ended -> it ran),
where work looped back, the most frequent paths of the finished ones, and the instances whose recorded path the
diagrams cannot replay (conformance, with the first deviating step). Only what the audit log recorded is used; no
workflow is loaded. The flows are inferred between recorded steps (app.domain.process_graph), through call
activities too.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import select

from app.domain.local_time import zone
from app.domain.permissions import PROCESS_OWNERS, Identity, may_read_audit
from app.domain.process_graph import replay_paths
from app.domain.process_insights import Step, element_stats, paths, variants
from app.errors import Forbidden
from app.services.context import Context
from app.services.definitions import bundle_diagrams as bundle
from app.services.definitions import conformance
from app.services.definitions import deploy as definitions
from app.services.reports.filters import ReportFilters, parse_filters
from app.store.models import AuditEvent, ProcessInstance

STEP_EVENTS = {"task_completed": "user", "service_called": "service", "timer_fired": "timer"}
Timed = dict[int, list[tuple[str, datetime]]]  # instance -> (element, when) in order
_READY_EVENTS = ("instance_started", "task_ready", *STEP_EVENTS)


def _require_reader(identity: Identity) -> None:
    if not (identity.holds_any(PROCESS_OWNERS) or may_read_audit(identity)):
        raise Forbidden("only process owners, auditors and administrators see how a process has run")


def period(services: Context, since: str | None, until: str | None) -> ReportFilters:
    """The period asked for (default the last 90 days, in the installation's zone); BadFilter (400) when not
    readable."""
    today = services.clock.now().astimezone(zone(services.settings.time_zone)).date()
    return parse_filters(today, since, until)


def _steps(session: Any, version_id: int, start: datetime, stop: datetime) -> tuple[list[Step], set[int], int, Timed]:
    """The recorded steps of the version's instances started in the period, the finished ones, how many, and the
    user tasks each instance has reached but not completed (open now, with when they became ready).

    One query in the log's order; only the event's type, time and BPMN id are read (a completion is paired with the
    latest ready of the same element of the same request, not by task id, to read one field of the payload)."""
    chosen = (ProcessInstance.definition_version_id == version_id, ProcessInstance.created_at >= start,
              ProcessInstance.created_at < stop)
    connection = session.connection()  # Core rows: no ORM result processing for ~100,000 rows
    instances = dict(connection.execute(
        select(ProcessInstance.request_id, ProcessInstance.status).where(*chosen)).all())
    steps: list[Step] = []
    if not instances:
        return steps, set(), 0, {}
    last_end: dict[int, datetime] = {}
    ready: dict[tuple[int, str], list[datetime]] = {}
    rows = connection.execute(
        select(AuditEvent.request_id, AuditEvent.event_type, AuditEvent.at, AuditEvent.payload["bpmn_id"].as_string())
        .where(AuditEvent.request_id.in_(select(ProcessInstance.request_id).where(*chosen)),
               AuditEvent.event_type.in_(_READY_EVENTS))
        .order_by(AuditEvent.seq))
    append = steps.append
    for request_id, kind, at, bpmn_id in rows:
        if kind == "task_ready":
            ready.setdefault((request_id, bpmn_id or ""), []).append(at)
            continue
        if bpmn_id and kind != "instance_started":
            waiting = ready.get((request_id, bpmn_id)) if kind == "task_completed" else None
            since = waiting.pop() if waiting else last_end.get(request_id, at)
            append(Step(request_id, bpmn_id, STEP_EVENTS[kind], since, at))
        last_end[request_id] = at
    finished = {request_id for request_id, status in instances.items() if status == "completed"}
    open_now: Timed = defaultdict(list)
    for (request_id, bpmn_id), times in sorted(ready.items(), key=lambda item: item[1][0] if item[1] else start):
        if bpmn_id:
            open_now[request_id] += [(bpmn_id, at) for at in times]
    return steps, finished, len(instances), open_now


def _timed_paths(steps: list[Step], open_now: Timed) -> Timed:
    """Each instance's recorded elements with when they ended, in the log's order, then the tasks open now."""
    out: Timed = defaultdict(list)
    for step in steps:
        out[step.instance].append((step.element, step.done_at))
    for instance, waiting in open_now.items():
        out[instance].extend(waiting)
    return out


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
        diagrams = [bundle.parse(name, text, process_id) for name, text in sorted(files.items())
                    if name.endswith(".bpmn")]
        diagrams.sort(key=lambda d: (not d.main, d.file))
        graph = bundle.graph(diagrams, process_id)
        replayed = replay_paths(graph, _timed_paths(steps, open_now), finished)
        names = {k: v for d in diagrams for k, v in d.names.items()}
        deviating = conformance.rows(uow.session, replayed.deviations, names, version)
    stats = element_stats(steps)
    taken = paths(steps)
    file_of = {e: d.file for d in diagrams for e in d.recorded}
    ranked = sorted(stats.values(), key=lambda st: (-(st.mean_hours or 0), st.element))
    elements = [{"file": file_of.get(s.element, ""), "element_id": s.element, "name": names.get(s.element, ""),
                 "kind": s.kind, "passed": s.passed, "instances": s.instances, "loops": s.loops,
                 "looping": s.looping, "mean_hours": _hours(s.mean_hours), "p90_hours": _hours(s.p90_hours)}
                for s in ranked]
    entered: dict[str, set[int]] = defaultdict(set)  # called process -> the instances that entered it
    process_of = {e: p for d in diagrams for p in d.process_ids[:1] for e in d.recorded}
    for step in steps:
        if step.element in process_of:
            entered[process_of[step.element]].add(step.instance)
    out_diagrams = []
    for d in diagrams:
        counts = {e: stats[e].passed for e in d.recorded if e in stats}
        for call_id, called in d.calls.items():  # a call activity: the instances that entered what it calls
            if entered.get(called):
                counts[call_id] = len(entered[called])
        out_diagrams.append({
            "file": d.file, "xml": d.xml, "main": d.main, "names": d.names, "counts": counts,
            "flows": {f.id: replayed.flows[f.id] for f in d.flows if replayed.flows.get(f.id)},
            "loops": {e: stats[e].loops for e in d.recorded if e in stats and stats[e].loops},
            "waits": {e: {"mean_hours": _hours(stats[e].mean_hours), "p90_hours": _hours(stats[e].p90_hours)}
                      for e in d.recorded if e in stats}})
    finished_paths = {i: p for i, p in taken.items() if i in finished}
    return {"process_id": process_id, "version": version, "since": filters.since, "until": filters.until,
            "started": started, "finished": len(finished), "elements": elements, "diagrams": out_diagrams,
            "variants": [{"path": list(v.path), "names": [names.get(e, e) for e in v.path], "instances": v.instances,
                          "share": v.share} for v in variants(finished_paths)],
            "conformance": {"checked": started, "deviating": len(deviating), "instances": deviating}}


def _hours(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


CSV_COLUMNS = (("file", "text"), ("element_id", "text"), ("name", "text"), ("kind", "text"), ("passed", "int"),
               ("instances", "int"), ("loops", "int"), ("looping", "int"), ("mean_hours", "hours"),
               ("p90_hours", "hours"))


def to_csv(found: dict[str, Any]) -> str:
    """The per-element numbers as CSV (one row per element; the variants, then the deviating instances follow, each
    after an empty line)."""
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
    writer.writerow([])
    writer.writerow(["deviating_request", "status", "step", "element_id", "name", "at", "reason", "expected",
                     "moved_from_version"])
    for row in found["conformance"]["instances"]:
        writer.writerow([csv_value(row["request"], "text"), row["status"], row["step"],
                         csv_value(row["element_id"], "text"), csv_value(row["name"], "text"), row["at"],
                         csv_value(row["reason"], "text"),
                         csv_value(" | ".join(e["element_id"] for e in row["expected"]), "text"),
                         row["moved_from"] or ""])
    return out.getvalue()
