"""The composition root: settings, database, clock and handler registry wired into one `Services` object."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.adapters import database_clients
from app.adapters.http import Endpoint, RemoteSystems
from app.adapters.mail_compose import MailStyle
from app.adapters.mail_compose import configure as configure_mail
from app.clock import Clock, RunningClock, SystemClock
from app.config import Settings
from app.domain import local_time
from app.engine.sandbox import ScriptLimits
from app.engine.sandbox import configure as configure_scripts
from app.engine.spiff_patches import configure_timer_zone
from app.store.db import make_engine, make_session_factory
from app.store.unit_of_work import UnitOfWork
from app.store.wakeup import Wakeup
from app.store.wakeup import install as install_wakeup
from handlers import REGISTRY, Clients, Handler


@dataclass
class Services:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker  # type: ignore[type-arg]
    clock: Clock
    handlers: dict[str, Handler] = field(default_factory=lambda: dict(REGISTRY))
    remote: RemoteSystems = field(default_factory=RemoteSystems)  # the systems reached over HTTP
    # set after a commit of this process that made work due, and by the worker's LISTEN connection (app.store.wakeup)
    wakeup: Wakeup = field(default_factory=Wakeup)

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.session_factory)

    def clients(self, session: Session, now: datetime) -> Clients:
        """The external systems' clients for one call: the HTTP one for each system whose URL is set (picked at
        start-up), the built-in database one otherwise."""
        return self.remote.clients(database_clients(session, now, mail_style(self.settings)), session, now)

    def close(self) -> None:
        """Release the database connections and the HTTP connection pools."""
        self.remote.close()
        self.engine.dispose()


def mail_style(settings: Settings) -> MailStyle:
    """The signature's contact line and the zone email times are written in."""
    return MailStyle(contact=settings.mail_contact or settings.mail_from, where=local_time.zone(settings.time_zone))


def remote_systems(settings: Settings) -> RemoteSystems:
    """An HTTP client for each external system whose URL is set (its token is then set too: see Settings)."""
    def endpoint(system: str, url: str | None, token: str | None) -> Endpoint | None:
        if not url:
            return None
        return Endpoint(system=system, base_url=url, token=token or "", timeout_seconds=settings.http_timeout_seconds)

    return RemoteSystems.connect(crm=endpoint("CRM", settings.crm_url, settings.crm_token),
                                 billing=endpoint("billing", settings.billing_url, settings.billing_token),
                                 asd=endpoint("ASD", settings.asd_url, settings.asd_token))


def bootstrap(settings: Settings | None = None, clock: Clock | None = None,
              handlers: dict[str, Handler] | None = None) -> Services:
    settings = settings or Settings.from_env()
    if settings.database_url.startswith("sqlite:///") and ":memory:" not in settings.database_url:
        from pathlib import Path

        Path(settings.database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.database_url, pool={
        "pool_size": settings.db_pool_size, "max_overflow": settings.db_max_overflow,
        "pool_timeout": settings.db_pool_timeout, "pool_recycle": settings.db_pool_recycle or -1,
        "pool_pre_ping": settings.db_pool_pre_ping, "ping_after": settings.db_pool_ping_after})
    configure_scripts(ScriptLimits(settings.script_time_limit_seconds, settings.script_memory_limit_mb))
    configure_mail(mail_style(settings))  # outboxes built outside a service call (staff emails) sign the same way
    configure_timer_zone(settings.time_zone)  # a timer date without an offset is read in the installation's zone
    if clock is None:
        clock = RunningClock(settings.clock_start) if settings.clock_start else SystemClock()
    factory = make_session_factory(engine, clock)
    wakeup = Wakeup()
    install_wakeup(factory, wakeup)
    return Services(settings=settings, engine=engine, session_factory=factory, clock=clock,
                    handlers=dict(handlers) if handlers else dict(REGISTRY), remote=remote_systems(settings),
                    wakeup=wakeup)
