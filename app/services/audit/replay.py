"""Replay a request from its audit log on its pinned definition version and compare the outcome with its stored
state; and the state of a request after any of its audit events ("view at step N").

The inputs come from the request's audit events, in sequence order:

| event | input |
|---|---|
| `instance_started` | payload `data`: the start variables; `at`: the start time |
| `task_completed` | payload `bpmn_id`, `process_id` (when recorded), `name`, `data` (the submitted form) |
| `service_called` | payload `bpmn_id`, `operator`, `params`, `result` (used instead of calling any handler) |
| `timer_fired` | payload `bpmn_id`; `at`: the engine time it fired at |

Every other event (task ready/claimed/assigned, failed attempts, incidents, mail, closing) changes no engine state.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import engine
from app.domain.local_time import moment
from app.domain.permissions import Reader
from app.engine import Difference, RecordedInput, Snapshot
from app.errors import InvalidData, NotFound
from app.services.context import Context
from app.services.requests.queries import find_readable, readable
from app.store.models import AuditEvent, DefinitionVersion, ProcessInstance, ServiceRequest

# audit event type -> the kind of engine input it records
_KINDS = {"instance_started": "start", "task_completed": "complete", "service_called": "service",
          "timer_fired": "timer"}


def recorded_inputs(events: list[AuditEvent]) -> list[RecordedInput]:
    """The replayable inputs among a request's audit events (sequence order)."""
    inputs = []
    for event in sorted(events, key=lambda e: e.seq):
        kind = _KINDS.get(event.event_type)
        if kind is None:
            continue
        p: dict[str, Any] = event.payload if isinstance(event.payload, dict) else {}
        recorded = p.get("result") if kind == "service" else p.get("data")
        data: dict[str, Any] = recorded if isinstance(recorded, dict) else {}
        params = p.get("params")
        inputs.append(RecordedInput(
            seq=event.seq, at=event.at, kind=kind, bpmn_id=str(p.get("bpmn_id") or ""), name=str(p.get("name") or ""),
            process_id=p.get("process_id") or None, data=data, operator=p.get("operator"),
            params=params if isinstance(params, dict) else None))
    return inputs


@dataclass
class _Record:
    request: ServiceRequest
    instance: ProcessInstance
    definition: DefinitionVersion
    events: list[AuditEvent]


def _record(session: Session, ref: str, reader: Reader) -> _Record:
    request = find_readable(session, ref, reader)  # need-to-know: NotFound for a request `reader` may not read
    instance = session.scalars(select(ProcessInstance).where(ProcessInstance.request_id == request.id)).one_or_none()
    if instance is None:
        raise NotFound(f"request {request.number} has no process instance")
    definition = session.get(DefinitionVersion, instance.definition_version_id)
    assert definition is not None
    events = list(session.scalars(select(AuditEvent).where(AuditEvent.request_id == request.id)
                                  .order_by(AuditEvent.seq)))
    session.expunge_all()
    return _Record(request, instance, definition, events)


# --- replaying a whole request ----------------------------------------------------------------------------------

@dataclass
class ReplayReport:
    number: str
    definition: str  # "request_fulfillment v1"
    events: int  # the request's audit events
    inputs: int  # of them, replayed
    differences: list[Difference]
    names: dict[str, str] = field(default_factory=dict)  # element id -> name, for the differences
    seconds: float = 0.0

    @property
    def identical(self) -> bool:
        return not self.differences

    def as_dict(self) -> dict[str, Any]:
        return {
            "request": self.number, "definition": self.definition, "identical": self.identical,
            "events": self.events, "inputs": self.inputs, "seconds": round(self.seconds, 4),
            "differences": [{"aspect": d.aspect, "element": d.element, "name": self.names.get(d.element),
                             "message": d.message, "stored": d.stored, "replayed": d.replayed, "event": d.seq}
                            for d in self.differences],
        }


def replay_request(services: Context, ref: str, *, reader: Reader, indexed: bool = True) -> ReplayReport:
    """Replay one request in memory and compare it with its stored state (nothing is written).

    `indexed=False` replays with SpiffWorkflow's own task-tree walks (slower on long histories; for checking)."""
    started = time.perf_counter()
    with services.uow() as uow:
        record = _record(uow.session, ref, reader)
    spec_json = record.definition.spec_json
    inputs = recorded_inputs(record.events)
    run = engine.replay_inputs(spec_json, inputs, indexed=indexed)
    differences = list(run.problems)
    if run.snapshot is None:
        differences.append(Difference("input", "", "the audit log records no instance_started event to replay from"))
    elif run.stopped_at is None:
        differences += engine.compare(engine.snapshot(spec_json, record.instance.state_json), run.snapshot)
    return ReplayReport(
        number=record.request.number or str(record.request.id),
        definition=f"{record.definition.process_id} v{record.definition.version}", events=len(record.events),
        inputs=run.applied, differences=differences, names=engine.element_names(spec_json),
        seconds=time.perf_counter() - started)


