"""`rf serve --processes N`: the web app under gunicorn, N processes behind one listening socket.

Each gunicorn process builds the app (and so its own database engine and connection pool) after it is forked: the
app is not preloaded in the parent, so no connection crosses a fork. The service worker is not in these processes:
run `rf worker` beside them (any number, on any machine sharing the PostgreSQL database), or pass `--worker` to have
`rf serve` start one `rf worker` process next to gunicorn and stop it with gunicorn.

SIGTERM (or SIGINT) to `rf serve` is gunicorn's graceful stop: stop accepting, let the requests in flight finish
within the graceful timeout, then exit 0.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gunicorn.app.base import BaseApplication

from app.observability import metrics


@dataclass(frozen=True)
class Options:
    host: str
    port: int
    processes: int
    threads: int = 4
    timeout: int = 60  # a request taking longer has its process restarted
    graceful_timeout: int = 30  # how long a stop waits for the requests in flight
    log_format: str = "json"
    log_level: str = "INFO"
    worker: bool = False  # start one `rf worker` process beside gunicorn


def log_config(kind: str, level: str) -> dict[str, Any]:
    """gunicorn's own lines (start, stop, a process restarted) in the app's format on stderr; its access log off (the
    app writes its own line per request, with the request id)."""
    formatter = {"()": "app.observability.logs.JsonFormatter"} if kind == "json" else \
        {"()": "app.observability.logs.TextFormatter"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"rf": formatter},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "rf", "stream": "ext://sys.stderr"}},
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": [], "propagate": True, "qualname": "gunicorn.error"},
            "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": True, "qualname": "gunicorn.access"},
            "werkzeug": {"level": "WARNING", "handlers": [], "propagate": True},
            "alembic": {"level": "WARNING", "handlers": [], "propagate": True},  # /ready reads the schema's revision
        },
    }


class Gunicorn(BaseApplication):  # type: ignore[misc]
    """gunicorn run from code: `settings` become its configuration, `factory` builds the app in each process."""

    def __init__(self, settings: dict[str, Any], factory: Callable[[], Any]) -> None:
        self.settings = settings
        self.factory = factory
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.settings.items():
            if key in self.cfg.settings and value is not None:
                self.cfg.set(key, value)

    def load(self) -> Any:
        return self.factory()


def _worker_process() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "from app.cli import main; main()", "worker"])  # noqa: S603


def run(options: Options, factory: Callable[[], Any]) -> None:
    """Serve until SIGTERM/SIGINT; returns once gunicorn (and the `rf worker` it started) has stopped."""
    log = logging.getLogger("rf.serve")
    beside: list[subprocess.Popen[bytes]] = []

    def when_ready(_arbiter: Any) -> None:
        if options.worker:
            beside.append(_worker_process())
            log.info("rf worker started beside gunicorn (pid %s)", beside[0].pid)

    def on_exit(_arbiter: Any) -> None:
        for process in beside:
            process.send_signal(signal.SIGTERM)  # it finishes the job it is running
            try:
                process.wait(timeout=options.graceful_timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def child_exit(_arbiter: Any, child: Any) -> None:
        metrics.process_exited(child.pid)

    settings: dict[str, Any] = {
        "bind": [f"[{options.host}]:{options.port}" if ":" in options.host else f"{options.host}:{options.port}"],
        "workers": options.processes,
        "worker_class": "gthread",
        "threads": options.threads,
        "timeout": options.timeout,
        "graceful_timeout": options.graceful_timeout,
        "keepalive": 5,
        "preload_app": False,  # each process builds its own app, engine and pool after the fork
        "proc_name": "rf",
        "logconfig_dict": log_config(options.log_format, options.log_level),
        "control_socket_disable": True,  # no runtime control socket (gunicorn >= 25): signals only
        "when_ready": when_ready,
        "on_exit": on_exit,
        "child_exit": child_exit,
    }
    Gunicorn(settings, factory).run()
