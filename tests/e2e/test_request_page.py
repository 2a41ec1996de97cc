"""The request page: where the request is (diagrams with completed/active elements), its path as text, its audit
timeline; the diagrams' JSON API; the bpmn-js files served from node_modules. Through the Flask test client, plus
one check in Chromium that the viewer draws the markers."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from app.config import PROJECT_ROOT
from tests.driver import Driver
from tests.web import WebUser

if TYPE_CHECKING:
    from playwright.sync_api import Page

WORK_PLAN = {"work_plan": "Add the new report to the agency portal", "estimated_hours": 16,
             "planned_start": "2026-12-02", "planned_finish": "2026-12-18"}
FULFILMENT = {"fulfilment_notes": "Report built and deployed to staging", "hours_spent": 6}
DIST = PROJECT_ROOT / "node_modules" / "bpmn-js" / "dist"
needs_bpmn_js = pytest.mark.skipif(not (DIST / "bpmn-navigated-viewer.production.min.js").exists(),
                                   reason="bpmn-js is not installed (make install runs npm ci)")


@pytest.fixture
def drive(services, clock) -> Driver:
    return Driver(services, clock)


def assistance_at_fulfil(drive: Driver) -> str:
    number = drive.new("assistance")
    drive.work()  # takes the CRM case
    drive.complete(number, "assign_specialist", "maria", {"specialist": "sam", "assignment_note": "VPN team"})
    assert drive.open_bpmn_ids(number) == ["fulfil_assistance_request"]
    return number


def by_file(diagrams: list[dict]) -> dict[str, dict]:
    return {d["file"]: d for d in diagrams}


def test_request_page_shows_where_it_is_the_path_as_text_and_the_timeline(services, drive):
    number = assistance_at_fulfil(drive)
    task = drive.open_task(number, "fulfil_assistance_request")
    page = WebUser(services, "maria").get(f"/requests/{number}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    # header, the diagram's mount point and its assets (served from node_modules, never a CDN)
    assert f"{number} · VPN access for the field office" in html and ">high priority<" in html
    assert "Where it is" in html and 'id="process-diagram"' in html
    assert f'data-src="/api/requests/{number}/diagrams"' in html
    for asset in ("/vendor/bpmn-js/assets/diagram-js.css", "/vendor/bpmn-js/assets/bpmn-js.css",
                  "/vendor/bpmn-js/assets/bpmn-font/css/bpmn.css",
                  "/vendor/bpmn-js/bpmn-navigated-viewer.production.min.js", "/static/request.js",
                  "/static/request.css"):
        assert asset in html, asset
    assert "cdn" not in html.lower() and "unpkg" not in html.lower()
    # open task with who holds it, linked to the task page
    assert f'href="/tasks/{task.task_uuid}"' in html and "Held by <strong>sam</strong>" in html
    # the path as text, in order, with element names and ids
    path = html[html.index("Path taken"):html.index('id="records-title"')]
    steps = ["request_received", "request_type_gateway", "assistance_started", "take_crm_case", "assign_specialist"]
    positions = [path.index(f"<code>{step}</code>") for step in steps]
    assert positions == sorted(positions)
    assert "Take case from CRM Pending Queue <code>take_crm_case</code>" in path
    # the audit timeline in plain words
    timeline = html[html.index('id="timeline"'):]
    for words in ("Request started", "Service task ran", "Task ready", "Task completed",
                  "“Assign to a specialist” completed: specialist: sam; assignment_note: VPN team",
                  "“Take case from CRM Pending Queue” ran (crm.take_case)",
                  "“Fulfil assistance request” is waiting for the Specialist, assigned to sam"):
        assert words in timeline, words
    assert timeline.index("Request started") < timeline.index("Service task ran") < timeline.index("Task completed")
    # everything the page showed before is still there
    for kept in ("Open tasks", "Records", "CRM case", "Data", "VPN team", "provider group network", "SLA due"):
        assert kept in html, kept


def test_diagrams_of_an_assistance_request_at_the_fulfil_step(services, drive):
    number = assistance_at_fulfil(drive)
    response = WebUser(services, "maria").get(f"/api/requests/{number}/diagrams")
    assert response.status_code == 200
    diagrams = response.get_json()
    assert [d["file"] for d in diagrams] == ["assistance_request.bpmn", "request_fulfillment.bpmn",
                                             "discovery.bpmn", "enhancement_request.bpmn"]
    files = by_file(diagrams)
    assistance, top = files["assistance_request.bpmn"], files["request_fulfillment.bpmn"]
    assert assistance["xml"].startswith("<?xml") and 'id="fulfil_assistance_request"' in assistance["xml"]
    assert (assistance["process_id"], top["process_id"]) == ("assistance_request", "request_fulfillment")
    assert top["main"] and not assistance["main"]

    assert assistance["completed"] == {"assistance_started": 1, "take_crm_case": 1, "assign_specialist": 1,
                                       "assistance_work_merge": 1}
    assert assistance["active"] == ["fulfil_assistance_request"]
    assert assistance["active_kinds"] == {"fulfil_assistance_request": "user_task"}
    assert "held by sam" in assistance["notes"]["fulfil_assistance_request"]

    assert top["completed"] == {"request_received": 1, "request_type_gateway": 1}
    assert top["active_kinds"] == {"fulfil_assistance": "call_activity"}
    assert top["calls"]["fulfil_assistance"] == "assistance_request"

    for untouched in ("discovery.bpmn", "enhancement_request.bpmn"):
        assert not files[untouched]["touched"] and files[untouched]["completed"] == {}
        assert files[untouched]["active"] == [] and "<bpmn:definitions" in files[untouched]["xml"]


def test_diagrams_of_an_enhancement_after_a_failed_test_count_the_loop(services, drive):
    number = drive.new("enhancement")
    drive.complete(number, "draw_up_work_plan", "pete", WORK_PLAN)
    drive.work()
    drive.complete(number, "fulfil_enhancement_request", "pete", FULFILMENT)
    drive.complete(number, "test_solution", "pete", {"test_result": "fail", "test_notes": "Totals are wrong"})
    web = WebUser(services, "maria")

    enhancement = by_file(web.get(f"/api/requests/{number}/diagrams").get_json())["enhancement_request.bpmn"]
    assert enhancement["active"] == ["fulfil_enhancement_request"]  # sent back
    assert enhancement["completed"]["fulfilment_merge"] == 2 and enhancement["completed"]["test_solution"] == 1
    assert enhancement["completed"]["fulfil_enhancement_request"] == 1

    drive.complete(number, "fulfil_enhancement_request", "pete", {**FULFILMENT, "fulfilment_notes": "Fixed totals"})
    diagrams = web.get(f"/api/requests/{number}/diagrams").get_json()
    assert diagrams[0]["file"] == "enhancement_request.bpmn"
    enhancement = diagrams[0]
    assert enhancement["completed"] == {
        "enhancement_started": 1, "draw_up_work_plan": 1, "update_work_list": 1, "fulfilment_merge": 2,
        "fulfil_enhancement_request": 2, "test_solution": 1, "testing_outcome_gateway": 1}
    assert enhancement["active"] == ["test_solution"]
    assert "determine_chargeability" not in enhancement["completed"]
    top = by_file(diagrams)["request_fulfillment.bpmn"]
    assert top["completed"] == {"request_received": 1, "request_type_gateway": 1, "routine_gateway": 1,
                                "scheduling_merge": 1}
    assert top["active_kinds"] == {"fulfil_enhancement": "call_activity"}
    assert not by_file(diagrams)["assistance_request.bpmn"]["touched"]

    html = web.get(f"/requests/{number}").get_data(as_text=True)
    path = html[html.index("Path taken"):html.index('id="records-title"')]
    assert path.count("<code>fulfil_enhancement_request</code>") == 2
    assert "“Test the solution” completed: test_result: fail; test_notes: Totals are wrong" in html


def test_an_incident_and_a_waiting_timer_are_active(services, drive, clock):
    def crm_down(params, ctx):
        raise ConnectionError("CRM endpoint timed out")

    services.handlers["crm.take_case"] = crm_down
    number = drive.new("assistance")
    for _ in range(services.settings.service_max_attempts):
        drive.work()
        clock.advance(timedelta(minutes=5))
    web = WebUser(services, "maria")
    assistance = by_file(web.get(f"/api/requests/{number}/diagrams").get_json())["assistance_request.bpmn"]
    assert assistance["active_kinds"] == {"take_crm_case": "incident"}
    assert "CRM endpoint timed out" in assistance["notes"]["take_crm_case"]
    html = web.get(f"/requests/{number}").get_data(as_text=True)
    assert ">incident</span>" in html and "Incident raised" in html and "Service task failed" in html
    assert "CRM endpoint timed out" in html

    # a chargeable enhancement waiting for its service to go live: the intermediate timer is active
    live = drive.new("enhancement")
    drive.complete(live, "draw_up_work_plan", "pete", WORK_PLAN)
    drive.work()
    drive.complete(live, "fulfil_enhancement_request", "pete", FULFILMENT)
    drive.complete(live, "test_solution", "pete", {"test_result": "pass", "test_notes": "ok"})
    drive.complete(live, "determine_chargeability", "pete",
                   {"chargeable": True, "billable_hours": 2, "hourly_rate": 85, "billing_code": "PS-628"})
    drive.work()
    live_date = (clock.now() + timedelta(days=9)).date().isoformat()
    drive.complete(live, "initiate_billing", "carla", {"billing_notes": "Bill Q1", "service_live_date": live_date})
    drive.work()
    diagrams = web.get(f"/api/requests/{live}/diagrams").get_json()
    assert diagrams[0]["file"] == "enhancement_request.bpmn"
    assert diagrams[0]["active_kinds"] == {"wait_until_service_live": "timer"}
    assert diagrams[0]["completed"]["initiate_billing"] == 1


def test_a_closed_request_has_nothing_active_and_a_withdrawn_sla_timer_is_not_completed(services, drive):
    number = assistance_at_fulfil(drive)
    drive.complete(number, "fulfil_assistance_request", "sam",
                   {"resolution_notes": "Created the VPN profile", "resolution_code": "resolved",
                    "time_spent_hours": 1.5})
    drive.work()
    web = WebUser(services, "maria")
    diagrams = web.get(f"/api/requests/{number}/diagrams").get_json()
    assert [d["file"] for d in diagrams][:2] == ["request_fulfillment.bpmn", "assistance_request.bpmn"]
    assert all(d["active"] == [] for d in diagrams)
    top = diagrams[0]
    assert top["completed"] == {"request_received": 1, "request_type_gateway": 1, "fulfil_assistance": 1,
                                "assistance_request_closed": 1}
    html = web.get(f"/requests/{number}").get_data(as_text=True)
    assert "Request closed" in html and "“SLA target passed” fired" not in html


def test_the_vendor_route_serves_bpmn_js_from_node_modules_and_nothing_else(services):
    web = WebUser(services, "maria")
    if DIST.is_dir():
        viewer = web.get("/vendor/bpmn-js/bpmn-navigated-viewer.production.min.js")
        assert viewer.status_code == 200 and b"BpmnJS" in viewer.data
        assert "javascript" in viewer.headers["Content-Type"]
        for css in ("assets/diagram-js.css", "assets/bpmn-js.css", "assets/bpmn-font/css/bpmn.css"):
            response = web.get(f"/vendor/bpmn-js/{css}")
            assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/css"), css
    for sneaky in ("../package.json", "../../bpmn-js/package.json", "assets/../../package.json",
                   "..%2Fpackage.json", "%2e%2e/%2e%2e/package.json", "..\\package.json", "/etc/passwd",
                   "%2Fetc%2Fpasswd", "no-such-file.js", "../../../../pyproject.toml"):
        # (a doubled slash is first redirected to the single-slash path, inside dist/, which is then a 404)
        response = web.client.get(f"/vendor/bpmn-js/{sneaky}", follow_redirects=True)
        assert response.status_code == 404, (sneaky, response.status_code)
        assert b'"name": "bpmn-js"' not in response.data and b"[project]" not in response.data


def test_anonymous_visitors_are_sent_to_sign_in(services, drive):
    number = drive.new("assistance")
    anonymous = WebUser(services, None)
    page = anonymous.get(f"/requests/{number}")
    assert page.status_code == 302 and page.headers["Location"].startswith("/login")
    api = anonymous.get(f"/api/requests/{number}/diagrams")
    assert api.status_code == 401 and api.get_json()["status"] == 401
    vendor = anonymous.get("/vendor/bpmn-js/bpmn-navigated-viewer.production.min.js")
    assert vendor.status_code == 302 and vendor.headers["Location"].startswith("/login")


def test_unknown_request_diagrams_are_a_json_404(services):
    response = WebUser(services, "sam").get("/api/requests/RF-424242/diagrams")
    assert response.status_code == 404 and response.get_json()["detail"] == "no request RF-424242"


# ---------------------------------------------------------------------------------------------------------------
# In Chromium: the viewer draws the diagram with its markers (SQLite only, like tests/browser)
# ---------------------------------------------------------------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")



def in_own_thread(check: Callable[[], None]) -> None:
    """Run a Playwright (sync API) check in a thread of its own: when tests/browser ran first in this session, its
    session-wide Playwright keeps an asyncio loop running in the main thread, and the sync API refuses to start
    inside a running loop."""
    failures: list[BaseException] = []

    def run() -> None:
        try:
            check()
        except BaseException as err:  # noqa: BLE001 - handed back to the test's thread
            failures.append(err)

    thread = threading.Thread(target=run, name="playwright-check")
    thread.start()
    thread.join(timeout=120)
    assert not thread.is_alive(), "the browser check did not finish within 120 s"
    if failures:
        raise failures[0]


@contextmanager
def signed_in_page(base_url: str, username: str) -> Iterator[tuple[Page, list[str]]]:
    """A Chromium page signed in as `username` through the login form, and the page errors it raises."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
            "--disable-component-update"])
        try:
            page = browser.new_page(base_url=base_url, viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda err: errors.append(str(err)))
            page.goto("/login")
            page.get_by_label("Username").fill(username)
            page.get_by_label("Password").fill("demo")
            page.get_by_role("button", name="Sign in").click()
            yield page, errors
        finally:
            browser.close()


