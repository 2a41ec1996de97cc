"""The composition root: settings, database, clock and handler registry wired into one `Services` object."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.adapters import database_clients
from app.clock import Clock, RunningClock, SystemClock
from app.config import Settings
from app.engine.sandbox import ScriptLimits
from app.engine.sandbox import configure as configure_scripts
from app.store.db import make_engine, make_session_factory
from app.store.unit_of_work import UnitOfWork
from handlers import REGISTRY, Clients, Handler


@dataclass
class Services:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker  # type: ignore[type-arg]
    clock: Clock
    handlers: dict[str, Handler] = field(default_factory=lambda: dict(REGISTRY))

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.session_factory)

    def clients(self, session: Session, now: datetime) -> Clients:
        """The built-in (database) adapters of the external systems; HTTP ones will be picked here too."""
        return database_clients(session, now)


def bootstrap(settings: Settings | None = None, clock: Clock | None = None,
              handlers: dict[str, Handler] | None = None) -> Services:
    settings = settings or Settings.from_env()
    if settings.database_url.startswith("sqlite:///") and ":memory:" not in settings.database_url:
        from pathlib import Path

        Path(settings.database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.database_url)
    configure_scripts(ScriptLimits(settings.script_time_limit_seconds, settings.script_memory_limit_mb))
    if clock is None:
        clock = RunningClock(settings.clock_start) if settings.clock_start else SystemClock()
    return Services(settings=settings, engine=engine, session_factory=make_session_factory(engine, clock),
                    clock=clock, handlers=dict(handlers) if handlers else dict(REGISTRY))
