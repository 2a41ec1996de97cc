"""What-if before deploy (issue 16 part 4, first slice): the last finished requests of the process's current version
replayed through a bundle under check, before anything is deployed.

Each request's recorded inputs (start data, every submitted form, every service result, every timer, each at its
recorded time: app.services.audit.replay) are applied to the new version in memory, as the engine replay does for
the request page. The outcome per request: the same path as it took; another path (it finished, through other
elements); it fails (a recorded step cannot happen on the new version: the element changed, is gone or is not
reached, or a script or condition raises); or it would wait (the inputs ran out before the end: a new task, or a
service task whose result was never recorded). Nothing is written.

Durations come from the same audit events: how long each request took on the current version (its start to its last
recorded step), and per element the recorded time (a user task: ready -> completed; a service task or timer: the
step before it -> it ran, as the insights page counts them). On the new path a request is given the recorded time at
the elements it still passes (`kept_hours`; an element it loops through fewer times keeps the time of as many
passes); the time at elements it no longer passes (`dropped_hours`, e.g. an element that is gone) is left out, and
the elements its new path passes for the first time (`new_elements`) are named, not estimated: no time was ever
recorded there. So `kept_hours` is what the recorded work would take on the new version, not a forecast of new work.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from app import engine
from app.errors import AppError, InvalidData, NotFound
from app.services.audit.replay import recorded_inputs
from app.services.context import Context
from app.services.definitions import deploy as definitions
from app.store.models import AuditEvent, ProcessInstance, ServiceRequest

LAST = 20  # finished requests replayed per check, unless asked otherwise
MOST = 200  # the most one check replays
_STEPS = ("task_completed", "service_called", "timer_fired")


def count(raw: str | int | None) -> int:
    """How many requests to replay, from a form or query value (empty: LAST); InvalidData (422) unless a whole
    number from 1 to MOST."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return LAST
    try:
        n = int(str(raw).strip())
    except ValueError:
        n = 0
    if not 1 <= n <= MOST:
        raise InvalidData(f"what if: the number of finished requests to replay must be a whole number from 1 to "
                          f"{MOST}, not {str(raw)[:20]!r}")
    return n


@dataclass(frozen=True)
class WhatIf:
    request: str
    outcome: str  # same | other_path | fails | waits
    detail: str
    recorded: list[str]  # the path it took (element names)
    replayed: list[str]  # the path on the new version, as far as it got
    took_hours: float | None = None  # on the current version: its start to its last recorded step
    kept_hours: float | None = None  # recorded time at the elements its new path still passes
    dropped_hours: float | None = None  # recorded time at the elements its new path no longer passes
    new_elements: list[str] = field(default_factory=list)  # passed on the new path only: no recorded time

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _names(ids: Sequence[str], names: dict[str, str]) -> list[str]:
    return [names.get(i) or i for i in ids]


def compare(services: Context, process_id: str, spec_json: str, limit: int = LAST) -> dict[str, Any] | None:
    """The last `limit` finished requests of the current version through `spec_json`; None when the process has no
    deployed version yet."""
    with services.uow() as uow:
        try:
            current = definitions.current_version(uow.session, process_id)
        except NotFound:
            return None
        version, current_spec = current.version, current.spec_json
        finished = uow.session.execute(
            select(ServiceRequest.id, ServiceRequest.number, ProcessInstance.state_json)
            .join(ProcessInstance, ProcessInstance.request_id == ServiceRequest.id)
            .where(ProcessInstance.definition_version_id == current.id, ProcessInstance.status == "completed")
            .order_by(ProcessInstance.updated_at.desc(), ServiceRequest.id.desc()).limit(limit)).all()
        events: dict[int, list[AuditEvent]] = {rid: [] for rid, _, _ in finished}
        for event in uow.session.scalars(select(AuditEvent).where(AuditEvent.request_id.in_(list(events)))
                                         .order_by(AuditEvent.seq)):
            events[event.request_id or 0].append(event)
        uow.session.expunge_all()
    new_names, old_names = engine.element_names(spec_json), engine.element_names(current_spec)
    rows = [_guarded(number or str(rid), spec_json, current_spec, state, events[rid], new_names, old_names)
            for rid, number, state in finished]
    counts = {kind: sum(1 for r in rows if r["outcome"] == kind) for kind in ("same", "other_path", "fails", "waits")}
    return {"version": version, "asked": limit, "requests": rows, "counts": counts}