def request_numbers(services: Context, *, reader: Reader) -> list[str]:
    """Every request `reader` may read that has a process instance, oldest first."""
    with services.uow() as uow:
        return [number or str(rid) for rid, number in uow.session.execute(
            select(ServiceRequest.id, ServiceRequest.number).join(
                ProcessInstance, ProcessInstance.request_id == ServiceRequest.id).where(*readable(reader))
            .order_by(ServiceRequest.id))]


# --- the state after audit event N ------------------------------------------------------------------------------

@dataclass
class StepState:
    """A request as it was after its `step`-th audit event (1-based), computed by replaying up to that event."""

    number: str
    title: str
    step: int
    steps: int
    seq: int  # the audit event's global sequence number
    definition: str
    snapshot: Snapshot
    names: dict[str, str]
    problems: list[Difference]  # inputs up to this step the replay could not apply as recorded
    incidents: set[str] = field(default_factory=set)  # service tasks with an incident open after this step

    @property
    def done(self) -> dict[str, int]:
        """Element id -> times completed so far, in the order first completed."""
        return dict(Counter(self.snapshot.path))

    def waiting(self, zone: tzinfo) -> dict[str, dict[str, str]]:
        """Element id -> {kind, note} for what the request waited at after this step (the diagrams' `active`)."""
        found: dict[str, dict[str, str]] = {}
        if self.snapshot.completed:
            return found
        for bpmn_id in self.snapshot.human_tasks:
            found[bpmn_id] = {"kind": "user_task", "note": "waiting for a person"}
        for bpmn_id in self.snapshot.service_tasks:
            found[bpmn_id] = ({"kind": "incident", "note": "incident raised: the service task failed every attempt"}
                              if bpmn_id in self.incidents else
                              {"kind": "service_task", "note": "waiting for the worker"})
        for timer in self.snapshot.timers:
            found[timer.bpmn_id] = {"kind": "timer", "note": f"waiting (due {local_time(timer.due, zone)})"}
        return found


def local_time(value: datetime | str | None, zone: tzinfo) -> str:
    """A stored time as the auditor reads it: 'Tue 1 Dec 2026, 09:00 CST' (app.domain.local_time)."""
    return moment(value, zone)


def _open_incidents(events: list[AuditEvent]) -> set[str]:
    """BPMN ids of the service tasks whose incident was still open after `events` (keyed by task: a retry or a
    successful call closes it)."""
    raised: dict[str, str] = {}  # task uuid -> bpmn id
    for event in events:
        p = event.payload if isinstance(event.payload, dict) else {}
        task = str(p.get("task") or "")
        if event.event_type == "incident_raised" and task:
            raised[task] = str(p.get("bpmn_id") or "")
        elif event.event_type in ("incident_resolved", "service_called"):
            raised.pop(task, None)
    return {bpmn_id for bpmn_id in raised.values() if bpmn_id}


def state_at(services: Context, ref: str, step: int, *, reader: Reader) -> StepState:
    with services.uow() as uow:
        record = _record(uow.session, ref, reader)
    if not record.events:
        raise NotFound(f"request {ref} has no audit events")
    if not 1 <= step <= len(record.events):
        raise InvalidData(f"step {step} is out of range: {record.request.number} has steps 1 to {len(record.events)}")
    seq = record.events[step - 1].seq
    spec_json = record.definition.spec_json
    run = engine.replay_inputs(spec_json, recorded_inputs(record.events), until_seq=seq)
    if run.snapshot is None:
        raise NotFound(f"request {record.request.number} had not started at step {step}")
    return StepState(number=record.request.number or str(record.request.id), title=record.request.title, step=step,
                     steps=len(record.events), seq=seq,
                     definition=f"{record.definition.process_id} v{record.definition.version}",
                     snapshot=run.snapshot, names=engine.element_names(spec_json), problems=run.problems,
                     incidents=_open_incidents(record.events[:step]))
