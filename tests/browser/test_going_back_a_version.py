"""Going back a version in Chromium against the real `rf serve`: uploading an older version's files offers to make
that version current, one click does, and the versions page then marks it current."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from app.services.definitions import deploy as definitions
from tests.browser.conftest import screenshot
from tests.driver import Driver
from tests.instance_states import bundled, with_renamed_tasks

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def test_uploading_an_older_versions_files_offers_to_make_it_current_and_one_click_does(services, clock, staff,
                                                                                        tmp_path):
    definitions.deploy(services, with_renamed_tasks(bundled()), "olive")
    for name, data in bundled().items():
        (tmp_path / name).write_bytes(data)
    olive = staff("olive")
    olive.goto("/processes/deploy")
    olive.get_by_label("BPMN, DMN and form files").set_input_files(sorted(tmp_path.glob("*.bpmn")))
    olive.get_by_role("button", name="Deploy", exact=True).click()
    expect(olive.locator(".flash.warn")).to_contain_text("Identical to version 1; nothing deployed")
    offer = olive.get_by_role("region", name="Start new requests on version 1 again?")
    expect(offer).to_be_visible()
    screenshot(olive, "make_version_current_offer.png")
    offer.get_by_role("button", name="Make version 1 current").click()
    expect(olive.locator(".flash.ok")).to_contain_text("Version 1 of request_fulfillment is now current")
    expect(olive.locator('tr[data-version="1"]')).to_contain_text("current")
    drive = Driver(services, clock)
    assert drive.show(drive.new("assistance"))["definition"]["version"] == 1
