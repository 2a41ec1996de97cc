"""Staff carry requests through the real `rf serve` in Chromium: log, assign, fulfil, test, bill, notify; each user
sees and may act on only their own lane's tasks; forms keep input and show errors beside the field; the customer's
email reaches the SMTP server.

Selectors use roles, labels and visible text (not the markup of the request page, which is still changing).
"""

from __future__ import annotations

import re
from datetime import timedelta
from email.header import decode_header, make_header
from email.message import Message

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import labelled, reload_until, screenshot, wait_for
from tests.conftest import START, Inbox

# Each test starts its own `rf serve` and waits on its worker: ~50 s on SQLite, ~145 s on SQLite + PostgreSQL, which
# is past the two minutes the browser suite may take; so SQLite only (the same flows run on both backends through the
# test client in tests/e2e). The autouse fixture below checks that the indirect parametrization really did that.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

COMPLETE = re.compile(r"^Complete ")


@pytest.fixture(autouse=True)
def _sqlite_only(settings):
    assert settings.database_url.startswith("sqlite:///"), settings.database_url


# ---------------------------------------------------------------------------------------------------------------------
# Steps
# ---------------------------------------------------------------------------------------------------------------------


def log_request(page: Page, *, kind: str, title: str, agency: str, requester: str, email: str, group: str,
                priority: str, description: str = "", routine: bool = True) -> str:
    """Log a request on the New request page; returns its number (from the request page it lands on)."""
    page.get_by_role("navigation", name="Main").get_by_role("link", name="New request").click()
    expect(page.get_by_role("heading", name="Log a new request")).to_be_visible()
    page.get_by_role("radio", name=kind).check()
    if not routine:
        labelled(page, "Routine request").uncheck()
    labelled(page, "Title").fill(title)
    if description:
        labelled(page, "Description").fill(description)
    labelled(page, "Agency").fill(agency)
    labelled(page, "Requester").fill(requester)
    labelled(page, "Requester email").fill(email)
    labelled(page, "Provider group").select_option(group)
    labelled(page, "Priority").select_option(priority)
    page.get_by_role("button", name="Log request").click()
    expect(page.get_by_role("status")).to_contain_text("logged (CRM case")
    found = re.search(r"/requests/(RF-\d+)$", page.url)
    assert found, page.url
    number = found.group(1)
    expect(page.get_by_role("heading", level=1)).to_contain_text(number)
    return number


def inbox(page: Page, queue: str = "mine") -> Page:
    page.goto(f"/inbox?queue={queue}")
    expect(page.get_by_role("heading", name="Inbox", exact=True)).to_be_visible()
    return page


def task_row(page: Page, number: str, task: str) -> Locator:
    return page.get_by_role("row").filter(has_text=number).filter(has=page.get_by_role("link", name=task, exact=True))


def wait_for_task(page: Page, number: str, task: str, queue: str = "available") -> Locator:
    """Reload the inbox until the worker has moved the request on to `task`; returns its row."""
    inbox(page, queue)
    return reload_until(page, lambda: task_row(page, number, task))


def open_task(page: Page, number: str, task: str, queue: str = "available") -> str:
    """Open a task from the inbox (waiting for it to appear); returns the task page's URL."""
    wait_for_task(page, number, task, queue).get_by_role("link", name=task, exact=True).click()
    expect(page.get_by_role("heading", level=1, name=task)).to_be_visible()
    return page.url


def submit(page: Page, task: str, number: str) -> None:
    page.get_by_role("button", name=COMPLETE).click()
    expect(page.get_by_role("status")).to_contain_text(f"“{task}” completed for {number}")


def assert_not_in_inbox(page: Page, number: str) -> None:
    """Nothing of the request shows in any of the user's queues."""
    inbox(page, "groups")
    expect(page.get_by_role("main")).not_to_contain_text(number)


def assert_error_beside(page: Page, label: str, message: str) -> None:
    control = labelled(page, label)
    expect(control).to_have_attribute("aria-invalid", "true")
    expect(control).to_have_accessible_description(re.compile(re.escape(message)))
    expect(page.locator(".field").filter(has=control)).to_contain_text(message)


