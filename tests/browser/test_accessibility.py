"""Issue 15: no page has an accessibility violation of impact "serious" or "critical" by axe-core's check (the WCAG 2
A/AA rules of 2.0, 2.1 and 2.2, and axe's best practices), for each role that uses the page; a few key pages are also
checked at 390 px wide.

axe-core comes from npm (a devDependency: node_modules/axe-core/axe.min.js). It is evaluated into each page through
Playwright's DevTools channel, which the site's Content-Security-Policy does not govern, so each page is checked
under the same policy as in production (no bypass, no inline script). One `rf serve` for the whole module: the data
the pages show is made through the services before it starts, then each user visits their pages in turn, folded
sections (<details>) opened; every violation found is listed at the end (page, rule, impact, help, the elements'
selectors and what is wrong with each).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from app.config import PROJECT_ROOT
from app.services.admin import webhooks as hooks
from app.services.admin.auth import load_identity
from app.services.reports.catalogue import REPORTS
from app.services.requests import attachments, customer_replies, notes
from tests.browser.conftest import PASSWORD, VIEWPORT, LiveServer
from tests.e2e.test_incidents import stopped_at_the_work_list

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # see test_staff_journeys

AXE = PROJECT_ROOT / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
BLOCKING = {"serious", "critical"}
PHONE = {"width": 390, "height": 844}
HOSTILE = Path(__file__).resolve().parent.parent / "data" / "hostile"
# Third-party widgets whose inner DOM this project does not write, each left out of the check with its reason:
EXCLUDED = [
    # The API reference's body is Swagger UI (swagger-ui-dist from npm), drawn into #swagger-ui by its own script:
    # its method badges' colours and its operation headers (a button holding the copy and lock buttons) are the
    # package's markup and stylesheet. The page's own header and text around it are checked.
    "#swagger-ui",
]
RUN_AXE = """async ({tags, exclude}) => {
  const results = await axe.run({exclude: exclude.map(s => [s])},
                                {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]});
  return results.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n =>
    n.target.join(" ") + " — " + (n.failureSummary || "").split("\\n").slice(1).join(" ").trim())}));
}"""
OPEN_FOLDED = "document.querySelectorAll('main details:not([open])').forEach(d => { d.open = true; })"
DIAGRAM = ".djs-container svg .djs-element"
NOT_FOUND, FORBIDDEN = "/requests/RF-999999", "/admin/users?as=manager"
BAD_REPORT = "/reports/fulfilment?since=the+day+before&until=2026-13-40"  # its filters' errors shown (400)
STATUS = {NOT_FOUND: 404, "/no/such/page": 404, FORBIDDEN: 403, BAD_REPORT: 400}


@dataclass
class Seeded:
    numbers: dict[str, str]
    task: str  # sam's open fulfilment task
    assignment: str  # maria's open assignment task
    incident: int
    webhook: int


@pytest.fixture
def settings(settings):  # the reply tokens' key, so nothing is written to the checkout's instance folder
    return replace(settings, reply_token_secret="accessibility-check-key", inbound_mail_domain="replies.omes.example")


@pytest.fixture
def seeded(services, clock) -> Seeded:
    """Before the server starts: requests at several steps (one stopped by an incident), unfiled mail, a webhook."""
    drive, stopped, job = stopped_at_the_work_list(services, clock)
    assigned = drive.new("assistance", title="Wi-Fi drops in the reading room of the second floor annex",
                         description="It drops every few minutes since Monday.")
    waiting = drive.new("assistance", title="Printer on floor 3 is offline")
    enhancement = drive.new("enhancement", title="Licence renewals in the portal", provider_group="apps")
    drive.work()
    drive.complete(assigned, "assign_specialist", "maria", {"specialist": "sam", "assignment_note": "VPN team"})
    task = drive.open_task(assigned, "fulfil_assistance_request").task_uuid
    assignment = drive.open_task(waiting, "assign_specialist").task_uuid
    sam = load_identity(services, "sam")
    notes.add_note(services, assigned, "Ann confirmed the annex router by phone.", sam)
    attachments.attach(services, assigned, "router-log.txt", b"12:01 link down\n12:03 link up\n", sam)
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "ann@tourism.example", "help@replies.omes.example", "About my VPN"
    mail["Message-ID"] = "<accessibility-1@tourism.example>"
    mail.set_content("Is my request done yet?")
    received = customer_replies.receive(services, mail.as_bytes(), mail["From"], [mail["To"]])
    assert received.status == "unfiled"
    created = hooks.subscribe(services, load_identity(services, "adam"), "https://hooks.example/requests",
                              "Agency dashboard", ["request.created"])
    return Seeded({"assigned": assigned, "waiting": waiting, "enhancement": enhancement, "stopped": stopped}, task,
                  assignment, job, created.subscription.id)


def pages_of(s: Seeded) -> dict[str, list[tuple[str, str | None]]]:
    """Each user's pages at 1280 px: (path, a selector to wait for before the check, once the page has loaded)."""
    n = s.numbers
    return {
        "maria": [("/inbox?queue=mine", None), ("/inbox?queue=available", None), ("/inbox?queue=groups", None),
                  ("/team", None), ("/", None), (f"/requests?q={n['assigned']}", None),
                  ("/requests?q=printer", f'main a[href="/requests/{n["waiting"]}"]'),
                  (f"/requests/{n['assigned']}", DIAGRAM), (f"/requests/{n['enhancement']}", DIAGRAM),
                  (f"/requests/{n['stopped']}", DIAGRAM),
                  (f"/requests/{n['assigned']}/history", None), (f"/tasks/{s.assignment}", None),
                  ("/schedule", None), ("/reports", None), *[(f"/reports/{name}", None) for name in REPORTS],
                  (BAD_REPORT, None), ("/crm/queue", None), ("/requests/new", None), ("/incidents", None),
                  (f"/incidents/{s.incident}", None), ("/mail/unfiled", "text=Is my request done yet?"),
                  ("/notifications", None), (NOT_FOUND, None), ("/no/such/page", None), (FORBIDDEN, None)],
        "sam": [("/inbox", f'main a[href="/tasks/{s.task}"]'), (f"/tasks/{s.task}", None), ("/notifications", None),
                ("/account/preferences", None), ("/account/tokens", None), ("/api/v1/docs", ".swagger-ui")],
        "pete": [("/inbox?queue=available", None), ("/schedule", None)],
        "carla": [("/inbox?queue=available", None), ("/reports/billing", None)],
        "adam": [("/admin/users", None), ("/admin/webhooks", None), (f"/admin/webhooks/{s.webhook}", None),
                 ("/admin/email-templates", None), ("/admin/email-templates/customer_fulfilled", "#preview-html"),
                 ("/admin/calendar", None), ("/admin/outbox", None)],
        "olive": [("/processes", None), ("/processes/request_fulfillment", None),
                  ("/processes/request_fulfillment/versions/1", ".rf-diagrams " + DIAGRAM),
                  ("/processes/request_fulfillment/versions/1/insights", ".rf-diagrams " + DIAGRAM),
                  ("/processes/request_fulfillment/versions/1/migrate", None),
                  ("/processes/request_fulfillment/versions/1/edit", ".modeler-canvas[data-ready=true]"),
                  ("/processes/deploy", None)],
        "audrey": [("/audit", None), (f"/audit?request={n['assigned']}", None), (f"/requests/{n['waiting']}", DIAGRAM)],
    }


