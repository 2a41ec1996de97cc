"""Issue 15: a request page that tells its story. Data under its form's labels with values as people write them
(yes/no, money, dates), internal variables hidden from staff and shown to auditors; earlier steps' notes open on
the task page; the billing case and its amount where the Customer Account Representative acts."""

from __future__ import annotations

import html
import re
from datetime import timedelta

from app.services.requests.story import format_value
from tests.driver import REQUEST, Driver
from tests.e2e.test_request_page import FULFILMENT, WORK_PLAN
from tests.web import WebUser

CHARGE = {"chargeable": True, "billable_hours": 2.5, "hourly_rate": 85, "billing_code": "PS-628"}


def _data_section(page: str) -> str:
    return html.unescape(page[page.index(">Data</h2>"):page.index('id="replay"')])


def _at_initiate_billing(services, clock) -> tuple[Driver, str]:
    drive = Driver(services, clock)
    number = drive.new("enhancement")
    drive.complete(number, "draw_up_work_plan", "pete", WORK_PLAN)
    drive.work()
    drive.complete(number, "fulfil_enhancement_request", "pete", FULFILMENT)
    drive.complete(number, "test_solution", "pete", {"test_result": "fail", "test_notes": "Totals wrong\non page 2"})
    drive.complete(number, "fulfil_enhancement_request", "pete", {**FULFILMENT, "fulfilment_notes": "Fixed totals"})
    drive.complete(number, "test_solution", "pete", {"test_result": "pass", "test_notes": "All totals match"})
    drive.complete(number, "determine_chargeability", "pete", CHARGE)
    drive.work()
    return drive, number


def test_staff_read_labelled_formatted_data_and_no_internal_variables(services, clock):
    drive, number = _at_initiate_billing(services, clock)
    data = _data_section(WebUser(services, "carla").get(f"/requests/{number}").get_data(as_text=True))
    for label, value in [("Chargeable to the customer", "Yes"), ("Hourly rate", "$85.00"), ("Billable hours", "2.5"),
                         ("Routine request", "Yes"), ("Test notes", "All totals match"), ("Title", REQUEST["title"])]:
        assert f"<dt>{label}</dt>" in data, label
        assert value in data, label
    assert '<h3 class="data-step">The request</h3>' in data and '<h3 class="data-step">Test the solution</h3>' in data
    assert "True" not in data and "False" not in data
    assert "Internal variables" not in data


def test_auditors_also_see_the_internal_variables(services, clock):
    _, number = _at_initiate_billing(services, clock)
    data = _data_section(WebUser(services, "audrey").get(f"/requests/{number}").get_data(as_text=True))
    assert "Internal variables" in data
    assert "<dt>Hourly rate</dt>" in data


def test_the_car_sees_the_billing_case_and_amount_and_earlier_notes_are_open(services, clock):
    drive, number = _at_initiate_billing(services, clock)
    task = drive.open_task(number, "initiate_billing")
    page = html.unescape(WebUser(services, "carla").get(f"/tasks/{task.task_uuid}").get_data(as_text=True))
    billing = re.search(r"<dt>Billing case</dt><dd><strong>([^<]+)</strong>: \$212\.50 \(2\.5\d* h at \$85\.00\)", page)
    assert billing, page[page.index("Request context"):][:2000]
    assert "<details><summary>" not in page and page.count("<details open><summary>") >= 6
    assert "Totals wrong" in page
    live_date = (clock.now() + timedelta(days=9)).date()
    drive.complete(number, "initiate_billing", "carla", {"billing_notes": "Bill Q1", "service_live_date":
                                                         live_date.isoformat()})
    data = _data_section(WebUser(services, "carla").get(f"/requests/{number}").get_data(as_text=True))
    assert live_date.strftime("%-d %b %Y") in data


def test_values_are_written_as_people_write_them():
    assert format_value("chargeable", {"type": "boolean"}, False) == "No"
    assert format_value("hourly_rate", {"type": "number"}, 1234.5) == "$1,234.50"
    assert format_value("estimate", {"type": "number", "description": "in US dollars"}, 7) == "$7.00"
    assert format_value("estimated_hours", {"type": "number"}, 16) == "16"
    assert format_value("estimated_hours", {"type": "number"}, 2.50) == "2.5"
    assert format_value("planned_start", {"format": "date"}, "2026-12-03") == "3 Dec 2026"
    assert format_value("planned_start", {"format": "date"}, "not a date") == "not a date"
    assert format_value("tags", {"items": {"type": "string"}}, ["a", "b"]) == "a, b"
    assert format_value("notes", {}, "") == "—"
