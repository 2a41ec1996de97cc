"""Reference data (users, memberships, templates, subscriptions, calendar, SLA targets, current versions) is cached
per process keyed by the database's reference generation, which triggers change on every write to those tables,
whoever makes it. So a change made outside this process (another process, the command line, psql) is seen by the
very next transaction here; a transaction that changes reference data sees its own change; a rolled-back change
leaves nothing behind; and an unchanged generation costs no read of the data."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

import pytest
from sqlalchemy import create_engine, event, text

from app.bootstrap import bootstrap
from app.services.requests import sla_targets
from app.services.tasks.forms import group_members
from app.store import reference_cache
from app.store.models import User


@contextmanager
def outside(services) -> Iterator[object]:
    """A connection of another engine, as another process or psql would have: raw SQL, committed on exit."""
    other = create_engine(services.settings.database_url)
    try:
        with other.begin() as conn:
            yield conn
    finally:
        other.dispose()


def _specialists(services) -> list[str]:
    with services.uow() as uow:
        return group_members(uow.session, "specialist", "network")


def _statements(services) -> list[str]:
    seen: list[str] = []
    event.listen(services.engine, "before_cursor_execute", lambda _c, _cur, statement, *_a: seen.append(statement))
    return seen


def _generation(services) -> int | None:
    with services.uow() as uow:
        return reference_cache.generation(uow.session)


def test_an_unchanged_generation_reads_only_the_generation(services):
    assert "sam" in _specialists(services)
    seen = _statements(services)
    assert "sam" in _specialists(services)
    queries = [statement for statement in seen if not statement.startswith("BEGIN")]
    assert len(queries) == 1 and "reference_generation" in queries[0], seen  # not the membership join


def test_a_change_made_outside_the_process_is_seen_by_the_next_transaction(services):
    assert "sam" in _specialists(services)
    before = _generation(services)
    with outside(services) as conn:
        conn.execute(text("UPDATE app_user SET is_active = :no WHERE username = 'sam'"), {"no": False})
    assert _generation(services) != before
    assert "sam" not in _specialists(services)
    with outside(services) as conn:
        conn.execute(text("UPDATE app_user SET is_active = :yes WHERE username = 'sam'"), {"yes": True})
    assert "sam" in _specialists(services)


def test_a_transaction_sees_its_own_change_and_a_rolled_back_one_leaves_nothing(services):
    assert "sam" in _specialists(services)
    with services.uow() as uow:
        sam = uow.session.query(User).filter_by(username="sam").one()
        for membership in list(sam.memberships):
            uow.session.delete(membership)
        uow.session.flush()
        assert "sam" not in group_members(uow.session, "specialist", "network")  # its own change
        # rolled back on leaving without commit
    assert "sam" in _specialists(services)


def test_every_kind_of_write_to_every_reference_table_changes_the_generation(services):
    with services.uow() as uow:
        if uow.session.get_bind().dialect.name == "postgresql":
            names = set(uow.session.execute(text(
                "SELECT tgrelid::regclass::text FROM pg_trigger WHERE tgname LIKE 'reference_generation_on_%' "
                "AND tgrelid::regclass::text NOT LIKE '%.%'")).scalars())
            assert names == set(reference_cache.REFERENCE_TABLES)
        else:
            triggers = set(uow.session.execute(text(
                "SELECT tbl_name || ':' || name FROM sqlite_master WHERE type = 'trigger' "
                "AND name LIKE 'reference_generation_on_%'")).scalars())
            assert triggers == {f"{table}:reference_generation_on_{table}_{op}"
                                for table in reference_cache.REFERENCE_TABLES for op in ("insert", "update", "delete")}
    seen = [_generation(services)]
    with outside(services) as conn:  # insert, update, delete (and truncate): each changes it
        conn.execute(text("INSERT INTO holiday (day, name, source, created_by, created_at) "
                          "VALUES ('2031-07-07', 'Test day', 'manual', 'test', '2026-12-01 00:00:00')"))
    seen.append(_generation(services))
    with outside(services) as conn:
        conn.execute(text("UPDATE holiday SET name = 'Renamed' WHERE day = '2031-07-07'"))
    seen.append(_generation(services))
    with outside(services) as conn:
        conn.execute(text("DELETE FROM holiday WHERE day = '2031-07-07'"))
    seen.append(_generation(services))
    if services.engine.dialect.name == "postgresql":  # SQLite has no TRUNCATE
        with outside(services) as conn:
            conn.execute(text("TRUNCATE holiday"))
        seen.append(_generation(services))
    assert len(set(seen)) == len(seen), seen


def test_the_calendar_and_sla_targets_follow_an_edit_made_elsewhere(services):
    with services.uow() as uow:
        assert str(sla_targets.target(uow.session, "assistance", "medium")) == "3 business days"
        assert date(2031, 7, 7) not in sla_targets.load_calendar(uow.session, since=date(2031, 1, 1)).holidays
    with outside(services) as conn:
        conn.execute(text("UPDATE sla_target SET amount = 2 WHERE request_type = 'assistance' "
                          "AND priority = 'medium'"))
        conn.execute(text("INSERT INTO holiday (day, name, source, created_by, created_at) "
                          "VALUES ('2031-07-07', 'Test day', 'manual', 'test', '2026-12-01 00:00:00')"))
    with services.uow() as uow:
        assert str(sla_targets.target(uow.session, "assistance", "medium")) == "2 business days"
        assert date(2031, 7, 7) in sla_targets.load_calendar(uow.session, since=date(2031, 1, 1)).holidays


def test_an_orm_membership_change_in_another_engine_is_seen(services, settings, clock):
    assert "sara" in _specialists(services)
    other = bootstrap(settings, clock)  # another process's services, same database
    try:
        with other.uow() as uow:
            sara = uow.session.query(User).filter_by(username="sara").one()
            for membership in list(sara.memberships):
                uow.session.delete(membership)
            uow.commit()
    finally:
        other.engine.dispose()
    assert "sara" not in _specialists(services)


def test_the_sign_in_check_sees_a_changed_role_and_a_deactivation_made_elsewhere_at_once(services):
    from app.services.admin import web_sessions

    with services.uow() as uow:
        maria = uow.session.query(User).filter_by(username="maria").one()
        token = web_sessions.start(uow.session, maria, "127.0.0.1", services.clock.now())
        uow.commit()
    first = web_sessions.resume(services, token)
    assert first.username == "maria" and first.has_role("manager", "network")
    seen = _statements(services)
    assert web_sessions.resume(services, token) == first
    assert not [sql for sql in seen if "app_user" in sql or "membership" in sql]  # from this process's memory
    with outside(services) as conn:
        conn.execute(text("DELETE FROM membership WHERE user_id = (SELECT id FROM app_user WHERE username = 'maria')"
                          " AND role_id = (SELECT id FROM role WHERE code = 'manager')"))
    assert not web_sessions.resume(services, token).has_role("manager", "network")
    with outside(services) as conn:
        conn.execute(text("UPDATE app_user SET is_active = false WHERE username = 'maria'"))
    with pytest.raises(web_sessions.SessionEnded, match="not active"):
        web_sessions.resume(services, token)


def test_a_carried_generation_saves_its_read_until_a_reference_write_drops_it(services):
    """A web request's later transactions take the generation its sign-in check read (`carry`); a write to reference
    data in the request drops it, so what comes after the write reads afresh and sees the change."""
    assert "sam" in _specialists(services)
    reference_cache.carrying(True)  # as a web request starts
    reference_cache.carry(_generation(services))
    try:
        seen = _statements(services)
        assert "sam" in _specialists(services)
        assert not [statement for statement in seen if not statement.startswith("BEGIN")], seen  # nothing read
        with services.uow() as uow:  # the request deactivates sam (the ORM: the write is seen as it is flushed)
            uow.session.query(User).filter_by(username="sam").one().is_active = False
            uow.session.flush()
            uow.commit()
        seen.clear()
        assert "sam" not in _specialists(services)
        assert any("reference_generation" in statement for statement in seen), seen  # read again
    finally:
        reference_cache.carrying(False)
    with services.uow() as uow:
        uow.session.query(User).filter_by(username="sam").one().is_active = True
        uow.commit()
    assert "sam" in _specialists(services)


def test_a_sign_in_check_outside_a_web_request_carries_nothing(services):
    """A script or the worker calling the sign-in check directly leaves no number behind in its thread: the next
    transaction there reads the generation again (and so sees a change made elsewhere meanwhile)."""
    from app.services.admin import web_sessions

    with services.uow() as uow:
        maria = uow.session.query(User).filter_by(username="maria").one()
        token = web_sessions.start(uow.session, maria, "127.0.0.1", services.clock.now())
        uow.commit()
    web_sessions.resume(services, token)
    seen = _statements(services)
    assert "sam" in _specialists(services)
    assert any("reference_generation" in statement for statement in seen), seen
