"""Audit chain verification and definition versioning on a real database."""

from __future__ import annotations

from sqlalchemy import delete, select, update

from app import audit
from app.errors import DefinitionRejected
from app.models import AuditEvent, DefinitionVersion
from app.services import definitions
from tests.driver import Driver


def test_audit_chain_detects_a_tampered_payload_a_deleted_row_and_a_cut_tail(services, clock):
    Driver(services, clock).new("assistance")
    with services.uow() as uow:
        assert audit.verify(uow.session).intact
        uow.session.execute(update(AuditEvent).where(AuditEvent.seq == 3).values(payload={"forged": True}))
        report = audit.verify(uow.session)
        assert (report.intact, report.broken_at) == (False, 3)
    with services.uow() as uow:
        uow.session.execute(delete(AuditEvent).where(AuditEvent.seq == 2))
        report = audit.verify(uow.session)
        assert (report.intact, report.broken_at) == (False, 2)
    with services.uow() as uow:
        last = uow.session.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1))
        uow.session.execute(delete(AuditEvent).where(AuditEvent.seq == last))
        report = audit.verify(uow.session)
        assert (report.intact, report.broken_at) == (False, last)


def test_identical_content_is_not_a_new_version_and_a_change_is(services, settings, tmp_path):
    files = definitions.read_paths([settings.bpmn_dir])
    again = definitions.deploy(services, files, "olive")
    assert (again.version, again.created) == (1, False)
    changed = dict(files)
    changed["assistance_request.bpmn"] = files["assistance_request.bpmn"].replace(
        b'name="Assign to a specialist"', b'name="Assign a specialist"')
    result = definitions.deploy(services, changed, "olive")
    assert (result.version, result.created) == (2, True)
    with services.uow() as uow:
        assert [v.version for v in uow.session.scalars(select(DefinitionVersion))] == [1, 2]


def test_running_instances_stay_on_their_version(services, settings, clock):
    drive = Driver(services, clock)
    first = drive.new("assistance")
    files = definitions.read_paths([settings.bpmn_dir])
    files["assistance_request.bpmn"] = files["assistance_request.bpmn"].replace(
        b'name="Assign to a specialist"', b'name="Assign a specialist"')
    definitions.deploy(services, files, "olive")
    second = drive.new("assistance")
    drive.work()
    assert drive.show(first)["definition"]["version"] == 1
    assert drive.show(second)["definition"]["version"] == 2
    assert drive.open_task(first, "assign_specialist").name == "Assign to a specialist"
    assert drive.open_task(second, "assign_specialist").name == "Assign a specialist"


def test_rejected_deploy_stores_nothing(services, settings):
    files = definitions.read_paths([settings.bpmn_dir])
    files["assistance_request.bpmn"] = files["assistance_request.bpmn"].replace(b"crm.close_case", b"crm.shred_case")
    try:
        definitions.deploy(services, files, "olive")
    except DefinitionRejected as err:
        [problem] = err.problems
        assert (problem.file, problem.element_id) == ("assistance_request.bpmn", "close_crm_case")
        assert problem.line and "crm.shred_case" in problem.message
    else:
        raise AssertionError("deploy should have been refused")
    with services.uow() as uow:
        assert len(list(uow.session.scalars(select(DefinitionVersion)))) == 1
        assert [e.event_type for e in uow.session.scalars(select(AuditEvent))].count("definition_deployed") == 1
