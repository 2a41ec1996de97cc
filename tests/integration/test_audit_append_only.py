"""The audit log is append-only: on PostgreSQL a trigger refuses UPDATE, DELETE and TRUNCATE of audit_event."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError

from app.store import audit
from app.store.models import AuditEvent
from tests.driver import Driver


def _rows(services) -> list[tuple]:
    with services.uow() as uow:
        return [(e.seq, e.actor, e.event_type, e.payload, e.hash) for e in
                uow.session.scalars(select(AuditEvent).order_by(AuditEvent.seq))]


@pytest.mark.parametrize("statement", ["update", "delete", "truncate"])
def test_postgresql_refuses_to_change_or_remove_audit_rows(services, clock, statement):
    if services.engine.dialect.name != "postgresql":
        pytest.skip("the append-only trigger exists on PostgreSQL only (SQLite: the application never writes one)")
    Driver(services, clock).new("assistance")
    before = _rows(services)
    assert len(before) >= 3
    with services.uow() as uow, pytest.raises(DBAPIError) as refused:
        if statement == "update":
            uow.session.execute(update(AuditEvent).where(AuditEvent.seq == 2).values(payload={"forged": True}))
        elif statement == "delete":
            uow.session.execute(delete(AuditEvent).where(AuditEvent.seq == 2))
        else:
            uow.session.execute(text("TRUNCATE audit_event"))
        uow.commit()
    assert "audit_event is append-only" in str(refused.value)
    assert statement.upper() in str(refused.value)
    assert _rows(services) == before
    with services.uow() as uow:
        assert audit.verify(uow.session).intact


def test_postgresql_refuses_an_orm_update_of_a_loaded_event(services, clock):
    if services.engine.dialect.name != "postgresql":
        pytest.skip("the append-only trigger exists on PostgreSQL only")
    Driver(services, clock).new("assistance")
    before = _rows(services)
    with services.uow() as uow, pytest.raises(DBAPIError, match="append-only: UPDATE of seq 1 refused"):
        event = uow.session.get(AuditEvent, 1)
        assert event is not None
        event.actor = "mallory"
        uow.commit()
    with services.uow() as uow, pytest.raises(DBAPIError, match="append-only: DELETE of seq 1 refused"):
        uow.session.delete(uow.session.get(AuditEvent, 1))
        uow.commit()
    assert _rows(services) == before
    with services.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(AuditEvent)) == len(before)
