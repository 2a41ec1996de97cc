"""Per-request audit chains and checkpoints (issue 14, "no global write lock"): every kind of tampering is found
and named by chain and position; appends for different requests do not wait for one another on PostgreSQL; the
old single-chain layout is verified and converted by migration 0014."""

from __future__ import annotations

import hashlib
import json
import threading
import time

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError

from app.services.admin import setup
from app.services.audit import events as audit_views
from app.store import audit
from app.store.models import AuditChain, AuditCheckpoint, AuditEvent, ServiceRequest
from tests.driver import Driver


def _as_dba(session) -> None:
    """A tamperer with the table owner's rights: on PostgreSQL the append-only triggers are off inside this
    transaction only (the unit of work rolls them back on with the tampering)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only"))
        session.execute(text("ALTER TABLE audit_checkpoint DISABLE TRIGGER audit_checkpoint_append_only"))


def _two_requests(services, clock) -> tuple[str, str]:
    drive = Driver(services, clock)
    first, second = drive.new("assistance"), drive.new("assistance")
    drive.work()  # three events in each request's chain; the worker's pass writes a checkpoint
    return first, second


def _chain(session, number: str) -> tuple[str, list[AuditEvent]]:
    request_id = session.scalar(select(ServiceRequest.id).where(ServiceRequest.number == number))
    chain = f"request:{request_id}"
    return chain, list(session.scalars(select(AuditEvent).where(AuditEvent.chain == chain)
                                       .order_by(AuditEvent.chain_seq)))


def _where(chain: str, number: str, position: int) -> str:
    return f"chain {chain} ({number}), position {position}"


def _intact(services) -> None:
    with services.uow() as uow:
        assert audit.verify(uow.session).intact


def test_each_request_has_its_own_chain_and_system_events_their_kinds_chain(services, clock):
    first, second = _two_requests(services, clock)
    with services.uow() as uow:
        s = uow.session
        for number in (first, second):
            chain, events = _chain(s, number)
            assert [e.chain_seq for e in events] == [1, 2, 3]
            assert events[0].prev_hash == audit.GENESIS and events[1].prev_hash == events[0].hash
            assert s.get(AuditChain, chain).length == 3
        kinds = {kind: chain for kind, chain in s.execute(select(AuditEvent.event_type, AuditEvent.chain)
                                                          .where(AuditEvent.request_id.is_(None)))}
        assert kinds == {"reference_data_seeded": "system:calendar", "definition_deployed": "system:definitions"}
        report = audit.verify(s)
        assert (report.intact, report.count, report.chains, report.checkpoint) == (True, 8, 4, 1)


def test_an_edited_payload_is_named_by_chain_and_position(services, clock):
    first, _ = _two_requests(services, clock)
    with services.uow() as uow:
        _as_dba(uow.session)
        chain, events = _chain(uow.session, first)
        uow.session.execute(update(AuditEvent).where(AuditEvent.seq == events[1].seq).values(payload={"x": 1}))
        report = audit.verify(uow.session)
        assert (report.intact, report.broken_at, report.chain, report.position) == (False, events[1].seq, chain, 2)
        assert report.message == f"row content does not match its hash: {_where(chain, first, 2)}"
        assert report.head_hash == events[0].hash  # the last good hash of that chain
    _intact(services)


def test_an_event_deleted_in_the_middle_is_named(services, clock):
    first, _ = _two_requests(services, clock)
    with services.uow() as uow:
        _as_dba(uow.session)
        chain, events = _chain(uow.session, first)
        uow.session.execute(delete(AuditEvent).where(AuditEvent.seq == events[1].seq))
        report = audit.verify(uow.session)
        assert (report.intact, report.broken_at, report.position) == (False, events[2].seq, 2)
        assert report.message == (f"event 2 of the chain is missing (the next one found is 3): "
                                 f"{_where(chain, first, 2)}")
    _intact(services)


def _forge(event: AuditEvent, **changes) -> AuditEvent:
    forged = AuditEvent(**{c: getattr(event, c) for c in ("seq", "at", "actor", "event_type", "request_id",
                                                            "payload", "chain", "chain_seq", "prev_hash")})
    for key, value in changes.items():
        setattr(forged, key, value)
    forged.hash = audit._digest(forged)  # a well-formed event: the forger knows the algorithm (there is no secret)
    return forged


def test_an_inserted_forged_event_is_found_in_the_middle_and_at_the_end(services, clock):
    first, _ = _two_requests(services, clock)
    with services.uow() as uow:  # slipped in as event 2: the later events moved up one place
        s = uow.session
        _as_dba(s)
        chain, events = _chain(s, first)
        for event in reversed(events[1:]):
            s.execute(update(AuditEvent).where(AuditEvent.seq == event.seq).values(chain_seq=event.chain_seq + 1))
        top = s.scalar(select(func.max(AuditEvent.seq)))
        s.add(_forge(events[1], seq=top + 1, chain_seq=2, payload={"forged": True}, prev_hash=events[0].hash))
        s.flush()
        s.expire_all()
        report = audit.verify(s)  # the forged event links well, but the one after it does not link to it
        assert (report.intact, report.broken_at, report.chain, report.position) == (False, events[1].seq, chain, 3)
        assert report.message == f"link to the previous row is broken: {_where(chain, first, 3)}"
    with services.uow() as uow:  # appended after the last event, well formed, but the chain's head does not know it
        s = uow.session
        _as_dba(s)
        chain, events = _chain(s, first)
        top = s.scalar(select(func.max(AuditEvent.seq)))
        s.add(_forge(events[-1], seq=top + 1, chain_seq=4, payload={"forged": True}, prev_hash=events[-1].hash))
        s.flush()
        report = audit.verify(s)
        assert (report.intact, report.chain, report.position) == (False, chain, 4)
        assert report.message == (f"event 4 is not recorded in the chain's head (inserted?): "
                                 f"{_where(chain, first, 4)}")
    _intact(services)


def test_reordered_events_are_found_within_a_chain_and_across_chains(services, clock):
    first, second = _two_requests(services, clock)
    with services.uow() as uow:  # two whole events of one chain swapped places
        s = uow.session
        _as_dba(s)
        chain, events = _chain(s, first)
        a, b = events[1], events[2]
        columns = ("at", "actor", "event_type", "payload", "prev_hash", "hash")
        rows = {e.seq: {c: getattr(e, c) for c in columns} for e in (a, b)}
        s.execute(update(AuditEvent).where(AuditEvent.seq == a.seq).values(**rows[b.seq]))
        s.execute(update(AuditEvent).where(AuditEvent.seq == b.seq).values(**rows[a.seq]))
        s.expire_all()
        report = audit.verify(s)
        assert (report.intact, report.broken_at, report.chain, report.position) == (False, a.seq, chain, 2)
        assert report.message == f"link to the previous row is broken: {_where(chain, first, 2)}"
    with services.uow() as uow:  # the global order of two events of different requests swapped
        s = uow.session
        _as_dba(s)
        chain, [_, mine, _] = _chain(s, first)
        _, [_, theirs, _] = _chain(s, second)
        a_seq, b_seq = mine.seq, theirs.seq
        assert a_seq < b_seq
        for old, new in ((a_seq, -1), (b_seq, a_seq), (-1, b_seq)):
            s.execute(update(AuditEvent).where(AuditEvent.seq == old).values(seq=new)
                      .execution_options(synchronize_session=False))
        s.expire_all()
        report = audit.verify(s)
        assert (report.intact, report.chain, report.position) == (False, chain, 2)
        assert report.message == f"row content does not match its hash: {_where(chain, first, 2)}"
    _intact(services)


def _cut(session, chain: str, events: list[AuditEvent], keep: int) -> None:
    """Remove a chain's events after `keep` and rewrite its head row to match: nothing left in the chain shows it."""
    session.execute(delete(AuditEvent).where(AuditEvent.seq.in_([e.seq for e in events[keep:]])))
    if keep:
        session.execute(update(AuditChain).where(AuditChain.chain == chain).values(
            length=keep, head_hash=events[keep - 1].hash))
    else:
        session.execute(delete(AuditChain).where(AuditChain.chain == chain))