def request_page(page: Page, number: str) -> Page:
    page.goto(f"/requests/{number}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(number)
    return page


def status(page: Page, text: str) -> Locator:
    """The request's status as the page's text says it, not the diagram's SVG labels ("Assistance request closed")."""
    return page.get_by_text(text, exact=True).and_(page.locator(":not(svg *)"))


def text_of(message: Message) -> str:
    if message.is_multipart():
        return "\n".join(text_of(part) for part in message.get_payload())  # type: ignore[union-attr]
    payload = message.get_payload(decode=True)
    return payload.decode(message.get_content_charset() or "utf-8") if isinstance(payload, bytes) else str(payload)


def subject_of(message: Message) -> str:
    """The Subject header decoded and unfolded (a long subject arrives folded over two lines)."""
    return " ".join(str(make_header(decode_header(message["Subject"] or ""))).split())


def email_to(mailbox: Inbox, address: str, subject: str) -> Message:
    """The one email to `address` whose subject ends with `subject` (a customer's subject starts with their CRM
    case, "Case CRM-000001: ", when the request has one; a question ends with its reply token, "[RF-….…]")."""
    found = wait_for(lambda: [m for m in mailbox.to(address)
                              if re.sub(r" \[RF-[^\]]+\]$", "", subject_of(m)).endswith(subject)],
                     message=f"an email to {address} with the subject {subject!r}")
    assert len(found) == 1, [subject_of(m) for m in mailbox.to(address)]
    return found[0]


# ---------------------------------------------------------------------------------------------------------------------
# Journeys
# ---------------------------------------------------------------------------------------------------------------------


def test_assistance_request_is_assigned_fulfilled_closed_and_the_customer_emailed(staff, mailbox):
    title = "VPN access for the Guthrie field office"
    maria = staff("maria")
    number = log_request(maria, kind="Assistance Request", title=title, agency="Oklahoma Tourism and Recreation",
                         requester="Ann Agency", email="ann@travelok.example", group="network", priority="high",
                         description="Two new rangers need VPN profiles before Monday.")
    expect(status(maria, "open")).to_be_visible()

    # The worker takes the CRM case; then the manager's task waits, unassigned, in maria's group queue.
    row = wait_for_task(maria, number, "Assign to a specialist")
    expect(row).to_contain_text("high")
    task_url = row.get_by_role("link", name="Assign to a specialist").get_attribute("href")
    assert task_url

    # Neither the service provider nor the specialists see the manager's task, nor may they open it.
    for outsider in ("pete", "sam"):
        page = staff(outsider)
        assert_not_in_inbox(page, number)
        response = page.goto(task_url)
        assert response is not None and response.status == 403, outsider
        expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()

    maria.goto(task_url)
    expect(maria.get_by_role("heading", level=1, name="Assign to a specialist")).to_be_visible()
    specialist = labelled(maria, "Specialist")
    expect(specialist.locator("option")).to_contain_text(["sam", "sara"])
    specialist.select_option("sam")
    labelled(maria, "Note for the specialist").fill("Profiles for the two new rangers; see the CRM case.")
    submit(maria, "Assign to a specialist", number)

    # The fulfilment task goes straight to sam's own queue ...
    sam = staff("sam")
    row = wait_for_task(sam, number, "Fulfil assistance request", queue="mine")
    expect(row).to_contain_text("sam")

    # ... and sara, a specialist of the same group, sees it is sam's but may not complete it.
    sara = staff("sara")
    row = wait_for_task(sara, number, "Fulfil assistance request", queue="groups")
    expect(row.get_by_role("button", name="Claim")).to_have_count(0)
    row.get_by_role("link", name="Fulfil assistance request").click()
    expect(sara.get_by_text("sam is working on this task.")).to_be_visible()
    expect(sara.get_by_role("button", name=COMPLETE)).to_have_count(0)
    token = sara.locator("input[name=csrf_token]").first.input_value()
    refused = sara.request.post(sara.url, form={"csrf_token": token, "resolution_notes": "mine now",
                                                "resolution_code": "resolved", "time_spent_hours": "1"})
    assert refused.status == 403, refused.status

    # sam opens it from his inbox; the handover note is in "What came before". A missing field is reported beside
    # that field, and everything else he typed is still there.
    inbox(sam)
    task_row(sam, number, "Fulfil assistance request").get_by_role("link", name="Open").click()
    expect(sam.get_by_role("heading", level=1, name="Fulfil assistance request")).to_be_visible()
    expect(sam.get_by_text(re.compile(r"^Assign to a specialist — maria"))).to_be_visible()  # open: no click
    expect(sam.get_by_text("Profiles for the two new rangers; see the CRM case.")).to_be_visible()
    notes = "Created VPN profiles for both rangers and emailed the set-up guide."
    labelled(sam, "Resolution notes").fill(notes)
    labelled(sam, "Resolution code").select_option(label="Workaround provided")
    sam.get_by_role("button", name=COMPLETE).click()
    assert_error_beside(sam, "Time spent (hours)", "This field is required.")
    expect(labelled(sam, "Resolution notes")).to_have_value(notes)
    expect(labelled(sam, "Resolution code")).to_have_value("workaround")
    expect(labelled(sam, "Resolution notes")).not_to_have_attribute("aria-invalid", "true")
    labelled(sam, "Time spent (hours)").fill("1.5")
    submit(sam, "Fulfil assistance request", number)
    expect(task_row(sam, number, "Fulfil assistance request")).to_have_count(0)

    # The worker closes the CRM case and emails the customer; the request page shows the request closed.
    request_page(sam, number)
    reload_until(sam, status(sam, "closed"))
    expect(sam.get_by_role("main")).to_contain_text(f"Request {number} fulfilled: {title}")
    message = email_to(mailbox, "ann@travelok.example", f"Request {number} fulfilled: {title}")
    assert notes in text_of(message)

    # Later sam finds it on the Requests page by typing words of its description and of his own notes.
    sam.get_by_role("link", name="Requests", exact=True).first.click()
    search = sam.get_by_role("searchbox", name="Search")
    search.fill("rangers guid")
    search.press("Enter")
    expect(sam.get_by_text("Showing 1–1 of 1 request")).to_be_visible()
    expect(sam.get_by_role("row").filter(has_text=number)).to_contain_text("closed")
    expect(search).to_have_value("rangers guid")
    screenshot(sam, "requests.png")


def test_chargeable_enhancement_with_a_failed_test_is_reworked_billed_and_closed(staff, mailbox):
    title = "Online renewal of hunting licences"
    carla = staff("carla")
    number = log_request(carla, kind="Enhancement Request", title=title, agency="Oklahoma Department of Wildlife",
                         requester="Walt Warden", email="walt@wildlife.example", group="network", priority="medium",
                         description="Let hunters renew their licence online instead of at the county office.")
    expect(carla.get_by_test_id("scheduled")).to_contain_text("Waiting on the 60 day schedule")
    sam = staff("sam")
    assert_not_in_inbox(sam, number)

    # The enhancement waits on the 60 day schedule (this week); pete pulls it, which starts its work plan.
    pete = staff("pete")
    pete.get_by_role("navigation", name="Main").get_by_role("link", name="60 day schedule").click()
    queued = pete.locator(f'tr[data-queued="{number}"]')
    expect(queued).to_contain_text("this week")
    screenshot(pete, "schedule_queue.png")
    queued.get_by_role("button", name=f"Pull {number}").click()
    expect(pete.get_by_role("status")).to_contain_text(f"{number} pulled from the schedule")
    expect(pete.get_by_role("heading", level=1, name="Draw up work plan and estimates")).to_be_visible()

    # pete claims the work plan from his group's queue; it moves to his own tasks.
    row = wait_for_task(pete, number, "Draw up work plan and estimates")
    row.get_by_role("button", name="Claim").click()  # straight to the task's form: the claimer's next work
    expect(pete.get_by_role("status")).to_contain_text("You took “Draw up work plan and estimates”")
    expect(pete.get_by_role("heading", level=1, name="Draw up work plan and estimates")).to_be_visible()
    inbox(pete)
    task_row(pete, number, "Draw up work plan and estimates").get_by_role("link", name="Open").click()
    expect(pete.get_by_role("heading", level=1, name="Draw up work plan and estimates")).to_be_visible()

    # Two required fields left empty: both errors beside their fields, the plan and the start date kept.
    plan = "1. Extend the licence API with renewals\n2. Add the renewal page to the portal\n3. Load test"
    today = START.date()  # the live server's clock started at the tests' clock
    labelled(pete, "Work plan").fill(plan)
    labelled(pete, "Planned start").fill(today.isoformat())
    pete.get_by_role("button", name=COMPLETE).click()
    assert_error_beside(pete, "Estimated effort (hours)", "This field is required.")
    assert_error_beside(pete, "Planned finish", "This field is required.")
    expect(labelled(pete, "Work plan")).to_have_value(plan)
    expect(labelled(pete, "Planned start")).to_have_value(today.isoformat())
    screenshot(pete, "form_errors.png")
    labelled(pete, "Estimated effort (hours)").fill("24")
    labelled(pete, "Planned finish").fill((today + timedelta(days=14)).isoformat())
    submit(pete, "Draw up work plan and estimates", number)

    # The worker records the plan on the work list; then fulfil, and a failed test sends it back for rework.
    open_task(pete, number, "Fulfil enhancement request")
    labelled(pete, "Fulfilment notes").fill("Renewal endpoint and portal page built.")
    labelled(pete, "Hours spent").fill("16")
    submit(pete, "Fulfil enhancement request", number)
    open_task(pete, number, "Test the solution")
    pete.get_by_role("radio", name="Failed").check()
    labelled(pete, "Test notes").fill("Renewal fails for licences that expired last year.")
    submit(pete, "Test the solution", number)
    assert_not_in_inbox(sam, number)

    open_task(pete, number, "Fulfil enhancement request")
    expect(pete.get_by_text(re.compile(r"^Test the solution — pete"))).to_be_visible()  # open: no click
    expect(pete.get_by_text("Renewal fails for licences that expired last year.")).to_be_visible()
    labelled(pete, "Fulfilment notes").fill("Expired licences are now renewable too.")
    labelled(pete, "Hours spent").fill("4")
    submit(pete, "Fulfil enhancement request", number)
    open_task(pete, number, "Test the solution")
    pete.get_by_role("radio", name="Passed").check()
    labelled(pete, "Test notes").fill("All renewal cases pass, including expired licences.")
    submit(pete, "Test the solution", number)

    # Chargeable: hours, rate and billing code become required; the missing code is reported, the rest kept.
    open_task(pete, number, "Determine chargeability")
    labelled(pete, "Chargeable to the customer").check()
    labelled(pete, "Billable hours").fill("12.5")
    labelled(pete, "Hourly rate").fill("95")
    pete.get_by_role("button", name=COMPLETE).click()
    assert_error_beside(pete, "Billing code", "This field is required.")
    expect(labelled(pete, "Chargeable to the customer")).to_be_checked()
    expect(labelled(pete, "Billable hours")).to_have_value("12.5")
    labelled(pete, "Billing code").fill("PS-628")
    submit(pete, "Determine chargeability", number)

    # The worker creates the billing case; billing is the CAR's, so pete and sam never see it.
    live = today - timedelta(days=3)
    open_task(carla, number, "Initiate billing")
    expect(carla.get_by_role("complementary", name="Request context")).to_contain_text(title)
    labelled(carla, "Service live date").fill(live.isoformat())
    labelled(carla, "Billing notes").fill("Bill the agency's operations budget.")
    submit(carla, "Initiate billing", number)
    assert_not_in_inbox(pete, number)
    assert_not_in_inbox(sam, number)

    # The service went live in the past, so the timer fires at once and the ASD is updated; then carla notifies.
    open_task(carla, number, "Notify customer that the RFC is fulfilled")
    notice = "Hunters can now renew their licences online at wildlife.example/renew."
    labelled(carla, "Message to the customer").fill(notice)
    submit(carla, "Notify customer that the RFC is fulfilled", number)

    request_page(carla, number)
    reload_until(carla, status(carla, "closed"))
    main = carla.get_by_role("main")
    expect(main).to_contain_text("$1187.50 under PS-628")
    expect(main).to_contain_text(f"live {live.isoformat()}")
    expect(main).to_contain_text(f"Request for Change {number} fulfilled: {title}")
    reload_until(carla, carla.get_by_text("[sent]"))
    screenshot(carla, "request.png")
    message = email_to(mailbox, "walt@wildlife.example", f"Request for Change {number} fulfilled: {title}")
    assert notice in text_of(message)
    assert_not_in_inbox(sam, number)


def test_non_routine_enhancement_goes_through_discovery_then_waits_on_the_schedule_until_pulled(staff):
    title = "SFTP drop for the agency's vendors"
    carla = staff("carla")
    number = log_request(carla, kind="Enhancement Request", title=title, agency="Oklahoma Tax Commission",
                         requester="Vera Vendor", email="vera@tax.example", group="apps", priority="medium",
                         routine=False)
    expect(carla.get_by_test_id("scheduled")).to_have_count(0)  # Discovery first: it starts at once

    # Discovery: the CAR documents the need, the service provider prepares the proposal (the worker notes it on the
    # CRM case); then the request waits on the 60 day schedule, which is nobody's inbox work.
    open_task(carla, number, "Document the customer need")
    labelled(carla, "Customer need").fill("Vendors need to drop monthly files for the agency.")
    labelled(carla, "Current OMES customer").check()
    submit(carla, "Document the customer need", number)
    pete = staff("pete")
    open_task(pete, number, "Prepare proposal")
    labelled(pete, "Proposal summary").fill("Managed SFTP with one folder per vendor.")
    labelled(pete, "Estimated cost (USD)").fill("4200")
    labelled(pete, "PO number").fill("PO-2026-0042")
    submit(pete, "Prepare proposal", number)
    request_page(pete, number)
    scheduled = reload_until(pete, pete.get_by_test_id("scheduled"))
    expect(scheduled).to_contain_text("Waiting on the 60 day schedule")
    expect(pete.get_by_role("main")).to_contain_text("the request is waiting on the 60 day schedule")  # SLA paused
    assert_not_in_inbox(pete, number)

    # pete pulls it from the schedule: the same process goes on to its work plan, which he lands on.
    pete.get_by_role("navigation", name="Main").get_by_role("link", name="60 day schedule").click()
    queued = pete.locator(f'tr[data-queued="{number}"]')
    expect(queued).to_contain_text("this week")
    expect(queued.get_by_role("link", name=f"Cancel {number}…")).to_have_count(0)  # a manager's
    queued.get_by_role("button", name=f"Pull {number}").click()
    expect(pete.get_by_role("status")).to_contain_text(f"{number} pulled from the schedule")
    expect(pete.get_by_role("heading", level=1, name="Draw up work plan and estimates")).to_be_visible()
    request_page(pete, number)
    expect(pete.get_by_test_id("scheduled")).to_have_count(0)
    main = pete.get_by_role("main")
    expect(main).not_to_contain_text("the request is waiting on the 60 day schedule")  # the clock runs again
    expect(main).to_contain_text("The SLA clock stopped: waiting on the 60 day schedule")  # its timeline
    expect(main).to_contain_text(re.compile(r"Wait on the 60 day schedule\s+Pulled by\s*pete"))


def test_managers_inbox_lists_the_groups_tasks_by_priority_and_keeps_claimed_ones_apart(staff):
    maria = staff("maria")
    # Three cases pulled from the CRM Pending Queue, each with its own priority, and one logged by hand.
    for subject, priority in [("VPN access for the Guthrie field office", "critical"),
                              ("Wi-Fi drops in the reading room", "low"),
                              ("Reset workflow for the refund approval report", "high")]:
        maria.get_by_role("navigation", name="Main").get_by_role("link", name="CRM queue").click()
        row = maria.get_by_role("row").filter(has_text=subject)
        row.get_by_label("Priority").select_option(priority)
        row.get_by_role("button", name="Pull").click()
        expect(maria.get_by_role("status")).to_contain_text("pulled into RF-")
    log_request(maria, kind="Assistance Request", title="New starter accounts for the budget office",
                agency="Office of Management and Enterprise Services", requester="Bea Budget",
                email="bea@omes.example", group="apps", priority="medium")
    # The logged request's own CRM case waits in the queue until the worker takes it (see the report: it could be
    # pulled a second time meanwhile).
    maria.get_by_role("navigation", name="Main").get_by_role("link", name="CRM queue").click()
    reload_until(maria, maria.get_by_text("The pending queue is empty."))

    inbox(maria, "available")
    rows = maria.get_by_role("row").filter(has=maria.get_by_role("link", name="Assign to a specialist"))
    reload_until(maria, lambda: rows.nth(3))
    expect(rows).to_have_count(4)

    # Sorted by priority; claiming two moves them to "My tasks" and leaves the others for the group.
    maria.get_by_label("Sort").select_option("priority")
    maria.get_by_role("button", name="Apply").click()
    expect(rows.locator(".pill")).to_have_text(["critical", "high", "medium", "low"])
    for _ in range(2):
        rows.first.get_by_role("button", name="Claim").click()
        expect(maria.get_by_role("status")).to_contain_text("You took “Assign to a specialist”")
        expect(maria.get_by_role("heading", level=1, name="Assign to a specialist")).to_be_visible()
        maria.go_back()  # back to the sorted list the claim left
        maria.reload()
    expect(rows).to_have_count(2)
    expect(rows.locator(".pill")).to_have_text(["medium", "low"])

    tabs = maria.get_by_role("navigation", name="Queues")
    expect(tabs.get_by_role("link", name=re.compile(r"^My tasks"))).to_contain_text("2")
    tabs.get_by_role("link", name=re.compile(r"^All my groups")).click()
    expect(rows).to_have_count(4)
    maria.get_by_label("Sort").select_option("priority")
    maria.get_by_role("button", name="Apply").click()
    expect(rows.locator(".pill")).to_have_text(["critical", "high", "medium", "low"])
    expect(rows.get_by_role("link", name="Open")).to_have_count(2)
    expect(rows.get_by_role("button", name="Claim")).to_have_count(2)
    expect(maria.get_by_text("Page 1 of 1 · 4 tasks")).to_be_visible()
    screenshot(maria, "inbox.png")

    maria.get_by_label("Provider group").select_option("apps")
    maria.get_by_role("button", name="Apply").click()
    expect(rows).to_have_count(2)
    expect(rows).to_contain_text(["Reset workflow for the refund approval report",
                                  "New starter accounts for the budget office"])
