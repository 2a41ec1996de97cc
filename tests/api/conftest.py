"""The API tests' server: ONE real `rf serve` per test module (and per backend), shared by every test of the module.

`api_server` (module scope, parametrized over SQLite and, when RF_TEST_POSTGRES_URL is set, PostgreSQL):

* a fresh database (a SQLite file under the module's temporary directory, or a private PostgreSQL schema dropped at
  the end), migrated, seeded with the demo users (`setup.seed(demo=True)`) and the bundled process deployed, as the
  `services` fixture of tests/conftest.py does, plus two users of test_need_to_know.py: `nora` (no role) and `gina`
  (Specialist of apps only);
* real rows, moved along with tests/driver.py before the server starts: an assistance request of each provider group
  waiting at *Assign to a specialist*, a network one at *Fulfil* (assigned to sam by the process), an enhancement
  waiting at its work plan, and a closed assistance request;
* an incident (`target_incident`: an apps enhancement whose work plan dates were swapped, as in
  tests/e2e/test_incidents.py), a pending CRM case of the network group received through the signed feed
  (`target_pending_case`), a manual holiday (`target_holiday`), and a second version of `request_fulfillment` (the
  specialist's task renamed, tests/integration/test_migration.py's `changed_bundle`) with version 1 made current
  again, so new requests start on version 1 and can move to version 2;
* bearer tokens (`api_tokens.create`) for every user, plus one revoked and one expired token;
* then `<venv>/bin/rf serve --no-worker --no-mail-sink` on a free port with the tests' clock (RF_CLOCK_START) and the
  CRM feed's shared secret (`FEED_SECRET` as RF_CRM_FEED_SECRET: an unsigned feed message is a 401), like
  tests/browser/conftest.py's `live_server`. `--no-worker`: the database changes only through the calls the tests
  make (the authorization matrix compares audit counts around refused writes); `target_*` helpers run the worker
  in the test process when they make new rows.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, func, select, text

from app import engine
from app.bootstrap import Services, bootstrap
from app.clock import FixedClock
from app.config import PROJECT_ROOT, Settings
from app.domain.signatures import signed_headers
from app.services.admin import api_tokens, auth, setup
from app.services.admin import calendar as calendar_admin
from app.services.admin import users as user_admin
from app.services.admin.setup import DEMO_USERS
from app.services.definitions import current as current_version
from app.services.definitions import deploy as definitions
from app.services.requests import attachments, crm_feed, intake
from app.services.tasks import actions as tasks
from app.store.models import (
    AuditEvent,
    DefinitionVersion,
    Holiday,
    ProcessInstance,
    ServiceJob,
    ServiceRequest,
    User,
    UserNotice,
)
from tests.conftest import BACKENDS, POSTGRES_URL, START, Inbox, _postgres_schema_url, day, env_for, free_port
from tests.driver import REQUEST, Driver
from tests.e2e.test_incidents import WORK_PLAN
from tests.integration.test_migration import changed_bundle

RF_SCRIPT = Path(sys.executable).parent / "rf"
START_TIMEOUT = 30.0
NO_ROLE, ONE_GROUP = "nora", "gina"  # as in tests/e2e/test_need_to_know.py
EXTRA_PASSWORD = "long-enough-1"
USERS = [username for username, _, _ in DEMO_USERS] + [NO_ROLE, ONE_GROUP]
REVOKED, EXPIRED = "revoked-token", "expired-token"  # pseudo-users in `tokens`: the token of a demo user (maria)
ASSIGN = {"specialist": "sam", "assignment_note": "VPN team"}
FULFIL = {"resolution_notes": "Profiles issued and tested with the rangers.", "resolution_code": "resolved",
          "time_spent_hours": 1.5}
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
FEED_SECRET = "api-tests-crm-feed-secret-0123456789"  # RF_CRM_FEED_SECRET of the served app and of `services`
PROCESS = "request_fulfillment"  # deployed twice: version 1 (current) and version 2 (`changed_bundle`)
FIRST_SPARE_HOLIDAY = date(2060, 1, 5)  # `target_holiday` days: a year no test loads or names (a Monday)


@dataclass
class ApiServer:
    url: str
    services: Services
    clock: FixedClock
    backend: str
    process: subprocess.Popen[bytes]
    log_path: Path
    tokens: dict[str, str] = field(default_factory=dict)  # username (or REVOKED / EXPIRED) -> bearer secret
    numbers: dict[str, str] = field(default_factory=dict)  # what a seeded request is for -> its number
    started: float = 0.0  # time.monotonic() when `rf serve` was started (its clock began at START then)
    made: int = 0  # how many CRM cases and holidays the `target_*` helpers made (each a new one)

    @property
    def api(self) -> str:
        return f"{self.url}/api/v1"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def bearer(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def audit_count(self) -> int:
        with self.services.uow() as uow:
            return int(uow.session.scalar(select(func.count()).select_from(AuditEvent)) or 0)

    def request_id(self, number: str) -> int:
        with self.services.uow() as uow:
            found = uow.session.scalar(select(ServiceRequest.id).where(ServiceRequest.number == number))
        assert found is not None
        return int(found)

    # Fresh rows made in the test process while the server is idle (the worker runs here, not in the server).

    def new_request(self, group: str = "network", request_type: str = "assistance", **data: Any) -> str:
        drive = Driver(self.services, self.clock)
        number = drive.new(request_type, provider_group=group, **data)
        drive.work()
        return number

    def task_at(self, number: str, bpmn_id: str) -> str:
        return Driver(self.services, self.clock).open_task(number, bpmn_id).task_uuid

    def target_manager_task(self) -> str:
        """A new network assistance request's *Assign to a specialist* (Manager lane, unassigned)."""
        return self.task_at(self.new_request(), "assign_specialist")

    def target_specialist_task(self, claimed: bool = True) -> str:
        """A new network assistance request's *Fulfil* (Specialist lane), assigned to sam by the process, or (not
        `claimed`) released to the group queue by the manager."""
        drive = Driver(self.services, self.clock)
        number = self.new_request()
        drive.complete(number, "assign_specialist", "maria", ASSIGN)
        drive.work()
        task_id = self.task_at(number, "fulfil_assistance_request")
        if not claimed:
            tasks.unclaim(self.services, task_id, "maria")
        return task_id

    def target_incident(self) -> int:
        """A new incident (its service job's id): an apps enhancement whose work plan reached the work-list step
        with its finish before its start, which the handler refuses at once (tests/e2e/test_incidents.py)."""
        drive = Driver(self.services, self.clock)
        number = self.new_request("apps", "enhancement", title="Stopped at the work list")
        drive.complete(number, "draw_up_work_plan", "pete", WORK_PLAN)
        with self.services.uow() as uow:
            job = uow.session.scalars(
                select(ServiceJob).join(ServiceRequest, ServiceRequest.id == ServiceJob.request_id)
                .where(ServiceRequest.number == number, ServiceJob.status == "pending")).one()
            instance = uow.session.get(ProcessInstance, job.instance_id)
            assert instance is not None
            definition = uow.session.get(DefinitionVersion, instance.definition_version_id)
            assert definition is not None
            state = engine.edit_service_inputs(definition.spec_json, instance.state_json, job.task_uuid,
                                               {"planned_finish": day(-5)}, self.clock.now())
            instance.state_json = state.state_json
            uow.commit()
            job_id = int(job.id)
        drive.work()
        with self.services.uow() as uow:
            stopped = uow.session.get(ServiceJob, job_id)
            assert stopped is not None and stopped.status == "incident", stopped and stopped.status
        return job_id

    def target_scheduled_request(self) -> str:
        """A new routine network enhancement waiting on the 60 day schedule (planned for this week)."""
        request = intake.new_request(self.services, "enhancement", {**REQUEST, "title": "Scheduled report"}, "carla",
                                     schedule=True)
        return str(request.number)

    def target_pending_case(self, group: str = "network") -> str:
        """A new case in the CRM Pending Queue of `group`, received through the signed feed (in this process)."""
        self.made += 1
        case_id = f"SD-API-{self.made:05d}"
        body = json.dumps({"event": "created", "case_id": case_id, "subject": f"Pending case {self.made}",
                           "agency": "Oklahoma Tax Commission", "requester_name": "Tia Taxes",
                           "requester_email": "tia@tax.example", "provider_group": group}).encode()
        headers = signed_headers(FEED_SECRET, body, self.clock.now())
        receipt = crm_feed.receive(self.services, body, headers["X-RF-Timestamp"], headers["X-RF-Signature"])
        assert receipt.outcome == "created", receipt
        return case_id

    def target_attachment(self) -> str:
        """A new text file attached by sam to the seeded network request (its id)."""
        self.made += 1
        sam = auth.load_identity(self.services, "sam")
        found = attachments.attach(self.services, self.numbers["network"], f"notes-{self.made}.txt",
                                   b"Site visit notes\n", sam)
        return str(found.id)

    def target_own_notice(self) -> str:
        """A new in-app notification of sam's (its id): sam's own, unread."""
        self.made += 1
        with self.services.uow() as uow:
            user_id = uow.session.scalar(select(User.id).where(User.username == "sam"))
            notice = UserNotice(user_id=user_id, key=f"api-matrix-{self.made}", kind="task_assigned",
                                text=f"Matrix notice {self.made}", created_at=self.clock.now())
            uow.session.add(notice)
            uow.commit()
            return str(notice.id)

    def target_holiday(self) -> int:
        """A new manual holiday (its id) on a weekday of 2060 that is not one yet."""
        with self.services.uow() as uow:
            taken = set(uow.session.scalars(select(Holiday.day).where(Holiday.day >= FIRST_SPARE_HOLIDAY)))
        when = FIRST_SPARE_HOLIDAY
        while when in taken or when.weekday() >= 5:
            when += timedelta(days=1)
        self.made += 1
        adam = auth.load_identity(self.services, "adam")
        return calendar_admin.add_holiday(self.services, adam, when.isoformat(), f"Spare holiday {self.made}").id

    def server_now(self) -> datetime:
        """The served app's clock (RF_CLOCK_START, running since the server started; it may lag by its start-up)."""
        return START + timedelta(seconds=time.monotonic() - self.started)

    def signed(self, body: bytes) -> dict[str, str]:
        """The headers that sign a CRM feed message for the served app (its clock, `FEED_SECRET`)."""
        return {**signed_headers(FEED_SECRET, body, self.server_now()), "Content-Type": "application/json"}

    def session(self, username: str, password: str = "demo") -> tuple[requests.Session, str]:
        """A cookie session signed in through the real login form, and its CSRF token."""
        web = requests.Session()
        token = CSRF.search(web.get(f"{self.url}/login", timeout=10).text)
        assert token
        signed_in = web.post(f"{self.url}/login", data={"username": username, "password": password,
                                                         "csrf_token": token.group(1)},
                             allow_redirects=False, timeout=10)
        assert signed_in.status_code == 302, f"login as {username} failed: {signed_in.status_code}"
        page = web.get(f"{self.url}/inbox" if username not in (NO_ROLE,) else f"{self.url}/login", timeout=10)
        csrf = CSRF.search(page.text)
        assert csrf, f"no CSRF token for {username}"
        return web, csrf.group(1)