def test_a_cut_tail_before_the_last_checkpoint_is_found_and_after_it_only_by_the_head_row(services, clock):
    first, second = _two_requests(services, clock)
    with services.uow() as uow:
        assert audit.latest_checkpoint(uow.session).heads[_chain(uow.session, first)[0]][0] == 3
    with services.uow() as uow:  # the head row left alone: it still records three events
        _as_dba(uow.session)
        chain, events = _chain(uow.session, first)
        uow.session.execute(delete(AuditEvent).where(AuditEvent.seq == events[2].seq))
        report = audit.verify(uow.session)
        assert (report.intact, report.chain, report.position) == (False, chain, 3)
    with services.uow() as uow:  # head row rewritten too: checkpoint #1 still knows event 3
        _as_dba(uow.session)
        chain, events = _chain(uow.session, first)
        _cut(uow.session, chain, events, keep=2)
        report = audit.verify(uow.session)
        assert (report.intact, report.broken_at, report.chain, report.position) == (False, None, chain, 3)
        assert report.message == (f"event 3 of the chain, recorded by checkpoint #1, was removed (cut tail): "
                                 f"{_where(chain, first, 3)}")
    with services.uow() as uow:  # a whole chain and its head row removed
        _as_dba(uow.session)
        chain, events = _chain(uow.session, second)
        _cut(uow.session, chain, events, keep=0)
        report = audit.verify(uow.session)
        assert (report.intact, report.chain, report.position) == (False, chain, 1)
        assert report.message.startswith("events 1 to 3 of the chain, recorded by checkpoint #1, were removed")
    _intact(services)
    drive = Driver(services, clock)
    drive.complete(first, "assign_specialist", "maria", {"specialist": "sam"})
    with services.uow() as uow:  # after the last checkpoint a cut with a rewritten head leaves no trace (honestly)
        _as_dba(uow.session)
        chain, events = _chain(uow.session, first)
        assert len(events) > 3
        _cut(uow.session, chain, events, keep=3)
        assert audit.verify(uow.session).intact
    made = audit_views.checkpoint(services)  # `rf audit checkpoint`: now those events are covered too
    assert made is not None and (made.number, made.new) == (2, True)
    with services.uow() as uow:
        _as_dba(uow.session)
        chain, events = _chain(uow.session, first)
        _cut(uow.session, chain, events, keep=3)
        report = audit.verify(uow.session)
        assert (report.intact, report.chain, report.position) == (False, chain, 4)
        assert "recorded by checkpoint #2" in report.message
    assert audit_views.checkpoint(services).new is False  # nothing changed since #2


