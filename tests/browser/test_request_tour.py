"""Issue 15, the README's tour in Chromium against the real `rf serve` (its worker and its inbound mail endpoint): an
assistance request logged by the CRM intake at the injected instant is found through the Requests search, assigned
by the manager, worked by the specialist (an internal note, a file), who asks the customer a question; the customer
answers by email over real SMTP to the question's Reply-To, which completes *Await the customer's reply* as
`customer`; the specialist fulfils it and the request closes with the customer emailed.

Every time people read is in America/Chicago: the request was logged at 15:00 UTC on a winter Tuesday, so the pages
and the emails say "Tue 1 Dec 2026, 09:00 CST" (for the default start), computed here from the injected instant,
never a UTC time. The main steps are screenshot at 1366 and at 390 px wide (tests/browser/artifacts/tour-*.png).
"""

from __future__ import annotations

import re
import smtplib
import time
from datetime import datetime, timedelta
from email.message import EmailMessage, Message
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import labelled, reload_until, screenshot
from tests.browser.test_staff_journeys import (
    email_to,
    inbox,
    open_task,
    request_page,
    status,
    subject_of,
    submit,
    task_row,
)
from tests.conftest import DEFAULT_START, START, free_port, html_of, text_of
from tests.driver import Driver

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # see test_staff_journeys

CHICAGO = ZoneInfo("America/Chicago")
WIDTHS = {1366: 900, 390: 844}  # the screenshots' viewports: a laptop and a phone
CUSTOMER = "ann@tourism.example"
TITLE = "Badge reader offline at the Tulsa field office"
QUESTION = "Which door is it: the loading dock or the main entrance? Is its light red or dark?"
REPLY = "The main entrance. The light is dark since the storm on Monday."
DONE = "Replaced the badge reader's power supply at the main entrance; tested with three badges."
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture
def inbound_port() -> int:
    return free_port()


@pytest.fixture
def serve_env(inbound_port: int) -> dict[str, str]:
    """`rf serve` with its inbound mail endpoint on a free port, in the Oklahoma zone whatever the machine's."""
    return {"RF_INBOUND_MAIL_PORT": str(inbound_port), "RF_TIME_ZONE": "America/Chicago"}


def chicago(instant: datetime) -> str:
    """An instant as people read it in Oklahoma, written here independently of the app: "Tue 1 Dec 2026, 09:00 CST"."""
    local = instant.astimezone(CHICAGO)
    return f"{local:%a} {local.day} {local:%b %Y, %H:%M} {local.tzname()}"


