"""Where a request is in its process, for the request page: the BPMN diagrams of the request's pinned definition
version with the elements it completed (and how often) and the ones it is waiting at, and its audit timeline.

Everything here is computed from the audit log, the inbox/job projections and `queries.show_request` (its path);
no workflow is loaded for the markers themselves.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from app.engine.xml_safety import UnsafeXml, parse_xml
from app.services.context import Context
from app.services.requests import queries
from app.store.models import AuditEvent, DefinitionVersion, ProcessInstance, ServiceJob

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


def _load(services: Context, ref: str, *, show: bool = True) -> _Loaded:
    shown = queries.show_request(services, ref) if show else {}
    with services.uow() as uow:
        s = uow.session
        request = queries.find_request(s, ref)
        instance = s.scalars(select(ProcessInstance).where(ProcessInstance.request_id == request.id)).one()
        definition = s.get(DefinitionVersion, instance.definition_version_id)
        assert definition is not None
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


def _when(value: Any) -> str:
    if not value:
        return ""
    try:
        return datetime.fromisoformat(str(value)).strftime("%b %d %Y, %H:%M UTC")
    except ValueError:
        return str(value)


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


def _active(shown: dict[str, Any], diagrams: list[_Diagram], counts: Counter[str]) -> dict[str, dict[str, str]]:
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
                    active[node.id] = {"kind": "timer", "note": f"waiting (next timer due {_when(next_timer)})"}
    _with_call_activities(diagrams, active)
    if next_timer:  # boundary timers on an active activity that have not fired for this run of it
        for node in nodes.values():
            if node.timer and node.kind == "boundaryEvent" and node.attached_to in active and node.id not in active:
                entered = counts[node.attached_to] + 1
                if counts[node.id] < entered:
                    active[node.id] = {"kind": "timer", "note": f"armed (next timer due {_when(next_timer)})"}
    return active


_RANK_KINDS = {"user_task", "service_task", "incident"}


def request_diagrams(services: Context, ref: str) -> list[dict[str, Any]]:
    """Every BPMN diagram of the request's pinned definition version, with its completed and active elements.

    Order: diagrams where work waits (a user or service task, an incident) first, then diagrams with other active
    elements (timers, running call activities), the deepest call level first in both; then the other diagrams
    the request touched, top level first; untouched diagrams last.
    """
    loaded = _load(services, ref)
    path: list[str] = list(loaded.shown.get("path") or [])
    counts = _completed_counts(path, loaded.events)
    return _marked(loaded, path, counts, _active(loaded.shown, loaded.diagrams, counts))


def step_diagrams(services: Context, ref: str, path: list[str],
                  active: dict[str, dict[str, str]]) -> list[dict[str, Any]]:
    """Like `request_diagrams`, for the request as it was at some earlier point: `path` is what it had completed
    then and `active` (element id -> {kind, note}) what it waited at (call activities are added here)."""
    loaded = _load(services, ref, show=False)
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


# --- the timeline -----------------------------------------------------------------------------------------------

EVENT_WORDS = {
    "instance_started": "Request started",
    "task_ready": "Task ready",
    "task_claimed": "Task claimed",
    "task_unclaimed": "Task released",
    "task_assigned": "Task assigned",
    "task_completed": "Task completed",
    "service_called": "Service task ran",
    "service_failed": "Service task failed",
    "incident_raised": "Incident raised",
    "incident_resolved": "Incident retried",
    "timer_fired": "Timer fired",
    "request_closed": "Request closed",
    "sla_paused": "SLA clock paused",
    "sla_resumed": "SLA clock resumed",
    "sla_warning": "SLA at risk",
    "sla_breached": "SLA target passed",
    "instance_migrated": "Moved to a new process version",
}
_TONE = {"request_closed": "ok", "task_completed": "ok", "service_called": "ok", "service_failed": "warn",
         "timer_fired": "warn", "sla_warning": "warn", "sla_breached": "error", "sla_paused": "warn",
         "incident_raised": "error", "instance_started": "start"}


def _short(value: Any, limit: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _summarize(data: Any, limit: int = 220) -> str:
    if not isinstance(data, dict) or not data:
        return ""
    text = "; ".join(f"{key}: {_short(value)}" for key, value in data.items())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _describe(event: AuditEvent, names: dict[str, str], task_names: dict[str, str],
              job_elements: dict[str, str]) -> tuple[str, str]:
    """The event's plain-words summary and the BPMN element it concerns ('' when none)."""
    p: dict[str, Any] = event.payload if isinstance(event.payload, dict) else {}
    task = str(p.get("task") or "")
    bpmn_id = str(p.get("bpmn_id") or job_elements.get(task) or "")
    name = p.get("name") or task_names.get(task) or names.get(bpmn_id) or bpmn_id or "a task"
    kind = event.event_type
    if kind == "instance_started":
        text = f"{str(p.get('request_type', '')).capitalize()} request {p.get('request_number', '')} started on " \
               f"{p.get('definition', 'the process')}"
    elif kind == "task_ready":
        text = f"“{name}” is waiting for the {p.get('lane') or 'staff'}"
        if p.get("assignee"):
            text += f", assigned to {p['assignee']}"
    elif kind == "task_claimed":
        text = f"{event.actor} took “{name}”"
    elif kind == "task_unclaimed":
        text = f"“{name}” went back to the group queue"
        if p.get("previous_assignee"):
            text += f" (was {p['previous_assignee']})"
    elif kind == "task_assigned":
        text = f"“{name}” assigned to {p.get('assignee')}"
        if p.get("previous_assignee"):
            text += f" (was {p['previous_assignee']})"
    elif kind == "task_completed":
        text = f"“{name}” completed"
        if summary := _summarize(p.get("data")):
            text += f": {summary}"
    elif kind == "service_called":
        attempt = p.get("attempt") or 1
        text = f"“{name}” ran ({p.get('operator')}{', attempt ' + str(attempt) if attempt != 1 else ''})"
        if summary := _summarize(p.get("result")):
            text += f": {summary}"
    elif kind == "service_failed":
        text = f"“{name}” failed on attempt {p.get('attempt')}: {_short(p.get('error', ''), 200)}"
        if p.get("next_attempt_at"):
            text += f"; next try {_when(p['next_attempt_at'])}"
    elif kind == "incident_raised":
        text = f"“{name}” stopped after {p.get('attempts')} attempt(s): {_short(p.get('error', ''), 200)}"
    elif kind == "incident_resolved":
        text = f"{event.actor} retried “{name}”"
    elif kind == "timer_fired":
        text = f"“{name}” fired"
    elif kind == "request_closed":
        text = "The process reached its end; the request is closed"
    elif kind in ("sla_warning", "sla_breached"):
        text = f"{p.get('what', 'SLA escalation')}; " + (
            f"emailed {', '.join(p['recipients'])}" if p.get("recipients") else "reached with the breach, not emailed")
    elif kind == "sla_paused":
        text = f"The SLA clock stopped: {p.get('reason', 'paused')}"
    elif kind == "sla_resumed":
        hours = float(p.get("paused_business_seconds") or 0) / 3600
        text = f"The SLA clock runs again after {hours:.1f} paused business hours; due {_when(p.get('sla_due_at'))}"
    elif kind == "instance_migrated":
        text = f"Moved from {p.get('process_id')} v{p.get('from_version')} to v{p.get('to_version')}"
    else:
        text = _summarize(p)
    return text, bpmn_id


