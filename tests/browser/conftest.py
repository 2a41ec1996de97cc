"""Browser tests: the real `rf serve` (web app plus its in-process worker) as a subprocess against the test's database
and SMTP server, driven by Debian's Chromium through Playwright.

Fixtures:

* `live_server` starts `<venv>/bin/rf serve --no-mail-sink` on a free port against the database the `services`
  fixture migrated, seeded and deployed, waits for /health and stops the process at the end of the test. A module
  that needs more of `rf serve` (say, its inbound mail endpoint) overrides `serve_env` with the variables to add.
* `browser` is one Chromium for the whole session (never downloaded: the system's /usr/bin/chromium).
* `staff` signs users in through the real login form, one browser context (so one session cookie) per user:
  `maria = staff("maria")` is a Playwright `Page` at maria's inbox.

`rf serve` runs on the tests' clock (RF_CLOCK_START), not on today's date. Its worker runs service tasks, timers and
queued email every ~2 s, so tests wait for the page state they expect with `reload_until` (reload and let Playwright
auto-wait, up to a bounded timeout), never by sleeping.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, Playwright, expect, sync_playwright

from app.bootstrap import Services
from app.clock import FixedClock
from app.config import PROJECT_ROOT, Settings
from tests.conftest import env_for, free_port

RF_SCRIPT = Path(sys.executable).parent / "rf"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = os.environ.get("RF_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
VIEWPORT = {"width": 1280, "height": 900}
PASSWORD = "demo"
START_TIMEOUT = 30.0
# One worker pass every ~2 s; a service task followed by queued email can need a few passes, plus slow CI.
WORKER_TIMEOUT = 40.0

expect.set_options(timeout=10_000)


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def _wait_for_health(server: LiveServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last_error = ""
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"rf serve exited with {server.process.returncode} before it was healthy:\n{server.log()}")
        try:
            with urllib.request.urlopen(f"{server.url}/health", timeout=2) as response:  # noqa: S310 - local URL
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError) as err:
            last_error = repr(err)
        time.sleep(0.1)
    pytest.fail(f"rf serve was not healthy after {timeout:.0f} s ({last_error}):\n{server.log()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Ctrl-C first (`rf serve` then stops its worker and server), then SIGKILL if it does not go within 10 s."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def _failed(request: pytest.FixtureRequest) -> bool:
    report = getattr(request.node, "rep_call", None)
    return bool(report is not None and report.failed)


@pytest.fixture
def serve_env() -> dict[str, str]:
    """Environment variables a test module adds to `rf serve`'s (none by default)."""
    return {}


@pytest.fixture
def live_server(services: Services, settings: Settings, clock: FixedClock, tmp_path: Path, serve_env: dict[str, str],
                request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    """The real `rf serve` against this test's (migrated, seeded, deployed) database and the test SMTP server, its
    clock started at the test clock's now (RF_CLOCK_START) and running on from there."""
    port = free_port()
    env = env_for(settings, clock.now())
    env["RF_SECRET_KEY"] = f"browser-test-{uuid.uuid4().hex}"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(serve_env)
    log_path = tmp_path / "rf-serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our own console script
            [str(RF_SCRIPT), "serve", "--host", "127.0.0.1", "--port", str(port), "--no-mail-sink"],
            env=env, cwd=PROJECT_ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    server = LiveServer(url=f"http://127.0.0.1:{port}", process=process, log_path=log_path)
    try:
        _wait_for_health(server, START_TIMEOUT)
        yield server
    finally:
        _stop(process)
        if _failed(request):
            print(f"\n--- rf serve log ({log_path}) ---\n{server.log()}")


@pytest.fixture(scope="session")
def playwright_instance() -> Iterator[Playwright]:
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (make browser installs Debian's chromium)")
    chromium = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()


@dataclass
class Staff:
    """Signed-in pages, one browser context per user."""

    browser: Browser
    server: LiveServer
    contexts: list[BrowserContext] = field(default_factory=list)
    pages: dict[str, Page] = field(default_factory=dict)

    def __call__(self, username: str) -> Page:
        if username in self.pages:
            return self.pages[username]
        context = self.browser.new_context(base_url=self.server.url, viewport=VIEWPORT, locale="en-US",
                                           timezone_id="UTC")
        self.contexts.append(context)
        page = context.new_page()
        page.goto("/login")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("status")).to_contain_text("Signed in as")
        expect(page).to_have_url(re.compile(HOMES.get(username, r"/inbox$")))  # each role's home page
        self.pages[username] = page
        return page

    def close(self) -> None:
        for context in self.contexts:
            context.close()


HOMES = {"olive": r"/processes$", "adam": r"/admin/users$", "audrey": r"/audit$"}


@pytest.fixture
def staff(browser: Browser, live_server: LiveServer, request: pytest.FixtureRequest,
          tmp_path: Path) -> Iterator[Staff]:
    signed_in = Staff(browser, live_server)
    try:
        yield signed_in
    finally:
        if _failed(request):
            for username, page in signed_in.pages.items():
                shot = tmp_path / f"failure-{username}.png"
                try:
                    page.screenshot(path=str(shot), full_page=True)
                    print(f"{username} was at {page.url}; screenshot {shot}")
                except Exception as err:  # noqa: BLE001 - best effort diagnostics only
                    print(f"{username}: no screenshot ({err})")
        signed_in.close()


# ---------------------------------------------------------------------------------------------------------------------
# Helpers the tests share
# ---------------------------------------------------------------------------------------------------------------------


def reload_until(page: Page, target: Locator | Callable[[], Locator], timeout: float = WORKER_TIMEOUT,
                 state: str = "visible") -> Locator:
    """Reload the page until `target` is visible (or, with state="hidden", gone): the worker of `rf serve` moves the
    process on in the background. Each round lets Playwright auto-wait briefly; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        locator = target() if callable(target) else target
        try:
            if state == "hidden":
                expect(locator).to_be_hidden(timeout=1_000)
            else:
                expect(locator.first).to_be_visible(timeout=1_000)
            return locator
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            page.reload()


def wait_for(predicate: Callable[[], Any], timeout: float = WORKER_TIMEOUT, message: str = "") -> Any:
    """Poll `predicate` (say, the test SMTP server's inbox) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        found = predicate()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {message or predicate}")
        time.sleep(0.2)


def labelled(page: Page | Locator, label: str) -> Locator:
    """A form control by its exact label text (a required field's label ends in a "*" mark)."""
    return page.get_by_label(re.compile(rf"^\s*{re.escape(label)}\s*\*?\s*$"))


def screenshot(page: Page, name: str) -> Path:
    """A full-page screenshot (1280 wide) in tests/browser/artifacts/, once scripts have loaded what they fetch."""
    page.wait_for_load_state("networkidle")
    page.evaluate("document.fonts.ready.then(() => true)")
    # The request page draws its process diagram with bpmn-js after fetching it; passes at once on other pages.
    expect(page.get_by_text(re.compile(r"^Loading the process diagram"))).to_be_hidden()
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    return path
