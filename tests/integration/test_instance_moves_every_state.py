"""*Eligible* means the move succeeds: requests resting in every state the bundled processes can be in (every user
task, every service task waiting for the worker, the service-live timer, incidents, inside each called process, and
closed) are checked and moved to newer versions; every eligible one moves, keeps its open work and goes on to close,
and every refused one is refused with a reason and changed nothing."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.domain.permissions import OPERATOR
from app.services.audit import replay
from app.services.definitions import deploy as definitions
from app.services.definitions import instance_moves as migration
from app.store import audit
from app.store.models import ServiceJob
from tests.driver import Driver
from tests.e2e.conftest import snapshot
from tests.instance_states import (
    CLOSED,
    RENAMED,
    STATES,
    Walker,
    bundled,
    laid_out_anew,
    rest_at,
    with_renamed_tasks,
)

PROCESS = "request_fulfillment"


def jobs_by_task(services) -> dict[str, list[tuple[int, str, int]]]:
    with services.uow() as uow:
        found: dict[str, list[tuple[int, str, int]]] = {}
        for job in uow.session.scalars(select(ServiceJob).order_by(ServiceJob.id)):
            found.setdefault(job.task_uuid, []).append((job.id, job.status, job.attempts))
        return found


def open_work(drive: Driver, number: str) -> tuple[list[str], list[tuple[int, str, str]], str | None]:
    shown = drive.show(number)
    return (sorted(t["id"] for t in shown["open_tasks"]),
            [(j["job"], j["bpmn_id"], j["status"]) for j in shown["pending_services"]],
            shown["instance"]["next_timer_at"])


@pytest.fixture
def walkers(services, clock) -> dict[str, Walker]:
    drive = Driver(services, clock)
    built = {state.label: rest_at(drive, state) for state in STATES}
    assert len({w.number for w in built.values()}) == len(STATES)
    return built


def test_every_running_instance_in_every_state_moves_to_a_harmlessly_changed_version_and_then_closes(
        services, clock, walkers):
    drive = Driver(services, clock)
    running = {label: w for label, w in walkers.items() if w.at() != [CLOSED]}
    closed = [w.number for w in walkers.values() if w.at() == [CLOSED]]
    assert len(closed) == 3 and any("incident" in label for label in running)
    assert definitions.deploy(services, laid_out_anew(bundled()), "olive").version == 2

    checked = migration.check(services, "olive", PROCESS, 1)
    verdicts = {i.request_number: i for i in checked.instances}
    assert sorted(verdicts) == sorted(w.number for w in running.values())  # closed requests are not listed
    assert [n for n, i in verdicts.items() if not i.eligible] == []
    before = {w.number: open_work(drive, w.number) for w in running.values()}
    jobs_before = jobs_by_task(services)

    report = migration.migrate(services, "olive", PROCESS, 1, all_eligible=True)
    assert (sorted(report.migrated), report.refused) == (sorted(verdicts), [])
    for label, walker in running.items():
        shown = drive.show(walker.number)
        assert shown["definition"]["version"] == 2, label
        assert open_work(drive, walker.number) == before[walker.number], label  # same tasks, jobs, incidents, timer
    assert jobs_by_task(services) == jobs_before  # no job added, none dropped: one row per service task

    untouched = snapshot(services)
    refused = migration.migrate(services, "olive", PROCESS, 1, requests=closed)
    assert refused.migrated == [] and [n for n, _ in refused.refused] == closed
    assert all("not a running instance of request_fulfillment version 1 (it has completed)" in reason
               for _, reason in refused.refused)
    assert snapshot(services) == untouched

    for label, walker in running.items():
        walker.repair()
        walker.finish()
        assert drive.show(walker.number)["status"] == "closed", label
        assert replay.replay_request(services, walker.number, reader=OPERATOR).identical, label
    with services.uow() as uow:
        assert audit.verify(uow.session).intact


def test_a_version_that_changed_reached_tasks_moves_the_others_and_refuses_those_with_a_reason_changing_nothing(
        services, clock, walkers):
    drive = Driver(services, clock)
    running = {label: w for label, w in walkers.items() if w.at() != [CLOSED]}
    assert definitions.deploy(services, with_renamed_tasks(bundled()), "olive").version == 2
    in_the_way = {label for label, w in running.items() if set(RENAMED.values()) & set(w.visits)}
    assert any("incident at update_work_list" in label for label in in_the_way)
    assert any("incident at take_crm_case" in label for label in set(running) - in_the_way)

    verdicts = {i.request_number: i for i in migration.check(services, "olive", PROCESS, 1).instances}
    for label, walker in running.items():
        verdict = verdicts[walker.number]
        assert verdict.eligible == (label not in in_the_way), (label, verdict.reason)
        if not verdict.eligible:
            assert re.search(r"\((fulfil_assistance_request|update_work_list)\) in \w+ is \w+ and was changed in "
                             r"the new version \(name\)", verdict.reason), verdict.reason

    refused_numbers = [running[label].number for label in sorted(in_the_way)]
    untouched = snapshot(services)
    attempt = migration.migrate(services, "olive", PROCESS, 1, requests=refused_numbers)
    assert attempt.migrated == [] and [n for n, _ in attempt.refused] == refused_numbers
    assert all(reason == verdicts[n].reason for n, reason in attempt.refused)
    assert snapshot(services) == untouched

    report = migration.migrate(services, "olive", PROCESS, 1, all_eligible=True)
    assert sorted(report.migrated) == sorted(w.number for label, w in running.items() if label not in in_the_way)
    assert sorted(n for n, _ in report.refused) == sorted(refused_numbers)
    for label, walker in running.items():
        assert drive.show(walker.number)["definition"]["version"] == (1 if label in in_the_way else 2), label
        walker.repair()
        walker.finish()
        assert drive.show(walker.number)["status"] == "closed", label