def test_a_tampered_or_removed_checkpoint_is_found(services, clock):
    first, _ = _two_requests(services, clock)
    Driver(services, clock).complete(first, "assign_specialist", "maria", {"specialist": "sam"})
    audit_views.checkpoint(services)
    with services.uow() as uow:
        _as_dba(uow.session)
        chain, _ = _chain(uow.session, first)
        uow.session.execute(update(AuditCheckpoint).where(AuditCheckpoint.id == 1).values(heads={chain: [1, "0"]}))
        report = audit.verify(uow.session)
        assert (report.intact, report.chain, report.position) == (False, "checkpoints", 1)
        assert report.message == ("checkpoint #1: checkpoint content does not match its hash: chain checkpoints, "
                                 "position 1")
    with services.uow() as uow:
        _as_dba(uow.session)
        uow.session.execute(delete(AuditCheckpoint).where(AuditCheckpoint.id == 2))
        report = audit.verify(uow.session)
        assert (report.intact, report.position) == (False, 2)
        assert report.message.startswith("checkpoints after #1 were removed")
    _intact(services)


def test_the_checkpoints_are_append_only_on_postgresql(services, clock):
    if services.engine.dialect.name != "postgresql":
        pytest.skip("the append-only triggers exist on PostgreSQL only")
    _two_requests(services, clock)
    for statement in ("UPDATE audit_checkpoint SET events = 0", "DELETE FROM audit_checkpoint",
                      "TRUNCATE audit_checkpoint"):
        with services.uow() as uow, pytest.raises(DBAPIError, match="audit_checkpoint is append-only"):
            uow.session.execute(text(statement))
    _intact(services)


