"""Issue 15: the pages work on a phone. At 390 px wide every header link is on screen, no page is wider than the
screen (a wide table scrolls inside itself), and a request number never wraps in the middle."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import LiveServer
from tests.driver import Driver

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

PHONE = {"width": 390, "height": 844}

WIDER_THAN_THE_SCREEN = "() => document.documentElement.scrollWidth"
WIDEST = """() => [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > innerWidth + 1 && !e.closest('main table'))
  .slice(0, 5).map(e => `${e.tagName}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`)"""
OFF_SCREEN_LINKS = """() => [...document.querySelectorAll('.topbar a, .topbar button')]
  .filter(a => { const r = a.getBoundingClientRect(); return r.left < 0 || r.right > window.innerWidth + 1
                 || getComputedStyle(a).visibility === 'hidden'; })
  .map(a => a.textContent.trim())"""
WRAPPED_NUMBERS = """() => [...document.querySelectorAll('a')]
  .filter(a => /^RF-\\d+$/.test(a.textContent.trim()) && a.getClientRects().length > 1)
  .map(a => a.textContent.trim())"""


def signed_in(browser: Browser, server: LiveServer, username: str) -> Page:
    context = browser.new_context(base_url=server.url, viewport=PHONE, locale="en-US", timezone_id="UTC")
    page = context.new_page()
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("demo")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("status")).to_contain_text("Signed in as")
    return page


def test_every_page_fits_a_phone_and_keeps_its_header_links_on_screen(services, clock, browser, live_server):
    drive = Driver(services, clock)
    number = drive.new("assistance", title="Wi-Fi drops in the reading room of the second floor annex")
    drive.work()
    drive.complete(number, "assign_specialist", "maria", {"specialist": "sam", "assignment_note": "VPN team"})
    task = drive.open_task(number, "fulfil_assistance_request")
    for username, paths in {
        "maria": ["/inbox?queue=groups", "/team", "/requests", f"/requests/{number}", "/", "/schedule", "/reports",
                  "/crm/queue"],
        "sam": [f"/tasks/{task.task_uuid}", "/inbox", "/notifications"],
        "adam": ["/admin/users", "/admin/email-templates", "/admin/email-templates/customer_fulfilled"],
    }.items():
        page = signed_in(browser, live_server, username)
        for path in paths:
            page.goto(path)
            page.wait_for_load_state("networkidle")
            assert page.evaluate(WIDER_THAN_THE_SCREEN) <= PHONE["width"], (
                f"{username} {path} is wider than a phone: {page.evaluate(WIDEST)}")
            assert page.evaluate(OFF_SCREEN_LINKS) == [], f"{username} {path}: header links off screen"
            assert page.evaluate(WRAPPED_NUMBERS) == [], f"{username} {path}: a request number wraps"
        page.context.close()
