"""What-if on the deploy page in Chromium against the real `rf serve`: an owner chooses how many finished requests to
replay, checks a changed bundle and reads per request its outcome and recorded times; a number out of range is
refused with its reason."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.driver import Driver
from tests.integration.test_what_if import bundle, two_finished

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def test_an_owner_replays_the_last_finished_requests_with_their_times(services, clock, staff, tmp_path):
    _, looped = two_finished(Driver(services, clock), clock)
    paths = []
    for name, data in bundle('resolution_code == "never"').items():
        (tmp_path / name).write_bytes(data)
        paths.append(tmp_path / name)

    olive = staff("olive")
    olive.goto("/processes/deploy")
    olive.get_by_label("BPMN, DMN and form files").set_input_files(paths)
    replay = olive.get_by_label("What if: finished requests to replay")
    expect(replay).to_have_value("20")
    replay.fill("2")
    olive.get_by_role("button", name="Check").click()
    expect(olive.get_by_role("heading", name="What if it were deployed")).to_be_visible()
    expect(olive.locator("main")).to_contain_text("1 same path, 1 another path, 0 fail, 0 would wait")
    row = olive.locator("table.what-if tr", has=olive.get_by_role("link", name=looped))
    expect(row.locator('[data-col="took"]')).to_have_text("6.00")
    expect(row.locator('[data-col="kept"]')).to_have_text("2.00")
    expect(row.locator('[data-col="dropped"]')).to_have_text("4.00")
    expect(olive.get_by_label("What if: finished requests to replay")).to_have_value("2")
    screenshot(olive, "deploy_what_if.png")

    olive.get_by_label("BPMN, DMN and form files").set_input_files(paths)
    olive.get_by_label("What if: finished requests to replay").evaluate("e => e.removeAttribute('max')")
    olive.get_by_label("What if: finished requests to replay").fill("500")
    olive.get_by_role("button", name="Check").click()
    expect(olive.get_by_role("alert")).to_contain_text("Refused")
    expect(olive.locator("table.findings")).to_contain_text("must be a whole number from 1 to 200, not '500'")
