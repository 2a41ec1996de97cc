"""Checking who a web session or an API token signs in only reads: on SQLite it begins a deferred transaction, so a
page view never waits for another process's write (every writing transaction takes the write lock at BEGIN
IMMEDIATE). When the check must write (a session or token seen again after a while, a session that has ended), it
does so in a transaction of its own, and that write still happens."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select, text

from app.domain.permissions import Identity
from app.services.admin import api_tokens, auth, web_sessions
from app.store.models import ApiToken, WebSession


def _while_a_writer_holds_the_lock(services, check: Callable[[], object]) -> list[object]:
    """Run `check` in a thread while this thread holds a write transaction open; what it returned (or raised)."""
    answers: list[object] = []

    def run() -> None:
        try:
            answers.append(check())
        except Exception as err:  # noqa: BLE001 - reported to the test
            answers.append(err)

    with services.engine.connect() as writer:
        writer.begin()  # BEGIN IMMEDIATE on SQLite: the write lock is held from here
        writer.execute(text("UPDATE app_user SET full_name = full_name WHERE username = 'adam'"))
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        thread.join(timeout=5)
        held_until_then = thread.is_alive()
        writer.rollback()
    thread.join(timeout=60)
    assert not held_until_then, "the sign-in check waited for another transaction's write lock"
    return answers


def test_a_session_check_reads_while_another_transaction_writes(services, clock):
    token = auth.sign_in(services, "sam", "demo").token
    [identity] = _while_a_writer_holds_the_lock(services, lambda: web_sessions.resume(services, token))
    assert isinstance(identity, Identity), identity
    assert identity.username == "sam"


def test_an_api_token_check_reads_while_another_transaction_writes(services, clock):
    secret, _ = api_tokens.create(services, auth.load_identity(services, "sam"), "reader")
    api_tokens.authenticate(services, secret)  # the first use is noted (a write)
    [bearer] = _while_a_writer_holds_the_lock(services, lambda: api_tokens.authenticate(services, secret))
    assert isinstance(bearer, api_tokens.Bearer), bearer
    assert bearer.identity.username == "sam"


def test_the_writes_a_check_needs_still_happen(services, clock):
    token = auth.sign_in(services, "sam", "demo").token
    secret, _ = api_tokens.create(services, auth.load_identity(services, "sam"), "reader")
    clock.advance(timedelta(minutes=10))
    web_sessions.resume(services, token)
    api_tokens.authenticate(services, secret)
    with services.uow() as uow:
        seen = uow.session.scalars(select(WebSession.last_seen_at)).one()
        used = uow.session.scalars(select(ApiToken.last_used_at)).one()
    assert seen == clock.now() and used == clock.now()
    clock.advance(timedelta(days=30))  # past any session's lifetime: the check ends it, for good
    try:
        web_sessions.resume(services, token)
        raise AssertionError("a session past its lifetime still signed someone in")
    except web_sessions.SessionEnded:
        pass
    with services.uow() as uow:
        assert uow.session.scalars(select(WebSession.ended_at)).one() == clock.now()