def _wait_for_health(server: ApiServer) -> None:
    deadline = time.monotonic() + START_TIMEOUT
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
    pytest.fail(f"rf serve was not healthy after {START_TIMEOUT:.0f} s ({last_error}):\n{server.log()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture(scope="module", params=BACKENDS)
def api_database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('api') / 'rf.sqlite3'}"
        return
    schema = f"rf_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _postgres_schema_url(schema)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _seed(server: ApiServer) -> None:
    services = server.services
    adam = auth.load_identity(services, "adam")
    for username, name in ((NO_ROLE, "Nora Noroles"), (ONE_GROUP, "Gina Apps")):
        user_admin.create_user(services, adam, {"username": username, "full_name": name, "password": EXTRA_PASSWORD,
                                                "email": f"{username}@omes.example"})
    user_admin.grant(services, adam, ONE_GROUP, "specialist", "apps")

    drive = Driver(services, server.clock)
    server.numbers["network"] = server.new_request("network", title="Network secret")
    server.numbers["apps"] = server.new_request("apps", title="Apps secret")
    server.numbers["enhancement"] = server.new_request("apps", "enhancement", title="Portal report")
    fulfilling = server.new_request("network", title="Fulfilling")
    drive.complete(fulfilling, "assign_specialist", "maria", ASSIGN)
    drive.work()
    server.numbers["fulfilling"] = fulfilling
    closed = server.new_request("network", title="Closed one", priority="low")
    drive.complete(closed, "assign_specialist", "maria", {"specialist": "sara"})
    drive.work()
    drive.complete(closed, "fulfil_assistance_request", "sara", FULFIL)
    drive.work()
    server.numbers["closed"] = closed

    # a second version of the process (nothing reached by a waiting instance changed), then version 1 current again:
    # new requests start on 1 and can move to 2
    definitions.deploy(services, changed_bundle(), "olive")
    current_version.make_current(services, "olive", PROCESS, 1)
    server.target_pending_case()
    server.target_holiday()
    server.target_incident()

    for username in USERS:
        identity = auth.load_identity(services, username)
        server.tokens[username], _ = api_tokens.create(services, identity, f"API tests ({username})")
    maria = auth.load_identity(services, "maria")
    server.tokens[REVOKED], view = api_tokens.create(services, maria, "revoked at once")
    api_tokens.revoke(services, maria, view.id)
    server.clock.set(START - timedelta(days=3))  # a one-day token made three days ago has expired
    server.tokens[EXPIRED], _ = api_tokens.create(services, maria, "expired", days=1)
    server.clock.set(START)


