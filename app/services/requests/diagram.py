"""Where a request is in its process, for the request page: the BPMN diagrams of the request's pinned definition
version with the elements it completed (and how often) and the ones it is waiting at (its timeline in plain words:
app/services/audit/timeline.py).

Everything here is computed from the audit log, the inbox/job projections and `queries.show_request` (its path);
no workflow is loaded for the markers themselves.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from app.domain.local_time import zone
from app.domain.permissions import Reader
from app.engine.xml_safety import UnsafeXml, parse_xml
from app.services.audit import timeline
from app.services.audit.timeline import when
from app.services.context import Context
from app.services.requests import queries
from app.store.models import AuditEvent, ServiceJob

BPMN_MODEL = "http://www.omg.org/spec/BPMN/20100524/MODEL"
# flow nodes that are drawn as shapes and can be completed or active (sequence flows, lanes, pools are not)
_FLOW_NODE_SUFFIXES = ("Task", "task", "Event", "Gateway")
_FLOW_NODE_NAMES = {"callActivity", "subProcess", "transaction"}


# --- the BPMN files ---------------------------------------------------------------------------------------------

@dataclass
class _Node:
    id: str
    kind: str  # BPMN local name: userTask, serviceTask, callActivity, boundaryEvent, ...
    name: str
    called: str | None = None  # callActivity: the process it calls
    attached_to: str | None = None  # boundaryEvent: the activity it sits on
    timer: bool = False
    incoming: list[str] = field(default_factory=list)  # ids of the sources of incoming sequence flows


@dataclass
class _Diagram:
    file: str
    xml: str
    process_id: str
    name: str
    nodes: dict[str, _Node]


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _is_flow_node(local: str) -> bool:
    return local in _FLOW_NODE_NAMES or local.endswith(_FLOW_NODE_SUFFIXES)


def _humanize(element_id: str) -> str:
    return element_id.replace("_", " ").strip().capitalize()


def _parse(file: str, xml: str) -> _Diagram | None:
    try:
        root = parse_xml(xml.encode())
    except UnsafeXml:
        return None
    processes = [p for p in root.iter(f"{{{BPMN_MODEL}}}process")]
    if not processes:
        return None
    executable = [p for p in processes if p.get("isExecutable") == "true"] or processes
    main = executable[0]
    nodes: dict[str, _Node] = {}
    flows: list[tuple[str, str]] = []
    for process in processes:
        for element in process.iter():
            local = _local(element.tag)
            element_id = element.get("id")
            if not element_id or not str(element.tag).startswith(f"{{{BPMN_MODEL}}}"):
                continue
            if local == "sequenceFlow":
                flows.append((element.get("sourceRef") or "", element.get("targetRef") or ""))
            elif _is_flow_node(local):
                nodes[element_id] = _Node(
                    id=element_id, kind=local, name=(element.get("name") or _humanize(element_id)).strip(),
                    called=element.get("calledElement"), attached_to=element.get("attachedToRef"),
                    timer=element.find(f"{{{BPMN_MODEL}}}timerEventDefinition") is not None)
    for source, target in flows:
        if target in nodes:
            nodes[target].incoming.append(source)
    return _Diagram(file=file, xml=xml, process_id=main.get("id") or file, name=main.get("name") or file,
                    nodes=nodes)


def _diagrams(files: dict[str, str]) -> list[_Diagram]:
    parsed = [_parse(name, text) for name, text in sorted(files.items()) if name.lower().endswith(".bpmn")]
    return [d for d in parsed if d is not None]


def _depths(diagrams: list[_Diagram], main_process: str) -> dict[str, int]:
    """Call depth of every diagram's process from the top-level process (unreachable ones: a large number)."""
    by_process = {d.process_id: d for d in diagrams}
    depth = {main_process: 0}
    frontier = [main_process]
    while frontier:
        current = frontier.pop(0)
        diagram = by_process.get(current)
        if diagram is None:
            continue
        for node in diagram.nodes.values():
            if node.called and node.called not in depth:
                depth[node.called] = depth[current] + 1
                frontier.append(node.called)
    return {d.process_id: depth.get(d.process_id, 99) for d in diagrams}


# --- loading what the page needs --------------------------------------------------------------------------------

@dataclass
class _Loaded:
    shown: dict[str, Any]
    diagrams: list[_Diagram]
    events: list[AuditEvent]
    job_elements: dict[str, str]  # service task uuid -> bpmn id


