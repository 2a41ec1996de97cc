"""Append-only, hash-chained audit log: every state change appends one row; nothing updates or deletes one.

**No global write lock.** The log is not one chain but many: each request has its own chain (`request:<id>`) and
events without a request go to a few system chains, one per kind of event (`system:sign-in`, `system:mail`,
`system:definitions`…, see `chain_of`). Each event carries its chain, its position in it (`chain_seq`, 1, 2, 3…)
and the previous event's hash *in that chain* (`prev_hash`); its own hash covers all of its content, its global
`seq` and that link. Writing events locks only their chain's head row (`audit_chain`): writers of one request
already serialise on the request's instance, and writers of different requests no longer wait for one another
(before, every write transaction of every process locked the single `audit_head` row). The global `seq` that orders
the page and the exports comes from a database sequence on PostgreSQL (no lock; gaps only where a transaction that
drew seqs rolled back) and from max + 1 on SQLite, whose writers are serialised by `BEGIN IMMEDIATE` anyway.

**Written at commit.** `append` only records the event in its transaction; the transaction's events are written
together just before it commits (`write_pending`, from the session's `before_commit`), or earlier if the transaction
reads the audit tables first (it then sees its own events, as it always did). So a user action that appends two
events locks its chain's head once, draws both seqs with that lock and writes both rows and the head's move in one
batch: two round trips, where each event used to cost two; and the head is held only from then to the commit. The
seqs still follow the order of the appends; a rolled-back transaction writes nothing.

**Checkpoints.** Chains cannot see events cut from their own end once the head row is rewritten too, and a chain can
vanish with its head row. So from time to time (the worker, every `CHECKPOINT_EVERY`; `rf audit checkpoint`; the
migration that introduced chains) a checkpoint row records the head (length, hash) of every chain that changed
since the previous checkpoint, hashed together with the previous checkpoint's hash: a chain of checkpoints, which
is append-only like the events. Recording only the changed heads keeps a checkpoint small; because chains only
grow, the heads at checkpoint k are the latest entry for each chain in checkpoints 1..k.

**Verification** (`verify`) checks the checkpoint chain; walks every chain in position order, checking that
positions run 1, 2, 3… with no gap (a unique index forbids repeats), that the global `seq` grows along the chain,
that each event links to the previous one of its chain and that its content matches its hash; checks each chain's
head row against the walk; and checks that every head a checkpoint recorded is still a prefix of its chain. So an
edited, deleted, inserted or reordered event is found anywhere, and a cut tail (events removed from a chain's end
with its head row rewritten, or a whole chain removed) is found when a checkpoint recorded those events. What no
hash chain can find without an anchor kept elsewhere: events cut after the last checkpoint with the head rows
rewritten to match, or the newest checkpoints removed as well. Hence `rf audit checkpoint` prints the latest
checkpoint's hash for an operator to keep outside the database.

Why not one chain with a sharded head, or a chain per writer process: a request's events stay one readable chain
(what replay and the request's exports read), and its lock is one that its writers take anyway. A transaction that
appends to several chains (a request and a system chain) locks them in the order it appends; two such transactions
in opposite orders could deadlock on PostgreSQL, which then aborts one of them (rolled back whole, like any failed
write) rather than hanging.
"""

from __future__ import annotations

import hashlib
import json
import threading
import weakref
from contextvars import ContextVar, Token
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Integer, bindparam, event, func, insert, literal_column, select, update
from sqlalchemy.dialects.postgresql import array
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ClauseElement, TextClause
from sqlalchemy.sql.util import find_tables

from app.store import webhook_outbox
from app.store.db import forget_when_transaction_ends, insert_unless_present, table_of
from app.store.models import AuditChain, AuditCheckpoint, AuditCheckpointHead, AuditEvent

GENESIS = "0" * 64
SEQUENCE = "audit_event_seq"  # PostgreSQL only (migration 0014)
CHECKPOINTS = "*"  # the key of the checkpoint chain's own head in audit_checkpoint_head
CHECKPOINT_EVERY = timedelta(minutes=10)

# System chains: events without a request, one chain per kind so that e.g. sign-ins do not wait for mail.
_SYSTEM_PREFIXES = (
    ("login", "sign-in"), ("logout", "sign-in"),
    ("mail_", "mail"),
    ("definition_", "definitions"),
    ("webhook_", "webhooks"),
    ("api_token_", "tokens"),
    ("crm_", "crm"),
    ("user_", "users"), ("role_", "users"), ("group_", "users"),
    ("holiday", "calendar"), ("sla_", "calendar"), ("reference_data", "calendar"),
    ("auditor_", "audit"),
)

