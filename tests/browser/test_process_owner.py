"""A process owner in Chromium against the real `rf serve`: deploys a changed diagram, sees the version list update,
migrates an eligible running instance to the new version and sees a non-eligible one refused with its reason.

Selectors use roles, labels and visible text, plus the `data-version` / `data-request` row markers of the tables.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.driver import Driver
from tests.integration.test_migration import NEW_NAME, changed_bundle, two_requests

# One `rf serve` per test; SQLite only, like the staff journeys (both backends run the same flow in tests/e2e).
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def on_version_1(services, clock) -> tuple[str, str]:
    """Before the server starts: one request waiting at the unchanged assignment, one already at the task that the
    new diagram renames (so it has reached a changed element)."""
    return two_requests(Driver(services, clock))


def test_a_process_owner_deploys_a_changed_diagram_and_migrates_the_eligible_instance(
        on_version_1, staff, tmp_path: Path):
    waiting, started = on_version_1
    bundle = tmp_path / "bpmn_v2"
    changed_bundle(bundle)
    olive = staff("olive")

    olive.goto("/processes/request_fulfillment")
    expect(olive.locator("tr[data-version]")).to_have_count(1)

    olive.goto("/processes/deploy")
    olive.get_by_label("BPMN, DMN and form files").set_input_files(sorted(bundle.glob("*.bpmn")))
    olive.get_by_role("button", name="Deploy").click()
    expect(olive.get_by_role("status").first).to_contain_text("Deployed request_fulfillment version 2")
    expect(olive).to_have_url(re.compile(r"/processes/request_fulfillment$"))
    versions = olive.locator("tr[data-version]")
    expect(versions).to_have_count(2)
    expect(versions.first).to_have_attribute("data-version", "2")

    olive.locator('tr[data-version="1"]').get_by_role("link", name="Migrate instances…").click()
    expect(olive.get_by_role("heading", level=1)).to_have_text(
        "Migrate running instances of request_fulfillment version 1")
    expect(olive.get_by_label("Target version")).to_have_value("2")
    eligible, refused = olive.locator(f'tr[data-request="{waiting}"]'), olive.locator(f'tr[data-request="{started}"]')
    expect(eligible).to_contain_text("eligible")
    expect(eligible).to_contain_text("Assign to a specialist")
    expect(refused).to_contain_text("not eligible")
    expect(refused).to_contain_text("Fulfil assistance request (fulfil_assistance_request) in assistance_request is "
                                    "ready and was changed in the new version (name)")
    expect(refused.get_by_role("checkbox")).to_have_count(0)
    screenshot(olive, "migrate.png")

    olive.get_by_label(f"Select {waiting}").check()
    olive.get_by_role("button", name="Migrate selected").click()
    expect(olive.get_by_role("status").first).to_have_text("Migrated 1 instance to version 2.")
    expect(olive.locator(f'tr[data-request="{waiting}"]')).to_have_count(0)
    expect(refused).to_contain_text("not eligible")

    olive.goto(f"/requests/{waiting}")
    expect(olive.get_by_text("request_fulfillment v2", exact=True)).to_be_visible()
    olive.goto(f"/requests/{started}")
    expect(olive.get_by_text("request_fulfillment v1", exact=True)).to_be_visible()
    assert NEW_NAME not in olive.content()
