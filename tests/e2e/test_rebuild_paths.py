"""`rf audit rebuild-paths`: the recorded steps the insights read, derived again from the audit log."""

from __future__ import annotations

from sqlalchemy import delete, func, select

from app.store import audit
from app.store.models import InstancePath
from tests.driver import Driver
from tests.integration.test_process_insights import RESOLVED, assign, fulfil


def _rows(services) -> list[tuple[int, str]]:
    with services.uow() as uow:
        return list(uow.session.execute(select(InstancePath.request_id, InstancePath.steps)))


def test_rf_audit_rebuild_paths_derives_the_rows_of_finished_instances_from_the_log(rf, services, clock):
    drive = Driver(services, clock)
    number = drive.new("assistance")
    drive.work()
    assign(drive, clock, number, 2)
    fulfil(drive, clock, number, 3, RESOLVED)
    drive.new("assistance")  # running: no row
    written = _rows(services)
    assert len(written) == 1
    with services.uow() as uow:
        uow.session.execute(delete(InstancePath))
        uow.commit()
    done = rf("audit", "rebuild-paths")
    assert done.exit_code == 0, done
    assert done.stdout.strip() == "rebuilt the recorded steps of 1 finished instance"
    assert _rows(services) == written
    with services.uow() as uow:
        assert audit.verify(uow.session).intact
        assert uow.session.scalar(select(func.count()).select_from(InstancePath)) == 1
