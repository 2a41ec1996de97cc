"""A completion on someone's behalf inside the caller's transaction (a customer's emailed reply, a pull from the
schedule): the instance's lock reads the request back and makes it the session's object, after writing what the
caller changed in that transaction so far, so nothing the caller did is lost."""

from __future__ import annotations

from sqlalchemy import select

from app.services.tasks.actions import complete_on_behalf
from app.store.models import ServiceRequest, TaskRow
from tests.driver import Driver


def test_a_change_the_caller_made_before_completing_on_behalf_is_kept(services, clock):
    drive = Driver(services, clock)
    number = drive.new("assistance", title="Kept", priority="low")
    drive.work()  # takes the CRM case: the manager's task follows
    with services.uow() as uow:
        s = uow.session
        request = s.scalars(select(ServiceRequest).where(ServiceRequest.number == number)).one()
        task = s.scalars(select(TaskRow).where(TaskRow.request_id == request.id, TaskRow.status == "open")).one()
        request.priority = "high"  # changed in this transaction, not written yet
        view = complete_on_behalf(services, s, task.task_uuid, "maria", {"specialist": "sam",
                                                                          "assignment_note": "kept"})
        assert request.priority == "high"
        uow.commit()
    assert view.status == "completed"
    with services.uow() as uow:
        assert uow.session.scalars(select(ServiceRequest.priority).where(ServiceRequest.number == number)).one() \
            == "high"
