"""Every path through the bundled Request Fulfillment process, driven only through the `rf` command line.

Each step is one `rf ... --json` invocation (the way an operator or a script would use it): `rf request new`,
`rf tasks --request N` to find the task ids, `rf complete`, `rf worker --once`, `rf show`. Each command's clock
starts at the tests' clock (RF_CLOCK_START) and runs forward, so an SLA breach is provoked with an `sla_due_at` in
the past and the service-live timer with a `service_live_date` in the past. Side effects are checked in `rf show`,
in the adapters' records and in the mailbox of a real SMTP server. The assistance path also runs through the
installed console script (`.venv/bin/rf`).
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from app.services.requests import sla_targets as sla
from app.store import audit
from app.store.models import AsdService, AuditEvent, BillingCase, CrmCase, CrmNote, Notification, WorkListEntry
from tests.conftest import START, day, text_of
from tests.e2e.conftest import REQUEST, Rf, count, records

WORK_PLAN = {"work_plan": "Add the new report to the agency portal", "estimated_hours": 16,
             "planned_start": day(1), "planned_finish": day(17)}
FULFILMENT = {"fulfilment_notes": "Report built and deployed to staging", "hours_spent": 6}

ASSISTANCE_PATH = ["request_received", "request_type_gateway", "assistance_started", "take_crm_case",
                   "assign_specialist", "assistance_work_merge", "fulfil_assistance_request",
                   "waiting_on_customer_gateway", "close_crm_case", "notify_assistance_customer",
                   "assistance_closed", "fulfil_assistance", "assistance_request_closed"]
ENHANCEMENT_HEAD = ["request_received", "request_type_gateway", "routine_gateway", "scheduling_merge",
                    "enhancement_started", "draw_up_work_plan", "update_work_list"]
ENHANCEMENT_TAIL = ["notification_merge", "notify_customer_of_fulfilment", "send_fulfilment_notice", "crm_case_gateway",
                    "close_enhancement_crm_case", "enhancement_closed", "fulfil_enhancement",
                    "enhancement_request_closed"]
FULFIL_AND_TEST = ["fulfilment_merge", "fulfil_enhancement_request", "test_solution", "testing_outcome_gateway"]


def assert_chain_intact(services) -> None:
    with services.uow() as uow:
        report = audit.verify(uow.session)
    assert report.intact, report
    assert report.count > 5


def iso_minutes_ago(minutes: int) -> str:
    """Before the `rf` commands' clock, which starts at the tests' clock and runs forward."""
    return (START - timedelta(minutes=minutes)).isoformat(timespec="seconds")


@pytest.mark.parametrize("mode", ["in-process", "console-script"])
def test_assistance_request_is_assigned_fulfilled_and_its_crm_case_closed(services, settings, clock, mailbox, mode):
    rf = Rf(settings, mode, clock)
    number = rf.new_request("assistance")
    shown = rf.show(number)
    assert (shown["status"], shown["type"], shown["priority"]) == ("open", "assistance", "high")
    assert rf.ok("show", str(shown["id"]))["number"] == number  # a request is found by id as well as by number
    assert rf.open_bpmn_ids(number) == []  # the CRM case is taken by the worker first

    assert rf.work()["services_run"] == 1  # takes the CRM case out of the pending queue
    case_id = rf.show(number)["crm_case"]["case"]
    assert rf.show(number)["crm_case"]["status"] == "in_progress"

    assign = rf.task(number, "assign_specialist")
    assert (assign["lane"], assign["role"], assign["assignee"]) == ("Provider Group Manager", "manager", None)
    assert assign["candidates"] == ["maria"]
    rf.complete(number, "assign_specialist", "maria", {"specialist": "sam", "assignment_note": "VPN team"})
    fulfil = rf.task(number, "fulfil_assistance_request")
    assert (fulfil["assignee"], fulfil["candidates"]) == ("sam", ["sam"])
    assert rf.ok("tasks", "--user", "sara") == []  # assigned to sam: sara, another specialist, does not see it
    rf.complete(number, "fulfil_assistance_request", "sam",
                {"resolution_notes": "Created the VPN profile", "resolution_code": "resolved",
                 "time_spent_hours": 1.5})
    summary = rf.work()
    # close the CRM case, notify: the customer's mail, and sam's "assigned to you" queued when maria assigned him
    assert (summary["services_run"], summary["mails_sent"]) == (2, 2)

    shown = rf.show(number)
    assert shown["status"] == "closed" and shown["closed_at"]
    assert shown["instance"]["status"] == "completed"
    assert shown["path"] == ASSISTANCE_PATH
    assert shown["open_tasks"] == [] and shown["pending_services"] == []
    assert shown["crm_case"] == {"case": case_id, "status": "closed", "resolution": "Created the VPN profile",
                                 "origin": "local", "cancelled_in_crm_at": None}
    [case] = records(services, CrmCase, CrmCase.case_number == case_id)
    assert (case.status, case.resolution_code, case.request_number) == ("closed", "resolved", number)
    assert shown["billing_cases"] == [] and shown["asd_entries"] == []
    assert [(n["kind"], n["to"], n["status"]) for n in shown["notifications"]] == [
        ("task_assigned", "sam@omes.example", "sent"), ("customer_fulfilled", "ann@tourism.example", "sent")]
    [mail] = mailbox.to("ann@tourism.example")
    assert number in mail["Subject"] and "Created the VPN profile" in text_of(mail)
    assert len(mailbox.messages) == 2 and len(mailbox.to("sam@omes.example")) == 1

    assert rf.work() == {"services_run": 0, "services_failed": 0, "incidents": 0, "timers_fired": 0, "escalations": 0,
                         "mails_sent": 0, "webhooks_delivered": 0,
                         "webhook_attempts_failed": 0}  # nothing left to do, and nothing sent twice
    assert len(mailbox.messages) == 2
    assert count(services, AuditEvent, AuditEvent.event_type == "task_completed") == 2
    assert_chain_intact(services)


def test_enhancement_that_is_not_chargeable_goes_straight_to_the_car(rf, services, mailbox):
    number = rf.new_request("enhancement", provider_group="apps")
    assert rf.open_bpmn_ids(number) == ["draw_up_work_plan"]
    rf.complete(number, "draw_up_work_plan", "pete", WORK_PLAN)
    assert rf.work()["services_run"] == 1
    [entry] = records(services, WorkListEntry, WorkListEntry.request_number == number)
    assert (entry.estimated_hours, str(entry.planned_finish), entry.provider_group) == (
        Decimal("16.00"), day(17), "apps")
    rf.complete(number, "fulfil_enhancement_request", "pete", FULFILMENT)
    rf.complete(number, "test_solution", "pete", {"test_result": "pass", "test_notes": "All checks green"})
    rf.complete(number, "determine_chargeability", "pete", {"chargeable": False})
    notify = rf.task(number, "notify_customer_of_fulfilment")
    assert (notify["lane"], notify["candidates"]) == ("Customer Account Representative", ["carla"])
    rf.complete(number, "notify_customer_of_fulfilment", "carla", {"customer_message": "Your report is live."})
    assert rf.work()["mails_sent"] == 1

    shown = rf.show(number)
    assert shown["status"] == "closed"
    assert shown["path"] == [*ENHANCEMENT_HEAD, *FULFIL_AND_TEST, "determine_chargeability", "chargeability_gateway",
                             *ENHANCEMENT_TAIL]
    assert shown["billing_cases"] == [] and shown["asd_entries"] == []
    assert records(services, BillingCase) == [] and records(services, AsdService) == []
    [mail] = mailbox.to("ann@tourism.example")
    assert "Request for Change" in mail["Subject"] and number in mail["Subject"]
    assert "Your report is live." in text_of(mail)
    assert_chain_intact(services)


def test_chargeable_enhancement_with_a_failed_test_bills_and_updates_asd_once_live(rf, services, mailbox):
    number = rf.new_request("enhancement")
    rf.complete(number, "draw_up_work_plan", "pete", WORK_PLAN)
    rf.work()
    rf.complete(number, "fulfil_enhancement_request", "pete", FULFILMENT)
    rf.complete(number, "test_solution", "pete", {"test_result": "fail", "test_notes": "Totals are wrong"})
    assert rf.open_bpmn_ids(number) == ["fulfil_enhancement_request"]  # a failed test sends the work back
    rf.complete(number, "fulfil_enhancement_request", "pete", {**FULFILMENT, "fulfilment_notes": "Fixed totals"})
    rf.complete(number, "test_solution", "pete", {"test_result": "pass", "test_notes": "Totals match"})
    rf.complete(number, "determine_chargeability", "pete",
                {"chargeable": True, "billable_hours": 12.5, "hourly_rate": 85, "billing_code": "PS-628"})
    assert rf.work()["services_run"] == 1
    [bill] = rf.show(number)["billing_cases"]
    assert (Decimal(bill["amount"]), bill["billing_code"]) == (Decimal("1062.50"), "PS-628")
    assert bill["case"]

    live = (START - timedelta(days=1)).date()  # already live: the timer fires on the next worker pass
    rf.complete(number, "initiate_billing", "carla",
                {"billing_notes": "Bill Q1", "service_live_date": live.isoformat()})
    assert rf.show(number)["asd_entries"] == []  # service tasks only ever run in the worker
    assert rf.open_bpmn_ids(number) == []
    summary = rf.work()
    assert summary["services_run"] == 1  # the ASD update
    [asd] = rf.show(number)["asd_entries"]
    assert (asd["status"], asd["live_date"]) == ("live", live.isoformat())
    [asd_row] = records(services, AsdService, AsdService.request_number == number)
    assert (asd_row.billing_code, asd_row.live_date) == ("PS-628", live)
    assert rf.open_bpmn_ids(number) == ["notify_customer_of_fulfilment"]
    rf.complete(number, "notify_customer_of_fulfilment", "carla", {"customer_message": "Billed and live."})
    rf.work()

    shown = rf.show(number)
    assert shown["status"] == "closed"
    assert shown["path"] == [*ENHANCEMENT_HEAD, *FULFIL_AND_TEST, *FULFIL_AND_TEST, "determine_chargeability",
                             "chargeability_gateway", "create_billing_case", "initiate_billing",
                             "wait_until_service_live", "request_asd_update", *ENHANCEMENT_TAIL]
    assert shown["path"].count("test_solution") == 2 and shown["path"].count("fulfil_enhancement_request") == 2
    assert len(records(services, BillingCase)) == 1 and len(records(services, AsdService)) == 1
    [mail] = mailbox.to("ann@tourism.example")
    assert "Billed and live." in text_of(mail)
    assert_chain_intact(services)


def test_non_routine_request_goes_through_discovery_before_scheduling(rf, services, mailbox):
    number = rf.new_request("enhancement", routine=False, title="Managed SFTP service")
    assert rf.show(number)["routine"] is False
    assert rf.open_bpmn_ids(number) == ["document_customer_need"]
    need = rf.task(number, "document_customer_need")
    assert (need["lane"], need["candidates"]) == ("Customer Account Representative", ["carla"])
    rf.complete(number, "document_customer_need", "carla",
                {"need_summary": "Agency needs SFTP drop for vendors", "customer_is_current": True,
                 "new_service": True})
    rf.complete(number, "prepare_proposal", "pete",
                {"proposal_summary": "Managed SFTP", "estimated_cost": 4200, "po_number": "PO-2026-0042"})
    assert rf.work()["services_run"] == 2  # proposal noted on the CRM case, new ASD service started

    shown = rf.show(number)
    [note] = records(services, CrmNote)
    [case] = records(services, CrmCase, CrmCase.case_number == shown["crm_case"]["case"])
    assert note.case_id == case.id and "PO-2026-0042" in note.note and "Managed SFTP" in note.note
    assert [(a["service"], a["status"]) for a in shown["asd_entries"]] == [("Managed SFTP service", "proposed")]
    # then it waits on the 60 day schedule like any enhancement, until it is pulled (`rf request pull`, as the
    # schedule page's Pull)
    assert (shown["status"], rf.open_bpmn_ids(number)) == ("scheduled", ["wait_on_schedule"])
    assert shown["path"][:3] == ["request_received", "request_type_gateway", "routine_gateway"]
    assert "discovery" in shown["path"]
    pulled = rf.ok("request", "pull", number, "--user", "pete")
    assert pulled["number"] == number and pulled["first_task"]
    assert rf.open_bpmn_ids(number) == ["draw_up_work_plan"]
    shown = rf.show(number)
    assert shown["path"].index("discovery") < shown["path"].index("wait_on_schedule") < shown["path"].index(
        "scheduling_merge")

    rf.complete(number, "draw_up_work_plan", "pete", WORK_PLAN)
    rf.work()
    rf.complete(number, "fulfil_enhancement_request", "pete", FULFILMENT)
    rf.complete(number, "test_solution", "pete", {"test_result": "pass", "test_notes": "Vendors can upload"})
    rf.complete(number, "determine_chargeability", "pete", {"chargeable": False})
    rf.complete(number, "notify_customer_of_fulfilment", "carla", {"customer_message": "Your SFTP drop is ready."})
    rf.work()

    shown = rf.show(number)
    assert shown["status"] == "closed"
    assert shown["path"] == ["request_received", "request_type_gateway", "routine_gateway", "discovery_started",
                             "document_customer_need", "prepare_proposal", "attach_proposal_to_crm_case",
                             "new_service_gateway", "start_asd_service", "discovery_merge", "discovery_complete",
                             "discovery", "wait_on_schedule", "scheduling_merge", "enhancement_started",
                             "draw_up_work_plan", "update_work_list", *FULFIL_AND_TEST, "determine_chargeability",
                             "chargeability_gateway", *ENHANCEMENT_TAIL]
    [mail] = mailbox.to("ann@tourism.example")
    assert "Your SFTP drop is ready." in text_of(mail)
    assert_chain_intact(services)


def test_a_scheduled_enhancement_is_pulled_or_cancelled_from_the_command_line(rf, services, mailbox):
    waiting = rf.ok("request", "new", "--type", "enhancement", "--schedule", "--user", "ann.logger",
                    "--data", json.dumps({**REQUEST, "provider_group": "apps", "title": "Visitor report"}))
    number = waiting["number"]
    assert waiting["status"] == "scheduled" and rf.show(number)["status"] == "scheduled"
    assert rf.open_bpmn_ids(number) == []  # no process until it is pulled

    before = count(services, AuditEvent)
    assert "reason" in rf.fails("request", "cancel", number, "--reason", "   ", "--user", "maria").output
    refused = rf.fails("request", "cancel", number, "--reason", "No budget", "--user", "pete")  # not a manager
    assert "manager" in refused.output
    assert "no request" in rf.fails("request", "pull", number, "--user", "sam").output  # another group's: unseen
    assert rf.fails("request", "pull", "RF-999999", "--user", "pete").exit_code == 2
    assert count(services, AuditEvent) == before  # nothing written by a refusal

    assert rf.ok("request", "cancel", number, "--reason", "The agency withdrew it", "--user", "maria") == {
        "number": number, "status": "cancelled"}
    assert rf.show(number)["status"] == "cancelled"
    assert "is cancelled" in rf.fails("request", "pull", number, "--user", "pete").output
    rf.work()
    [mail] = mailbox.to("ann@tourism.example")
    assert mail["Subject"].endswith(f"Request {number} cancelled") and "The agency withdrew it" in text_of(mail)

    other = rf.ok("request", "new", "--type", "enhancement", "--schedule", "--user", "ann.logger",
                  "--data", json.dumps({**REQUEST, "provider_group": "apps", "title": "Second report"}))["number"]
    assert rf.ok("request", "pull", other, "--user", "pete")["number"] == other
    assert rf.open_bpmn_ids(other) == ["draw_up_work_plan"]


def test_sla_breach_escalates_once_without_cancelling_the_work(rf, services, mailbox):
    due = iso_minutes_ago(5)
    number = rf.new_request("assistance", priority="critical", sla_due_at=due)
    assert datetime.fromisoformat(rf.show(number)["sla_due_at"]) == datetime.fromisoformat(due)
    rf.work()
    escalations = mailbox.to("maria@omes.example")
    assert len(escalations) == 1 and number in escalations[0]["Subject"]
    assert "still open" in text_of(escalations[0])
    assert rf.open_bpmn_ids(number) == ["assign_specialist"]  # the work goes on
    shown = rf.show(number)
    assert shown["status"] == "open" and shown["sla"]["state"] == "breached"
    assert [n["kind"] for n in shown["notifications"]] == ["sla_breach"]

    rf.work()
    assert len(mailbox.to("maria@omes.example")) == 1  # never twice
    rf.complete(number, "assign_specialist", "maria", {"specialist": "sara"})
    rf.complete(number, "fulfil_assistance_request", "sara",
                {"resolution_notes": "Done late", "resolution_code": "resolved", "time_spent_hours": 2})
    rf.work()

    shown = rf.show(number)
    assert shown["status"] == "closed"
    assert shown["crm_case"]["status"] == "closed"
    assert [e["level"] for e in shown["sla"]["escalations"]] == ["warning", "breach"]
    assert shown["path"][-1] == "assistance_request_closed"
    assert len(mailbox.to("maria@omes.example")) == 1 and len(mailbox.to("ann@tourism.example")) == 1
    assert count(services, Notification) == 3  # the breach, sara's "assigned to you", the customer's notice
    assert_chain_intact(services)


def test_enhancement_sla_breach_escalates_to_the_manager_of_its_group(rf, services, mailbox):
    number = rf.new_request("enhancement", provider_group="apps", sla_due_at=iso_minutes_ago(1))
    rf.work()
    [escalation] = mailbox.to("maria@omes.example")
    assert number in escalation["Subject"]
    shown = rf.show(number)
    assert [e["level"] for e in shown["sla"]["escalations"]] == ["warning", "breach"]
    assert rf.open_bpmn_ids(number) == ["draw_up_work_plan"]
    rf.work()
    assert len(mailbox.messages) == 1


def test_default_sla_target_follows_type_and_priority(rf, services, clock):
    """A critical enhancement gets 20 business days (of 9 working hours) on the business calendar, holidays from
    the seeded table skipped (it used to be 30 calendar days). The command's clock starts at the tests' clock and runs
    forward, so the due date is bracketed by the targets measured from its start and a few minutes later."""
    before = clock.now()
    number = rf.new_request("enhancement", priority="critical")
    after = before + timedelta(minutes=5)  # the command's clock started at the test clock's now and ran on
    due = datetime.fromisoformat(rf.show(number)["sla_due_at"])
    with services.uow() as uow:
        calendar = sla.load_calendar(uow.session)
    target = calendar.business_days(20)
    assert calendar.add(before, target) <= due <= calendar.add(after, target)
    assert timedelta(days=25) <= due - before <= timedelta(days=35)  # still about the 30 calendar days of old
    assert date.fromisoformat(rf.task(number, "draw_up_work_plan")["due_at"][:10]) == due.date()
