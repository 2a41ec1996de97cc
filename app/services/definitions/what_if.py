"""What-if before deploy (issue 16 part 4, first slice): the last finished requests of the process's current version
replayed through a bundle under check, before anything is deployed.

Each request's recorded inputs (start data, every submitted form, every service result, every timer, each at its
recorded time: app.services.audit.replay) are applied to the new version in memory, as the engine replay does for
the request page. The outcome per request: the same path as it took; another path (it finished, through other
elements); it fails (a recorded step cannot happen on the new version: the element changed, is gone or is not
reached, or a script or condition raises); or it would wait (the inputs ran out before the end: a new task, or a
service task whose result was never recorded). Nothing is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select

from app import engine
from app.errors import AppError, NotFound
from app.services.audit.replay import recorded_inputs
from app.services.context import Context
from app.services.definitions import deploy as definitions
from app.store.models import AuditEvent, ProcessInstance, ServiceRequest

LAST = 20  # finished requests replayed per check


@dataclass(frozen=True)
class WhatIf:
    request: str
    outcome: str  # same | other_path | fails | waits
    detail: str
    recorded: list[str]  # the path it took (element names)
    replayed: list[str]  # the path on the new version, as far as it got

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
    return {"version": version, "requests": rows, "counts": counts}


def _guarded(number: str, *args: Any) -> dict[str, Any]:
    try:
        return _one(number, *args).as_dict()
    except Exception as err:  # noqa: BLE001 - a bundle under check may break the replay anywhere: say so, go on
        return WhatIf(number, "fails", f"the replay failed: {type(err).__name__}: {err}"[:500], [], []).as_dict()


def _one(number: str, spec_json: str, current_spec: str, state: str, events: list[AuditEvent],
         new_names: dict[str, str], old_names: dict[str, str]) -> WhatIf:
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
        return WhatIf(number, "fails", f"at {where}: {message}" if where else message, *shown)
    if not run.snapshot.completed:
        waiting = [*run.snapshot.human_tasks, *run.snapshot.service_tasks, *(t.bpmn_id for t in run.snapshot.timers)]
        return WhatIf(number, "waits", "would wait at " + ", ".join(_names(waiting, new_names)), *shown)
    if taken != recorded:
        at = next((i for i, (a, b) in enumerate(zip(recorded, taken, strict=False)) if a != b),
                  min(len(recorded), len(taken)))
        went = shown[1][at] if at < len(taken) else "the end"
        instead = shown[0][at] if at < len(recorded) else "the end"
        return WhatIf(number, "other_path", f"from step {at + 1}: {went} instead of {instead}", *shown)
    return WhatIf(number, "same", "the same path", *shown)
