"""Probes, metrics and structured logs of the web app and the worker, in process (Flask's test client, the worker's
pass as `rf worker` runs it): /health and /ready, /metrics and who may read it, the request id from a web request to
the worker's log line for that request's job."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import replace

import pytest
from alembic import command
from alembic.config import Config
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from app.bootstrap import bootstrap
from app.observability import logs, request_id
from app.run import worker_loop
from app.services import worker
from app.services.admin.setup import MIGRATIONS
from app.services.monitoring import migration_heads
from app.store.models import ServiceJob
from app.web import create_app
from tests.web import WebUser

NEW_REQUEST = {"request_type": "assistance", "title": "VPN for the field office", "agency": "Tourism",
               "priority": "high", "requester_name": "Ann Agency", "requester_email": "ann@tourism.example",
               "provider_group": "network", "routine": "true"}
METRICS_TOKEN = "metrics-token-0123456789"


def scrape(client, **headers) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    page = client.get("/metrics", headers=headers)
    assert page.status_code == 200, page.get_data(as_text=True)
    assert page.headers["Content-Type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(page.get_data(as_text=True)) for s in family.samples}


def value(samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """The app's log records as the JSON formatter writes them."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    rf = logging.getLogger("rf")
    level = rf.level
    rf.addHandler(handler)
    rf.setLevel(logging.DEBUG)
    yield stream
    rf.removeHandler(handler)
    rf.setLevel(level)


