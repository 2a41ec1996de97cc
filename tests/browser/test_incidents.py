"""Repairing an incident in Chromium against the real `rf serve`: the manager finds the stopped request in her
Incidents list, sees what failed and the data the step read, corrects the planned finish and the request goes on."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import labelled, reload_until, screenshot
from tests.conftest import day
from tests.e2e.test_incidents import stopped_at_the_work_list

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # see test_staff_journeys


@pytest.fixture
def incident(services, clock) -> tuple[str, int]:
    _, number, job = stopped_at_the_work_list(services, clock)
    return number, job


def test_a_manager_corrects_the_data_of_a_failed_step_and_the_request_goes_on(incident, staff):
    number, job = incident
    maria = staff("maria")
    maria.get_by_role("navigation", name="Main").get_by_role("link", name="Incidents").click()
    expect(maria.get_by_role("heading", level=1, name="Incidents")).to_be_visible()
    maria.get_by_role("link", name=number).click()
    expect(maria.get_by_role("heading", level=1)).to_contain_text("failed on")
    expect(maria.get_by_role("note")).to_contain_text("InvalidParams")
    expect(labelled(maria, "Planned finish")).to_have_value(day(-5))
    screenshot(maria, "incident.png")

    labelled(maria, "Planned finish").fill(day(17))
    maria.get_by_role("button", name="Save and retry").click()
    expect(maria.get_by_role("status")).to_contain_text("Data corrected (")
    expect(maria.get_by_role("main")).not_to_contain_text(number)

    maria.goto(f"/requests/{number}")
    reload_until(maria, lambda: maria.get_by_role("main").get_by_text(re.compile("Fulfil enhancement request")))
    expect(maria.get_by_role("main")).not_to_contain_text("repair it")