def phone_pages_of(s: Seeded) -> dict[str | None, list[tuple[str, str | None]]]:
    """A few key pages at 390 px wide (None: signed out)."""
    n = s.numbers
    return {None: [("/login", None)],
            "maria": [("/", None), ("/inbox?queue=groups", None), (f"/requests/{n['assigned']}", DIAGRAM),
                      ("/requests?q=printer", None), ("/requests/new", None), ("/schedule", None),
                      ("/reports/fulfilment", None)],
            "sam": [(f"/tasks/{s.task}", None), ("/notifications", None)],
            "adam": [("/admin/users", None)],
            "olive": [("/processes/request_fulfillment/versions/1", ".rf-diagrams " + DIAGRAM)]}


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """The serious and critical violations on the page as it is now (loaded, and whatever its scripts fetch shown:
    `visit` waits for that), its folded sections opened."""
    page.wait_for_load_state("load")
    page.evaluate(OPEN_FOLDED)
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        assert AXE.exists(), "no node_modules/axe-core: `npm ci` (make install) installs it"
        page.evaluate(AXE.read_text())
    return [v for v in page.evaluate(RUN_AXE, {"tags": TAGS, "exclude": EXCLUDED}) if v["impact"] in BLOCKING]


def readable(where: str, found: list[dict[str, Any]]) -> str:
    lines = [f"{where}:"]
    for v in found:
        lines.append(f"  [{v['impact']}] {v['id']}: {v['help']}")
        lines.extend(f"      {node}" for node in v["nodes"][:8])
        if len(v["nodes"]) > 8:
            lines.append(f"      … and {len(v['nodes']) - 8} more")
    return "\n".join(lines)