@needs_bpmn_js
@pytest.mark.skipif(not CHROMIUM.exists(), reason="no Chromium at /usr/bin/chromium (make browser installs it)")
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_viewer_draws_completed_active_and_loop_markers(services, drive, served):
    number = drive.new("enhancement")
    drive.complete(number, "draw_up_work_plan", "pete", WORK_PLAN)
    drive.work()
    drive.complete(number, "fulfil_enhancement_request", "pete", FULFILMENT)
    drive.complete(number, "test_solution", "pete", {"test_result": "fail", "test_notes": "Totals are wrong"})
    drive.complete(number, "fulfil_enhancement_request", "pete", FULFILMENT)
    in_own_thread(lambda: check_markers_in_chromium(served, number))


def check_markers_in_chromium(base_url: str, number: str) -> None:
    from playwright.sync_api import expect

    with signed_in_page(base_url, "maria") as (page, errors):
        page.goto(f"/requests/{number}")
        tabs = page.get_by_role("tab")
        expect(tabs.first).to_contain_text("Enhancement Request")
        expect(tabs.first).to_have_attribute("aria-selected", "true")
        expect(tabs).to_have_count(4)
        expect(page.locator('.djs-element.rf-active[data-element-id="test_solution"]')).to_have_count(1)
        for done in ("draw_up_work_plan", "update_work_list", "fulfil_enhancement_request", "test_solution"):
            expect(page.locator(f'.djs-element.rf-done[data-element-id="{done}"]')).to_have_count(1)
        expect(page.locator('.djs-element.rf-done[data-element-id="determine_chargeability"]')).to_have_count(0)
        expect(page.locator(".djs-overlay .rf-count")).to_have_text(["×2", "×2"])
        # too wide to read whole in 1280 px: drawn at a readable scale (labels ~10 px or more) around the active task
        panel = page.locator("[role=tabpanel]:not([hidden])")
        assert panel.evaluate("(p) => p.querySelector('.djs-container svg .viewport').getCTM().a") >= 0.84
        expect(page.locator('.djs-element[data-element-id="test_solution"]')).to_be_in_viewport()
        # the top-level diagram: its call activity is active; clicking it opens the called diagram again
        tabs.nth(1).click()
        call = page.locator('.djs-element.rf-active[data-element-id="fulfil_enhancement"]')
        expect(call).to_have_count(1)
        call.click()
        expect(tabs.first).to_have_attribute("aria-selected", "true")
        assert errors == []
