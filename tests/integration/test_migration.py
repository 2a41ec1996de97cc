"""Migrating running instances to a newer definition version on a real database: each in its own unit of work,
audited, projected for the inbox and the worker, refused cleanly (and untouched) when it cannot move."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from app.config import PROJECT_ROOT
from app.domain.permissions import OPERATOR
from app.errors import Forbidden, InvalidData, NotFound
from app.services.admin import auth
from app.services.audit import replay
from app.services.definitions import deploy as definitions
from app.services.definitions import instance_moves as migration
from app.store.models import AuditEvent, DefinitionVersion, ProcessInstance, ServiceRequest, TaskRow
from tests.driver import Driver

PROCESS = "request_fulfillment"
NEW_NAME = "Resolve the assistance request"


def changed_bundle(into: Path | None = None) -> dict[str, bytes]:
    """The bundled diagrams with the specialist's user task renamed (a changed element of the assistance process);
    written to `into` as a copy of bpmn/ when given."""
    files = {p.name: p.read_bytes() for p in (PROJECT_ROOT / "bpmn").glob("*.bpmn")}
    text, count = re.subn(r'(<bpmn:userTask id="fulfil_assistance_request" name=")[^"]*"', rf'\g<1>{NEW_NAME}"',
                          files["assistance_request.bpmn"].decode())
    assert count == 1
    files["assistance_request.bpmn"] = text.encode()
    if into is not None:
        into.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            (into / name).write_bytes(data)
    return files


def two_requests(drive: Driver) -> tuple[str, str]:
    """One request waiting at the unchanged assignment, one already at the renamed fulfilment task."""
    waiting, started = drive.new("assistance", title="Printer jam"), drive.new("assistance", title="VPN access")
    drive.work()
    drive.complete(started, "assign_specialist", "maria", {"specialist": "sam"})
    return waiting, started


def instance_of(services, number: str) -> ProcessInstance:
    with services.uow() as uow:
        instance = uow.session.scalars(select(ProcessInstance).join(
            ServiceRequest, ServiceRequest.id == ProcessInstance.request_id).where(
            ServiceRequest.number == number)).one()
        uow.session.expunge(instance)
        return instance


def version_of(services, instance: ProcessInstance) -> int:
    with services.uow() as uow:
        return uow.session.get(DefinitionVersion, instance.definition_version_id).version


def test_the_check_lists_each_running_instance_with_where_it_waits_and_whether_it_can_move(services, clock):
    drive = Driver(services, clock)
    waiting, started = two_requests(drive)
    assert definitions.deploy(services, changed_bundle(), "olive").version == 2
    result = migration.check(services, "olive", PROCESS, 1)
    assert (result.to_version, result.newer_versions) == (2, [2])
    rows = {i.request_number: i for i in result.instances}
    assert rows[waiting].eligible and rows[waiting].waiting_at == ["Assign to a specialist"]
    assert not rows[started].eligible
    assert rows[started].reason == ("Fulfil assistance request (fulfil_assistance_request) in assistance_request "
                                    "is ready and was changed in the new version (name)")


def test_migrating_a_selection_moves_the_eligible_instance_and_leaves_the_refused_one_untouched(services, clock):
    drive = Driver(services, clock)
    waiting, started = two_requests(drive)
    definitions.deploy(services, changed_bundle(), "olive")
    before = instance_of(services, started)
    report = migration.migrate(services, "olive", PROCESS, 1, requests=[waiting, started])
    assert report.migrated == [waiting] and [n for n, _ in report.refused] == [started]
    assert "fulfil_assistance_request" in report.refused[0][1] and "ready" in report.refused[0][1]
    assert report.summary == "Migrated 1 instance to version 2; refused 1"

    moved, after = instance_of(services, waiting), instance_of(services, started)
    assert version_of(services, moved) == 2
    assert (version_of(services, after), after.version, after.state_json) == (1, before.version, before.state_json)
    with services.uow() as uow:
        payloads = list(uow.session.scalars(select(AuditEvent.payload).where(
            AuditEvent.event_type == "instance_migrated")))
    assert payloads == [{"request": waiting, "instance": moved.id, "process_id": PROCESS,
                                            "from_version": 1, "to_version": 2}]
    assert drive.show(waiting)["definition"] == {"process_id": PROCESS, "version": 2}

    # the inbox projection follows the new version: the next task carries its new name
    drive.complete(waiting, "assign_specialist", "maria", {"specialist": "sara"})
    assert drive.open_task(waiting, "fulfil_assistance_request").name == NEW_NAME
    assert drive.open_task(started, "fulfil_assistance_request").name == "Fulfil assistance request"
    assert replay.replay_request(services, waiting, reader=OPERATOR).identical


def test_migrating_all_eligible_moves_every_eligible_instance_and_lists_the_refused(services, clock):
    drive = Driver(services, clock)
    waiting, started = two_requests(drive)
    fresh = drive.new("assistance", title="New laptop")  # waits for the worker at its first service task
    definitions.deploy(services, changed_bundle(), "olive")
    report = migration.migrate(services, "olive", PROCESS, 1, all_eligible=True)
    assert report.migrated == [waiting, fresh] and [n for n, _ in report.refused] == [started]
    assert report.summary == "Migrated 2 instances to version 2; refused 1"
    drive.work()
    drive.complete(fresh, "assign_specialist", "maria", {"specialist": "sam"})
    drive.complete(fresh, "fulfil_assistance_request", "sam",
                   {"resolution_notes": "Replaced", "resolution_code": "resolved", "time_spent_hours": 1})
    drive.work()
    assert drive.show(fresh)["status"] == "closed"


def test_a_pending_service_task_moves_with_its_instance_and_the_worker_runs_it_on_the_new_version(services, clock):
    drive = Driver(services, clock)
    fresh = drive.new("assistance", title="New laptop")
    definitions.deploy(services, changed_bundle(), "olive")
    [job_before] = drive.show(fresh)["pending_services"]
    assert migration.migrate(services, "olive", PROCESS, 1, requests=[fresh]).migrated == [fresh]
    [job_after] = drive.show(fresh)["pending_services"]
    assert job_after["job"] == job_before["job"]
    drive.work()
    drive.complete(fresh, "assign_specialist", "maria", {"specialist": "sam"})
    with services.uow() as uow:
        names = set(uow.session.scalars(select(TaskRow.name).where(TaskRow.request_number == fresh)))
    assert NEW_NAME in names


def test_an_instance_that_changed_after_the_check_was_shown_is_refused_and_kept(services, clock):
    drive = Driver(services, clock)
    waiting, _ = two_requests(drive)
    definitions.deploy(services, changed_bundle(), "olive")
    [shown] = [i for i in migration.check(services, "olive", PROCESS, 1).instances if i.request_number == waiting]
    drive.complete(waiting, "assign_specialist", "maria", {"specialist": "sam"})  # someone acts meanwhile
    report = migration.migrate(services, "olive", PROCESS, 1, requests=[waiting],
                               seen={waiting: shown.instance_version})
    assert report.migrated == [] and "changed after the check was shown" in report.refused[0][1]
    assert version_of(services, instance_of(services, waiting)) == 1


def test_completed_requests_and_unknown_numbers_are_refused_with_a_reason(services, clock):
    drive = Driver(services, clock)
    waiting, _ = two_requests(drive)
    definitions.deploy(services, changed_bundle(), "olive")
    report = migration.migrate(services, "olive", PROCESS, 1, requests=["RF-999999", waiting.lower()])
    assert report.migrated == [waiting]
    assert report.refused == [("RF-999999", "no such request")]
    again = migration.migrate(services, "olive", PROCESS, 1, requests=[waiting])
    assert "not a running instance of request_fulfillment version 1" in again.refused[0][1]


def test_only_process_owners_and_administrators_may_check_or_migrate(services, clock):
    definitions.deploy(services, changed_bundle(), "olive")
    sam = auth.load_identity(services, "sam")
    with pytest.raises(Forbidden):
        migration.check(services, sam, PROCESS, 1)
    with pytest.raises(Forbidden):
        migration.migrate(services, sam, PROCESS, 1, all_eligible=True)
    assert migration.check(services, auth.load_identity(services, "olive"), PROCESS, 1).to_version == 2
    assert migration.check(services, auth.load_identity(services, "adam"), PROCESS, 1).to_version == 2


def test_bad_versions_and_empty_selections_are_refused_with_a_clear_message(services, clock):
    with pytest.raises(InvalidData, match="no newer version"):
        migration.migrate(services, "olive", PROCESS, 1, all_eligible=True)
    definitions.deploy(services, changed_bundle(), "olive")
    with pytest.raises(NotFound, match="has no version 7"):
        migration.check(services, "olive", PROCESS, 7)
    with pytest.raises(InvalidData, match="must be newer"):
        migration.migrate(services, "olive", PROCESS, 2, to_version=1, all_eligible=True)
    with pytest.raises(InvalidData, match="name the requests"):
        migration.migrate(services, "olive", PROCESS, 1, requests=[])
    with pytest.raises(NotFound):
        migration.check(services, "olive", "no_such_process", 1)


def test_two_migrations_of_the_same_instance_at_once_move_it_once_and_refuse_the_other(services, clock):
    from tests.e2e.test_concurrency import run_together

    waiting, _ = two_requests(Driver(services, clock))
    definitions.deploy(services, changed_bundle(), "olive")
    reports = run_together(*[lambda: migration.migrate(services, "olive", PROCESS, 1, requests=[waiting])] * 2)
    assert all(isinstance(r, migration.MigrationReport) for r in reports), reports
    assert sorted(len(r.migrated) for r in reports) == [0, 1]
    [refusal] = [reason for r in reports for _, reason in r.refused]
    assert "not a running instance of request_fulfillment version 1" in refusal
    with services.uow() as uow:
        assert len(list(uow.session.scalars(select(AuditEvent.seq).where(
            AuditEvent.event_type == "instance_migrated")))) == 1


def test_a_migration_racing_a_task_completion_leaves_one_consistent_outcome(services, clock):
    from app.services.tasks import actions as tasks
    from tests.e2e.test_concurrency import run_together

    drive = Driver(services, clock)
    waiting, _ = two_requests(drive)
    definitions.deploy(services, changed_bundle(), "olive")
    task_id = drive.open_task(waiting, "assign_specialist").task_uuid
    report, view = run_together(lambda: migration.migrate(services, "olive", PROCESS, 1, requests=[waiting]),
                                lambda: tasks.complete(services, task_id, "maria", {"specialist": "sam"}))
    assert isinstance(report, migration.MigrationReport) and isinstance(view, tasks.TaskView), (report, view)
    fulfil = drive.open_task(waiting, "fulfil_assistance_request")
    if report.migrated:  # the migration went first: the completion ran on version 2
        assert (version_of(services, instance_of(services, waiting)), fulfil.name) == (2, NEW_NAME)
    else:  # the completion went first: the instance reached the renamed task and was refused
        assert "fulfil_assistance_request" in report.refused[0][1]
        assert (version_of(services, instance_of(services, waiting)), fulfil.name) == (1, "Fulfil assistance request")
