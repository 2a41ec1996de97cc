"""Helpers for driving the `rf` command line end to end: in-process through click's CliRunner, or as the installed
console script in a subprocess. Both see the test's database and SMTP server through `env_for(settings)`."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

import app.store.models  # noqa: F401 - registers every table on Base.metadata
from app.bootstrap import Services
from app.cli import cli
from app.clock import FixedClock
from app.config import Settings
from app.store.db import Base
from tests.conftest import env_for
from tests.driver import REQUEST  # noqa: F401 - re-exported for the e2e modules

RF_SCRIPT = Path(sys.executable).parent / "rf"
DATA = Path(__file__).resolve().parent.parent / "data"
HOSTILE = DATA / "hostile"



@dataclass
class Outcome:
    args: tuple[str, ...]
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def json(self) -> Any:
        try:
            return json.loads(self.stdout)
        except json.JSONDecodeError as err:
            raise AssertionError(f"rf {' '.join(self.args)} printed no JSON ({err}):\n{self.output}") from None

    def __str__(self) -> str:
        return f"rf {' '.join(self.args)} -> exit {self.exit_code}\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}"


class Rf:
    """Runs `rf` against one test database; `mode` is 'in-process' (CliRunner) or 'console-script' (subprocess)."""

    def __init__(self, settings: Settings, mode: str = "in-process", clock: FixedClock | None = None) -> None:
        self.settings = settings
        self.mode = mode
        # Each command's clock starts at this (the test's) clock and runs on; the test's clock then moves on by the
        # command's duration, so the next command starts where this one ended. Without it: the wall clock.
        self.clock = clock

    @property
    def env(self) -> dict[str, str]:
        return env_for(self.settings, self.clock.now() if self.clock else None)

    def __call__(self, *args: str) -> Outcome:
        began = time.monotonic()
        try:
            return self._run(args)
        finally:
            if self.clock is not None:
                self.clock.advance(timedelta(seconds=time.monotonic() - began))

    def _run(self, args: tuple[str, ...]) -> Outcome:
        env = self.env
        if self.mode == "console-script":
            done = subprocess.run([str(RF_SCRIPT), *args], env=env, capture_output=True, text=True,
                                  timeout=180, check=False)
            return Outcome(args, done.returncode, done.stdout, done.stderr)
        result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=True)  # disposes its engine on close
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            import traceback

            tb = "".join(traceback.format_exception(*result.exc_info)) if result.exc_info else repr(result.exception)
            return Outcome(args, 99, result.stdout, (result.stderr or "") + "\nUNCAUGHT EXCEPTION:\n" + tb)
        return Outcome(args, result.exit_code, result.stdout, result.stderr)

    def ok(self, *args: str) -> Any:
        """Run a --json command that must succeed; return its parsed output."""
        outcome = self(*args, "--json")
        assert outcome.exit_code == 0, str(outcome)
        return outcome.json()

    def fails(self, *args: str, code: int = 2) -> Outcome:
        """Run a command that must be refused cleanly: the given exit code and no traceback."""
        outcome = self(*args)
        assert outcome.exit_code == code, str(outcome)
        assert "Traceback" not in outcome.output, str(outcome)
        return outcome

    # --- the steps staff and the worker take, each one `rf` invocation ---

    def new_request(self, request_type: str, **overrides: Any) -> str:
        created = self.ok("request", "new", "--type", request_type, "--data", json.dumps({**REQUEST, **overrides}),
                          "--user", "ann.logger")
        assert created["number"].startswith("RF-"), created
        return str(created["number"])

    def tasks(self, number: str) -> list[dict[str, Any]]:
        listed: list[dict[str, Any]] = self.ok("tasks", "--request", number)
        return listed

    def task(self, number: str, bpmn_id: str) -> dict[str, Any]:
        listed = self.tasks(number)
        found = [t for t in listed if t["bpmn_id"] == bpmn_id]
        assert len(found) == 1, f"expected one open {bpmn_id} on {number}, got {[t['bpmn_id'] for t in listed]}"
        return found[0]

    def complete(self, number: str, bpmn_id: str, user: str, data: dict[str, Any]) -> dict[str, Any]:
        task_id = self.task(number, bpmn_id)["id"]
        view: dict[str, Any] = self.ok("complete", task_id, "--user", user, "--data", json.dumps(data))
        assert (view["id"], view["status"], view["bpmn_id"]) == (task_id, "completed", bpmn_id), view
        return view

    def work(self) -> dict[str, int]:
        summary: dict[str, int] = self.ok("worker", "--once")
        assert summary["incidents"] == 0 and summary["services_failed"] == 0, summary
        return summary

    def show(self, number: str) -> dict[str, Any]:
        shown: dict[str, Any] = self.ok("show", number)
        return shown

    def open_bpmn_ids(self, number: str) -> list[str]:
        return sorted(t["bpmn_id"] for t in self.show(number)["open_tasks"])


@pytest.fixture
def rf(services: Services, settings: Settings, clock: FixedClock) -> Rf:
    """`rf` in-process against a migrated, seeded, deployed test database, on the test's clock."""
    return Rf(settings, clock=clock)


def snapshot(services: Services) -> dict[str, list[str]]:
    """Every row of every table, so a refused command can be shown to have written nothing at all."""
    with services.engine.connect() as conn:
        return {table.name: sorted(repr(tuple(row)) for row in conn.execute(select(table)))
                for table in Base.metadata.sorted_tables}


def count(services: Services, model: Any, *where: Any) -> int:
    with services.uow() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def records(services: Services, model: Any, *where: Any) -> list[Any]:
    with services.uow() as uow:
        found = list(uow.session.scalars(select(model).where(*where)))
        uow.session.expunge_all()
        return found


@pytest.fixture
def served(services) -> Iterator[str]:
    """The app in a werkzeug server thread on a free port (for the Chromium checks of single pages)."""
    from werkzeug.serving import make_server

    from app.web import create_app

    server = make_server("127.0.0.1", 0, create_app(services, {"SECRET_KEY": "test-secret"}), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