def chicago_between(first: datetime, last: datetime) -> re.Pattern[str]:
    """Any minute from `first` to `last` in Chicago words: what `rf serve`'s running clock (started at the injected
    instant) may have written while the test ran."""
    minutes = {chicago(first + timedelta(minutes=m)) for m in range(int((last - first).total_seconds() // 60) + 2)}
    return re.compile("|".join(re.escape(m) for m in sorted(minutes)))


def assert_local_times_only(text: str, where: str) -> None:
    """Every time of day a person reads carries the Chicago zone; nothing is written in UTC or as an ISO instant."""
    text = text.replace("08:00–17:00 Central", "")  # the business day's hours (the request page's SLA note)
    wrong = [text[max(0, m.start() - 60):m.end() + 20] for m in re.finditer(
        r"UTC|\d{4}-\d\d-\d\dT\d\d:\d\d|\b\d{1,2}:\d\d\b(?!\s*C[SD]T)", text)]
    assert wrong == [], f"{where}: times not in Chicago words: {wrong}"


def tour_screenshots(page: Page, step: str) -> None:
    """tour-<step>-1366.png and tour-<step>-390.png (full page), then back to the laptop's width."""
    for width, height in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        screenshot(page, f"tour-{step}-{width}.png")
    page.set_viewport_size({"width": 1366, "height": WIDTHS[1366]})


def reply_by_email(port: int, question: Message, body: str) -> None:
    """The customer answers from their mail program: a real SMTP client to the question's Reply-To address."""
    reply = EmailMessage()
    reply["From"], reply["To"] = CUSTOMER, question["Reply-To"]
    reply["Subject"] = "Re: " + " ".join(question["Subject"].split())  # unfolded, its reply token kept
    reply["In-Reply-To"] = reply["References"] = question["Message-ID"]
    reply["Message-ID"] = "<tour-reply-1@tourism.example>"
    reply.set_content(f"{body}\n\nAnn\n\n> {QUESTION}\n")
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.send_message(reply)


def test_a_request_goes_from_search_to_a_customer_reply_by_email_to_closed_in_local_time(services, clock, staff,
                                                                                         mailbox, inbound_port):
    began = time.monotonic()
    logged = clock.now()  # the injected instant (the tests' START): the CRM intake logs the request then
    if START == DEFAULT_START:
        assert chicago(logged) == "Tue 1 Dec 2026, 09:00 CST"  # 15:00 UTC in winter is 09:00 in Oklahoma
    due = logged + timedelta(days=1)  # high priority: one business day, Tuesday 09:00 to Wednesday 09:00
    number = Driver(services, clock).new("assistance", title=TITLE, requester_email=CUSTOMER, priority="high")

    def while_running() -> re.Pattern[str]:  # what the live server's clock may have written so far
        return chicago_between(logged, logged + timedelta(seconds=time.monotonic() - began + 60))

    # The manager finds it through the Requests search by words of its title; its SLA target is in her time.
    maria = staff("maria")
    maria.set_viewport_size({"width": 1366, "height": WIDTHS[1366]})
    maria.get_by_role("link", name="Requests", exact=True).first.click()
    search = maria.get_by_role("searchbox", name="Search")
    search.fill("badge tuls")
    search.press("Enter")
    expect(maria.get_by_text("Showing 1–1 of 1 request")).to_be_visible()
    row = maria.get_by_role("row").filter(has_text=number)
    expect(row).to_contain_text(TITLE)
    expect(row).to_contain_text(chicago(due))
    assert_local_times_only(maria.get_by_role("main").inner_text(), "the search results")
    tour_screenshots(maria, "search")

    row.get_by_role("link", name=number).click()
    expect(maria.get_by_role("heading", level=1)).to_contain_text(number)
    opened = maria.get_by_role("term").filter(has_text="Opened").locator("xpath=following-sibling::dd[1]")
    expect(opened).to_have_text(chicago(logged))
    expect(maria.get_by_role("main")).to_contain_text(f"SLA due {chicago(due)}")

    # Her task (once the worker has taken the CRM case): due in Chicago time; she assigns it to sam.
    open_task(maria, number, "Assign to a specialist")
    expect(maria.get_by_role("main")).to_contain_text(f"due {chicago(due)}")
    assert_local_times_only(maria.get_by_role("main").inner_text(), "the manager's task")
    labelled(maria, "Specialist").select_option("sam")
    labelled(maria, "Note for the specialist").fill("Ann reported it by phone; the CRM case has her number.")
    tour_screenshots(maria, "task")
    submit(maria, "Assign to a specialist", number)

    # sam's inbox shows his task due in Chicago time, as the email telling him about it does.
    sam = staff("sam")
    sam.set_viewport_size({"width": 1366, "height": WIDTHS[1366]})
    inbox(sam)
    row = reload_until(sam, lambda: task_row(sam, number, "Fulfil assistance request"))
    expect(row).to_contain_text(chicago(due))
    assert_local_times_only(sam.get_by_role("main").inner_text(), "the specialist's inbox")
    assigned = email_to(mailbox, "sam@omes.example", f"Assigned to you: Fulfil assistance request ({number})")
    assert f"It is due {chicago(due)}." in text_of(assigned)
    assert_local_times_only(text_of(assigned), "the assignment email")

    # On the request page he writes an internal note and attaches a file; both are stamped in Chicago time.
    request_page(sam, number)
    sam.get_by_label("Add a note").fill("The reader at the main entrance has no power; bringing a spare supply.")
    sam.get_by_role("button", name="Add note").click()
    notes = sam.locator("#notes")
    expect(notes).to_contain_text("bringing a spare supply")
    expect(notes).to_contain_text("Sam Specialist")
    expect(notes).to_contain_text(while_running())
    sam.get_by_label("Attach a file").set_input_files(files=[{"name": "Reader wiring.pdf",
                                                               "mimeType": "application/pdf", "buffer": PDF}])
    sam.get_by_role("button", name="Upload", exact=True).click()
    attachments = sam.locator("#attachments")
    expect(attachments.get_by_role("link", name="Reader_wiring.pdf")).to_be_visible()
    expect(attachments).to_contain_text(while_running())
    expect(sam.locator("#timeline")).to_contain_text("File attached")
    assert_local_times_only(sam.get_by_role("main").inner_text(), "the request page")
    tour_screenshots(sam, "request-notes")

    # He needs the customer first: "Waiting on the customer" emails her his question and pauses the SLA clock.
    open_task(sam, number, "Fulfil assistance request", queue="mine")
    expect(sam.get_by_role("main")).to_contain_text("Ann reported it by phone")  # maria's handover note
    labelled(sam, "Resolution notes").fill(QUESTION)
    labelled(sam, "Resolution code").select_option(label="Waiting on the customer (pauses the SLA clock)")
    labelled(sam, "Time spent (hours)").fill("0.25")
    submit(sam, "Fulfil assistance request", number)
    question = email_to(mailbox, CUSTOMER, f"Request {number}: we need your reply")
    assert QUESTION in text_of(question)
    assert re.fullmatch(r"reply\+RF-\d+\.[0-9a-f]+@omes\.example", question["Reply-To"]), question["Reply-To"]
    assert subject_of(question).endswith(question["Reply-To"].split("+")[1].split("@")[0] + "]")
    assert_local_times_only(text_of(question), "the question email")
    inbox(sam)
    expect(reload_until(sam, lambda: task_row(sam, number, "Await the customer's reply"))).to_contain_text("SLA paused")

    # The customer replies by email: the wait is completed as `customer` and the work comes back to sam.
    reply_by_email(inbound_port, question, REPLY)  # the endpoint answers 250 once the reply is recorded
    inbox(sam)
    expect(task_row(sam, number, "Await the customer's reply")).to_have_count(0)
    expect(task_row(sam, number, "Fulfil assistance request")).to_have_count(1)
    request_page(sam, number)
    main = sam.get_by_role("main")
    expect(main).to_contain_text("Customer replied by email")
    expect(main).to_contain_text(REPLY)
    timeline = sam.locator("#timeline")
    expect(timeline).to_contain_text(re.compile(r"customer\s*Task completed\s*“Await the customer's reply”"))

    # sam fulfils it; the worker closes the CRM case and emails the customer; the request is closed.
    open_task(sam, number, "Fulfil assistance request", queue="mine")
    expect(sam.get_by_role("main")).to_contain_text(REPLY)  # the reply is among the steps before
    labelled(sam, "Resolution notes").fill(DONE)
    labelled(sam, "Resolution code").select_option("resolved")
    labelled(sam, "Time spent (hours)").fill("1.5")
    submit(sam, "Fulfil assistance request", number)
    request_page(sam, number)
    reload_until(sam, status(sam, "closed"))
    closed = sam.get_by_role("term").filter(has_text="Closed").locator("xpath=following-sibling::dd[1]")
    expect(closed).to_have_text(while_running())
    expect(main).to_contain_text(f"Request {number} fulfilled: {TITLE}")
    expect(main).to_contain_text(chicago(logged))  # Opened, still the injected instant
    reload_until(sam, sam.get_by_text("[sent]").last)
    assert_local_times_only(main.inner_text(), "the closed request")
    tour_screenshots(sam, "closed")

    fulfilled = email_to(mailbox, CUSTOMER, f"Request {number} fulfilled: {TITLE}")
    body = text_of(fulfilled)
    assert DONE in body
    sent = re.search(r"has been fulfilled on (.+)\.\n", body)
    assert sent and while_running().fullmatch(sent.group(1)), body
    assert f"has been fulfilled on {sent.group(1)}.</p>" in html_of(fulfilled)
    assert_local_times_only(body + html_of(fulfilled), "the fulfilment email")
