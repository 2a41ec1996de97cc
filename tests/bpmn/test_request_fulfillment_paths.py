"""Every path through the bundled Request Fulfillment diagrams, through the services and a real database.

Every step loads the instance from the database and saves it again, and the side effects are checked in the
records of the built-in adapters and in a real SMTP server's mailbox.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.store import audit
from app.store.models import AsdService, BillingCase, CrmCase, CrmNote, WorkListEntry
from tests import clock_checks
from tests.conftest import START, day, text_of
from tests.driver import Driver

WORK_PLAN = {"work_plan": "Add the new report to the agency portal", "estimated_hours": 16,
             "planned_start": day(1), "planned_finish": day(17)}
FULFILMENT = {"fulfilment_notes": "Report built and deployed to staging", "hours_spent": 6}


@pytest.fixture
def drive(services, clock) -> Driver:
    return Driver(services, clock)


@pytest.fixture(autouse=True)
def every_stored_time_is_on_the_tests_clock(services):
    """After each path, no stored date or time is years away from the tests' clock (it would be the wall clock's);
    tests/bpmn/test_clock_extremes.py runs these paths with the clock far in the past and far in the future."""
    yield
    assert clock_checks.far_from(services, START) == []


def records(services, model, **where):
    with services.uow() as uow:
        query = select(model)
        for name, value in where.items():
            query = query.where(getattr(model, name) == value)
        found = list(uow.session.scalars(query))
        uow.session.expunge_all()
        return found


def assert_chain_intact(services) -> None:
    with services.uow() as uow:
        report = audit.verify(uow.session)
    assert report.intact, report
    assert report.count > 5


def test_assistance_request_is_assigned_fulfilled_and_its_crm_case_closed(drive, services, mailbox):
    number = drive.new("assistance")
    drive.work()  # takes the CRM case out of the pending queue
    case_id = drive.show(number)["crm_case"]["case"]
    assert records(services, CrmCase, case_number=case_id)[0].status == "in_progress"

    drive.complete(number, "assign_specialist", "maria", {"specialist": "sam", "assignment_note": "VPN team"})
    task = drive.open_task(number, "fulfil_assistance_request")
    assert task.assignee == "sam"
    drive.complete(number, "fulfil_assistance_request", "sam",
                   {"resolution_notes": "Created the VPN profile", "resolution_code": "resolved",
                    "time_spent_hours": 1.5})
    drive.work()

    shown = drive.show(number)
    assert shown["status"] == "closed"
    case = records(services, CrmCase, case_number=case_id)[0]
    assert (case.status, case.resolution, case.resolution_code) == ("closed", "Created the VPN profile", "resolved")
    assert shown["path"] == ["request_received", "request_type_gateway", "assistance_started",
                             "take_crm_case", "assign_specialist", "assistance_work_merge",
                             "fulfil_assistance_request", "waiting_on_customer_gateway", "close_crm_case",
                             "notify_assistance_customer", "assistance_closed", "fulfil_assistance",
                             "assistance_request_closed"]
    [mail] = mailbox.to("ann@tourism.example")
    assert number in mail["Subject"] and "Created the VPN profile" in text_of(mail)
    assert records(services, BillingCase) == []
    assert_chain_intact(services)


def test_enhancement_that_is_not_chargeable_goes_straight_to_the_car(drive, services, mailbox):
    number = drive.new("enhancement", provider_group="apps")
    drive.complete(number, "draw_up_work_plan", "pete", WORK_PLAN)
    drive.work()
    [entry] = records(services, WorkListEntry, request_number=number)
    assert (entry.estimated_hours, str(entry.planned_finish)) == (Decimal("16.00"), day(17))
    drive.complete(number, "fulfil_enhancement_request", "pete", FULFILMENT)
    drive.complete(number, "test_solution", "pete", {"test_result": "pass", "test_notes": "All checks green"})
    drive.complete(number, "determine_chargeability", "pete", {"chargeable": False})
    drive.complete(number, "notify_customer_of_fulfilment", "carla", {"customer_message": "Your report is live."})
    drive.work()

    shown = drive.show(number)
    assert shown["status"] == "closed"
    assert shown["path"][-6:] == ["send_fulfilment_notice", "crm_case_gateway", "close_enhancement_crm_case",
                                  "enhancement_closed", "fulfil_enhancement", "enhancement_request_closed"]
    assert records(services, BillingCase) == [] and records(services, AsdService) == []
    [mail] = mailbox.to("ann@tourism.example")
    assert "Request for Change" in mail["Subject"] and "Your report is live." in text_of(mail)
    assert_chain_intact(services)


def test_a_closed_enhancement_has_updated_and_closed_its_crm_case(drive, services, mailbox):
    number = drive.new("enhancement", provider_group="apps")
    case_id = drive.show(number)["crm_case"]["case"]
    assert records(services, CrmCase, case_number=case_id)[0].status == "in_progress"  # worked on the work list
    drive.complete(number, "draw_up_work_plan", "pete", WORK_PLAN)
    drive.work()
    drive.complete(number, "fulfil_enhancement_request", "pete", FULFILMENT)
    drive.complete(number, "test_solution", "pete", {"test_result": "pass", "test_notes": "All checks green"})
    drive.complete(number, "determine_chargeability", "pete", {"chargeable": False})
    drive.complete(number, "notify_customer_of_fulfilment", "carla", {"customer_message": "Your report is live."})
    assert records(services, CrmCase, case_number=case_id)[0].status == "in_progress"  # not before the notice
    drive.work()

    case = records(services, CrmCase, case_number=case_id)[0]
    assert (case.status, case.resolution, case.resolution_code) == ("closed", "Your report is live.", "resolved")
    assert drive.show(number)["status"] == "closed"
    assert_chain_intact(services)


def test_chargeable_enhancement_with_a_failed_test_bills_and_updates_asd_once_live(drive, services, clock, mailbox):
    number = drive.new("enhancement")
    drive.complete(number, "draw_up_work_plan", "pete", WORK_PLAN)
    drive.work()
    drive.complete(number, "fulfil_enhancement_request", "pete", FULFILMENT)
    drive.complete(number, "test_solution", "pete", {"test_result": "fail", "test_notes": "Totals are wrong"})
    assert drive.open_bpmn_ids(number) == ["fulfil_enhancement_request"]  # a failed test sends work back
    drive.complete(number, "fulfil_enhancement_request", "pete", {**FULFILMENT, "fulfilment_notes": "Fixed totals"})
    drive.complete(number, "test_solution", "pete", {"test_result": "pass", "test_notes": "Totals match"})
    drive.complete(number, "determine_chargeability", "pete",
                   {"chargeable": True, "billable_hours": 12.5, "hourly_rate": 85, "billing_code": "PS-628"})
    drive.work()
    [bill] = records(services, BillingCase, request_number=number)
    assert (bill.amount, bill.billing_code) == (Decimal("1062.50"), "PS-628")

    drive.complete(number, "initiate_billing", "carla", {"billing_notes": "Bill Q1", "service_live_date": day(9)})
    drive.work()
    assert records(services, AsdService) == []  # not live yet: the ASD waits
    assert drive.show(number)["instance"]["next_timer_at"].startswith(f"{day(9)}T14:00")  # 08:00 Central
    clock.set(datetime.fromisoformat(f"{day(9)}T14:05:00+00:00"))  # 08:05 Central: after the business start
    drive.work()
    [asd] = records(services, AsdService, request_number=number)
    assert (asd.status, str(asd.live_date), asd.billing_code) == ("live", day(9), "PS-628")
    drive.complete(number, "notify_customer_of_fulfilment", "carla", {"customer_message": "Billed and live."})
    drive.work()

    shown = drive.show(number)
    assert shown["status"] == "closed"
    assert shown["path"].count("test_solution") == 2 and shown["path"].count("fulfil_enhancement_request") == 2
    assert len(records(services, BillingCase)) == 1
    assert len(mailbox.to("ann@tourism.example")) == 1
    assert_chain_intact(services)


def test_non_routine_request_goes_through_discovery_before_scheduling(drive, services):
    number = drive.new("enhancement", routine=False, title="Managed SFTP service")
    assert drive.open_bpmn_ids(number) == ["document_customer_need"]
    drive.complete(number, "document_customer_need", "carla",
                   {"need_summary": "Agency needs SFTP drop for vendors", "customer_is_current": True,
                    "new_service": True})
    drive.complete(number, "prepare_proposal", "pete",
                   {"proposal_summary": "Managed SFTP", "estimated_cost": 4200, "po_number": "PO-2026-0042"})
    drive.work()

    [note] = records(services, CrmNote)
    assert "PO-2026-0042" in note.note
    [asd] = records(services, AsdService, request_number=number)
    assert asd.status == "proposed"
    shown = drive.show(number)  # after Discovery it waits on the 60 day schedule like a routine enhancement
    assert (shown["status"], drive.open_bpmn_ids(number)) == ("scheduled", ["wait_on_schedule"])
    assert "discovery" in shown["path"] and shown["sla"]["state"] == "paused"
    drive.pull(number, "pete")  # from the schedule, into the same process's enhancement branch
    assert drive.open_bpmn_ids(number) == ["draw_up_work_plan"]
    assert drive.show(number)["status"] == "open"


def test_sla_breach_escalates_once_without_cancelling_the_work(drive, services, clock, mailbox):
    number = drive.new("assistance", priority="critical")  # four business hours
    drive.work()
    clock.advance(timedelta(days=1, minutes=1))
    drive.work()
    escalations = mailbox.to("maria@omes.example")  # 75% and 100% passed together: only the breach is sent
    assert len(escalations) == 1 and escalations[0]["Subject"] == f"SLA target passed: {number}"
    assert drive.open_bpmn_ids(number) == ["assign_specialist"]  # the work goes on

    clock.advance(timedelta(hours=1))
    drive.work()
    assert len(mailbox.to("maria@omes.example")) == 1  # never twice
    drive.complete(number, "assign_specialist", "maria", {"specialist": "sara"})
    drive.complete(number, "fulfil_assistance_request", "sara",
                   {"resolution_notes": "Done late", "resolution_code": "resolved", "time_spent_hours": 2})
    drive.work()
    shown = drive.show(number)
    assert shown["status"] == "closed"
    assert [e["level"] for e in shown["sla"]["escalations"]] == ["warning", "breach"]
    assert shown["sla"]["state"] == "missed" and shown["sla"]["breached_at"]
    assert_chain_intact(services)
