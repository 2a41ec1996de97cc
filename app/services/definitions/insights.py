"""Insights for a version: how its instances actually ran, read from the audit log (issue 16).

For the instances of a version started in a period: how many passed each element and each sequence flow, how long
work waited at each user task (ready -> completed), service task and timer (the step before it ended -> it ran),
where work looped back, the most frequent paths of the finished ones, and the instances whose recorded path the
diagrams cannot replay (conformance, with the first deviating step). Only what the audit log recorded is used; no
workflow is loaded. The flows are inferred between recorded steps (app.domain.process_graph), through call
activities too.

A finished instance is read from its `instance_path` row (its steps derived from its events when it finished:
app.store.instance_paths) rather than from its events: one row per instance instead of a dozen events, so 10,000
finished instances take a fraction of a second. Running instances are read from their events.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select

from app.domain.local_time import zone
from app.domain.permissions import PROCESS_OWNERS, Identity, may_read_audit
from app.domain.process_graph import replay_alike
from app.domain.process_insights import Runs, alike, element_stats, paths, runs_from_events, variants
from app.errors import Forbidden
from app.services.context import Context
from app.services.definitions import bundle_diagrams as bundle
from app.services.definitions import conformance
from app.services.definitions import deploy as definitions
from app.services.reports.filters import ReportFilters, parse_filters
from app.store import instance_paths
from app.store.models import AuditEvent, InstancePath, ProcessInstance


def _require_reader(identity: Identity) -> None:
    if not (identity.holds_any(PROCESS_OWNERS) or may_read_audit(identity)):
        raise Forbidden("only process owners, auditors and administrators see how a process has run")


def period(services: Context, since: str | None, until: str | None) -> ReportFilters:
    """The period asked for (default the last 90 days, in the installation's zone); BadFilter (400) when not
    readable."""
    today = services.clock.now().astimezone(zone(services.settings.time_zone)).date()
    return parse_filters(today, since, until)


def _runs(session: Any, version_id: int, start: datetime, stop: datetime) -> tuple[Runs, set[int], int]:
    """The recorded steps of the version's instances started in the period (by request), the finished ones, and
    how many started.

    A finished instance's steps are its `instance_path` row (one row per instance, written when it finished); the
    others' (running ones, and any finished one without its row or with a step recorded after it, as an import
    could) are derived from their audit events in one query in the log's order, with the same function that wrote
    the rows."""
    chosen = (ProcessInstance.definition_version_id == version_id, ProcessInstance.created_at >= start,
              ProcessInstance.created_at < stop)
    connection = session.connection()  # Core rows, one at a time: nothing kept per row but the columns read
    runs = Runs()
    decoder = instance_paths.Decoder(runs)
    finished: set[int] = set()
    started = 0
    unread = False
    for request_id, status, path, kinds, steps, left, outdated in connection.execute(
            select(ProcessInstance.request_id, ProcessInstance.status, InstancePath.path, InstancePath.kinds,
                   InstancePath.steps, InstancePath.open, instance_paths.outdated())
            .outerjoin(InstancePath, InstancePath.request_id == ProcessInstance.request_id).where(*chosen)):
        started += 1
        if status == "completed":
            finished.add(request_id)
        if status != "completed" or path is None or outdated:
            unread = True
        else:
            decoder.add(request_id, path, kinds, steps, left)
    if unread:
        without_path = select(ProcessInstance.request_id).outerjoin(
            InstancePath, InstancePath.request_id == ProcessInstance.request_id).where(
            *chosen, or_(ProcessInstance.status != "completed", InstancePath.request_id.is_(None),
                         instance_paths.outdated()))
        runs_from_events(connection.execute(instance_paths.source_events(AuditEvent.request_id.in_(without_path))),
                         into=runs)
    return runs, finished, started


def _alike_paths(runs: Runs, finished: set[int]) -> dict[tuple[tuple[str, ...], bool], list[int]]:
    """The instances (by position) to replay grouped by what is replayed (their steps, then the tasks never
    completed) and whether they finished."""
    out: dict[tuple[tuple[str, ...], bool], list[int]] = defaultdict(list)
    for position, instance in enumerate(runs.instances):
        path = runs.replayed(position) if position in runs.open else runs.paths[position]
        if path:
            out[(path, instance in finished)].append(position)
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
        runs, finished, started = _runs(uow.session, found.id, start, stop)
        diagrams = [bundle.parse(name, text, process_id) for name, text in sorted(files.items())
                    if name.endswith(".bpmn")]
        diagrams.sort(key=lambda d: (not d.main, d.file))
        graph = bundle.graph(diagrams, process_id)
        replayed = replay_alike(graph, _alike_paths(runs, finished), runs.at)
        names = {k: v for d in diagrams for k, v in d.names.items()}
        deviating = conformance.rows(uow.session, {runs.instances[position]: deviation for position, deviation
                                                   in replayed.deviations.items()}, names, version)
    stats = element_stats(runs)
    file_of = {e: d.file for d in diagrams for e in d.recorded}
    ranked = sorted(stats.values(), key=lambda st: (-(st.mean_hours or 0), st.element))
    elements = [{"file": file_of.get(s.element, ""), "element_id": s.element, "name": names.get(s.element, ""),
                 "kind": s.kind, "passed": s.passed, "instances": s.instances, "loops": s.loops,
                 "looping": s.looping, "mean_hours": _hours(s.mean_hours), "p90_hours": _hours(s.p90_hours)}
                for s in ranked]
    entered: Counter[str] = Counter()  # called process -> the instances that entered it (took a step there)
    process_of = {e: p for d in diagrams for p in d.process_ids[:1] for e in d.recorded}
    for recorded, group in alike(runs).items():
        for process in {process_of[e] for e in recorded if e in process_of}:
            entered[process] += len(group)
    out_diagrams = []
    for d in diagrams:
        counts = {e: stats[e].passed for e in d.recorded if e in stats}
        for call_id, called in d.calls.items():  # a call activity: the instances that entered what it calls
            if entered.get(called):
                counts[call_id] = entered[called]
        out_diagrams.append({
            "file": d.file, "xml": d.xml, "main": d.main, "names": d.names, "counts": counts,
            "flows": {f.id: replayed.flows[f.id] for f in d.flows if replayed.flows.get(f.id)},
            "loops": {e: stats[e].loops for e in d.recorded if e in stats and stats[e].loops},
            "waits": {e: {"mean_hours": _hours(stats[e].mean_hours), "p90_hours": _hours(stats[e].p90_hours)}
                      for e in d.recorded if e in stats}})
    finished_paths = paths(runs, of=finished)
    return {"process_id": process_id, "version": version, "since": filters.since, "until": filters.until,
            "started": started, "finished": len(finished), "elements": elements, "diagrams": out_diagrams,
            "variants": [{"path": list(v.path), "names": [names.get(e, e) for e in v.path], "instances": v.instances,
                          "share": v.share} for v in variants(finished_paths)],
            "conformance": {"checked": started, "deviating": len(deviating), "instances": deviating}}


def rebuild_paths(services: Context) -> int:
    """Derive every finished instance's `instance_path` row again from the audit log (`rf audit rebuild-paths`);
    returns the rows written. The rows are derived data: this changes no number, only how fast they are read."""
    with services.uow() as uow:
        written = instance_paths.rebuild(uow.session)
        uow.commit()
        return written


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
