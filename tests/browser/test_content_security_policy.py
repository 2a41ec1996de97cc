"""The Content-Security-Policy every response carries does not break the bpmn-js pages (request, process version,
modeler) in Chromium, and its frame-ancestors 'none' keeps the site out of other sites' frames."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.driver import Driver

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

WATCH_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile || ""}:${e.lineNumber}`);
});
"""


def watched(page: Page) -> list[str]:
    """Console messages and page errors about the policy (the in-page listener covers the rest)."""
    page.context.add_init_script(WATCH_VIOLATIONS)
    messages: list[str] = []
    page.on("console", lambda m: messages.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda err: messages.append(f"page error: {err}"))
    return messages


def violations(page: Page, messages: list[str]) -> list[str]:
    return [*page.evaluate("window.__cspViolations || []"), *messages]


def test_the_request_version_and_modeler_pages_draw_their_diagrams_under_the_policy(services, clock, staff):
    number = Driver(services, clock).new("assistance")
    olive = staff("olive")
    messages = watched(olive)

    olive.goto(f"/requests/{number}")
    expect(olive.locator(".djs-container").first).to_be_visible()
    expect(olive.locator(".djs-container svg .djs-element").first).to_be_attached()
    assert violations(olive, messages) == [], "request page"

    olive.goto("/processes/request_fulfillment/versions/1")
    expect(olive.locator(".rf-diagrams .djs-container").first).to_be_visible()
    expect(olive.locator(".rf-diagrams .djs-container svg .djs-element").first).to_be_attached()
    assert violations(olive, messages) == [], "process version page"

    olive.goto("/processes/request_fulfillment/versions/1/edit")
    expect(olive.locator(".modeler-canvas[data-ready=true]").first).to_be_visible()
    expect(olive.locator(".djs-palette").first).to_be_visible()
    olive.locator(".djs-palette .entry").first.hover()  # the palette and its styles work
    assert violations(olive, messages) == [], "modeler page"

    response = olive.request.get("/inbox")
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


def test_another_site_cannot_show_the_application_in_a_frame(staff, live_server):
    page = staff("maria")
    other = page.context.new_page()
    other.set_content(f'<iframe id="framed" src="{live_server.url}/login" width="600" height="400"></iframe>')
    other.wait_for_timeout(1500)  # (a refused frame fires no event to wait for)
    framed = [frame for frame in other.frames if frame != other.main_frame]
    assert framed and all(frame.locator("#username").count() == 0 for frame in framed)