# How the actor reached us when it was not a signed-in page (e.g. "API token 'CRM sync'"): set for one API call by
# the web layer, written into the payload of every event that call appends, so each write names the token.
_via: ContextVar[str | None] = ContextVar("rf_audit_via", default=None)


def acting_via(label: str | None) -> Token[str | None]:
    return _via.set(label)


def done_acting(token: Token[str | None]) -> None:
    _via.reset(token)


def chain_of(event_type: str, request_id: int | None) -> str:
    """The chain an event goes to: its request's, or the system chain of its kind."""
    if request_id is not None:
        return f"request:{request_id}"
    for prefix, category in _SYSTEM_PREFIXES:
        if event_type.startswith(prefix):
            return f"system:{category}"
    return "system:other"


def _hash(body: list[Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def _digest(event: AuditEvent) -> str:
    return _hash([event.chain, event.chain_seq, event.seq, event.at.isoformat(), event.actor, event.event_type,
                  event.request_id, event.payload, event.prev_hash])


def _checkpoint_digest(checkpoint: AuditCheckpoint) -> str:
    return _hash([checkpoint.id, checkpoint.at.isoformat(), checkpoint.events, checkpoint.heads,
                  checkpoint.prev_hash])


def _postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _insert_missing(session: Session, model: type[AuditChain] | type[AuditCheckpointHead], key: str) -> None:
    """Create a head row if there is none (a concurrent creator wins quietly: its row is the one then locked)."""
    session.connection().execute(insert_unless_present(session, model, ["chain"])
                                 .values(chain=key, length=0, head_hash=GENESIS))


_TX = "rf_audit_tx"  # session.info: (transaction, {chain: its locked head}, [last seq], [pending events])
_PENDING = "rf_audit_pending"  # connection info: the session whose transaction has events not yet written
_AUDIT_TABLES = frozenset({"audit_event", "audit_chain", "audit_checkpoint", "audit_checkpoint_head"})

# The write path in SQLAlchemy Core, built once: no ORM unit of work, no statement construction per event.
_EVENTS = table_of(AuditEvent)
_CHAINS = table_of(AuditChain)
_HEAD_FOR_UPDATE = (select(_CHAINS.c.length, _CHAINS.c.head_hash)
                    .where(_CHAINS.c.chain == bindparam("head_chain")).with_for_update())
_MOVE_HEAD = (update(_CHAINS).where(_CHAINS.c.chain == bindparam("head_chain"))
              .values(length=bindparam("head_length"), head_hash=bindparam("head_digest")))
_INSERT_EVENT = insert(_EVENTS)
# PostgreSQL: the last head's lock also draws the `seq`s of all the transaction's events (exactly as many as it
# writes: no gaps of our making), and a chain's events and its head's move are one batch (each a data-modifying
# WITH): two round trips per transaction and chain, however many events it writes. The seqs are drawn in the lock's
# own select list, not in a subquery: a subquery that does not depend on the row runs once before the lock is
# granted, so a transaction that waited for the head would take seqs older than those of the one it waited for,
# where the select list is evaluated again for the row as it is once the lock is granted.
_SEQ_STATEMENTS: dict[tuple[str, int], Any] = {}  # (kind, count): built once per count of events
DRAWN_WITH_A_LOCK = 8  # more events in one transaction (a bulk import): their seqs drawn by a statement of their own
_DRAW_SEQS: Any = (select(func.array_agg(literal_column("drawn")))  # any number, once the heads are locked
                   .select_from(select(literal_column(f"nextval('{SEQUENCE}')", Integer).label("drawn"))
                                .select_from(func.generate_series(1, bindparam("count", type_=Integer))).subquery()))


def _drawing(count: int) -> Any:
    return array([literal_column(f"nextval('{SEQUENCE}')", Integer) for _ in range(count)]) if count else \
        literal_column("NULL", Integer)


def _seq_statement(kind: str, count: int) -> Any:
    """`lock`: the head locked, with `count` seqs; `create`: the head created, or the one a concurrent creator made
    (an upsert locks the row it returns), and locked, with the seqs."""
    statement = _SEQ_STATEMENTS.get((kind, count))
    if statement is None:
        if kind == "lock":
            statement = (select(_CHAINS.c.length, _CHAINS.c.head_hash, _drawing(count))
                         .where(_CHAINS.c.chain == bindparam("head_chain")).with_for_update(of=_CHAINS))
        elif kind == "create":
            statement = (pg_insert(_CHAINS).values(chain=bindparam("head_chain"), length=0, head_hash=GENESIS)
                         .on_conflict_do_update(index_elements=[_CHAINS.c.chain],
                                                set_={"chain": pg_insert(_CHAINS).excluded.chain})
                         .returning(_CHAINS.c.length, _CHAINS.c.head_hash, _drawing(count)))
        else:
            raise ValueError(kind)
        _SEQ_STATEMENTS[(kind, count)] = statement
    return statement


_EVENT_COLUMNS = ("seq", "at", "actor", "event_type", "request_id", "payload", "chain", "chain_seq", "prev_hash",
                  "hash")
# One event's row and its head's move (the head's final place): executed once per event of the chain, in one go.
_INSERT_EVENT_MOVING_HEAD = (insert(_EVENTS).values({name: bindparam(f"event_{name}") for name in _EVENT_COLUMNS})
                             .add_cte(_MOVE_HEAD.cte("moved_head")))
_MAX_SEQ = select(func.coalesce(func.max(_EVENTS.c.seq), 0))


def _this_transaction(session: Session) -> tuple[Any, dict[str, list[Any]], list[int], list[AuditEvent]]:
    """What this transaction holds: the chain heads it locked ([length, hash], kept current by every write), the
    last `seq` it gave (SQLite) and its events not yet written. A transaction locks a head once and keeps it until
    it ends, so a second write to the chain needs no read."""
    session.connection()  # begins the transaction if none has begun yet: what is cached is keyed on it
    transaction = session.get_transaction()
    found = session.info.get(_TX)
    if found is None or found[0] is not transaction:
        found = (transaction, {}, [0], [])
        session.info[_TX] = found
    return found


def _lock_head(session: Session, chain: str, fresh: bool, draw: int) -> tuple[list[Any], list[int]]:
    """Lock the chain's head row, creating it when missing; its [length, hash], and (PostgreSQL) `draw` new seqs.
    `fresh`: the chain most likely has no head yet, so create first (a no-op if it has one) and read once, instead
    of read, create, read again."""
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        if fresh:
            _insert_missing(session, AuditChain, chain)
        head = connection.execute(_HEAD_FOR_UPDATE, {"head_chain": chain}).one_or_none()
        if head is None:
            _insert_missing(session, AuditChain, chain)
            head = connection.execute(_HEAD_FOR_UPDATE, {"head_chain": chain}).one()
        return [head[0], head[1]], []
    given = {"head_chain": chain}
    row = connection.execute(_seq_statement("create" if fresh else "lock", draw), given).one_or_none()
    if row is None:  # no row, so no seq drawn either
        _insert_missing(session, AuditChain, chain)
        row = connection.execute(_seq_statement("lock", draw), given).one()
    length, digest, drawn = row
    return [length, digest], sorted(drawn or [])


def _seqs(session: Session, count: int) -> list[int]:
    """`count` new seqs, increasing. SQLite: max + 1 onwards, this transaction being the only writer until it ends."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        return sorted(connection.execute(_DRAW_SEQS, {"count": count}).scalar_one() or [])
    last = _this_transaction(session)[2]
    first = (last[0] or int(connection.execute(_MAX_SEQ).scalar_one() or 0)) + 1
    last[0] = first + count - 1
    return list(range(first, first + count))


def append(session: Session, *, actor: str, event_type: str, payload: dict[str, Any], now: datetime,
           request_id: int | None = None) -> None:
    """Add an event to the caller's transaction. It is written with the transaction's other events when the
    transaction commits (`write_pending`; or earlier, when the transaction reads the audit tables): then, and only
    then, its chain's head is locked, so appends to other chains (other requests) go on meanwhile, and a transaction
    that writes several events locks and draws for all of them at once. An event that stands for a webhook event
    also queues its deliveries then, in the same transaction (`webhook_outbox`)."""
    session.flush()  # as before: the caller's pending rows are written (and get their ids) now
    via = _via.get()
    if via is not None:
        payload = {**payload, "via": via}
    event = AuditEvent(at=now.astimezone(UTC), actor=actor, event_type=event_type, request_id=request_id,
                       payload=json.loads(json.dumps(payload, default=str)), chain=chain_of(event_type, request_id))
    _this_transaction(session)[3].append(event)
    session.connection().info[_PENDING] = session


def write_pending(session: Session) -> None:
    """Write the events this transaction appended and not yet wrote: the caller's pending changes are flushed
    first (locks are taken in the order of the writes), then each chain's head is locked (chains in the order of
    their first event), the events get their global `seq` in the order they were appended and link into their
    chains, and each chain's events and its head's move are written with Core statements."""
    found = session.info.get(_TX)
    if found is None or found[0] is not session.get_transaction() or not found[3]:
        return
    events = list(found[3])
    found[3].clear()
    connection = session.connection()
    connection.info.pop(_PENDING, None)
    session.flush()
    by_chain: dict[str, list[AuditEvent]] = {}
    for written in events:
        by_chain.setdefault(written.chain, []).append(written)
    locked = found[1]
    # Every seq is drawn once every chain written is locked (the last lock draws them, in its select list; else a
    # statement after it): a seq drawn before a chain's lock could be older than one a writer of that chain drew and
    # wrote meanwhile, and then that chain's positions and seqs would no longer grow together.
    to_lock = [chain for chain in by_chain if chain not in locked]
    draw = len(events) if len(events) <= DRAWN_WITH_A_LOCK else 0
    seqs: list[int] = []
    for index, chain in enumerate(to_lock):
        last = index == len(to_lock) - 1
        locked[chain], drawn = _lock_head(session, chain, any(e.event_type == "instance_started"
                                                              for e in by_chain[chain]), draw if last else 0)
        seqs = drawn if last else seqs
    if not seqs:
        seqs = _seqs(session, len(events))
    for written, seq in zip(events, seqs, strict=True):
        written.seq = seq
    postgresql = connection.dialect.name == "postgresql"
    for chain, chained in by_chain.items():
        head = locked[chain]
        rows = []
        for written in chained:
            written.chain_seq, written.prev_hash = head[0] + 1, head[1]
            written.hash = _digest(written)
            head[0], head[1] = written.chain_seq, written.hash
            rows.append({"seq": written.seq, "at": written.at, "actor": written.actor,
                         "event_type": written.event_type, "request_id": written.request_id,
                         "payload": written.payload, "chain": chain,
                         "chain_seq": written.chain_seq, "prev_hash": written.prev_hash, "hash": written.hash})
        move = {"head_chain": chain, "head_length": head[0], "head_digest": head[1]}
        if postgresql:
            connection.execute(_INSERT_EVENT_MOVING_HEAD,
                               [{**{f"event_{k}": v for k, v in row.items()}, **move} for row in rows])
        else:
            connection.execute(_INSERT_EVENT, rows)
            connection.execute(_MOVE_HEAD, move)
    for written in events:
        webhook_outbox.on_audit_event(session, written)


@event.listens_for(Session, "before_commit")
def _write_before_commit(session: Session) -> None:
    write_pending(session)


@event.listens_for(Engine, "before_execute")
def _write_before_reading(conn: Connection, statement: Any, *_args: Any) -> None:
    """A statement about to read (or write) the audit tables while this transaction has events not yet written:
    write them first, so that the transaction sees its own events as it always did."""
    session = conn.info.get(_PENDING)
    if session is not None and not session._flushing and _touches_audit(statement):  # (a flush's own statements
        write_pending(session)  # wait for it to end)


_touching: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()  # per statement object: the answer
_touching_lock = threading.Lock()


def _touches_audit(statement: Any) -> bool:
    """Whether the statement names an audit table anywhere (subqueries included); kept per statement object, as
    walking a statement costs more than running a small one and the hot path's statements are built once."""
    with _touching_lock:
        known = _touching.get(statement)
    if known is not None:
        return known
    if isinstance(statement, TextClause):
        touches = "audit_" in statement.text
    elif isinstance(statement, ClauseElement):
        touches = any(getattr(table, "name", None) in _AUDIT_TABLES
                      for table in find_tables(statement, include_crud=True, include_joins=True))
    else:
        return False
    with _touching_lock:
        _touching[statement] = touches
    return touches


forget_when_transaction_ends(_PENDING)


# Checkpoints and verification live in modules of their own; they are reached as `audit.checkpoint`,
# `audit.latest_checkpoint`, `audit.verify` and `audit.ChainReport` as before.
from app.store.audit_checkpoints import checkpoint as checkpoint  # noqa: E402
from app.store.audit_checkpoints import latest_checkpoint as latest_checkpoint  # noqa: E402
from app.store.audit_verify import ChainReport as ChainReport  # noqa: E402
from app.store.audit_verify import verify as verify  # noqa: E402