def request_timeline(services: Context, ref: str, path: list[str] | None = None) -> list[dict[str, Any]]:
    """The request's audit events, oldest first: time, actor, what happened in plain words, and a summary.

    `path` (the completed element ids, as `queries.show_request` gives them) double-checks that a logged timer
    really completed (logs written before timers were told apart from withdrawn ones); looked up when not given.
    """
    loaded = _load(services, ref, show=path is None)
    return _timeline(loaded, list(loaded.shown.get("path") or []) if path is None else path)


def _timeline(loaded: _Loaded, path: list[str]) -> list[dict[str, Any]]:
    fired_so_far: Counter[str] = Counter()
    timer_completions = Counter(path)
    names = {node.id: node.name for d in loaded.diagrams for node in d.nodes.values()}
    task_names: dict[str, str] = {}
    for event in loaded.events:
        p = event.payload if isinstance(event.payload, dict) else {}
        if p.get("task") and p.get("name"):
            task_names[str(p["task"])] = str(p["name"])
    timeline = []
    for event in loaded.events:
        summary, bpmn_id = _describe(event, names, task_names, loaded.job_elements)
        what = EVENT_WORDS.get(event.event_type, event.event_type.replace("_", " ").capitalize())
        tone = _TONE.get(event.event_type, "")
        if event.event_type == "timer_fired" and bpmn_id:
            fired_so_far[bpmn_id] += 1
            if fired_so_far[bpmn_id] > timer_completions[bpmn_id]:  # never completed: withdrawn, not fired
                what, tone = "Timer withdrawn", "plain"
                summary = f"“{names.get(bpmn_id, bpmn_id)}” no longer applies: the activity it watched finished first"
        timeline.append({
            "seq": event.seq, "at": event.at, "actor": event.actor, "event_type": event.event_type,
            "what": what, "summary": summary, "bpmn_id": bpmn_id, "tone": tone,
        })
    return timeline


def request_page_extras(services: Context, shown: dict[str, Any]) -> dict[str, Any]:
    """What request.html shows beside `queries.show_request`'s data (`shown`), in one read and no workflow load:
    element names, the timeline, and the elements the request waits at (with their names)."""
    loaded = _load(services, str(shown["number"]), show=False)
    path = list(shown.get("path") or [])
    counts = _completed_counts(path, loaded.events)
    active = _active(shown, loaded.diagrams, counts)
    names = {node.id: node.name for d in loaded.diagrams for node in d.nodes.values()}
    return {
        "names": names,
        "timeline": _timeline(loaded, path),
        "waiting": [{"id": i, "name": names.get(i, i), **active[i]} for i in active],
    }
