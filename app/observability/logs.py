"""Structured logs: one JSON object per line on stderr (RF_LOG_FORMAT=json, the default) or readable text.

Every line has `time` (UTC, ISO 8601, the wall clock: when it was written, not the app's clock), `level`, `logger`,
`message` and, while a web request or its job is being handled, `request_id`; the fields a line is given (`extra=`)
follow: the web app's access line adds method, path, status, duration_ms and user; the worker's job line adds job,
operator, rf_request, outcome and duration_ms.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any

from pythonjsonlogger.json import JsonFormatter as _BaseJsonFormatter

from app.observability import request_id

ROOT = "rf"  # the app's loggers: rf.http, rf.worker, rf.serve
_FIRST = ("time", "level", "logger", "message", "request_id")


class JsonFormatter(_BaseJsonFormatter):
    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]) -> None:
        log_data["time"] = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        log_data["level"] = record.levelname
        log_data["logger"] = record.name
        super().add_fields(log_data, record, message_dict)  # the message and the line's own fields
        found = log_data.get("request_id") or request_id.current()
        if found:
            log_data["request_id"] = found
        else:
            log_data.pop("request_id", None)
        ordered = {key: log_data.pop(key) for key in _FIRST if key in log_data}
        ordered.update(log_data)
        log_data.clear()
        log_data.update(ordered)


class TextFormatter(logging.Formatter):
    """`time level logger [request id] message key=value…` for a developer's terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        rid = getattr(record, "request_id", None) or request_id.current()
        extras = {k: v for k, v in record.__dict__.items() if k not in _RESERVED and not k.startswith("_")}
        extras.pop("request_id", None)
        tail = " ".join(f"{k}={v}" for k, v in extras.items())
        return f"{line}{f' [{rid}]' if rid else ''}{f'  {tail}' if tail else ''}"


_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "color_message"}


def formatter(kind: str) -> logging.Formatter:
    return JsonFormatter() if kind == "json" else TextFormatter()


def configure(kind: str = "json", level: str = "INFO") -> None:
    """Send every log record (the app's, gunicorn's, SQLAlchemy's warnings…) to stderr in `kind` format. Werkzeug's
    own access lines are left out: the app writes its own (rf.http) with the request id and the duration; so are
    SpiffWorkflow's task state changes below DEBUG."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(kind))
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_rf", False):
            root.removeHandler(old)
    handler._rf = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # /ready reads the schema's revision on every probe
    # SpiffWorkflow writes a line per task state change (six or so per user action, each a JSON object here): at
    # DEBUG only. What happened to an instance is in the audit log; its warnings and errors still come through.
    debug = logging.getLevelName(level.upper()) == logging.DEBUG
    logging.getLogger("spiff").setLevel(logging.NOTSET if debug else logging.WARNING)


def logger(name: str) -> logging.Logger:
    return logging.getLogger(f"{ROOT}.{name}")