def _guarded(number: str, *args: Any) -> dict[str, Any]:
    try:
        return _one(number, *args).as_dict()
    except Exception as err:  # noqa: BLE001 - a bundle under check may break the replay anywhere: say so, go on
        return WhatIf(number, "fails", f"the replay failed: {type(err).__name__}: {err}"[:500], [], []).as_dict()


@dataclass
class _Times:
    took_hours: float | None
    at: dict[str, list[float]]  # element id -> the recorded hours of each pass there, in order


def _times(events: list[AuditEvent]) -> _Times:
    """The request's recorded time from its start to its last step, and per element (as app.services.definitions
    .insights counts a step: a user task from ready to completed, any other step from the step before it)."""
    start: datetime | None = None
    last: datetime | None = None
    ready: dict[str, list[datetime]] = defaultdict(list)
    at: dict[str, list[float]] = defaultdict(list)
    for event in events:
        payload = event.payload if isinstance(event.payload, dict) else {}
        bpmn_id = str(payload.get("bpmn_id") or "")
        if event.event_type == "instance_started":
            start = last = event.at
        elif event.event_type == "task_ready" and bpmn_id:
            ready[bpmn_id].append(event.at)
        elif event.event_type in _STEPS and bpmn_id:
            waiting = ready.get(bpmn_id) if event.event_type == "task_completed" else None
            since = waiting.pop() if waiting else (last or event.at)
            at[bpmn_id].append(max((event.at - since).total_seconds(), 0) / 3600)
            last = event.at
    took = (last - start).total_seconds() / 3600 if start is not None and last is not None else None
    return _Times(took, dict(at))


def _hours(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _timed(row: WhatIf, times: _Times, recorded: list[str], taken: list[str], new_names: dict[str, str]) -> WhatIf:
    passes = Counter(taken)  # an element looped through fewer times keeps the time of as many passes
    kept = sum(sum(hours[:passes[e]]) for e, hours in times.at.items())
    dropped = sum(sum(hours[passes[e]:]) for e, hours in times.at.items())
    before = set(recorded)
    fresh = list(dict.fromkeys(e for e in taken if e not in before))
    return WhatIf(row.request, row.outcome, row.detail, row.recorded, row.replayed, _hours(times.took_hours),
                  _hours(kept), _hours(dropped), _names(fresh, new_names))


def _one(number: str, spec_json: str, current_spec: str, state: str, events: list[AuditEvent],
         new_names: dict[str, str], old_names: dict[str, str]) -> WhatIf:
    row, recorded, taken = _outcome(number, spec_json, current_spec, state, events, new_names, old_names)
    return _timed(row, _times(events), recorded, taken, new_names)


def _outcome(number: str, spec_json: str, current_spec: str, state: str, events: list[AuditEvent],
             new_names: dict[str, str], old_names: dict[str, str]) -> tuple[WhatIf, list[str], list[str]]:
    try:
        recorded = engine.snapshot(current_spec, state).path
    except AppError:
        recorded = []
    run = engine.replay_inputs(spec_json, recorded_inputs(events))
    taken = run.snapshot.path if run.snapshot is not None else []
    shown = (_names(recorded, old_names), _names(taken, new_names))
    if run.stopped_at is not None or run.snapshot is None:
        problem = run.problems[-1] if run.problems else None
        where = new_names.get(problem.element) or problem.element if problem else ""
        message = problem.message if problem else "the start could not be replayed"
        return WhatIf(number, "fails", f"at {where}: {message}" if where else message, *shown), recorded, taken
    if not run.snapshot.completed:
        waiting = [*run.snapshot.human_tasks, *run.snapshot.service_tasks, *(t.bpmn_id for t in run.snapshot.timers)]
        return (WhatIf(number, "waits", "would wait at " + ", ".join(_names(waiting, new_names)), *shown),
                recorded, taken)
    if taken != recorded:
        at = next((i for i, (a, b) in enumerate(zip(recorded, taken, strict=False)) if a != b),
                  min(len(recorded), len(taken)))
        went = shown[1][at] if at < len(taken) else "the end"
        instead = shown[0][at] if at < len(recorded) else "the end"
        return (WhatIf(number, "other_path", f"from step {at + 1}: {went} instead of {instead}", *shown),
                recorded, taken)
    return WhatIf(number, "same", "the same path", *shown), recorded, taken
