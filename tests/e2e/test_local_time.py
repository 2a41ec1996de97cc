"""Times people read are local: the inbox, the request page and the SLA emails in the installation's zone (America/
Chicago by default), a user's own zone from Preferences, and the exact UTC instant kept for machines."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.domain.local_time import iso_utc, moment
from app.store.models import AuditEvent, User
from tests.conftest import START, text_of
from tests.driver import Driver
from tests.web import WebUser

CENTRAL, BERLIN = ZoneInfo("America/Chicago"), ZoneInfo("Europe/Berlin")
DUE = START + timedelta(hours=4)  # a critical request opened at START (a working hour): 4 business hours


@pytest.fixture
def drive(services, clock) -> Driver:
    return Driver(services, clock)


def body_of(message) -> str:
    return text_of(message)


def test_inbox_request_page_and_breach_email_show_the_same_local_due_time(services, drive, clock, mailbox):
    number = drive.new("assistance", priority="critical")
    drive.work()
    drive.complete(number, "assign_specialist", "maria", {"specialist": "sara"})
    due_text = moment(DUE, CENTRAL)  # e.g. "Tue 1 Dec 2026, 13:00 CST"
    sara = WebUser(services, "sara")

    inbox = sara.get("/inbox").get_data(as_text=True)
    assert f'<time datetime="{iso_utc(DUE)}">{due_text}</time>' in inbox and " UTC<" not in inbox
    page = sara.get(f"/requests/{number}").get_data(as_text=True)
    assert f"SLA due <time datetime=\"{iso_utc(DUE)}\">{due_text}</time>" in page
    assert f">{moment(START, CENTRAL)}</time>" in page  # opened, and the timeline's first event
    assert "UTC</time>" not in page

    clock.set(DUE + timedelta(minutes=30))
    drive.work()
    [breach] = [m for m in mailbox.messages if m["Subject"].startswith("SLA target passed")]
    text = body_of(breach).replace("\r\n", "\n")
    assert f"Due: {due_text}\n" in text and f"Reached at: {due_text}\n" in text
    assert "+00:00" not in text and "T" + DUE.strftime("%H:%M") not in text  # no ISO stamps, no microseconds


def test_a_user_reads_times_in_the_zone_they_chose_and_a_bad_zone_is_refused(services, drive):
    number = drive.new("assistance", priority="critical")
    drive.work()
    drive.complete(number, "assign_specialist", "maria", {"specialist": "sara"})
    sara = WebUser(services, "sara")
    page = sara.get("/account/preferences")
    assert page.status_code == 200 and "The installation’s zone (America/Chicago)" in page.get_data(as_text=True)

    saved = sara.post("/account/preferences", {"time_zone": "Europe/Berlin"})
    assert saved.status_code == 302
    inbox = sara.get("/inbox").get_data(as_text=True)
    assert moment(DUE, BERLIN) in inbox and moment(DUE, CENTRAL) not in inbox
    assert moment(DUE, BERLIN) in sara.get(f"/requests/{number}").get_data(as_text=True)
    assert moment(DUE, CENTRAL) in WebUser(services, "maria").get(f"/requests/{number}").get_data(as_text=True)

    for bad in ("Mars/Olympus", "../../etc/passwd", "x" * 500, "America/Chicago\n"):
        refused = sara.post("/account/preferences", {"time_zone": bad})
        if bad == "America/Chicago\n":  # surrounding space is trimmed: a valid zone
            assert refused.status_code == 302
            continue
        assert refused.status_code == 422, bad
        assert "is not an IANA time zone name" in refused.get_data(as_text=True)
    with services.uow() as uow:
        assert uow.session.scalars(select(User.time_zone).where(User.username == "sara")).one() == "America/Chicago"
        changes = list(uow.session.scalars(select(AuditEvent.payload).where(
            AuditEvent.event_type == "user_time_zone_set")))
    assert [c["after"] for c in changes] == ["Europe/Berlin", "America/Chicago"]

    assert sara.post("/account/preferences", {"time_zone": ""}).status_code == 302  # back to the installation's
    with services.uow() as uow:
        assert uow.session.scalars(select(User.time_zone).where(User.username == "sara")).one() is None
