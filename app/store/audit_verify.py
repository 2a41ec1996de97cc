"""Verifying the audit log (`rf audit verify`, the audit page): the checkpoint chain, every chain's events in order,
then the heads; the first break is reported with its chain and position (see app/store/audit.py for the design)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.store.audit import CHECKPOINTS, GENESIS, _checkpoint_digest, _digest, _hash, _postgresql
from app.store.models import AuditChain, AuditCheckpoint, AuditCheckpointHead, AuditEvent, ServiceRequest


@dataclass(frozen=True)
class ChainReport:
    """The verification's outcome. `count` events verified (all of them when intact, those before the break
    otherwise); `head_hash` when intact is the digest of every chain's head (it changes with every append), when
    broken the last good hash of the broken chain. `broken_at` is the global seq of the offending event (None when
    the break is a missing tail or checkpoint), `chain` and `position` where in which chain it is, `where` the same
    in words."""

    intact: bool
    count: int
    head_hash: str
    broken_at: int | None = None
    reason: str = ""
    where: str = ""  # "chain request:7 (RF-000007), position 3"
    chain: str | None = None
    position: int | None = None
    chains: int = 0
    checkpoint: int | None = None
    checkpoint_hash: str | None = None

    @property
    def message(self) -> str:
        """The reason with where it is: what `rf audit verify` and the audit page say."""
        return f"{self.reason}: {self.where}" if self.where else self.reason


class _Broken(Exception):
    def __init__(self, reason: str, *, chain: str | None = None, position: int | None = None,
                 seq: int | None = None) -> None:
        super().__init__(reason)
        self.reason, self.chain, self.position, self.seq = reason, chain, position, seq


def _consistent_snapshot(session: Session) -> None:
    """On PostgreSQL read the whole log in one snapshot (REPEATABLE READ) when the caller's transaction has not
    begun, so appends committed during the walk are not mistaken for changes. SQLite's BEGIN IMMEDIATE already
    keeps writers out."""
    if _postgresql(session) and not session.in_transaction():
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def _checkpoints(session: Session) -> tuple[dict[str, dict[int, tuple[int, str]]], AuditCheckpoint | None]:
    """Check the checkpoint chain; return, per chain, the lengths checkpoints recorded with (checkpoint, hash)."""
    expected: dict[str, dict[int, tuple[int, str]]] = {}
    prev, last = GENESIS, None
    for number, made in enumerate(session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.id)), start=1):
        where = f"checkpoint #{made.id}"
        if made.id != number:
            raise _Broken(f"checkpoint #{number} is missing", chain="checkpoints", position=number)
        if made.prev_hash != prev:
            raise _Broken(f"{where}: link to the previous checkpoint is broken", chain="checkpoints", position=number)
        if _checkpoint_digest(made) != made.hash:
            raise _Broken(f"{where}: checkpoint content does not match its hash", chain="checkpoints",
                          position=number)
        for chain, (length, digest) in made.heads.items():
            expected.setdefault(chain, {}).setdefault(int(length), (made.id, str(digest)))
        prev, last = made.hash, made
    top = session.get(AuditCheckpointHead, CHECKPOINTS)
    if top is not None and top.length > (last.id if last else 0):
        raise _Broken(f"checkpoints after #{last.id if last else 0} were removed (its head records {top.length})",
                      chain="checkpoints", position=(last.id if last else 0) + 1)
    return expected, last


def _walk(session: Session, expected: dict[str, dict[int, tuple[int, str]]],
          state: dict[str, tuple[int, str]], counted: list[int]) -> None:
    """Every chain from its first event on (the unique index on chain and position gives this order), each event
    checked against the previous one of its chain; `state` collects each chain's length and head hash."""
    query = select(AuditEvent).order_by(AuditEvent.chain, AuditEvent.chain_seq)
    chain, length, prev, prev_seq = "", 0, GENESIS, 0
    for event in session.scalars(query).yield_per(1000):
        if event.chain != chain:
            chain, length, prev, prev_seq = event.chain, 0, GENESIS, 0
        position = event.chain_seq

        def broken(what: str, at: int = position, event: AuditEvent = event, chain: str = chain) -> _Broken:
            return _Broken(what, chain=chain, position=at, seq=event.seq)

        if position > length + 1:
            raise broken(f"event {length + 1} of the chain is missing (the next one found is {position})",
                         at=length + 1)
        if event.prev_hash != prev:
            raise broken("link to the previous row is broken")
        if _digest(event) != event.hash:
            raise broken("row content does not match its hash")
        if event.seq <= prev_seq:
            raise broken(f"event {position} of the chain comes before event {length} in the log's order")
        recorded = expected.get(chain, {}).get(position)
        if recorded is not None and recorded[1] != event.hash:
            raise broken(f"row differs from the one checkpoint #{recorded[0]} recorded")
        length, prev, prev_seq = position, event.hash, event.seq
        state[chain] = (length, prev)
        counted[0] += 1