@pytest.fixture(scope="module")
def api_server(api_database_url: str, smtp_server: tuple[Inbox, int], request: pytest.FixtureRequest,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    settings: Settings = replace(Settings.from_env({}), database_url=api_database_url, smtp_port=smtp_server[1],
                                 smtp_host="127.0.0.1", bpmn_dir=PROJECT_ROOT / "bpmn",
                                 forms_dir=PROJECT_ROOT / "forms", service_max_attempts=3, service_backoff_seconds=1,
                                 crm_feed_secret=FEED_SECRET)
    clock = FixedClock(START)
    services = bootstrap(settings, clock)
    setup.migrate(services)
    setup.seed(services, demo=True)
    definitions.deploy(services, definitions.read_paths([settings.bpmn_dir]), "test")

    port = free_port()
    env = env_for(settings, clock.now())
    env["RF_SECRET_KEY"] = f"api-test-{uuid.uuid4().hex}"
    env["PYTHONUNBUFFERED"] = "1"
    env["RF_CRM_FEED_SECRET"] = FEED_SECRET
    log_path = tmp_path_factory.mktemp("api-server") / "rf-serve.log"
    server = ApiServer(url=f"http://127.0.0.1:{port}", services=services, clock=clock,
                       backend=api_database_url.split(":", 1)[0].split("+")[0], process=None,  # type: ignore[arg-type]
                       log_path=log_path)
    _seed(server)
    with log_path.open("wb") as log:
        server.started = time.monotonic()
        server.process = subprocess.Popen(  # noqa: S603 - our own console script
            [str(RF_SCRIPT), "serve", "--host", "127.0.0.1", "--port", str(port), "--no-worker", "--no-mail-sink"],
            env=env, cwd=PROJECT_ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_for_health(server)
        yield server
    finally:
        _stop(server.process)
        if request.session.testsfailed:
            print(f"\n--- rf serve log ({log_path}) ---\n{server.log()[-20000:]}")
        services.engine.dispose()