class Check:
    """Signs users in, one browser context each, and collects what axe finds on each page they are shown."""

    def __init__(self, browser: Browser, server: LiveServer) -> None:
        self.browser, self.server = browser, server
        self.failures: list[str] = []
        self.checked: list[str] = []

    def page(self, username: str | None, viewport: dict[str, int] = VIEWPORT) -> Page:
        context = self.browser.new_context(base_url=self.server.url, viewport=viewport, locale="en-US",
                                           timezone_id="UTC")
        page = context.new_page()
        if username:
            page.goto("/login")
            page.get_by_label("Username").fill(username)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_role("status").first).to_contain_text("Signed in as")
        return page

    def here(self, page: Page, label: str) -> None:
        found = axe_violations(page)
        self.checked.append(label)
        if found:
            self.failures.append(readable(label, found))

    def visit(self, page: Page, who: str | None, path: str, ready: str | None = None) -> None:
        response = page.goto(path)
        status = STATUS.get(path, 200)
        assert response is not None and response.status == status, (who, path, response and response.status)
        if ready:
            expect(page.locator(ready).first).to_be_visible()
        width = page.viewport_size["width"] if page.viewport_size else 0
        self.here(page, f"{who or 'signed out'} {path} ({width} px)")


def sign_in_refused(check: Check) -> None:
    page = check.page(None)
    check.visit(page, None, "/login")
    page.get_by_label("Username").fill("maria")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_be_visible()
    check.here(page, "signed out /login refused")
    # The check itself finds a field without a label (so a page that passes was really checked).
    page.evaluate("document.querySelector('main').insertAdjacentHTML('beforeend', '<input id=\"unlabelled\">')")
    assert "label" in {v["id"] for v in axe_violations(page)}
    page.context.close()


def task_form_with_errors(check: Check, page: Page, task: str) -> None:
    page.goto(f"/tasks/{task}")
    page.get_by_role("button", name=re.compile(r"^Complete ")).click()  # its required fields left empty
    expect(page.locator("[aria-invalid=true]").first).to_be_visible()
    check.here(page, "sam a task form with validation errors")


def model_check_with_findings(check: Check, page: Page, folder: Path) -> None:
    """The upload page's check of a model with a finding, its diagram (no interchange) laid out in the browser."""
    model = folder / "looped.bpmn"
    model.write_text((HOSTILE / "valid_baseline.bpmn").read_text().replace(
        '<bpmn:sequenceFlow id="flow_5" sourceRef="send_notice" targetRef="probe_finished" />',
        '<bpmn:sequenceFlow id="flow_5" sourceRef="send_notice" targetRef="cool_off" />'))
    page.goto("/processes/deploy")
    page.get_by_label("BPMN, DMN and form files").set_input_files([model])
    page.get_by_role("button", name="Check").click()
    expect(page.locator("tr.finding").first).to_be_visible()
    expect(page.locator(".rf-diagrams [data-element-id]").first).to_be_visible()
    check.here(page, "olive /processes/deploy with findings")


def test_no_page_has_a_serious_or_critical_accessibility_violation(seeded, browser, live_server, tmp_path):
    check = Check(browser, live_server)
    sign_in_refused(check)
    for username, paths in pages_of(seeded).items():
        page = check.page(username)
        for path, ready in paths:
            check.visit(page, username, path, ready)
        if username == "sam":
            task_form_with_errors(check, page, seeded.task)
        if username == "olive":
            model_check_with_findings(check, page, tmp_path)
        page.context.close()
    for who, paths in phone_pages_of(seeded).items():
        page = check.page(who, PHONE)
        for path, ready in paths:
            check.visit(page, who, path, ready)
        page.context.close()

    assert not check.failures, (f"{len(check.failures)} of {len(check.checked)} pages have serious or critical "
                                "accessibility violations:\n\n" + "\n\n".join(check.failures))
    assert len(check.checked) == 72, check.checked  # every page above was checked
