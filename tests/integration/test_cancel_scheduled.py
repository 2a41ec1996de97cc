"""Cancelling a request that waits on the 60 day schedule (app/services/requests/cancellation.py): a manager of the
group, with a reason; the process after Discovery is ended, the CRM case closed as cancelled, the customer told,
audited; refusals change nothing; the request page and the schedule page offer it with a confirmation; on SQLite
and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.domain.permissions import OPERATOR
from app.errors import Conflict, Forbidden, InvalidData, NotFound
from app.services.admin import auth
from app.services.requests import cancellation, intake, listing
from app.services.requests.listing import RequestFilters
from app.store.models import AuditEvent, CrmCase, Notification, ProcessInstance, ServiceRequest, TaskRow
from tests.driver import REQUEST, Driver
from tests.web import WebUser

APPS = {**REQUEST, "provider_group": "apps", "title": "Visitor report for the portal"}


@pytest.fixture
def drive(services, clock) -> Driver:
    return Driver(services, clock)


def routine(services) -> str:
    return intake.new_request(services, "enhancement", APPS, "carla", schedule=True).number or ""


def after_discovery(drive: Driver) -> str:
    number = drive.new("enhancement", routine=False, provider_group="apps", title="Managed SFTP service")
    drive.complete(number, "document_customer_need", "carla",
                   {"need_summary": "SFTP drop", "customer_is_current": True, "new_service": False})
    drive.complete(number, "prepare_proposal", "pete",
                   {"proposal_summary": "Managed SFTP", "estimated_cost": 4200, "po_number": "PO-1"})
    drive.work()
    assert drive.show(number)["status"] == "scheduled"
    return number


def written(services) -> tuple[int, ...]:
    with services.uow() as uow:
        s = uow.session
        return tuple(int(s.scalar(select(func.count()).select_from(model)) or 0)
                     for model in (AuditEvent, Notification, ProcessInstance))


def snapshot(services, number: str) -> tuple:
    with services.uow() as uow:
        s = uow.session
        request = s.scalars(select(ServiceRequest).where(ServiceRequest.number == number)).one()
        case = s.scalars(select(CrmCase).where(CrmCase.case_number == request.crm_case_id)).one()
        instance = s.scalars(select(ProcessInstance).where(ProcessInstance.request_id == request.id)).one_or_none()
        rows = s.scalars(select(TaskRow).where(TaskRow.request_id == request.id))
        tasks = sorted((t.bpmn_id, t.status) for t in rows)
        return (request.status, request.closed_at is not None, case.status, case.resolution_code,
                instance.status if instance else None, tasks)


def cancelled_events(services, number: str) -> list[AuditEvent]:
    with services.uow() as uow:
        found = list(uow.session.scalars(select(AuditEvent).join(
            ServiceRequest, ServiceRequest.id == AuditEvent.request_id).where(
            ServiceRequest.number == number, AuditEvent.event_type == "request_cancelled")))
        uow.session.expunge_all()
        return found


def test_a_manager_cancels_a_routine_scheduled_request_and_its_crm_case_closes_as_cancelled(services, drive):
    number = routine(services)
    maria = auth.load_identity(services, "maria")
    assert cancellation.cancel_scheduled(services, maria, number, "  The agency withdrew it  ") == number
    assert snapshot(services, number) == ("cancelled", True, "closed", "cancelled", None, [])
    [event] = cancelled_events(services, number)
    assert event.actor == "maria" and event.payload["reason"] == "The agency withdrew it"
    assert event.payload["was"] == "scheduled" and event.payload["crm_case"]
    with services.uow() as uow:
        [mail] = uow.session.scalars(select(Notification).where(Notification.kind == "cancelled")).all()
        assert mail.to_addrs == "ann@tourism.example" and "The agency withdrew it" in mail.body
        # the "Customer: request cancelled" template: greeting, the CRM case in the subject, the reason, signature
        assert mail.subject.startswith(f"Case {event.payload['crm_case']}: ")
        assert mail.body.startswith("Dear ") and "has been cancelled on" in mail.body
        assert "Kind regards," in mail.body and mail.html_body and "The agency withdrew it" in mail.html_body
    assert drive.show(number)["status"] == "cancelled"
    found = listing.list_requests(services, OPERATOR, RequestFilters(status="cancelled"))
    assert [r["number"] for r in found.items] == [number]  # the request list finds cancelled requests


def test_cancelling_after_discovery_ends_its_process_and_its_waiting_task(services, drive):
    number = after_discovery(drive)
    cancellation.cancel_scheduled(services, auth.load_identity(services, "maria"), number, "No budget this year")
    status, closed, case, code, instance, tasks = snapshot(services, number)
    assert (status, closed, case, code, instance) == ("cancelled", True, "closed", "cancelled", "cancelled")
    assert ("wait_on_schedule", "cancelled") in tasks and not [t for t in tasks if t[1] == "open"]
    assert drive.open_bpmn_ids(number) == []
    with pytest.raises(Conflict):  # nobody pulls a cancelled request
        drive.pull(number, "pete")
    assert drive.work().services_run == 0  # nothing of its process runs any more
    assert snapshot(services, number)[0] == "cancelled"


def test_refusals_cancel_nothing(services, drive):
    number = routine(services)
    before, state = written(services), snapshot(services, number)
    for username in ("pete", "carla"):  # the group's service provider and CAR
        with pytest.raises(Forbidden, match="only a manager of apps"):
            cancellation.cancel_scheduled(services, auth.load_identity(services, username), number, "No")
    with pytest.raises(NotFound):  # sam does not even see an apps request
        cancellation.cancel_scheduled(services, auth.load_identity(services, "sam"), number, "No")
    maria = auth.load_identity(services, "maria")
    for reason in ("", "   ", None, "x" * 2001, "bad\x00reason"):
        with pytest.raises(InvalidData) as refused:
            cancellation.cancel_scheduled(services, maria, number, reason)
        assert [e.field for e in refused.value.errors] in (["reason"], ["(data)"])
    assert (written(services), snapshot(services, number)) == (before, state)

    drive.pull(number, "pete")
    pulled = snapshot(services, number)
    with pytest.raises(Conflict, match="not waiting on the schedule"):
        cancellation.cancel_scheduled(services, maria, number, "Too late")
    assert snapshot(services, number) == pulled and pulled[0] == "open"


def test_the_request_and_schedule_pages_offer_cancel_with_a_confirmation_to_managers_only(services):
    number = routine(services)
    maria, pete = WebUser(services, "maria"), WebUser(services, "pete")
    link = f'href="/schedule/{number}/cancel"'
    assert link in maria.get(f"/requests/{number}").get_data(as_text=True)
    assert link in maria.get("/schedule").get_data(as_text=True)
    assert link not in pete.get(f"/requests/{number}").get_data(as_text=True)
    assert link not in pete.get("/schedule").get_data(as_text=True)
    assert pete.get(f"/schedule/{number}/cancel").status_code == 403
    assert pete.post(f"/schedule/{number}/cancel", {"reason": "No"}).status_code == 403

    confirm = maria.get(f"/schedule/{number}/cancel")
    page = confirm.get_data(as_text=True)
    assert confirm.status_code == 200 and f"Cancel {number}?" in page and "This cannot be undone." in page
    assert snapshot(services, number)[0] == "scheduled"  # asking is not cancelling
    blank = maria.post(f"/schedule/{number}/cancel", {"reason": " "})
    assert blank.status_code == 422 and "a reason is required" in blank.get_data(as_text=True)
    assert snapshot(services, number)[0] == "scheduled"
    assert maria.post(f"/schedule/{number}/cancel", {"reason": "Withdrawn"}, csrf=False).status_code == 400
    done = maria.post(f"/schedule/{number}/cancel", {"reason": "Withdrawn by the agency"})
    assert done.status_code == 302 and done.headers["Location"].endswith(f"/requests/{number}")
    assert snapshot(services, number)[0] == "cancelled"
    again = maria.get(f"/schedule/{number}/cancel")
    assert again.status_code == 302  # not waiting any more: back to the request, nothing done
    assert len(cancelled_events(services, number)) == 1
    page = maria.get(f"/requests/{number}").get_data(as_text=True)
    assert "maria cancelled the request: Withdrawn by the agency" in page and "Cancel it…" not in page