def _heads(session: Session, expected: dict[str, dict[int, tuple[int, str]]],
           state: dict[str, tuple[int, str]]) -> None:
    """Each chain as walked against its head row and against the longest head a checkpoint recorded for it."""
    heads = {row.chain: row for row in session.scalars(select(AuditChain))}
    for chain in sorted(set(heads) | set(state) | set(expected)):
        length, digest = state.get(chain, (0, GENESIS))
        if expected.get(chain):
            longest = max(expected[chain])
            made = expected[chain][longest][0]
            if length < longest:
                gone = f"events {length + 1} to {longest}" if longest > length + 1 else f"event {longest}"
                verb = "were" if longest > length + 1 else "was"
                raise _Broken(f"{gone} of the chain, recorded by checkpoint #{made}, {verb} removed (cut tail)",
                              chain=chain, position=length + 1)
        head = heads.get(chain)
        if head is None:
            raise _Broken(f"the chain has {length} events but no head row", chain=chain, position=length)
        if head.length > length:
            raise _Broken(f"events after event {length} were removed (its head records {head.length})",
                          chain=chain, position=length + 1)
        if head.length < length:
            raise _Broken(f"event {head.length + 1} is not recorded in the chain's head (inserted?)",
                          chain=chain, position=head.length + 1)
        if head.head_hash != digest:
            raise _Broken("the chain's head hash does not match its last event", chain=chain, position=length)


def _name(session: Session, chain: str) -> str:
    """A chain as people know it: `request:7 (RF-000007)`."""
    if chain.startswith("request:") and chain[8:].isdigit():
        number = session.scalar(select(ServiceRequest.number).where(ServiceRequest.id == int(chain[8:])))
        if number:
            return f"{chain} ({number})"
    return chain


def state_digest(state: dict[str, tuple[int, str]]) -> str:
    """One hash for every chain's head: what `rf audit verify` prints as the log's head."""
    return _hash(sorted([chain, length, digest] for chain, (length, digest) in state.items()))


def verify(session: Session) -> ChainReport:
    """Check the checkpoints, walk every chain (in chain name order), then the heads; report the first break with
    the chain and the position in it."""
    _consistent_snapshot(session)
    state: dict[str, tuple[int, str]] = {}
    counted = [0]
    last: AuditCheckpoint | None = None
    try:
        expected, last = _checkpoints(session)
        _walk(session, expected, state, counted)
        _heads(session, expected, state)
    except _Broken as err:
        good = state.get(err.chain or "", (0, GENESIS))[1]
        where = f"chain {_name(session, err.chain)}, position {err.position}" if err.chain else ""
        return ChainReport(False, counted[0], good, err.seq, err.reason, where=where,
                           chain=err.chain, position=err.position, chains=len(state),
                           checkpoint=last.id if last else None, checkpoint_hash=last.hash if last else None)
    report = ChainReport(True, counted[0], state_digest(state), chains=len(state))
    return replace(report, checkpoint=last.id, checkpoint_hash=last.hash) if last else report