def parsed(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_health_is_liveness_and_ready_says_the_database_does_not_answer(settings, clock):
    down = bootstrap(replace(settings, database_url="postgresql+psycopg://nobody@127.0.0.1:9/none"), clock)
    client = create_app(down, {"SECRET_KEY": "t"}).test_client()
    assert client.get("/health").get_json() == {"status": "ok"}  # no database needed
    page = client.get("/ready")
    assert page.status_code == 503
    assert page.get_json()["status"] == "not ready"
    assert "the database does not answer" in page.get_json()["reason"]
    down.close()


def test_a_database_that_went_away_is_a_503_to_retry_not_a_500(settings, clock):
    """Found by the fault campaign (bench.scale): the requests running while PostgreSQL restarted answered 500."""
    down = bootstrap(replace(settings, database_url="postgresql+psycopg://nobody@127.0.0.1:9/none"), clock)
    client = create_app(down, {"SECRET_KEY": "t"}).test_client()
    answer = client.get("/api/v1/requests", headers={"Authorization": "Bearer rf_not-checked-without-a-database"})
    assert answer.status_code == 503 and answer.mimetype == "application/problem+json"
    assert answer.headers["Retry-After"] == "2" and "retry shortly" in answer.get_json()["detail"]
    page = client.get("/login")  # lists the demo accounts of a demo installation: reads the database
    assert page.status_code == 503 and page.headers["Retry-After"] == "2"
    down.close()


def test_ready_when_the_schema_is_at_the_migrations_head(services):
    page = create_app(services, {"SECRET_KEY": "t"}).test_client().get("/ready")
    assert page.status_code == 200
    assert page.get_json() == {"status": "ready", "schema": list(migration_heads()),
                               "expected_schema": list(migration_heads())}


def test_not_ready_before_migrating_and_while_the_schema_is_behind(settings, clock):
    fresh = bootstrap(settings, clock)
    client = create_app(fresh, {"SECRET_KEY": "t"}).test_client()
    page = client.get("/ready")
    assert page.status_code == 503 and "no schema: run `rf migrate`" in page.get_json()["reason"]

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with fresh.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0012")
    page = client.get("/ready")
    assert page.status_code == 503
    assert page.get_json()["schema"] == ["0012"] and "run `rf migrate`" in page.get_json()["reason"]
    assert client.get("/health").status_code == 200
    fresh.close()


def test_metrics_answer_the_loopback_only_unless_a_token_is_set(services):
    client = create_app(services, {"SECRET_KEY": "t"}).test_client()
    assert client.get("/metrics").status_code == 200  # the test client is 127.0.0.1
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 403

    with_token = replace(services, settings=replace(services.settings, metrics_token=METRICS_TOKEN))
    client = create_app(with_token, {"SECRET_KEY": "t"}).test_client()
    assert client.get("/metrics").status_code == 401  # a token is set: the loopback needs it too
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong-token-0123456789"}).status_code == 401
    ok = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"},
                    environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert ok.status_code == 200 and b"rf_database_up 1.0" in ok.data


def test_metrics_follow_a_request_from_intake_through_the_worker_to_a_completed_task(services, clock):
    carla = WebUser(services, "carla")
    before = scrape(carla.client)
    assert value(before, "rf_database_up") == 1
    logged = carla.post("/requests/new", NEW_REQUEST)
    assert logged.status_code == 302, re.findall(r"class=\"error[^>]*>([^<]+)", logged.get_data(as_text=True))

    queued = scrape(carla.client)
    assert value(queued, "rf_job_queue_due") == 1 and value(queued, "rf_job_queue_pending") == 1
    assert value(queued, "rf_job_queue_oldest_due_age_seconds") == 0  # due at the (fixed) clock's now
    for name in ("rf_incidents_open", "rf_sla_escalations_open", "rf_outbox_messages"):
        assert any(key[0] == name for key in queued), name
    post = ("rf_http_request_duration_seconds_count", {"endpoint": "intake.new_request", "method": "POST",
                                                       "status": "302"})
    assert value(queued, post[0], **post[1]) == value(before, post[0], **post[1]) + 1

    worker.run_once(services, now=clock.now(), report=worker_loop.report, observe=worker_loop.observe)
    ran = scrape(carla.client)
    assert value(ran, "rf_worker_jobs_total", outcome="done") == value(before, "rf_worker_jobs_total",
                                                                       outcome="done") + 1
    assert value(ran, "rf_worker_job_duration_seconds_count") >= 1
    assert value(ran, "rf_job_queue_due") == 0
    assert value(ran, "rf_outbox_messages", channel="email", status="queued") >= 0

    maria = WebUser(services, "maria")
    number = logged.headers["Location"].rsplit("/", 1)[1]
    [task] = [t for t in maria.client.get(f"/api/requests/{number}").get_json()["open_tasks"]]
    assert maria.post(f"/tasks/{task['id']}", {"specialist": "sam"}).status_code == 302
    done = scrape(maria.client)
    completed = ("rf_tasks_completed_total", {"task": "assign_specialist", "channel": "web"})
    assert value(done, completed[0], **completed[1]) == value(before, completed[0], **completed[1]) + 1


def test_the_request_id_goes_from_the_web_request_to_the_worker_log_line_of_its_job(services, clock, log_lines):
    carla = WebUser(services, "carla")
    page = carla.client.post("/requests/new", data={**NEW_REQUEST, "csrf_token": carla.token},
                             headers={"X-Request-Id": "req-4711.from-proxy"})
    assert page.status_code == 302 and page.headers["X-Request-Id"] == "req-4711.from-proxy"
    number = page.headers["Location"].rsplit("/", 1)[1]
    with services.uow() as uow:
        [(job_id, origin)] = uow.session.execute(select(ServiceJob.id, ServiceJob.origin_request_id)).all()
    assert origin == "req-4711.from-proxy"

    worker.run_once(services, now=clock.now(), report=worker_loop.report, observe=worker_loop.observe)
    lines = parsed(log_lines)
    [web] = [line for line in lines if line["logger"] == "rf.http" and line["path"] == "/requests/new"]
    assert web["request_id"] == "req-4711.from-proxy"
    assert (web["path"], web["status"], web["user"]) == ("/requests/new", 302, "carla")
    assert isinstance(web["duration_ms"], float) and web["time"].endswith("+00:00") and web["level"] == "INFO"
    [job_line] = [line for line in lines if line["logger"] == "rf.worker" and line.get("job") == job_id]
    assert job_line["request_id"] == "req-4711.from-proxy"
    assert (job_line["rf_request"], job_line["operator"], job_line["outcome"]) == (number, "crm.take_case", "done")
    assert list(job_line)[:5] == ["time", "level", "logger", "message", "request_id"]


@pytest.mark.parametrize("sent", ["", "has spaces in it", "x" * 65, "<script>", "-leading-dash", "a;b"])
def test_an_unusable_request_id_is_replaced_by_a_new_one(services, sent):
    page = create_app(services, {"SECRET_KEY": "t"}).test_client().get("/health", headers={"X-Request-Id": sent})
    answered = page.headers["X-Request-Id"]
    assert answered != sent and request_id.sane(answered) == answered and len(answered) == 32


def test_the_connection_pool_and_log_settings_come_from_the_environment(clock):
    from app.config import Settings

    settings = Settings.from_env({"RF_DATABASE_URL": "postgresql+psycopg://rf@127.0.0.1:9/rf", "RF_DB_POOL_SIZE": "8",
                                  "RF_DB_MAX_OVERFLOW": "0", "RF_DB_POOL_TIMEOUT": "5", "RF_DB_POOL_RECYCLE": "0",
                                  "RF_DB_POOL_PRE_PING": "no", "RF_LOG_FORMAT": "text", "RF_LOG_LEVEL": "debug"})
    assert (settings.db_pool_size, settings.db_max_overflow, settings.db_pool_timeout, settings.db_pool_recycle,
            settings.db_pool_pre_ping, settings.log_format, settings.log_level) == (
        8, 0, 5.0, 0, False, "text", "DEBUG")
    built = bootstrap(settings, clock)  # no connection is opened
    pool = built.engine.pool
    assert (pool.size(), pool._max_overflow, pool._timeout, pool._recycle, pool._pre_ping) == (8, 0, 5.0, -1, False)
    built.close()
    defaults = Settings.from_env({})
    assert (defaults.db_pool_size, defaults.db_max_overflow, defaults.db_pool_pre_ping, defaults.metrics_token) == (
        5, 10, True, None)
    for bad in ({"RF_LOG_FORMAT": "xml"}, {"RF_DB_POOL_SIZE": "0"}, {"RF_METRICS_TOKEN": "short"}):
        with pytest.raises(ValueError):
            Settings.from_env(bad)
