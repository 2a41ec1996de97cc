"""Prometheus metrics: counters and histograms updated where things happen (the web app, the worker) and gauges read
from the database at scrape time (a few COUNT queries), rendered at `/metrics` and by `rf worker --metrics-port`.

Several processes (`rf serve --processes N`) share counters through prometheus-client's multiprocess mode: the
directory in PROMETHEUS_MULTIPROC_DIR (which `rf serve` sets before anything imports prometheus-client) holds each
process's values and every process's /metrics adds them up. An `rf worker` counts its own jobs: it shows them on its
own `--metrics-port` (and, on the machine of `rf serve --processes N --worker`, in the web app's /metrics too).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import multiprocess as _multiprocess
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST

# -- updated where things happen -----------------------------------------------------------------------------------

HTTP_REQUEST_DURATION = Histogram(
    "rf_http_request_duration_seconds", "Time to answer an HTTP request, by Flask endpoint, method and status",
    ["endpoint", "method", "status"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
TASKS_COMPLETED = Counter("rf_tasks_completed", "User tasks completed, by BPMN task id and channel (web, api)",
                          ["task", "channel"])
JOBS = Counter("rf_worker_jobs", "Service jobs the worker ran, by outcome: done, retry (failed, will be retried), "
                                 "incident (failed for good)", ["outcome"])
JOB_DURATION = Histogram("rf_worker_job_duration_seconds", "Time the worker took for one service job",
                         buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
WORKER_EVENTS = Counter("rf_worker_events", "What the worker's passes did besides service jobs: timers_fired, "
                                            "escalations, mails_sent, webhooks_delivered, webhook_attempts_failed",
                        ["kind"])
WORKER_PASSES_FAILED = Counter("rf_worker_passes_failed", "Worker passes (or parts of one) that raised")


# -- read from the database at scrape time ---------------------------------------------------------------------------

class Snapshot(Protocol):
    """What the collector reads (app.services.monitoring.Snapshot)."""

    @property
    def jobs_pending(self) -> int: ...

    @property
    def jobs_due(self) -> int: ...

    @property
    def oldest_due_job_age_seconds(self) -> float: ...

    @property
    def incidents_open(self) -> int: ...

    @property
    def sla_warnings_open(self) -> int: ...

    @property
    def sla_breaches_open(self) -> int: ...

    @property
    def emails_queued(self) -> int: ...

    @property
    def emails_failed(self) -> int: ...

    @property
    def webhooks_queued(self) -> int: ...

    @property
    def webhooks_failed(self) -> int: ...


class DatabaseCollector(Collector):
    """Gauges computed from the database when scraped; `rf_database_up` 0 (and nothing else) when it does not answer."""

    def __init__(self, read: Callable[[], Snapshot]) -> None:
        self.read = read

    def collect(self) -> Iterator[Metric]:
        try:
            s = self.read()
        except Exception:  # noqa: BLE001 - a scrape reports the database down rather than failing
            yield GaugeMetricFamily("rf_database_up", "1 when the database answered this scrape", value=0)
            return
        yield GaugeMetricFamily("rf_database_up", "1 when the database answered this scrape", value=1)
        yield GaugeMetricFamily("rf_job_queue_pending", "Service jobs pending (due now or waiting for a retry)",
                                value=s.jobs_pending)
        yield GaugeMetricFamily("rf_job_queue_due", "Service jobs due now (the queue depth)", value=s.jobs_due)
        yield GaugeMetricFamily("rf_job_queue_oldest_due_age_seconds",
                                "How long the oldest due service job has been due (0: none due)",
                                value=s.oldest_due_job_age_seconds)
        yield GaugeMetricFamily("rf_incidents_open", "Service jobs that failed their last retry, not yet retried",
                                value=s.incidents_open)
        sla = GaugeMetricFamily("rf_sla_escalations_open", "Open requests whose SLA clock reached a level "
                                "(warning: 75% used, breach: target passed)", labels=["level"])
        sla.add_metric(["warning"], s.sla_warnings_open)
        sla.add_metric(["breach"], s.sla_breaches_open)
        yield sla
        outbox = GaugeMetricFamily("rf_outbox_messages", "Email and webhook deliveries waiting to be sent (queued) or "
                                                         "given up (failed)", labels=["channel", "status"])
        outbox.add_metric(["email", "queued"], s.emails_queued)
        outbox.add_metric(["email", "failed"], s.emails_failed)
        outbox.add_metric(["webhook", "queued"], s.webhooks_queued)
        outbox.add_metric(["webhook", "failed"], s.webhooks_failed)
        yield outbox


class _Forward(Collector):
    def __init__(self, source: CollectorRegistry) -> None:
        self.source = source

    def collect(self) -> Iterable[Metric]:
        return self.source.collect()


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def registry(database: Collector | None) -> CollectorRegistry:
    """This process's metrics (every process's, in multiprocess mode) and the database's gauges."""
    found = CollectorRegistry(auto_describe=False)
    if multiprocess_dir():
        _multiprocess.MultiProcessCollector(found)  # type: ignore[no-untyped-call]
    else:
        found.register(_Forward(REGISTRY))
    if database is not None:
        found.register(database)
    return found


def render(database: Collector | None) -> bytes:
    return generate_latest(registry(database))


def process_exited(pid: int) -> None:
    """Gunicorn's child_exit hook: the process's live gauges go (its counters stay summed in)."""
    if multiprocess_dir():
        _multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


def serve(port: int, host: str, database: Collector | None) -> None:
    """A metrics-only HTTP server in a thread (for `rf worker --metrics-port`)."""
    from prometheus_client import start_http_server

    start_http_server(port, addr=host, registry=registry(database))
