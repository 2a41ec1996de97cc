"""The instance save's optimistic lock, whichever statement carries it: on PostgreSQL the save is written by the
statement that inserts the step's first new task row (one round trip), on SQLite on its own. A save that finds the
instance changed since it was read writes nothing: no state, no task row, no search notes, and the step fails with
a Conflict."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from app import engine
from app.domain.permissions import OPERATOR
from app.errors import Conflict
from app.services.requests import listing, projection
from app.services.requests.listing import RequestFilters
from app.store.models import DefinitionVersion, ProcessInstance, ServiceRequest, TaskRow
from tests.driver import Driver

FORM = {"specialist": "sam", "assignment_note": "Try the quokka cable"}


def _step(services: Any, clock: Any, number: str, seen_offset: int) -> None:
    """Complete *Assign to a specialist* of request `number` in the engine and save it as if the instance had been
    read at its version + `seen_offset`."""
    now = clock.now()
    with services.uow() as uow:
        s = uow.session
        task = s.scalars(select(TaskRow).where(TaskRow.request_number == number,
                                               TaskRow.bpmn_id == "assign_specialist")).one()
        instance = projection.lock_instance(s, task.instance_id)
        assert instance is not None
        spec_json = s.scalar(select(DefinitionVersion.spec_json)
                             .where(DefinitionVersion.id == instance.definition_version_id))
        task.status, task.completed_by, task.completed_at = "completed", "maria", now
        state = engine.complete_human_task(spec_json, instance.state_json, task.task_uuid, FORM, now)
        assert state.human_tasks, "the step makes a new task ready: its row carries the save on PostgreSQL"
        projection.apply(s, instance, instance.version + seen_offset, state, now, "maria", notes="quokka")
        uow.commit()


def _counts(services: Any, number: str) -> tuple[int, int]:
    """The instance's version and how many task rows the request has."""
    with services.uow() as uow:
        s = uow.session
        request_id = s.scalar(select(ServiceRequest.id).where(ServiceRequest.number == number))
        version = s.scalar(select(ProcessInstance.version).where(ProcessInstance.request_id == request_id))
        tasks = s.scalar(select(func.count()).select_from(TaskRow).where(TaskRow.request_id == request_id))
        return int(version or 0), int(tasks or 0)


def _found_by_note(services: Any, number: str) -> bool:
    found = listing.list_requests(services, OPERATOR, RequestFilters(q="quokka")).items
    return [row["number"] for row in found] == [number]


@pytest.fixture
def waiting(services: Any, clock: Any) -> str:
    drive = Driver(services, clock)
    number = drive.new("assistance", title="Saved once")
    drive.work()  # takes the CRM case: the manager's task follows
    return number


def test_a_save_of_a_changed_instance_writes_nothing_and_is_a_conflict(services, clock, waiting):
    version, tasks = _counts(services, waiting)
    with pytest.raises(Conflict, match="someone else changed this request"):
        _step(services, clock, waiting, seen_offset=-1)
    assert _counts(services, waiting) == (version, tasks)  # no state written, no task row
    assert not _found_by_note(services, waiting)
    _step(services, clock, waiting, seen_offset=0)  # read as it is: saved once, with its new task and notes
    assert _counts(services, waiting) == (version + 1, tasks + 1)
    assert _found_by_note(services, waiting)

