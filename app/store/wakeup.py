"""Waking the worker as soon as a commit makes work due, instead of at its next poll.

Two ways, both best effort (the worker's poll interval stays the safety net, and the only way on SQLite between
processes):

- within one process (`rf serve` with its worker thread, whatever the database): a session that wrote work sets the
  process's `Wakeup` after its commit;
- between processes on PostgreSQL: the same transaction issues `NOTIFY rf_work` (PostgreSQL delivers it at commit,
  never for a rolled-back transaction), and every worker LISTENs on a dedicated connection (`Listener`) that sets its
  `Wakeup`. Every worker wakes; `SKIP LOCKED` still gives each job to one of them.

"Work" is a row a worker acts on, written by the ORM and noticed at flush: a pending service job, a queued mail or
webhook delivery (new, or with its status or next attempt changed), an instance whose next timer changed. Code that
writes such a row with a core statement calls `work_due` itself (the projection's optimistic-lock update). The
NOTIFY carries no payload: a woken worker reads what is due, and sleeps until the earliest future due time (capped by
the poll interval).

All of the psycopg-specific code of the app is in this module.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import Engine, event, inspect
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from app.store.models import Notification, ProcessInstance, ServiceJob, WebhookDelivery

CHANNEL = "rf_work"
_DUE = "rf_work_due"  # session.info: this transaction wrote work (set the process's Wakeup after its commit)
_NOTIFIED = "rf_work_notified"  # session.info: NOTIFY already issued in this transaction

# (model, the status a row must have to be work, the columns whose change makes it work again)
_WORK: tuple[tuple[type[Any], str | None, tuple[str, ...]], ...] = (
    (ServiceJob, "pending", ("status", "next_attempt_at")),
    (Notification, "queued", ("status", "next_attempt_at")),
    (WebhookDelivery, "queued", ("status", "next_attempt_at")),
    (ProcessInstance, None, ("next_timer_at",)),
)


class Wakeup:
    """What a worker loop waits on between passes: set by a commit of this process that wrote work, by a NOTIFY
    from another process (through the `Listener`), or by whoever stops the loop."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def clear(self) -> None:
        self._event.clear()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float) -> bool:
        """Block until set or `timeout` seconds passed; True when set."""
        return self._event.wait(max(0.0, timeout))

    def listen(self, engine: Engine, report: Callable[[str], None]) -> Listener | None:
        """Start listening for other processes' NOTIFY (PostgreSQL only; None on any other database)."""
        if engine.dialect.name != "postgresql":
            return None
        listener = Listener(engine, self, report)
        listener.start()
        return listener


def _is_work(obj: Any, new: bool) -> bool:
    for model, status, columns in _WORK:
        if not isinstance(obj, model):
            continue
        if status is not None and getattr(obj, "status", None) != status:
            return False
        if model is ProcessInstance and obj.next_timer_at is None:
            return False
        if new:
            return True
        attrs = inspect(obj).attrs
        return any(attrs[column].history.has_changes() for column in columns)
    return False


def work_due(session: Session) -> None:
    """This transaction wrote work: wake this process's worker after the commit and, on PostgreSQL, the others
    (one NOTIFY per transaction; PostgreSQL drops it if the transaction rolls back)."""
    session.info[_DUE] = True
    if session.info.get(_NOTIFIED) or session.get_bind().dialect.name != "postgresql":
        return
    session.connection().exec_driver_sql(f"NOTIFY {CHANNEL}")
    session.info[_NOTIFIED] = True


def install(factory: sessionmaker, wakeup: Wakeup) -> None:  # type: ignore[type-arg]
    """Have every session of `factory` notice the work it writes (see the module's docstring)."""

    @event.listens_for(factory, "after_flush")
    def _noticed(session: Session, _context: Any) -> None:
        written: Iterable[tuple[Any, bool]] = [(o, True) for o in session.new] + [(o, False) for o in session.dirty]
        if any(_is_work(obj, new) for obj, new in written):
            work_due(session)

    @event.listens_for(factory, "after_commit")
    def _committed(session: Session) -> None:
        if session.info.pop(_DUE, False):
            wakeup.set()

    @event.listens_for(factory, "after_transaction_end")
    def _ended(session: Session, transaction: SessionTransaction) -> None:
        session.info.pop(_NOTIFIED, None)  # a savepoint's NOTIFY may have been rolled back with it: notify again
        if transaction.parent is None:
            session.info.pop(_DUE, None)


class Listener:
    """A dedicated autocommit connection (not from the pool) that LISTENs on `rf_work` in a daemon thread and sets the
    `Wakeup` on every notification. When the connection is lost (PostgreSQL restarted, a network cut) it reports it
    and reconnects, every `retry_seconds` doubling up to `retry_max_seconds`; the worker polls meanwhile, and is woken
    once on reconnecting, for what was committed while nobody listened."""

    def __init__(self, engine: Engine, wakeup: Wakeup, report: Callable[[str], None], *,
                 retry_seconds: float = 0.5, retry_max_seconds: float = 10.0, check_seconds: float = 10.0) -> None:
        self._engine = engine
        self._wakeup = wakeup
        self._report = report
        self._retry = (retry_seconds, retry_max_seconds)
        self._check_seconds = check_seconds  # how often an idle connection is checked with a query
        self._closed = threading.Event()
        self._listening = threading.Event()
        self.backend_pid: int | None = None  # the LISTEN connection's server process (pg_stat_activity.pid)
        self._thread = threading.Thread(target=self._run, daemon=True, name="rf-worker-listen")

    @property
    def listening(self) -> bool:
        return self._listening.is_set()

    def start(self) -> None:
        self._thread.start()

    def wait_listening(self, timeout: float) -> bool:
        return self._listening.wait(timeout)

    def close(self, timeout: float = 5.0) -> None:
        self._closed.set()
        self._thread.join(timeout)

    def _connect(self) -> Any:
        import psycopg

        args, params = self._engine.dialect.create_connect_args(self._engine.url)
        params = {"connect_timeout": 5, "application_name": "rf-worker-listen", **params, "autocommit": True}
        return psycopg.connect(*args, **params)

    def _run(self) -> None:
        import psycopg

        delay, lost = self._retry[0], False
        while not self._closed.is_set():
            try:
                with self._connect() as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.backend_pid = conn.info.backend_pid
                    self._listening.set()
                    if lost:
                        self._report(f"worker: listening for work again (NOTIFY {CHANNEL})")
                    self._wakeup.set()  # whatever was committed while nobody listened
                    delay, lost = self._retry[0], False
                    self._listen(conn)
            except (psycopg.Error, OSError) as err:
                self._listening.clear()
                if not lost:
                    self._report(f"worker: lost the LISTEN connection ({type(err).__name__}: {err}); polling "
                                 "until it is back")
                lost = True
                self._closed.wait(delay)
                delay = min(delay * 2, self._retry[1])
        self._listening.clear()

    def _listen(self, conn: Any) -> None:
        checked = time.monotonic()
        while not self._closed.is_set():
            for _ in conn.notifies(timeout=0.5):  # short, so that close() is prompt
                self._wakeup.set()
            if time.monotonic() - checked >= self._check_seconds:  # a silent connection may be a dead one
                conn.execute("SELECT 1")
                checked = time.monotonic()
