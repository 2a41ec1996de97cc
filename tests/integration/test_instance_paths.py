"""The `instance_path` rows: a finished instance's recorded steps, written in the transaction that finishes it,
read by the insights instead of its audit events, checked against the log on every read, rebuilt from the log, and
filled for earlier instances by migration 0020. The audit log stays the record: the numbers are the same with the
rows, without them and after a rebuild, and the hash chains stay intact."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import delete, func, inspect, select, update

from app.services.admin import setup
from app.services.admin.auth import authenticate
from app.services.definitions import insights
from app.store import audit, instance_paths
from app.store.db import Base
from app.store.models import AuditEvent, InstancePath, ServiceRequest
from tests.driver import Driver
from tests.integration.test_process_insights import ASK, LOOPED, RESOLVED, STRAIGHT, _record_step, assign, fulfil


def _closed(drive: Driver, clock, looped: bool) -> str:
    number = drive.new("assistance")
    drive.work()
    assign(drive, clock, number, 2)
    if looped:
        fulfil(drive, clock, number, 1, ASK)
        clock.advance(timedelta(hours=3))
        drive.complete(number, "await_customer_reply", "sam", {"customer_reply": "The Tulsa office"})
    fulfil(drive, clock, number, 4, RESOLVED)
    return number


def _request_id(services, number: str) -> int:
    with services.uow() as uow:
        return int(uow.session.scalar(select(ServiceRequest.id).where(ServiceRequest.number == number)))


def _rows(services) -> dict[int, dict]:
    with services.uow() as uow:
        return {row.request_id: {c: getattr(row, c) for c in ("through_seq", "path", "kinds", "steps", "open")}
                for row in uow.session.scalars(select(InstancePath))}


def _insights(services) -> dict:
    return insights.version_insights(services, authenticate(services, "olive", "demo"), "request_fulfillment", 1)


def _history(services, clock) -> dict[str, str]:
    drive = Driver(services, clock)
    found = {"straight": _closed(drive, clock, False), "looped": _closed(drive, clock, True)}
    found["running"] = drive.new("assistance")
    drive.work()
    return found


def test_a_request_that_closes_keeps_its_steps_derived_from_its_events_in_the_same_transaction(services, clock):
    numbers = _history(services, clock)
    looped, running = _request_id(services, numbers["looped"]), _request_id(services, numbers["running"])
    rows = _rows(services)
    assert running not in rows  # written when an instance finishes, not before
    row = rows[looped]
    assert json.loads(row["path"]) == LOOPED and json.loads(rows[_request_id(services, numbers["straight"])]
                                                            ["path"]) == STRAIGHT
    assert row["kinds"] == "suusuuss" and row["open"] is None
    steps = [int(n) for n in row["steps"].split()]
    with services.uow() as uow:
        events = list(uow.session.execute(select(AuditEvent.seq, AuditEvent.event_type, AuditEvent.payload)
                                          .where(AuditEvent.request_id == looped).order_by(AuditEvent.seq)))
    recorded = [seq for seq, kind, _ in events if kind in ("task_completed", "service_called", "timer_fired")]
    assert steps[0::3] == recorded  # each step names its event
    assert row["through_seq"] == events[-1][0] and events[-1][1] == "request_closed"
    hours = [(done - ready) / 3_600_000_000 for ready, done in zip(steps[1::3], steps[2::3], strict=True)]
    assert hours == [0, 2, 1, 0, 3, 4, 0, 0]  # take, assign, fulfil (asks), ask, reply, fulfil, close, notify
    with services.uow() as uow:  # derived again from the log: the very same row
        instance_paths.rebuild(uow.session)
        uow.commit()
        assert audit.verify(uow.session).intact  # the log was only read
    assert _rows(services) == rows


def test_a_rebuild_while_the_request_closes_fails_neither(services, clock):
    """`rf audit rebuild-paths` writes a request's row while the transaction that closes the request writes it too:
    the later one writes over the earlier (the same row: both derive it from the log), and neither fails. PostgreSQL
    runs both at once; SQLite one writer at a time."""
    if services.engine.dialect.name != "postgresql":
        pytest.skip("SQLite runs one writer at a time")
    request_id = _request_id(services, _history(services, clock)["straight"])
    expected = _rows(services)[request_id]
    outcome: dict[str, Any] = {}

    def close() -> None:  # what the completion that closes the request writes last
        try:
            with services.uow() as closing:
                instance_paths.record(closing.session, request_id)
                closing.commit()
            outcome["closed"] = True
        except Exception as err:  # noqa: BLE001 - the outcome is the assertion
            outcome["error"] = err

    with services.uow() as rebuilding:
        instance_paths.rebuild(rebuilding.session, [request_id])  # its row written, not committed yet
        closing = threading.Thread(target=close)
        closing.start()
        closing.join(0.5)
        assert closing.is_alive()  # it waits for the rebuild's row
        rebuilding.commit()
    closing.join(30)
    assert outcome == {"closed": True}
    assert _rows(services)[request_id] == expected


def test_the_insights_read_the_rows_and_give_the_numbers_of_the_events(services, clock):
    numbers = _history(services, clock)
    from_rows = _insights(services)
    assert (from_rows["started"], from_rows["finished"]) == (3, 2)
    with services.uow() as uow:
        uow.session.execute(delete(InstancePath))
        uow.commit()
    assert _insights(services) == from_rows  # every instance read from its events instead: the same numbers
    assert insights.rebuild_paths(services) == 2  # `rf audit rebuild-paths`: the finished ones
    assert _insights(services) == from_rows

    straight = _request_id(services, numbers["straight"])
    steps = [int(n) for n in _rows(services)[straight]["steps"].split()]
    steps[4] -= 3_600_000_000  # the row says the assignment waited an hour longer than the log does
    with services.uow() as uow:
        uow.session.execute(update(InstancePath).where(InstancePath.request_id == straight)
                            .values(steps=" ".join(map(str, steps))))
        uow.commit()
    assign_row = {row["element_id"]: row for row in _insights(services)["elements"]}["assign_specialist"]
    assert assign_row["mean_hours"] == 2.5  # 3 h (the row) and 2 h: the row is what is read


def test_a_step_recorded_after_the_close_sets_the_row_aside_until_it_is_rebuilt(services, clock):
    numbers = _history(services, clock)
    closed = numbers["straight"]
    before = _rows(services)
    _record_step(services, clock, closed, "assign_specialist")  # an import, after the request closed
    assert _rows(services) == before  # nothing writes the row again ...
    found = _insights(services)  # ... but it is newer than the row: the request is read from its events
    [row] = found["conformance"]["instances"]
    assert (row["request"], row["element_id"], row["previous"]) == (closed, "assign_specialist",
                                                                    "notify_assistance_customer")
    assert {r["element_id"]: r for r in found["elements"]}["assign_specialist"]["passed"] == 3
    insights.rebuild_paths(services)
    assert json.loads(_rows(services)[_request_id(services, closed)]["path"]) == [*STRAIGHT, "assign_specialist"]
    assert _insights(services) == found


def _migrate(services, revision: str, *, down: bool) -> None:
    config = Config()
    config.set_main_option("script_location", str(setup.MIGRATIONS))
    with services.engine.begin() as conn:
        config.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(config, revision)


def test_migration_0020_fills_the_rows_of_instances_finished_before_it_and_downgrades(services, clock):
    _history(services, clock)
    written, found = _rows(services), _insights(services)
    _migrate(services, "0019", down=True)
    with services.engine.connect() as conn:
        schema = inspect(conn)
        assert "instance_path" not in schema.get_table_names()
        assert "ix_audit_event_request_id" in {i["name"] for i in schema.get_indexes("audit_event")}
    _migrate(services, "heads", down=False)
    assert _rows(services) == written  # the upgrade derived the same rows from the log as closing wrote
    assert _insights(services) == found
    with services.uow() as uow:
        assert audit.verify(uow.session).intact
        assert uow.session.scalar(select(func.count()).select_from(InstancePath)) == 2
    with services.engine.connect() as conn:  # what the migration made is what the models describe
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert [d for d in diffs if any(name in repr(d) for name in (
        "instance_path", "ix_process_instance_version_created", "ix_audit_event_request"))] == []
