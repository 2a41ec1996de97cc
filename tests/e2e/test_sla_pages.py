"""The SLA clock as staff see it: flags in the inbox and the agreed-time section of the request page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.store.models import ServiceRequest
from tests.driver import Driver
from tests.web import WebUser

WARN_AT = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)  # a critical request opened at START: 75% of 4 business hours
DUE_AT = datetime(2026, 12, 1, 19, 0, tzinfo=UTC)


@pytest.fixture
def drive(services, clock) -> Driver:
    return Driver(services, clock)


def test_inbox_and_request_page_show_the_clock_from_on_time_to_at_risk_to_breached(services, drive, clock):
    number = drive.new("assistance", priority="critical")
    drive.work()
    drive.complete(number, "assign_specialist", "maria", {"specialist": "sara"})
    sara = WebUser(services, "sara")

    page = sara.get(f"/requests/{number}").get_data(as_text=True)
    assert "On time: 4.0 business hours left" in page and 'aria-valuenow="0"' in page
    assert "SLA at risk" not in sara.get("/inbox").get_data(as_text=True)

    clock.set(WARN_AT)
    drive.work()
    inbox = sara.get("/inbox").get_data(as_text=True)
    assert number in inbox and "SLA at risk" in inbox
    page = sara.get(f"/requests/{number}").get_data(as_text=True)
    assert "<strong>At risk</strong>" in page and "1.0 business hour left" in page
    assert "75% of the sla target used" in page.lower() and "emailed maria@omes.example, sara@omes.example" in page

    clock.set(DUE_AT + timedelta(minutes=30))
    drive.work()
    inbox = sara.get("/inbox").get_data(as_text=True)
    assert "SLA breached" in inbox and "SLA at risk" not in inbox
    page = sara.get(f"/requests/{number}").get_data(as_text=True)
    assert "<strong>SLA target passed</strong>" in page and 'class="sla sla-breached"' in page
    assert page.count('<li class="breach">') == 1 and page.count('<li class="warning">') == 1
    assert "SLA breached" in WebUser(services, "maria").get("/").get_data(as_text=True)


def test_a_request_waiting_on_the_customer_shows_its_paused_clock(services, drive, clock):
    number = drive.new("assistance", priority="high")
    drive.work()
    drive.complete(number, "assign_specialist", "maria", {"specialist": "sara"})
    clock.advance(timedelta(hours=2))
    drive.complete(number, "fulfil_assistance_request", "sara",
                   {"resolution_notes": "Which office?", "resolution_code": "awaiting_customer",
                    "time_spent_hours": 0.25})
    drive.work()
    sara = WebUser(services, "sara")
    inbox = sara.get("/inbox").get_data(as_text=True)
    assert "Await the customer&#39;s reply" in inbox and "SLA paused" in inbox
    clock.advance(timedelta(days=10))  # long past the original due time: a paused request is not overdue
    sara = WebUser(services, "sara")  # ten days later her session has ended: she signs in again
    inbox = sara.get("/inbox?queue=groups").get_data(as_text=True)
    assert "SLA paused" in inbox and "overdue-label" not in inbox
    assert 'Overdue <span class="count">0</span>' in inbox
    page = sara.get(f"/requests/{number}").get_data(as_text=True)
    assert "<strong>SLA clock paused</strong>" in page and "waiting on the customer" in page
    assert "2.0 business hours" in page  # used before the pause

    drive.complete(number, "await_customer_reply", "sara", {"customer_reply": "Tulsa"})
    inbox = sara.get("/inbox?queue=groups").get_data(as_text=True)
    assert "SLA paused" not in inbox and "Fulfil assistance request" in inbox
    assert "overdue-label" not in inbox  # the due time moved by the ten paused days


def test_long_targets_read_in_business_days(services, drive):
    number = drive.new("enhancement", provider_group="apps", priority="medium")  # the 60 day plan: 40 days
    page = WebUser(services, "maria").get(f"/requests/{number}").get_data(as_text=True)
    assert "On time: 40.0 business days left" in page and "<dd>40.0 business days</dd>" in page


def test_a_request_logged_before_the_sla_clock_shows_its_due_date(services, drive):
    number = drive.new("assistance")
    with services.uow() as uow:  # what migration 0004 leaves on requests logged before it
        request = uow.session.scalars(select(ServiceRequest).where(ServiceRequest.number == number)).one()
        request.sla_target_seconds = request.sla_next_check_at = None
        uow.commit()
    page = WebUser(services, "maria").get(f"/requests/{number}").get_data(as_text=True)
    assert "logged before the SLA clock existed" in page and "no SLA target" not in page
    assert drive.work().escalations == 0
