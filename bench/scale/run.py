"""One run: a fresh database, the sinks, the app's processes, K users for a while (with or without faults), then the
drain and the checks."""

from __future__ import annotations

import os
import random
import shutil
import statistics
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path

from sqlalchemy import func, select

from app.bootstrap import Services, bootstrap
from app.clock import SystemClock
from app.config import PROJECT_ROOT, Settings
from app.domain import webhooks as webhook_events
from app.services.admin import api_tokens, auth, setup
from app.services.admin import webhooks as webhook_admin
from app.services.definitions import deploy as definitions
from app.store.models import ServiceRequest
from bench.lifecycle import _free_port, database
from bench.scale import checks, sinks
from bench.scale.faults import FaultPlan, inject
from bench.scale.postgres import Restarter
from bench.scale.processes import Stack
from bench.scale.users import USERS, Stats, User
from tests.external_systems import CLIENT_TIMEOUT, TOKENS


@dataclass
class Result:
    web: int
    workers: int
    users: int
    seconds: float
    stats: Stats
    closed: int
    drain_seconds: float
    drained: bool
    checks: list[checks.Check]
    waiting: Counter[str]
    faults: list[str] = field(default_factory=list)
    worker_restarts: int = 0
    logs: str = ""

    @property
    def actions(self) -> int:
        return self.stats.actions()

    def latency_ms(self, q: float) -> float:
        values = sorted(self.stats.all_latencies())
        if not values:
            return float("nan")
        return 1000 * values[min(len(values) - 1, max(0, round(q / 100 * len(values) + 0.5) - 1))]

    @property
    def mean_ms(self) -> float:
        values = self.stats.all_latencies()
        return 1000 * statistics.fmean(values) if values else float("nan")

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks) and self.drained


def _environment(url: str, smtp_port: int, external_port: int, instance: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RF_")}
    base = f"http://127.0.0.1:{external_port}"
    env.update({
        "RF_DATABASE_URL": url, "RF_SMTP_HOST": "127.0.0.1", "RF_SMTP_PORT": str(smtp_port),
        "RF_INSTANCE_DIR": str(instance), "RF_SECRET_KEY": f"scale-{uuid.uuid4().hex}",
        "RF_CRM_URL": f"{base}/crm", "RF_CRM_TOKEN": TOKENS["crm"], "RF_BILLING_URL": f"{base}/billing",
        "RF_BILLING_TOKEN": TOKENS["billing"], "RF_ASD_URL": f"{base}/asd", "RF_ASD_TOKEN": TOKENS["asd"],
        "RF_HTTP_TIMEOUT_SECONDS": str(max(CLIENT_TIMEOUT, 5.0)),
        # a webhook attempt cut by a killed worker is retried after this (default 30 s: longer than the drain)
        "RF_WEBHOOK_BACKOFF_SECONDS": "2",
        "RF_DB_MAX_OVERFLOW": "4",  # processes x (5 + 4) stays well under the server's max_connections
        "RF_LOG_LEVEL": "WARNING", "RF_LOG_FORMAT": "text",
    })
    return env


def _closed(services: Services) -> int:
    with services.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(ServiceRequest)
                                  .where(ServiceRequest.status == "closed")) or 0


def drain(services: Services, timeout: float) -> tuple[bool, float]:
    """Wait until no service job, mail or webhook event is left to do (bounded); (drained, seconds waited)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            if not any(checks.backlog(services).values()):
                return True, time.monotonic() - started
        except Exception:  # noqa: BLE001 - the database may be coming back from a restart
            pass
        time.sleep(0.5)
    return False, time.monotonic() - started


def one_run(server_url: str, *, web: int, workers: int, users: int, seconds: float, patience: float,
            drain_timeout: float, plan: FaultPlan | None = None, restarter: Restarter | None = None,
            seed: int = 1, cli_checks: bool = True, log: Callable[[str], None] = print) -> Result:
    """One run on a private schema of `server_url` (dropped afterwards), or, with a `restarter` (a private cluster
    that is thrown away after the run), on its database as it is."""
    run_id = uuid.uuid4().hex[:8]
    schema = database(server_url) if restarter is None else nullcontext(server_url)
    tmp = tempfile.mkdtemp(prefix="rf-scale-")  # the processes' logs: kept when a check fails
    with sinks.running() as sink, schema as url:
        settings = replace(Settings.from_env({}), database_url=url, smtp_host="127.0.0.1", smtp_port=sink.smtp.port,
                           bpmn_dir=PROJECT_ROOT / "bpmn", forms_dir=PROJECT_ROOT / "forms")
        services = bootstrap(settings, SystemClock())
        try:
            setup.migrate(services)
            setup.seed(services, demo=True)
            definitions.deploy(services, definitions.read_paths([settings.bpmn_dir]), "scale")
            tokens = {u: api_tokens.create(services, auth.load_identity(services, u), f"scale {run_id}")[0]
                      for u in USERS}
            created = webhook_admin.subscribe(services, auth.load_identity(services, "adam"),
                                              f"http://127.0.0.1:{sink.webhooks.port}/rf",
                                              "scale run receiver", list(webhook_events.EVENTS))
            sink.webhooks.secrets.append(created.secret)

            set_up = time.monotonic()
            env = _environment(url, sink.smtp.port, sink.external.port, Path(tmp))
            stack = Stack(env, web, workers, Path(tmp), _free_port())
            stats, stop = Stats(), threading.Event()
            crowd = [User(i, stack.base, tokens, stats, stop, patience, run_id, seed * 1000 + i)
                     for i in range(users)]
            fault_log: list[str] = []
            injector = None
            try:
                stack.start()
                set_up = time.monotonic() - set_up
                started = time.monotonic()
                for user in crowd:
                    user.start()
                if plan is not None:
                    assert restarter is not None
                    injector = threading.Thread(target=inject, args=(plan, stack, sink, restarter, started, stop,
                                                                     fault_log, random.Random(seed)), daemon=True)
                    injector.start()
                stop.wait(seconds)
                stop.set()
                window = time.monotonic() - started
                closed = _closed(services)
                for user in crowd:
                    user.join(patience + 30)
                if injector is not None:
                    injector.join(120)
                sink.smtp.start()  # in case the load ended while it was down
                drained, waited = drain(services, drain_timeout)
            finally:
                stop.set()
                stack.stop()
            log(f"  processes started in {set_up:.1f} s, load {window:.0f} s, drain {waited:.1f} s"
                f"{'' if drained else ' (NOT drained)'}; checking ...")
            found = checks.requests_known(services, stats)
            state_checks, waiting = checks.states(services)
            found += state_checks + checks.external_effects(sink) + checks.emails(services, sink) + \
                checks.webhooks(services, sink)
            found += checks.audit_and_replay(env) if cli_checks else checks.audit_and_replay_here(services)
            result = Result(web, workers, users, window, stats, closed, waited, drained, found, waiting, fault_log,
                            stack.restarts, tmp)
            if result.ok:
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                log(f"  the processes' logs are kept in {tmp}")
            return result
        finally:
            services.engine.dispose()
