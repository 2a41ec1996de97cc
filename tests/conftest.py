"""Shared fixtures: a real database per test (SQLite file, and PostgreSQL when configured), a real SMTP server,
an injected clock, and the bundled process deployed through the same services the app uses."""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, text

from app.bootstrap import Services, bootstrap
from app.clock import FixedClock, parse_instant
from app.config import PROJECT_ROOT, Settings
from app.services.admin import setup
from app.services.definitions import deploy as definitions
from tests.external_systems import external, external_server  # noqa: F401 - fixtures: the fake CRM, billing, ASD
from tests.seeded_databases import SeededTemplates
from tests.webhook_receiver import Receiver, serving

POSTGRES_URL = os.environ.get("RF_TEST_POSTGRES_URL", "")
BACKENDS = ["sqlite", "postgresql"] if POSTGRES_URL else ["sqlite"]
# The tests' clock starts here, whatever today is. RF_TEST_START moves it (e.g. 2009-12-01T15:00:00Z or
# 2099-12-01T15:00:00Z, Tuesdays of years whose calendar, holidays included, is the default's): the suite must pass
# far in the past and far in the future of the wall clock. Subprocesses (`rf`, `rf serve`) get the same start
# through RF_CLOCK_START (see env_for).
DEFAULT_START = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
START = parse_instant(os.environ["RF_TEST_START"]) if os.environ.get("RF_TEST_START") else DEFAULT_START


REPLY_TOKEN_SECRET = "the-tests-reply-token-key-0123456789"


def pytest_report_header() -> str:
    return f"the tests' clock starts at {START.isoformat()}"


def day(offset: int) -> str:
    """The ISO date `offset` days after the tests' clock starts (so no test names a calendar date of its own)."""
    return (START.date() + timedelta(days=offset)).isoformat()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Inbox:
    """Collects every message a real aiosmtpd server receives."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd API
        with self.lock:
            msg = message_from_bytes(envelope.content)
            msg["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
            self.messages.append(msg)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if address in m["X-Envelope-To"]]


def text_of(message: Message) -> str:
    """The plain-text part of a received email (the whole body of a single-part one), with \\n line ends."""
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode(part.get_content_charset() or "utf-8").replace("\r\n", "\n")
    raise AssertionError("the email has no text/plain part")


def html_of(message: Message) -> str:
    """The HTML part of a received email."""
    for part in message.walk():
        if part.get_content_type() == "text/html":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode(part.get_content_charset() or "utf-8").replace("\r\n", "\n")
    raise AssertionError("the email has no text/html part")


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture
def mailbox(smtp_server: tuple[Inbox, int]) -> Inbox:
    inbox, _ = smtp_server
    inbox.messages.clear()
    return inbox


def _postgres_schema_url(schema: str) -> str:
    sep = "&" if "?" in POSTGRES_URL else "?"
    return f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'rf.sqlite3'}"
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


@pytest.fixture
def settings(database_url: str, smtp_server: tuple[Inbox, int]) -> Settings:
    base = Settings.from_env({})
    return replace(base, database_url=database_url, smtp_port=smtp_server[1], smtp_host="127.0.0.1",
                   bpmn_dir=PROJECT_ROOT / "bpmn", forms_dir=PROJECT_ROOT / "forms",
                   service_max_attempts=3, service_backoff_seconds=1,
                   reply_token_secret=REPLY_TOKEN_SECRET)  # not the checkout's instance/secret_key


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


def set_up_database(svc: Services) -> None:
    """What every `services` test starts from: the schema at head, the demo users, the bundled process deployed."""
    setup.migrate(svc)
    setup.seed(svc, demo=True)
    definitions.deploy(svc, definitions.read_paths([svc.settings.bpmn_dir]), "test")


@pytest.fixture(scope="session")
def seeded_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededTemplates]:
    """`set_up_database` done once per backend at the tests' clock, copied into each `services` test's database."""

    def make(database_url: str) -> None:
        template_settings = replace(Settings.from_env({}), database_url=database_url,
                                    bpmn_dir=PROJECT_ROOT / "bpmn", forms_dir=PROJECT_ROOT / "forms")
        svc = bootstrap(template_settings, FixedClock(START))
        try:
            set_up_database(svc)
        finally:
            svc.engine.dispose()

    templates = SeededTemplates(tmp_path_factory.mktemp("seeded"), POSTGRES_URL, _postgres_schema_url, make)
    yield templates
    templates.close()


@pytest.fixture
def services(settings: Settings, clock: FixedClock, seeded_templates: SeededTemplates) -> Iterator[Services]:
    copied = clock.now() == START and seeded_templates.copy_into(settings.database_url)
    svc = bootstrap(settings, clock)
    if not copied:
        set_up_database(svc)
    yield svc
    svc.engine.dispose()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real local webhook receiver that checks every signature and counts deliveries per event id."""
    with serving() as state:
        yield state


def env_for(settings: Settings, now: datetime | None = None) -> dict[str, str]:
    """Environment that points the `rf` CLI at the test's database and SMTP server, and (given `now`, the test
    clock's time) starts its clock there instead of at the wall clock."""
    env = dict(os.environ)
    env.update(RF_DATABASE_URL=settings.database_url, RF_SMTP_HOST=settings.smtp_host,
               RF_SMTP_PORT=str(settings.smtp_port), RF_SERVICE_MAX_ATTEMPTS=str(settings.service_max_attempts),
               RF_SERVICE_BACKOFF_SECONDS="0", RF_REPLY_TOKEN_SECRET=settings.reply_token_secret or REPLY_TOKEN_SECRET,
               RF_INBOUND_MAIL_PORT="0")  # a test that needs the inbound endpoint starts its own
    env.pop("RF_CLOCK_START", None)
    if now is not None:
        env["RF_CLOCK_START"] = now.isoformat()
    return env