def test_appends_for_two_requests_do_not_wait_for_each_other_on_postgresql(services, clock):
    if services.engine.dialect.name != "postgresql":
        pytest.skip("row locks: SQLite serialises every writer on its database lock")
    first, second = _two_requests(services, clock)
    with services.uow() as uow:
        ids = {number: id_ for number, id_ in uow.session.execute(select(ServiceRequest.number, ServiceRequest.id))}
    with services.uow() as holder:  # an open transaction that has written to the first request's chain
        audit.append(holder.session, actor="maria", event_type="task_claimed", request_id=ids[first],
                     payload={"step": "held"}, now=clock.now())
        audit.write_pending(holder.session)  # as a commit does first (or a read of the audit tables)
        began = time.monotonic()
        with services.uow() as other:  # the second request's append commits at once (2 s lock timeout to prove it)
            other.session.execute(text("SET LOCAL lock_timeout = '2s'"))
            audit.append(other.session, actor="sam", event_type="task_claimed", request_id=ids[second],
                         payload={"step": "beside"}, now=clock.now())
            other.commit()
        with services.uow() as other:  # and so do a system event and a checkpoint
            other.session.execute(text("SET LOCAL lock_timeout = '2s'"))
            audit.append(other.session, actor="olive", event_type="login", payload={}, now=clock.now())
            assert audit.checkpoint(other.session, clock.now()) is not None
            other.commit()
        assert time.monotonic() - began < 2
        with services.uow() as same, pytest.raises(DBAPIError, match="lock timeout"):  # the same request does wait
            same.session.execute(text("SET LOCAL lock_timeout = '300ms'"))
            audit.append(same.session, actor="sam", event_type="task_claimed", request_id=ids[first],
                         payload={"step": "queued"}, now=clock.now())
            same.commit()
        holder.commit()
    with services.uow() as uow:
        report = audit.verify(uow.session)
        assert report.intact, report.message
        assert [e.payload.get("step") for e in _chain(uow.session, first)[1]][-1] == "held"


def test_a_transactions_events_are_written_as_it_commits_in_the_order_appended(services, clock):
    from sqlalchemy import event

    first, second = _two_requests(services, clock)
    with services.uow() as uow:
        ids = {number: id_ for number, id_ in uow.session.execute(select(ServiceRequest.number, ServiceRequest.id))}
        audit.append(uow.session, actor="sam", event_type="login", payload={}, now=clock.now())  # a head exists
        uow.commit()
        before = uow.session.scalar(select(func.count()).select_from(AuditEvent))
    with services.uow() as uow:  # rolled back: nothing written, no head moved
        audit.append(uow.session, actor="sam", event_type="task_claimed", request_id=ids[first],
                     payload={"step": "dropped"}, now=clock.now())
    seen: list[str] = []
    event.listen(services.engine, "before_cursor_execute", lambda _c, _cur, sql, *_a: seen.append(sql))
    with services.uow() as uow:
        for step, request_id in (("one", ids[first]), ("login", None), ("two", ids[first])):
            audit.append(uow.session, actor="sam", event_type="task_claimed" if request_id else "login",
                         request_id=request_id, payload={"step": step}, now=clock.now())
        assert not [sql for sql in seen if "audit_" in sql]  # nothing written yet
        mine = list(uow.session.scalars(select(AuditEvent).where(AuditEvent.seq > 0).order_by(AuditEvent.seq)))
        assert [e.payload.get("step") for e in mine[-3:]] == ["one", "login", "two"]  # a read sees them
        uow.commit()
    heads = [sql for sql in seen if "audit_chain" in sql and sql.lstrip().upper().startswith("SELECT")]
    assert len(heads) == 2  # the request's chain and the sign-in chain, each locked once
    if services.engine.dialect.name == "postgresql":
        assert len([sql for sql in seen if "nextval" in sql]) == 1  # every seq drawn with the last lock
    with services.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(AuditEvent)) == before + 3
        chain, events = _chain(uow.session, first)
        assert [e.payload.get("step") for e in events[-2:]] == ["one", "two"]
        assert events[-1].chain_seq == events[-2].chain_seq + 1 and events[-1].prev_hash == events[-2].hash
        assert uow.session.get(AuditChain, chain).length == events[-1].chain_seq
    _intact(services)