def _load(services: Context, ref: str, reader: Reader, *, show: bool = True) -> _Loaded:
    """What the request `ref` shows `reader` (need-to-know: NotFound for a request they may not read)."""
    shown = queries.show_request(services, ref, reader=reader) if show else {}
    with services.uow() as uow:
        s = uow.session
        request = queries.find_readable(s, ref, reader)
        _, definition = queries.instance_of(s, request)
        events = list(s.scalars(select(AuditEvent).where(AuditEvent.request_id == request.id)
                                .order_by(AuditEvent.seq)))
        jobs = {j.task_uuid: j.bpmn_id for j in s.scalars(select(ServiceJob).where(
            ServiceJob.request_id == request.id))}
        s.expunge_all()
        shown.setdefault("definition", {"process_id": definition.process_id, "version": definition.version})
        return _Loaded(shown=shown, diagrams=_diagrams(dict(definition.files or {})), events=events,
                       job_elements=jobs)


# --- the diagrams -----------------------------------------------------------------------------------------------

def _completed_counts(path: list[str], events: list[AuditEvent]) -> Counter[str]:
    """How often each element completed: the path, never less than the audit log's task and service completions.

    (timer_fired is not counted separately: a fired timer completes, so it is on the path.)
    """
    counts = Counter(path)
    audited: Counter[str] = Counter()
    for event in events:
        bpmn_id = event.payload.get("bpmn_id") if isinstance(event.payload, dict) else None
        if bpmn_id and event.event_type in ("task_completed", "service_called"):
            audited[bpmn_id] += 1
    for bpmn_id, times in audited.items():
        counts[bpmn_id] = max(counts[bpmn_id], times)
    return counts


def _with_call_activities(diagrams: list[_Diagram], active: dict[str, dict[str, str]]) -> None:
    """Mark every call activity active while anything in the process it calls is (in place)."""
    nodes = {node.id: node for d in diagrams for node in d.nodes.values()}
    by_process = {d.process_id: d for d in diagrams}
    changed = True
    while changed:
        changed = False
        for node in nodes.values():
            if node.kind == "callActivity" and node.id not in active and node.called in by_process:
                inner = by_process[node.called].nodes
                if any(element_id in inner for element_id in active):
                    active[node.id] = {"kind": "call_activity", "note": "in progress (click to open its diagram)"}
                    changed = True


def _active(shown: dict[str, Any], diagrams: list[_Diagram], counts: Counter[str],
            where: ZoneInfo | None = None) -> dict[str, dict[str, str]]:
    """Element id -> {kind, note} for everything the request is waiting at now."""
    active: dict[str, dict[str, str]] = {}
    if shown.get("status") == "closed" or shown.get("instance", {}).get("status") == "completed":
        return active
    for task in shown.get("open_tasks", []):
        holder = f"held by {task['assignee']}" if task.get("assignee") else f"unclaimed ({task['lane']})"
        active[task["bpmn_id"]] = {"kind": "user_task", "note": holder}
    for job in shown.get("pending_services", []):
        if job["status"] == "incident":
            note = f"incident after {job['attempts']} attempt(s): {(job.get('last_error') or '').strip()[:200]}"
            active[job["bpmn_id"]] = {"kind": "incident", "note": note}
        else:
            tries = f", {job['attempts']} failed attempt(s) so far" if job.get("attempts") else ""
            active[job["bpmn_id"]] = {"kind": "service_task", "note": f"waiting for the worker ({job['operator']}"
                                                                      f"{tries})"}
    nodes = {node.id: node for d in diagrams for node in d.nodes.values()}
    next_timer = shown.get("instance", {}).get("next_timer_at")
    if next_timer:  # intermediate timers whose predecessors completed more often than they fired
        for node in nodes.values():
            if node.timer and node.kind == "intermediateCatchEvent" and node.id not in active:
                arrived = sum(counts[source] for source in node.incoming)
                if arrived > counts[node.id]:
                    active[node.id] = {"kind": "timer", "note": f"waiting (next timer due {when(next_timer, where)})"}
    _with_call_activities(diagrams, active)
    if next_timer:  # boundary timers on an active activity that have not fired for this run of it
        for node in nodes.values():
            if node.timer and node.kind == "boundaryEvent" and node.attached_to in active and node.id not in active:
                entered = counts[node.attached_to] + 1
                if counts[node.id] < entered:
                    active[node.id] = {"kind": "timer", "note": f"armed (next timer due {when(next_timer, where)})"}
    return active


_RANK_KINDS = {"user_task", "service_task", "incident"}


