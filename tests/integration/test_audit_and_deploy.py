"""Audit chain verification and definition versioning on a real database."""

from __future__ import annotations

from sqlalchemy import delete, select, text, update

from app.errors import DefinitionRejected
from app.services.definitions import deploy as definitions
from app.store import audit
from app.store.models import AuditEvent, DefinitionVersion
from tests.driver import Driver


def _as_dba(session) -> None:
    """Simulate a tamperer with the table owner's rights: on PostgreSQL switch the append-only trigger off inside
    this transaction (the unit of work rolls it back with the tampering)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only"))


def _request_chain(session) -> list[AuditEvent]:
    """The first request's chain (the events of request 1, in chain order)."""
    return list(session.scalars(select(AuditEvent).where(AuditEvent.chain == "request:1")
                                .order_by(AuditEvent.chain_seq)))


def test_audit_chain_detects_a_tampered_payload_a_deleted_row_and_a_cut_tail(services, clock):
    drive = Driver(services, clock)
    drive.new("assistance")
    drive.work()
    with services.uow() as uow:
        assert audit.verify(uow.session).intact
        first, second, third = (e.seq for e in _request_chain(uow.session))
        _as_dba(uow.session)
        uow.session.execute(update(AuditEvent).where(AuditEvent.seq == second).values(payload={"forged": True}))
        report = audit.verify(uow.session)
        assert (report.intact, report.broken_at, report.chain, report.position) == (False, second, "request:1", 2)
    with services.uow() as uow:
        _as_dba(uow.session)
        uow.session.execute(delete(AuditEvent).where(AuditEvent.seq == second))
        report = audit.verify(uow.session)  # found at the next event of that chain
        assert (report.intact, report.broken_at, report.position) == (False, third, 2)
        assert report.reason == "event 2 of the chain is missing (the next one found is 3)"
    with services.uow() as uow:
        _as_dba(uow.session)
        uow.session.execute(delete(AuditEvent).where(AuditEvent.seq == third))
        report = audit.verify(uow.session)  # the worker's checkpoint (and the chain's head row) still record it
        assert (report.intact, report.broken_at, report.position) == (False, None, 3)
        assert report.message == ("event 3 of the chain, recorded by checkpoint #1, was removed (cut tail): "
                                  "chain request:1 (RF-000001), position 3")
    with services.uow() as uow:  # the tampering above was rolled back
        assert audit.verify(uow.session).intact


def _swap(session, first: int, second: int, columns: tuple[str, ...]) -> None:
    rows = {e.seq: {c: getattr(e, c) for c in columns}
            for e in session.scalars(select(AuditEvent).where(AuditEvent.seq.in_([first, second])))}
    session.execute(update(AuditEvent).where(AuditEvent.seq == first).values(**rows[second]))
    session.execute(update(AuditEvent).where(AuditEvent.seq == second).values(**rows[first]))
    session.expire_all()


def test_audit_chain_detects_a_swapped_pair_of_rows(services, clock):
    drive = Driver(services, clock)
    drive.new("assistance")
    drive.work()
    with services.uow() as uow:
        first, second, third = (e.seq for e in _request_chain(uow.session))
    with services.uow() as uow:  # two rows' payloads and hashes swapped: the first of them no longer matches
        _as_dba(uow.session)
        _swap(uow.session, first, second, ("payload", "hash"))
        report = audit.verify(uow.session)
        assert (report.intact, report.broken_at, report.reason) == (False, first, "row content does not match its hash")
    with services.uow() as uow:  # two whole rows swapped (reordered history): the link into the first breaks
        _as_dba(uow.session)
        _swap(uow.session, second, third, ("at", "actor", "event_type", "request_id", "payload", "prev_hash", "hash"))
        report = audit.verify(uow.session)
        assert (report.intact, report.broken_at, report.reason) == (False, second, "link to the previous row is broken")
    with services.uow() as uow:
        assert audit.verify(uow.session).intact


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