def test_a_transaction_writing_two_chains_draws_its_seqs_only_once_both_are_locked(services, clock):
    """T1 writes to the first request's chain and then the second's, whose head T0 holds; T0 then writes its own
    event to the second chain and commits. T1's event comes after T0's in that chain, so its seq must be larger:
    drawn after T1 got that head, not with the first chain's lock."""
    if services.engine.dialect.name != "postgresql":
        pytest.skip("row locks: SQLite serialises every writer on its database lock")
    first, second = _two_requests(services, clock)
    with services.uow() as uow:
        ids = {number: id_ for number, id_ in uow.session.execute(select(ServiceRequest.number, ServiceRequest.id))}
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            with services.uow() as uow:
                for number in (first, second):
                    audit.append(uow.session, actor="maria", event_type="task_claimed", request_id=ids[number],
                                 payload={"step": "both"}, now=clock.now())
                uow.commit()  # locks the first chain, then waits for the second
        except BaseException as err:  # noqa: BLE001 - reported by the assertion below
            errors.append(err)

    with services.uow() as holder:
        holder.session.execute(text("SELECT 1 FROM audit_chain WHERE chain = :chain FOR UPDATE"),
                               {"chain": f"request:{ids[second]}"})
        thread = threading.Thread(target=writer)
        thread.start()
        time.sleep(0.5)  # T1 has locked the first chain and waits for the second
        audit.append(holder.session, actor="sam", event_type="task_claimed", request_id=ids[second],
                     payload={"step": "held"}, now=clock.now())
        holder.commit()
    thread.join(30)
    assert errors == []
    with services.uow() as uow:
        report = audit.verify(uow.session)
        assert report.intact, report.message
        steps = [e.payload.get("step") for e in _chain(uow.session, second)[1]][-2:]
        assert steps == ["held", "both"]


def test_concurrent_appends_to_many_requests_keep_every_chain_intact(services, clock):
    numbers = [Driver(services, clock).new("assistance") for _ in range(4)]
    with services.uow() as uow:
        ids = list(uow.session.scalars(select(ServiceRequest.id).where(ServiceRequest.number.in_(numbers))))
    errors: list[BaseException] = []

    def writer(request_id: int) -> None:
        try:
            for step in range(5):
                with services.uow() as uow:
                    audit.append(uow.session, actor="maria", event_type="task_claimed", request_id=request_id,
                                 payload={"step": step}, now=clock.now())
                    uow.commit()
        except BaseException as err:  # noqa: BLE001 - reported by the assertion below
            errors.append(err)

    threads = [threading.Thread(target=writer, args=(i,)) for i in ids * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with services.uow() as uow:
        report = audit.verify(uow.session)
        assert report.intact, report.message
        for request_id in ids:
            assert uow.session.get(AuditChain, f"request:{request_id}").length == 1 + 10


# --- migration 0014 from the single chain --------------------------------------------------------------------------


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(setup.MIGRATIONS))
    return cfg


