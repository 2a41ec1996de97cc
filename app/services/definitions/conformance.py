"""Conformance rows for the insights of a version: the instances whose recorded path its diagrams cannot replay,
each with its first deviating step, what the diagram expected instead, and whether the instance was moved from
another version (a move keeps the steps recorded on the old diagram).

Why a graph check and not the engine's replay (app.services.audit.replay): the engine replay loads the workflow
and runs every recorded input through SpiffWorkflow, milliseconds per instance, and it compares with the stored
state of the instance's *current* version, which after a move is not where the history was recorded. The graph check
reuses the steps the insights already read (no payloads parsed, no workflow loaded), so a period of thousands of
instances is checked in the same pass; the request page's replay gives the detail for one request.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain.process_graph import END, Deviation
from app.store.models import AuditEvent, ProcessInstance, ServiceRequest


def _label(element: str, names: dict[str, str]) -> str:
    return "the end of the process" if element == END else names.get(element) or element


def rows(session: Session, deviations: dict[int, Deviation], names: dict[str, str],
         version: int) -> list[dict[str, Any]]:
    """One row per deviating instance, oldest deviation first."""
    if not deviations:
        return []
    ids = list(deviations)
    numbers: dict[int, tuple[str, str]] = {}
    moves: dict[int, tuple[int, Any]] = {}
    for chunk in (ids[i:i + 5000] for i in range(0, len(ids), 5000)):
        numbers.update({rid: (number or str(rid), status) for rid, number, status in session.execute(
            select(ServiceRequest.id, ServiceRequest.number, ProcessInstance.status)
            .join(ProcessInstance, ProcessInstance.request_id == ServiceRequest.id)
            .where(ServiceRequest.id.in_(chunk)))})
        for rid, payload, at in session.execute(
                select(AuditEvent.request_id, AuditEvent.payload, AuditEvent.at)
                .where(AuditEvent.request_id.in_(chunk), AuditEvent.event_type == "instance_migrated")
                .order_by(AuditEvent.seq)):
            if isinstance(payload, dict) and payload.get("to_version") == version:
                moves[rid] = (int(payload.get("from_version") or 0), at)
    out = []
    for rid, found in sorted(deviations.items(), key=lambda item: (item[1].at, item[0])):
        number, status = numbers.get(rid, (str(rid), ""))
        moved = moves.get(rid)
        if not found.known:
            why = "not an element of this version's diagrams"
        elif found.previous is None:
            why = "the diagram does not start with it"
        else:
            why = f"the diagram does not lead from {_label(found.previous, names)} to it"
        out.append({
            "request": number, "status": status, "step": found.index + 1, "element_id": found.element,
            "name": names.get(found.element, ""), "at": found.at.isoformat(), "reason": why,
            "previous": found.previous,
            "expected": [{"element_id": e, "name": _label(e, names)} for e in found.expected],
            "moved_from": moved[0] if moved else None,
            "moved_at": moved[1].isoformat() if moved else None})
    return out
