"""The SLA clock in Chromium against the real `rf serve` (its own worker, its clock
started at the tests' clock): a request past its target is
escalated to the manager and flagged in her inbox; a specialist who waits on the customer pauses the clock, the
inbox and the request page say so, and the clock runs again when the reply is recorded."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from app.bootstrap import bootstrap
from app.services.requests import intake
from tests.browser.conftest import labelled, reload_until, screenshot
from tests.browser.test_staff_journeys import COMPLETE, email_to, inbox, open_task, request_page, submit, task_row
from tests.driver import REQUEST

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # see test_staff_journeys


def log_now(settings, clock, **overrides) -> str:
    """A request logged at the test clock's now (the live server's clock started there), as the CRM intake would."""
    services = bootstrap(settings, clock)
    try:
        return intake.new_request(services, "assistance", {**REQUEST, **overrides}, "ann.logger").number or ""
    finally:
        services.engine.dispose()


def test_a_late_request_is_escalated_and_a_paused_one_shows_its_clock_stopped(staff, settings, clock, mailbox):
    past = (clock.now() - timedelta(minutes=5)).isoformat(timespec="seconds")
    late = log_now(settings, clock, title="Printer queue down at the tag office", priority="critical", sla_due_at=past)
    waiting = log_now(settings, clock, title="VPN profile for the Tulsa office", priority="high")

    # The worker passes the late request's target at once: the manager is emailed and her inbox flags it.
    maria = staff("maria")
    email_to(mailbox, "maria@omes.example", f"SLA target passed: {late}")
    inbox(maria, "available")
    row = reload_until(maria, lambda: task_row(maria, late, "Assign to a specialist").filter(has_text="SLA breached"))
    expect(row).to_contain_text("overdue")

    # The other one goes to sam, who needs the customer's answer first.
    open_task(maria, waiting, "Assign to a specialist")
    labelled(maria, "Specialist").select_option("sam")
    submit(maria, "Assign to a specialist", waiting)
    sam = staff("sam")
    open_task(sam, waiting, "Fulfil assistance request", queue="mine")
    labelled(sam, "Resolution notes").fill("Which office needs the profile, Tulsa or Lawton?")
    labelled(sam, "Resolution code").select_option(label="Waiting on the customer (pauses the SLA clock)")
    labelled(sam, "Time spent (hours)").fill("0.25")
    submit(sam, "Fulfil assistance request", waiting)

    # The question goes to the customer; the reply task waits in sam's inbox with the clock paused.
    email_to(mailbox, REQUEST["requester_email"], f"Request {waiting}: we need your reply")
    inbox(sam)
    row = reload_until(sam, lambda: task_row(sam, waiting, "Await the customer's reply"))
    expect(row).to_contain_text("SLA paused")
    request_page(sam, waiting)
    section = sam.get_by_role("region", name="Agreed time schedule")
    expect(section).to_contain_text("SLA clock paused")
    expect(section).to_contain_text("waiting on the customer")
    screenshot(sam, "sla_paused.png")

    inbox(maria, "groups")
    screenshot(maria, "sla_inbox.png")

    # The reply is recorded: the clock runs again and the work comes back to sam.
    open_task(sam, waiting, "Await the customer's reply", queue="mine")
    labelled(sam, "Customer's reply").fill("Tulsa, please.")
    sam.get_by_role("button", name=COMPLETE).click()
    expect(sam.get_by_role("status")).to_contain_text("completed")
    request_page(sam, waiting)
    section = sam.get_by_role("region", name="Agreed time schedule")
    expect(section).not_to_contain_text("SLA clock paused")
    expect(section).to_contain_text(re.compile(r"On time|At risk|SLA target passed"))
    expect(sam.get_by_role("main")).to_contain_text("The SLA clock runs again")