def request_diagrams(services: Context, ref: str, *, reader: Reader) -> list[dict[str, Any]]:
    """Every BPMN diagram of the request's pinned definition version, with its completed and active elements.

    Order: diagrams where work waits (a user or service task, an incident) first, then diagrams with other active
    elements (timers, running call activities), the deepest call level first in both; then the other diagrams
    the request touched, top level first; untouched diagrams last.
    """
    loaded = _load(services, ref, reader)
    path: list[str] = list(loaded.shown.get("path") or [])
    counts = _completed_counts(path, loaded.events)
    active = _active(loaded.shown, loaded.diagrams, counts, zone(services.settings.time_zone))
    return _marked(loaded, path, counts, active)


def step_diagrams(services: Context, ref: str, path: list[str], active: dict[str, dict[str, str]], *,
                  reader: Reader) -> list[dict[str, Any]]:
    """Like `request_diagrams`, for the request as it was at some earlier point: `path` is what it had completed
    then and `active` (element id -> {kind, note}) what it waited at (call activities are added here)."""
    loaded = _load(services, ref, reader, show=False)
    active = dict(active)
    _with_call_activities(loaded.diagrams, active)
    return _marked(loaded, path, Counter(path), active)


def _marked(loaded: _Loaded, path: list[str], counts: Counter[str],
            active: dict[str, dict[str, str]]) -> list[dict[str, Any]]:
    main_process = loaded.shown["definition"]["process_id"]
    depths = _depths(loaded.diagrams, main_process)
    first_seen = {element_id: i for i, element_id in reversed(list(enumerate(path)))}

    result = []
    for diagram in loaded.diagrams:
        completed = {i: counts[i] for i in diagram.nodes if counts[i] > 0}
        here = [i for i in active if i in diagram.nodes]
        touched = bool(completed or here)
        if any(active[i]["kind"] in _RANK_KINDS for i in here):
            rank = 0
        elif here:
            rank = 1
        elif touched:
            rank = 2
        else:
            rank = 3
        depth = depths[diagram.process_id]
        order = (rank, -depth if rank <= 1 else depth,
                 min((first_seen[i] for i in completed if i in first_seen), default=len(path)), diagram.file)
        result.append((order, {
            "file": diagram.file,
            "process_id": diagram.process_id,
            "name": diagram.name,
            "main": diagram.process_id == main_process,
            "touched": touched,
            "xml": diagram.xml,
            "completed": completed,
            "active": here,
            "active_kinds": {i: active[i]["kind"] for i in here},
            "notes": {i: active[i]["note"] for i in here},
            "names": {node.id: node.name for node in diagram.nodes.values()},
            "calls": {node.id: node.called for node in diagram.nodes.values() if node.called},
        }))
    result.sort(key=lambda item: item[0])
    return [item for _, item in result]


def request_timeline(services: Context, ref: str, path: list[str] | None = None, *,
                     reader: Reader) -> list[dict[str, Any]]:
    """The request's audit events, oldest first: time, actor, what happened in plain words, and a summary.

    `path` (the completed element ids, as `queries.show_request` gives them) double-checks that a logged timer
    really completed (logs written before timers were told apart from withdrawn ones); looked up when not given.
    """
    loaded = _load(services, ref, reader, show=path is None)
    return timeline.of_events(loaded.events, _names(loaded), loaded.job_elements,
                              list(loaded.shown.get("path") or []) if path is None else path,
                              zone(services.settings.time_zone))


def _names(loaded: _Loaded) -> dict[str, str]:
    return {node.id: node.name for d in loaded.diagrams for node in d.nodes.values()}


def request_page_extras(services: Context, shown: dict[str, Any], *, reader: Reader) -> dict[str, Any]:
    """What request.html shows beside `queries.show_request`'s data (`shown`), in one read and no workflow load:
    element names, the timeline, and the elements the request waits at (with their names)."""
    loaded = _load(services, str(shown["number"]), reader, show=False)
    path = list(shown.get("path") or [])
    counts = _completed_counts(path, loaded.events)
    where = zone(services.settings.time_zone)
    active = _active(shown, loaded.diagrams, counts, where)
    names = {node.id: node.name for d in loaded.diagrams for node in d.nodes.values()}
    return {
        "names": names,
        "timeline": timeline.of_events(loaded.events, names, loaded.job_elements, path, where),
        "waiting": [{"id": i, "name": names.get(i, i), **active[i]} for i in active],
    }