def _downgrade(services, revision: str) -> None:
    cfg = _config()
    with services.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def _old_digest(seq, at, actor, event_type, request_id, payload, prev_hash) -> str:
    """The single chain's hash before revision 0014 (app/store/audit.py at 0013)."""
    body = json.dumps([seq, at.isoformat(), actor, event_type, request_id, payload, prev_hash],
                      sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def _old_append(conn, at, actor: str, event_type: str, request_id: int | None, payload: dict) -> None:
    """What the application before 0014 did: lock the head row, append the next seq, move the head."""
    head = conn.execute(text("SELECT seq, hash FROM audit_head WHERE id = 1")).one()
    seq = head.seq + 1
    digest = _old_digest(seq, at, actor, event_type, request_id, payload, head.hash)
    conn.execute(text("INSERT INTO audit_event (seq, at, actor, event_type, request_id, payload, prev_hash, hash) "
                      "VALUES (:seq, :at, :actor, :type, :rid, :payload, :prev, :hash)"),
                 {"seq": seq, "at": at.replace(tzinfo=None), "actor": actor, "type": event_type, "rid": request_id,
                  "payload": json.dumps(payload), "prev": head.hash, "hash": digest})
    conn.execute(text("UPDATE audit_head SET seq = :seq, hash = :hash WHERE id = 1"), {"seq": seq, "hash": digest})


def _old_chain(conn) -> list:
    rows = list(conn.execute(text("SELECT seq, actor, event_type, request_id, prev_hash, hash FROM audit_event "
                                  "ORDER BY seq")))
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
    assert all(r.prev_hash == (rows[i - 1].hash if i else audit.GENESIS) for i, r in enumerate(rows))
    return rows


def test_migration_0014_verifies_the_old_chain_and_converts_it(services, clock):
    first, _ = _two_requests(services, clock)
    _downgrade(services, "0013")  # back to the single chain (downgrade folds the chains into one)
    with services.engine.begin() as conn:
        tables = set(conn.dialect.get_table_names(conn))
        assert "audit_head" in tables and "audit_chain" not in tables
        before = _old_chain(conn)
        assert len(before) == 8
        request_id = conn.execute(text("SELECT id FROM service_request WHERE number = :n"), {"n": first}).scalar()
        _old_append(conn, clock.now(), "maria", "task_claimed", request_id, {"old": "layout"})  # as the old app did
        _old_append(conn, clock.now(), "olive", "login", None, {})
        before = _old_chain(conn)
    setup.migrate(services)
    with services.uow() as uow:
        s = uow.session
        report = audit.verify(s)
        assert (report.intact, report.count, report.checkpoint) == (True, 10, 1), report.reason
        after = list(s.scalars(select(AuditEvent).order_by(AuditEvent.seq)))
        assert [(e.seq, e.actor, e.event_type, e.request_id) for e in after] == \
            [(r.seq, r.actor, r.event_type, r.request_id) for r in before]
        chain, events = _chain(s, first)
        assert [e.chain_seq for e in events] == [1, 2, 3, 4] and events[-1].payload == {"old": "layout"}
        assert after[-1].chain == "system:sign-in"
        assert audit.latest_checkpoint(s).heads[chain] == [4, events[-1].hash]
    Driver(services, clock).complete(first, "assign_specialist", "maria", {"specialist": "sam"})
    with services.uow() as uow:  # new appends go on from there, with seq after the migrated ones
        assert audit.verify(uow.session).intact
        assert uow.session.scalar(select(func.min(AuditEvent.seq)).where(AuditEvent.chain_seq == 5)) > 10


def test_migration_0014_refuses_a_broken_old_chain(services, clock):
    _two_requests(services, clock)
    _downgrade(services, "0013")
    with services.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only"))
        conn.execute(text("UPDATE audit_event SET actor = 'mallory' WHERE seq = 4"))
        if conn.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE audit_event ENABLE TRIGGER audit_event_append_only"))
    with pytest.raises(RuntimeError, match="broken at event 4: row content does not match its hash"):
        setup.migrate(services)
    with services.engine.connect() as conn:  # nothing changed: still the old layout
        assert "audit_chain" not in set(conn.dialect.get_table_names(conn))
