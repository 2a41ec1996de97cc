"""In Chromium: the bell counts what is new and the notifications page marks it read; the email template page shows
its preview (subject, text, and the HTML in a sandboxed frame, the sample's markup shown as text) under the policy."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.browser.test_content_security_policy import violations, watched
from tests.driver import Driver

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def test_the_bell_leads_to_the_notifications_and_they_are_marked_read(services, clock, staff):
    drive = Driver(services, clock)
    number = drive.new("assistance", title="Badge reader offline at the north entrance")
    drive.work()
    drive.complete(number, "assign_specialist", "maria", {"specialist": "sam"})
    sam = staff("sam")
    bell = sam.get_by_role("link", name="Notifications: 1 unread")
    expect(bell).to_be_visible()
    bell.click()
    expect(sam.get_by_role("heading", name="Notifications")).to_be_visible()
    expect(sam.locator("ul.notices li.unread")).to_contain_text("Assigned to you: Fulfil")
    expect(sam.locator("ul.notices li.unread")).to_contain_text(number)
    screenshot(sam, "notifications.png")
    sam.get_by_role("button", name="Mark read").click()
    expect(sam.locator("ul.notices li.read")).to_have_count(1)
    expect(sam.get_by_role("link", name="Notifications: 0 unread")).to_be_visible()


def test_the_template_preview_draws_the_html_in_a_sandboxed_frame_under_the_policy(staff):
    adam = staff("adam")
    messages = watched(adam)
    adam.goto("/admin/email-templates")
    adam.get_by_role("link", name="Customer: assistance request fulfilled").click()
    frame = adam.frame_locator("#preview-html")
    expect(frame.get_by_text("Dear Ann Example,")).to_be_visible()
    expect(frame.locator("body")).to_contain_text("<offline> & jammed")  # the sample's markup, shown as text
    adam.get_by_label("Subject").fill("Resolved: {{ case_number }} {{ title }}")
    adam.get_by_role("button", name="Preview").click()
    expect(adam.locator("#preview-subject")).to_have_text("Resolved: CS-10023 Printer on floor 3 <offline> & jammed")
    expect(adam.frame_locator("#preview-html").get_by_text("Dear Ann Example,")).to_be_visible()
    screenshot(adam, "email-template.png")
    assert violations(adam, messages) == []
