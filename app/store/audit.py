"""Append-only, hash-chained audit log: every state change appends one row; nothing updates or deletes one.

**No global write lock.** The log is not one chain but many: each request has its own chain (`request:<id>`) and
events without a request go to a few system chains, one per kind of event (`system:sign-in`, `system:mail`,
`system:definitions`…, see `chain_of`). Each event carries its chain, its position in it (`chain_seq`, 1, 2, 3…)
and the previous event's hash *in that chain* (`prev_hash`); its own hash covers all of its content, its global
`seq` and that link. An append locks only its chain's head row (`audit_chain`): writers of one request already
serialise on the request's instance, and writers of different requests no longer wait for one another (before,
every write transaction of every process locked the single `audit_head` row). The global `seq` that orders the page
and the exports comes from a database sequence on PostgreSQL (no lock; gaps are allowed) and from max + 1 on SQLite,
whose writers are serialised by `BEGIN IMMEDIATE` anyway.

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
from contextvars import ContextVar, Token
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Integer, bindparam, func, insert, literal_column, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import ColumnClause

from app.store import webhook_outbox
from app.store.db import insert_unless_present, table_of
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


_TX = "rf_audit_tx"  # session.info: (transaction, {chain: its locked head}, [last seq]) of the current transaction

# The append path in SQLAlchemy Core, built once: no ORM unit of work, no statement construction per append.
_EVENTS = table_of(AuditEvent)
_CHAINS = table_of(AuditChain)
_HEAD_FOR_UPDATE = (select(_CHAINS.c.length, _CHAINS.c.head_hash)
                    .where(_CHAINS.c.chain == bindparam("head_chain")).with_for_update())
_MOVE_HEAD = (update(_CHAINS).where(_CHAINS.c.chain == bindparam("head_chain"))
              .values(length=bindparam("head_length"), head_hash=bindparam("head_digest")))
_INSERT_EVENT = insert(_EVENTS)
# PostgreSQL: the head's lock also draws the first event's `seq`, and each event's row and its head's move are one
# statement (a data-modifying WITH): two round trips per append instead of three, and one fewer per transaction.
_DRAW_SEQ: ColumnClause[int] = literal_column(f"nextval('{SEQUENCE}')", Integer)
_HEAD_AND_SEQ_FOR_UPDATE = (select(_CHAINS.c.length, _CHAINS.c.head_hash, _DRAW_SEQ)
                            .where(_CHAINS.c.chain == bindparam("head_chain")).with_for_update(of=_CHAINS))
# A new chain's head (a new request's first event): created, or the one a concurrent creator made, and locked, with
# the first seq drawn, in one statement (an upsert locks the row it returns).
_CREATE_HEAD_AND_SEQ = (pg_insert(_CHAINS).values(chain=bindparam("head_chain"), length=0, head_hash=GENESIS)
                        .on_conflict_do_update(index_elements=[_CHAINS.c.chain],
                                               set_={"chain": pg_insert(_CHAINS).excluded.chain})
                        .returning(_CHAINS.c.length, _CHAINS.c.head_hash, _DRAW_SEQ))
_EVENT_COLUMNS = ("seq", "at", "actor", "event_type", "request_id", "payload", "chain", "chain_seq", "prev_hash",
                  "hash")
_INSERT_EVENT_MOVING_HEAD = (insert(_EVENTS).values({name: bindparam(f"event_{name}") for name in _EVENT_COLUMNS})
                             .add_cte(_MOVE_HEAD.cte("moved_head")))
_MAX_SEQ = select(func.coalesce(func.max(_EVENTS.c.seq), 0))
_NEXTVAL = text(f"SELECT nextval('{SEQUENCE}')")


def _this_transaction(session: Session) -> tuple[Any, dict[str, list[Any]], list[int]]:
    """What earlier appends of this transaction learnt: the chain heads they locked ([length, hash], kept current by
    every append) and the `seq`: (SQLite) the last one given, (PostgreSQL) one drawn with a head's lock and not yet
    given (0: none). A transaction locks a head once and keeps it until it ends, so a second
    append to the chain needs no read."""
    session.connection()  # begins the transaction if none has begun yet: what is cached is keyed on it
    transaction = session.get_transaction()
    found = session.info.get(_TX)
    if found is None or found[0] is not transaction:
        found = (transaction, {}, [0])
        session.info[_TX] = found
    return found


def _locked_head(session: Session, chain: str, fresh: bool = False) -> list[Any]:
    locked = _this_transaction(session)[1]
    if chain not in locked:
        locked[chain] = _lock_head(session, chain, fresh)
    return locked[chain]


def _lock_head(session: Session, chain: str, fresh: bool = False) -> list[Any]:
    """Lock the chain's head row, creating it when missing; its [length, hash]. `fresh`: the chain most likely has
    no head yet, so create first (a no-op if it has one) and read once, instead of read, create, read again."""
    connection = session.connection()
    postgresql = connection.dialect.name == "postgresql"
    lock = _HEAD_AND_SEQ_FOR_UPDATE if postgresql else _HEAD_FOR_UPDATE
    if fresh and postgresql:
        head = connection.execute(_CREATE_HEAD_AND_SEQ, {"head_chain": chain}).one_or_none()
    else:
        if fresh:
            _insert_missing(session, AuditChain, chain)
        head = connection.execute(lock, {"head_chain": chain}).one_or_none()
    if head is None:  # no row, so no seq drawn either
        _insert_missing(session, AuditChain, chain)
        head = connection.execute(lock, {"head_chain": chain}).one()
    if postgresql:
        _this_transaction(session)[2][0] = int(head[2])  # drawn now, given to the next event
    return [head[0], head[1]]


def _next_seq(session: Session) -> int:
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        drawn = _this_transaction(session)[2]
        if drawn[0]:
            seq, drawn[0] = drawn[0], 0
            return seq
        return int(connection.execute(_NEXTVAL).scalar_one())
    last = _this_transaction(session)[2]  # SQLite: this transaction is the only writer until it ends
    last[0] = (last[0] or int(connection.execute(_MAX_SEQ).scalar_one() or 0)) + 1
    return last[0]


def append(session: Session, *, actor: str, event_type: str, payload: dict[str, Any], now: datetime,
           request_id: int | None = None) -> AuditEvent:
    """Append in the caller's transaction; only this event's chain head is locked, so appends to other chains (other
    requests) go on meanwhile. An event that stands for a webhook event also queues its deliveries here, in the
    same transaction (`webhook_outbox`).

    The caller's pending changes are flushed first (locks are taken in the order of the writes); the event row and
    the head move are then written with Core statements. The returned event is not attached to the session."""
    session.flush()
    now = now.astimezone(UTC)
    chain = chain_of(event_type, request_id)
    head = _locked_head(session, chain, fresh=event_type == "instance_started")  # a new request's first event
    via = _via.get()
    if via is not None:
        payload = {**payload, "via": via}
    payload = json.loads(json.dumps(payload, default=str))
    event = AuditEvent(seq=_next_seq(session), at=now, actor=actor, event_type=event_type, request_id=request_id,
                       payload=payload, chain=chain, chain_seq=head[0] + 1, prev_hash=head[1])
    event.hash = _digest(event)
    connection = session.connection()
    row = {"seq": event.seq, "at": now, "actor": actor, "event_type": event_type, "request_id": request_id,
           "payload": payload, "chain": chain, "chain_seq": event.chain_seq, "prev_hash": event.prev_hash,
           "hash": event.hash}
    move = {"head_chain": chain, "head_length": event.chain_seq, "head_digest": event.hash}
    if connection.dialect.name == "postgresql":
        connection.execute(_INSERT_EVENT_MOVING_HEAD, {**{f"event_{k}": v for k, v in row.items()}, **move})
    else:
        connection.execute(_INSERT_EVENT, row)
        connection.execute(_MOVE_HEAD, move)
    head[0], head[1] = event.chain_seq, event.hash
    webhook_outbox.on_audit_event(session, event)
    return event


# --- checkpoints ---------------------------------------------------------------------------------------------------


def checkpoint(session: Session, now: datetime, *, every: timedelta | None = None) -> AuditCheckpoint | None:
    """Record the head of every chain that changed since the previous checkpoint, in the caller's transaction.

    With `every`, only when the latest checkpoint is at least that old. Returns the new checkpoint, or the latest one
    when nothing changed (None when there is none at all, or when `every` says it is not yet time)."""
    now = now.astimezone(UTC)
    query = (select(AuditCheckpointHead).where(AuditCheckpointHead.chain == CHECKPOINTS).with_for_update()
             .execution_options(populate_existing=True))
    top = session.scalars(query).one_or_none()
    if top is None:
        _insert_missing(session, AuditCheckpointHead, CHECKPOINTS)
        top = session.scalars(query).one()
    latest = session.get(AuditCheckpoint, top.length) if top.length else None
    if every is not None and latest is not None and latest.at + every > now:
        return None
    recorded = {row.chain: row for row in session.scalars(
        select(AuditCheckpointHead).where(AuditCheckpointHead.chain != CHECKPOINTS))}
    current = {row.chain: (row.length, row.head_hash) for row in session.scalars(select(AuditChain))}
    before = {chain: (row.length, row.head_hash) for chain, row in recorded.items()}
    changed: dict[str, tuple[int, str]] = {chain: head for chain, head in sorted(current.items())
                                           if head[0] and before.get(chain) != head}
    if not changed:
        return latest
    made = AuditCheckpoint(id=top.length + 1, at=now, events=sum(length for length, _ in current.values()),
                           heads={chain: list(head) for chain, head in changed.items()}, prev_hash=top.head_hash)
    made.hash = _checkpoint_digest(made)
    session.add(made)
    for chain, (length, digest) in changed.items():
        if chain in recorded:
            recorded[chain].length, recorded[chain].head_hash = length, digest
        else:
            session.add(AuditCheckpointHead(chain=chain, length=length, head_hash=digest))
    top.length, top.head_hash = made.id, made.hash
    session.flush()
    return made


def latest_checkpoint(session: Session) -> AuditCheckpoint | None:
    return session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.id.desc()).limit(1)).one_or_none()


# Verification lives in its own module; it is reached as `audit.verify` and `audit.ChainReport` as before.
from app.store.audit_verify import ChainReport as ChainReport  # noqa: E402
from app.store.audit_verify import verify as verify  # noqa: E402
