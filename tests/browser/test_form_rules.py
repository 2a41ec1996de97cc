"""A task form's cross-field rule in Chromium: the rule is shown as help beside the field, the date input gets the
other field's value as its bound (form-rules.js), and the server refuses a finish before the start beside the field
even when the browser's own check is bypassed."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import labelled
from tests.conftest import START
from tests.driver import Driver


@pytest.fixture(autouse=True)
def _sqlite_only(settings):
    if not settings.database_url.startswith("sqlite:///"):
        pytest.skip("the browser tests run rf serve on SQLite")


def test_planned_finish_is_bounded_by_the_planned_start_in_the_browser_and_on_the_server(services, clock, staff):
    number = Driver(services, clock).new("enhancement", provider_group="apps")
    task = Driver(services, clock).open_task(number, "draw_up_work_plan")
    pete = staff("pete")
    pete.goto(f"/tasks/{task.task_uuid}")
    start, early, late = (START.date() + timedelta(days=n) for n in (10, 3, 12))
    finish = labelled(pete, "Planned finish")
    expect(pete.locator(".field").filter(has=finish)).to_contain_text("Must be on or after the planned start.")
    labelled(pete, "Work plan").fill("1. Build\n2. Test")
    labelled(pete, "Estimated effort (hours)").fill("16")
    labelled(pete, "Planned start").fill(start.isoformat())
    expect(finish).to_have_attribute("min", start.isoformat())
    finish.fill(early.isoformat())
    assert finish.evaluate("input => input.validity.rangeUnderflow") is True  # the browser's own check

    pete.evaluate("() => document.querySelectorAll('form').forEach(f => { f.noValidate = true; })")
    pete.get_by_role("button", name=re.compile(r"^Complete ")).click()
    expect(finish).to_have_attribute("aria-invalid", "true")
    expect(pete.locator(".field").filter(has=finish).locator(".error")).to_have_text(
        "Must be on or after the planned start.")
    expect(finish).to_have_value(early.isoformat())

    finish.fill(late.isoformat())
    pete.get_by_role("button", name=re.compile(r"^Complete ")).click()
    expect(pete.get_by_role("status")).to_contain_text("completed")
