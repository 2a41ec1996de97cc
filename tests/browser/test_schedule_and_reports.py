"""A manager opens the 60 day schedule and the fulfilment report in Chromium against the real `rf serve`, and the
numbers on screen (and in the CSV download) are those of the requests the test created.

The requests of tests/reports_scenario.py are driven through the services with the clock set to a recent Tuesday
before the server starts; the clock is then set back to the tests' start, where the server's clock begins (so the
requests are in its past); E4's work plan covers the second week of the schedule as the server sees it.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from app.domain.business_calendar import CHICAGO
from app.domain.measures import NO_PLAN_LIMIT_DAYS, business_days
from app.services.requests import sla_targets as sla
from tests import reports_scenario
from tests.browser.conftest import screenshot
from tests.conftest import START

# One `rf serve` per test: SQLite only, like the other browser tests (the same pages run on both backends in e2e).
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def scenario(services, clock) -> reports_scenario.Scenario:
    today = START.astimezone(CHICAGO).date()
    t0 = reports_scenario.recent_tuesday(services, today - timedelta(days=2))
    built = reports_scenario.build(services, clock, t0, today + timedelta(days=7))
    clock.set(START)  # the live server's clock starts here
    return built


def cells(page: Page, table: str, first: str) -> list[str]:
    """The text of each cell in the row of `table` (by its data-table or class) whose first cell is `first`."""
    row = page.locator(f"table{table} tr").filter(has=page.locator("th", has_text=re.compile(rf"^{re.escape(first)}$")))
    expect(row).to_have_count(1)
    return [c.strip() for c in row.locator("th, td").all_inner_texts()]


def waited_business_days(services, since: datetime) -> float:
    with services.uow() as uow:
        calendar = sla.load_calendar(uow.session)
    return business_days(calendar, since, START)


def test_a_manager_sees_the_schedule_and_the_fulfilment_report_of_the_requests_created(scenario, staff, services,
                                                                                         tmp_path):
    n = scenario.numbers
    maria = staff("maria")  # the requests exist before the server starts (the fixture order above)
    nav = maria.get_by_role("navigation", name="Main")

    nav.get_by_role("link", name="60 day schedule").click()
    expect(maria.get_by_role("heading", level=1, name="60 day schedule")).to_be_visible()
    expect(maria.get_by_test_id("open-enhancements")).to_have_text("3")  # E2, E3, E4
    # E3 (its planned finish has passed), and E2 once it has waited five business days for a work plan
    e2_flagged = waited_business_days(services, scenario.t0) >= NO_PLAN_LIMIT_DAYS
    expect(maria.get_by_test_id("will-miss")).to_have_text("2" if e2_flagged else "1")
    late = maria.locator(f'tr[data-request="{n["E3"]}"]')
    expect(late).to_contain_text("will miss the plan")
    expect(late).to_contain_text("late")
    expect(maria.locator(f'tr[data-request="{n["E1"]}"]')).to_contain_text("on time")
    expect(maria.locator(f'tr[data-request="{n["E2"]}"]')).to_contain_text("no plan")
    expect(maria.locator(f'tr[data-request="{n["E4"]}"]')).to_contain_text("on track")
    week = scenario.plan_from
    label = f"{week:%b %d} – {week + timedelta(days=6):%b %d}"
    # columns: week, apps requests, apps business days, network requests, network business days
    assert cells(maria, ".load", label) == [label, "0", "0.0", "1", "5.0"]  # E4: 45 hours planned that week
    expect(maria.locator("figure svg.chart title").first).to_have_text("Planned work per week")
    screenshot(maria, "schedule.png")

    nav.get_by_role("link", name="Reports").click()
    expect(maria.get_by_role("heading", level=1, name="Reports")).to_be_visible()
    maria.get_by_role("link", name="Fulfilment", exact=True).click()
    expect(maria.get_by_role("heading", level=1, name="Fulfilment")).to_be_visible()
    by_group = '[data-table="by_group"]'
    assert cells(maria, by_group, "network") == ["network", "2", "0.7", "1.0", "1", "50.0%", "0", "—"]
    assert cells(maria, by_group, "apps") == ["apps", "1", "2.0", "2.0", "1", "100.0%", "1", "100.0%"]
    assert cells(maria, by_group, "All") == ["All", "3", "1.1", "2.0", "2", "66.7%", "1", "100.0%"]
    assert cells(maria, '[data-table="by_agency"]', reports_scenario.HEALTH)[1:4] == ["1", "2.0", "2.0"]
    expect(maria.get_by_text("How this is measured")).to_be_visible()
    screenshot(maria, "reports.png")

    with maria.expect_download() as download:
        maria.get_by_role("link", name="Download CSV").click()
    assert re.fullmatch(r"fulfilment_\d{4}-\d\d-\d\d_\d{4}-\d\d-\d\d\.csv", download.value.suggested_filename)
    saved = tmp_path / "fulfilment.csv"
    download.value.save_as(saved)
    lines = saved.read_text().splitlines()
    assert "by_group,network,2,0.7,1.0,1,50.0,0," in lines and "by_group,All,3,1.1,2.0,2,66.7,1,100.0" in lines
