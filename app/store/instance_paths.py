"""The `instance_path` rows: each finished instance's recorded steps, kept so that the insights of a version read one
row per instance instead of its audit events (the model: app.store.models.process.InstancePath).

**Written** by `record` in the transaction that finishes the instance (app.services.requests.projection), after that
transaction appended the last step's events: a finished instance takes no further step (its tasks and service jobs
were closed with it; nothing runs a completed workflow), so the row stays what the log says. Both the row and the
insights' reading of the events derive the steps with the same function (`runs_from_events`), one request at a time,
so the numbers are the same either way.

**Derived, never a source**: the audit log stays the record. `rebuild` derives the rows again from the events
(`rf audit rebuild-paths`; migration 0020 filled them for the instances finished before it), and an instance without
its row is simply read from its events (slower, same numbers). `through_seq` names the newest event of the request
when its row was derived, so every read checks the row against the log (`outdated`): a step of the request recorded
after it (the engine never records one after the end; an import could) sets the row aside.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, exists, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from app.domain.process_insights import STEP_SOURCES, Runs, runs_from_events
from app.store.db import table_of
from app.store.models import AuditEvent, InstancePath, ProcessInstance

BATCH = 500  # requests per read of their events when rebuilding
_PATHS = table_of(InstancePath)


def source_events(*where: ColumnElement[bool]) -> Select[Any]:
    """The events the steps are derived from, in the log's order: (request id, type, seq, time, BPMN id); only one
    field of each payload is read."""
    return (select(AuditEvent.request_id, AuditEvent.event_type, AuditEvent.seq, AuditEvent.at,
                   AuditEvent.payload["bpmn_id"].as_string())
            .where(*where, AuditEvent.event_type.in_(STEP_SOURCES)).order_by(AuditEvent.seq))


def outdated() -> ColumnElement[bool]:
    """True for a row of the query's `instance_path` whose request has a step event newer than the row: recorded
    after the instance finished (the engine never does so; an import could). Such a row is not used. One lookup in
    `ix_audit_event_request_seq` per row: the request's events after `through_seq`, usually none."""
    return exists().where(AuditEvent.request_id == InstancePath.request_id, AuditEvent.seq > InstancePath.through_seq,
                          AuditEvent.event_type.in_(STEP_SOURCES))


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def encode(runs: Runs | None, position: int = 0) -> dict[str, str | None]:
    """An instance's steps as the row's columns (no runs: an instance that recorded no step)."""
    if runs is None:
        return {"path": "[]", "kinds": "", "steps": "", "open": None}
    left = runs.open.get(position)
    return {"path": _json(list(runs.paths[position])), "kinds": runs.kinds[position],
            "steps": " ".join(f"{seq} {ready} {done}" for _, _, seq, ready, done in runs.steps(position)),
            "open": _json([list(task) for task in left]) if left else None}


class Decoder:
    """Rows back into `Runs`; a path's text is parsed once however many rows share it."""

    def __init__(self, into: Runs) -> None:
        self.runs = into
        self._paths: dict[str, tuple[str, ...]] = {}

    def add(self, request_id: int, path: str, kinds: str, steps: str, left: str | None) -> None:
        elements = self._paths.get(path)
        if elements is None:
            elements = self._paths[path] = tuple(json.loads(path))
        self.runs.add(request_id, elements, kinds, map(int, steps.split()),
                      [(element, at) for element, at in json.loads(left)] if left else ())


def _rows(connection: Connection, request_ids: Sequence[int]) -> list[dict[str, Any]]:
    events = connection.execute(source_events(AuditEvent.request_id.in_(request_ids))).all()
    runs = runs_from_events(events)
    position = {request_id: n for n, request_id in enumerate(runs.instances)}
    newest = dict(connection.execute(
        select(AuditEvent.request_id, func.max(AuditEvent.seq)).where(AuditEvent.request_id.in_(request_ids))
        .group_by(AuditEvent.request_id)).all())
    return [{"request_id": request_id, "through_seq": newest.get(request_id, 0),
             **(encode(runs, position[request_id]) if request_id in position else encode(None))}
            for request_id in request_ids]


def _write(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """Each row inserted, or written over the request's row if it has one: the row a concurrent writer of the same
    request (`rf audit rebuild-paths` while the request closes) committed meanwhile included. Both derive it from the
    same log, so the later one is as right; a delete then an insert failed the later one on the row's key."""
    statement = (postgresql if connection.dialect.name == "postgresql" else sqlite).insert(_PATHS)
    columns = [column.key for column in _PATHS.c if column.key != "request_id"]
    connection.execute(statement.on_conflict_do_update(
        index_elements=[_PATHS.c.request_id], set_={name: statement.excluded[name] for name in columns}), rows)


def record(session: Session, request_id: int) -> None:
    """The row of a request whose instance finished in this transaction (its events so far are all it will have)."""
    connection = session.connection()
    _write(connection, _rows(connection, [request_id]))


def rebuild(session: Session, request_ids: Iterable[int] | None = None) -> int:
    """Derive the rows again from the audit log: of the given requests, or of every finished instance (then rows of
    instances not finished are removed). Returns the rows written."""
    connection = session.connection()
    if request_ids is None:
        connection.execute(delete(_PATHS))
        request_ids = connection.scalars(select(ProcessInstance.request_id)
                                         .where(ProcessInstance.status == "completed")
                                         .order_by(ProcessInstance.request_id)).all()
    chosen = list(request_ids)
    for first in range(0, len(chosen), BATCH):
        _write(connection, _rows(connection, chosen[first:first + BATCH]))
    return len(chosen)
