"""What a use case is given: the small context the composition root (`app.bootstrap`) builds. Services depend on this
protocol, never on the root itself, so the root is free to pick the clock, the database and the adapters."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.clock import Clock
from app.config import Settings
from app.store.unit_of_work import UnitOfWork
from handlers import Clients, Handler


class Context(Protocol):
    settings: Settings
    engine: Engine
    clock: Clock
    handlers: dict[str, Handler]

    def uow(self) -> UnitOfWork:
        """A new unit of work (rolls back unless committed)."""
        ...

    def clients(self, session: Session, now: datetime) -> Clients:
        """The external systems' clients for one service call, writing in `session` at `now`."""
        ...
