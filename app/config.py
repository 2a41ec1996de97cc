"""Settings read from the environment, with defaults for the embedded set-up (SQLite file, local SMTP)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from app.clock import parse_instant

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = f"sqlite:///{PROJECT_ROOT / 'instance' / 'rf.sqlite3'}"


@dataclass(frozen=True)
class Settings:
    database_url: str
    smtp_host: str
    smtp_port: int
    mail_from: str
    bpmn_dir: Path
    forms_dir: Path
    service_max_attempts: int
    service_backoff_seconds: float
    clock_start: datetime | None = None  # RF_CLOCK_START: run the app's clock from this instant (tests, demos)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            database_url=env.get("RF_DATABASE_URL", DEFAULT_DATABASE_URL),
            smtp_host=env.get("RF_SMTP_HOST", "127.0.0.1"),
            smtp_port=int(env.get("RF_SMTP_PORT", "8025")),
            mail_from=env.get("RF_MAIL_FROM", "request-fulfillment@omes.example"),
            bpmn_dir=Path(env.get("RF_BPMN_DIR", str(PROJECT_ROOT / "bpmn"))),
            forms_dir=Path(env.get("RF_FORMS_DIR", str(PROJECT_ROOT / "forms"))),
            service_max_attempts=int(env.get("RF_SERVICE_MAX_ATTEMPTS", "5")),
            service_backoff_seconds=float(env.get("RF_SERVICE_BACKOFF_SECONDS", "2")),
            clock_start=_clock_start(env.get("RF_CLOCK_START", "")),
        )


def _clock_start(value: str) -> datetime | None:
    if not value.strip():
        return None
    try:
        return parse_instant(value)
    except ValueError as err:
        raise ValueError(f"RF_CLOCK_START: {err}") from None
