"""Per-request audit chains and checkpoints: no global write lock

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05

The audit log was one hash chain whose head row (`audit_head`) every write transaction locked. Each event now
belongs to a chain (`request:<id>`, or `system:<kind>` for events without a request) with its position in it
(`chain_seq`) and the previous event's hash within that chain; `audit_chain` holds each chain's head, and
`audit_checkpoint` a chain of checkpoints recording the chains' heads (see app/store/audit.py).

Upgrade: verify the old chain first (refuse to migrate a broken one: it would be re-hashed into a valid-looking
one), then rewrite every event's chain, position, link and hash in seq order (on PostgreSQL with the append-only
trigger switched off for this rewrite only, inside the migration's transaction), write the chains' heads and a
first checkpoint (at the time of the last event: migrations have no clock), create the global seq's sequence on
PostgreSQL and the same append-only guard for the checkpoints. Downgrade does the reverse (one chain again, seq
renumbered 1..N without gaps, as the old verification expects).

The hashing and the choice of chain are copied here as they were at this revision, so later changes to the
application cannot change what this migration does.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import sqlalchemy as sa
from alembic import op

import app.store.db

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

GENESIS = "0" * 64
SEQUENCE = "audit_event_seq"
ROW_TRIGGER = "audit_event_append_only"
CHECKPOINT_FUNCTION = "audit_checkpoint_refuse_change"
CHECKPOINT_ROW_TRIGGER = "audit_checkpoint_append_only"
CHECKPOINT_TRUNCATE_TRIGGER = "audit_checkpoint_no_truncate"

_SYSTEM_PREFIXES = (
    ("login", "sign-in"), ("logout", "sign-in"), ("mail_", "mail"), ("definition_", "definitions"),
    ("webhook_", "webhooks"), ("api_token_", "tokens"), ("crm_", "crm"), ("user_", "users"), ("role_", "users"),
    ("group_", "users"), ("holiday", "calendar"), ("sla_", "calendar"), ("reference_data", "calendar"),
    ("auditor_", "audit"),
)

events = sa.table(
    "audit_event", sa.column("seq", sa.Integer()), sa.column("at", app.store.db.UTCDateTime()),
    sa.column("actor", sa.String()), sa.column("event_type", sa.String()), sa.column("request_id", sa.Integer()),
    sa.column("payload", sa.JSON()), sa.column("prev_hash", sa.String()), sa.column("hash", sa.String()),
    sa.column("chain", sa.String()), sa.column("chain_seq", sa.Integer()))


def _hash(body: list[Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def _old_digest(row: Any, seq: int, prev: str) -> str:
    return _hash([seq, row.at.isoformat(), row.actor, row.event_type, row.request_id, row.payload, prev])


def _new_digest(row: Any, chain: str, position: int, prev: str) -> str:
    return _hash([chain, position, row.seq, row.at.isoformat(), row.actor, row.event_type, row.request_id,
                  row.payload, prev])


def _chain_of(event_type: str, request_id: int | None) -> str:
    if request_id is not None:
        return f"request:{request_id}"
    for prefix, category in _SYSTEM_PREFIXES:
        if event_type.startswith(prefix):
            return f"system:{category}"
    return "system:other"


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _rows(columns: list[Any]) -> list[Any]:
    return list(op.get_bind().execute(sa.select(*columns).order_by(events.c.seq)))


def _verify_old_chain() -> list[Any]:
    rows = _rows([events.c.seq, events.c.at, events.c.actor, events.c.event_type, events.c.request_id,
                  events.c.payload, events.c.prev_hash, events.c.hash])
    prev = GENESIS
    for expected, row in enumerate(rows, start=1):
        problem = ("row is missing" if row.seq != expected else "link to the previous row is broken"
                   if row.prev_hash != prev else "row content does not match its hash"
                   if _old_digest(row, row.seq, prev) != row.hash else None)
        if problem:
            raise RuntimeError(f"audit log: broken at event {expected}: {problem}. Not migrated to per-request "
                               "chains (that would re-hash the broken log into a valid-looking one); investigate "
                               "with `rf audit verify` on the previous version first.")
        prev = row.hash
    head = op.get_bind().execute(sa.text("SELECT seq, hash FROM audit_head WHERE id = 1")).one_or_none()
    if head is not None and (head.seq, head.hash) != (len(rows), prev):
        raise RuntimeError(f"audit log: broken at event {len(rows) + 1}: rows after the last one were removed. "
                           "Not migrated to per-request chains.")
    return rows


def _append_only(enable: bool) -> None:
    if _postgresql():
        op.execute(f"ALTER TABLE audit_event {'ENABLE' if enable else 'DISABLE'} TRIGGER {ROW_TRIGGER}")


def upgrade() -> None:
    rows = _verify_old_chain()
    _append_only(False)
    with op.batch_alter_table("audit_event") as batch:
        batch.add_column(sa.Column("chain", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("chain_seq", sa.Integer(), nullable=True))
    heads: dict[str, tuple[int, str]] = {}
    changes = []
    for row in rows:
        chain = _chain_of(row.event_type, row.request_id)
        length, prev = heads.get(chain, (0, GENESIS))
        digest = _new_digest(row, chain, length + 1, prev)
        changes.append({"k": row.seq, "chain": chain, "chain_seq": length + 1, "prev_hash": prev, "hash": digest})
        heads[chain] = (length + 1, digest)
    if changes:
        op.get_bind().execute(events.update().where(events.c.seq == sa.bindparam("k")).values(
            chain=sa.bindparam("chain"), chain_seq=sa.bindparam("chain_seq"), prev_hash=sa.bindparam("prev_hash"),
            hash=sa.bindparam("hash")), changes)
    with op.batch_alter_table("audit_event") as batch:
        batch.alter_column("chain", existing_type=sa.String(length=64), nullable=False)
        batch.alter_column("chain_seq", existing_type=sa.Integer(), nullable=False)
        batch.create_index("ix_audit_event_chain_position", ["chain", "chain_seq"], unique=True)
    _append_only(True)

    chains = op.create_table(
        "audit_chain", sa.Column("chain", sa.String(length=64), nullable=False),
        sa.Column("length", sa.Integer(), nullable=False), sa.Column("head_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("chain"))
    checkpoints = op.create_table(
        "audit_checkpoint", sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", app.store.db.UTCDateTime(), nullable=False), sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("heads", sa.JSON(), nullable=False), sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False), sa.PrimaryKeyConstraint("id"))
    checkpoint_heads = op.create_table(
        "audit_checkpoint_head", sa.Column("chain", sa.String(length=64), nullable=False),
        sa.Column("length", sa.Integer(), nullable=False), sa.Column("head_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("chain"))
    assert chains is not None and checkpoints is not None and checkpoint_heads is not None
    if heads:
        recorded = [{"chain": c, "length": n, "head_hash": h} for c, (n, h) in sorted(heads.items())]
        op.bulk_insert(chains, recorded)
        first = {"id": 1, "at": rows[-1].at, "events": len(rows),
                 "heads": {c: [n, h] for c, (n, h) in sorted(heads.items())}, "prev_hash": GENESIS}
        first["hash"] = _hash([1, rows[-1].at.isoformat(), len(rows), first["heads"], GENESIS])
        op.bulk_insert(checkpoints, [first])
        op.bulk_insert(checkpoint_heads, [*recorded, {"chain": "*", "length": 1, "head_hash": first["hash"]}])
    op.drop_table("audit_head")
    if _postgresql():
        op.execute(f"CREATE SEQUENCE {SEQUENCE}")
        if rows:
            op.execute(f"SELECT setval('{SEQUENCE}', {int(rows[-1].seq)})")
        op.execute(f"""
            CREATE FUNCTION {CHECKPOINT_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $body$
            BEGIN
                IF TG_OP = 'TRUNCATE' THEN
                    RAISE EXCEPTION 'audit_checkpoint is append-only: TRUNCATE refused'
                        USING ERRCODE = 'insufficient_privilege';
                END IF;
                RAISE EXCEPTION 'audit_checkpoint is append-only: % of checkpoint % refused', TG_OP, OLD.id
                    USING ERRCODE = 'insufficient_privilege',
                          HINT = 'Audit checkpoints form a hash chain; rows are only ever appended.';
            END
            $body$
        """)
        op.execute(f"CREATE TRIGGER {CHECKPOINT_ROW_TRIGGER} BEFORE UPDATE OR DELETE ON audit_checkpoint "
                   f"FOR EACH ROW EXECUTE FUNCTION {CHECKPOINT_FUNCTION}()")
        op.execute(f"CREATE TRIGGER {CHECKPOINT_TRUNCATE_TRIGGER} BEFORE TRUNCATE ON audit_checkpoint "
                   f"FOR EACH STATEMENT EXECUTE FUNCTION {CHECKPOINT_FUNCTION}()")


def downgrade() -> None:
    rows = _rows([events.c.seq, events.c.at, events.c.actor, events.c.event_type, events.c.request_id,
                  events.c.payload, events.c.chain, events.c.chain_seq, events.c.prev_hash, events.c.hash])
    heads: dict[str, tuple[int, str]] = {}
    for row in rows:  # the chains must be intact before they are folded back into one
        length, prev = heads.get(row.chain, (0, GENESIS))
        if (row.chain_seq, row.prev_hash, row.hash) != (length + 1, prev,
                                                         _new_digest(row, row.chain, length + 1, prev)):
            raise RuntimeError(f"audit log: chain {row.chain} is broken at position {length + 1}; not downgraded")
        heads[row.chain] = (length + 1, row.hash)
    if _postgresql():
        for name in (CHECKPOINT_TRUNCATE_TRIGGER, CHECKPOINT_ROW_TRIGGER):
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON audit_checkpoint")
        op.execute(f"DROP FUNCTION IF EXISTS {CHECKPOINT_FUNCTION}()")
        op.execute(f"DROP SEQUENCE IF EXISTS {SEQUENCE}")
    _append_only(False)
    bind = op.get_bind()
    has_deliveries = "webhook_delivery" in sa.inspect(bind).get_table_names()
    prev = GENESIS
    for number, row in enumerate(rows, start=1):
        digest = _old_digest(row, number, prev)
        bind.execute(events.update().where(events.c.seq == row.seq).values(seq=number, prev_hash=prev, hash=digest))
        if has_deliveries and number != row.seq:
            bind.execute(sa.text("UPDATE webhook_delivery SET audit_seq = :new WHERE audit_seq = :old"),
                         {"new": number, "old": row.seq})
        prev = digest
    with op.batch_alter_table("audit_event") as batch:
        batch.drop_index("ix_audit_event_chain_position")
        batch.drop_column("chain_seq")
        batch.drop_column("chain")
    _append_only(True)
    op.drop_table("audit_checkpoint_head")
    op.drop_table("audit_checkpoint")
    op.drop_table("audit_chain")
    head = op.create_table("audit_head", sa.Column("id", sa.Integer(), nullable=False),
                           sa.Column("seq", sa.Integer(), nullable=False),
                           sa.Column("hash", sa.String(length=64), nullable=False), sa.PrimaryKeyConstraint("id"))
    assert head is not None
    if rows:
        op.bulk_insert(head, [{"id": 1, "seq": len(rows), "hash": prev}])
