"""Signing in through the real login form: failed sign-ins are throttled per account and per client address (in the
database, so every web process agrees), the demo accounts show on a demo installation only, and `next` never
leaves the site."""

from __future__ import annotations

import re
import threading
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.bootstrap import bootstrap
from app.errors import Forbidden
from app.services.admin import auth, setup
from app.services.admin.sign_in_throttle import SignInThrottled, address_key
from app.store.models import AuditEvent
from tests.web import WebUser


def try_password(web: WebUser, username: str, password: str, remote: str = "127.0.0.1", next_: str = ""):
    token = web._token("/login")
    path = f"/login?next={next_}" if next_ else "/login"
    return web.client.post(path, data={"username": username, "password": password, "csrf_token": token},
                           environ_base={"REMOTE_ADDR": remote})


def events(services, *kinds: str) -> list[AuditEvent]:
    with services.uow() as uow:
        found = list(uow.session.scalars(select(AuditEvent).where(AuditEvent.event_type.in_(kinds))
                                         .order_by(AuditEvent.seq)))
        uow.session.expunge_all()
        return found


def test_a_hundred_wrong_passwords_lock_the_account_and_then_the_right_one_waits_its_turn(services, clock):
    web = WebUser(services, None)
    statuses = [try_password(web, "maria", f"guess-{n}").status_code for n in range(100)]
    assert statuses[:4] == [401] * 4  # four plain refusals, the fifth locks the account
    assert set(statuses[4:]) == {429}
    right = try_password(web, "maria", "demo")
    text = right.get_data(as_text=True)
    assert right.status_code == 429 and "Too many failed sign-ins for this account" in text
    assert "Try again in 30 seconds" in text and right.headers["Retry-After"] == "30"
    assert len(events(services, "login_failed")) == 5  # refused attempts are not even checked
    locked = events(services, "login_locked")
    assert [(e.actor, e.payload["scope"], e.payload["failures"]) for e in locked] == [("maria", "account", 5)]
    assert locked[0].payload["until"] == (clock.now() + timedelta(seconds=30)).isoformat()

    clock.advance(timedelta(seconds=31))
    assert try_password(web, "maria", "demo").status_code == 302  # the lock has passed: the right password works
    assert [e.actor for e in events(services, "login")] == ["maria"]


def test_each_further_failure_doubles_the_lock_up_to_the_longest(services, clock):
    web = WebUser(services, None)
    for _ in range(4):
        assert try_password(web, "sam", "nope").status_code == 401
    waits = []
    for _ in range(8):
        page = try_password(web, "sam", "nope")
        assert page.status_code == 429
        waits.append(int(page.headers["Retry-After"]))
        clock.advance(timedelta(seconds=waits[-1]))
    assert waits == [30, 60, 120, 240, 480, 900, 900, 900]
    assert "Try again in 15 minutes" in try_password(web, "sam", "nope").get_data(as_text=True)


def test_a_successful_sign_in_clears_the_account_count_and_an_hour_without_failures_forgets_it(services, clock):
    web = WebUser(services, None)
    for _ in range(4):
        try_password(web, "sara", "nope")
    assert try_password(web, "sara", "demo").status_code == 302
    anonymous = WebUser(services, None)
    for _ in range(4):
        assert try_password(anonymous, "sara", "nope").status_code == 401  # counting from zero again
    clock.advance(timedelta(hours=1, seconds=1))
    for _ in range(4):
        assert try_password(anonymous, "sara", "nope").status_code == 401  # forgotten after an hour


def test_unknown_account_names_lock_like_real_ones_so_a_lock_reveals_nothing(services):
    web = WebUser(services, None)
    assert [try_password(web, "nobody-here", "x").status_code for _ in range(6)] == [401] * 4 + [429] * 2
    assert [try_password(web, " Maria ", "x").status_code for _ in range(5)] == [401] * 4 + [429]
    assert try_password(web, "maria", "demo").status_code == 429  # the name counts whatever its case or spaces


def test_one_address_guessing_over_many_accounts_is_locked_but_other_addresses_are_not(services, clock):
    web = WebUser(services, None)
    attacker = "203.0.113.7"
    names = [f"user{n}" for n in range(20)]
    assert [try_password(web, name, "Winter2026!", attacker).status_code for name in names] == [401] * 19 + [429]
    page = try_password(web, "pete", "demo", attacker)  # even the right password of another account waits
    assert page.status_code == 429 and "for your network address" in page.get_data(as_text=True)
    assert try_password(web, "pete", "demo", "198.51.100.9").status_code == 302
    locked = events(services, "login_locked")
    assert [(e.payload["scope"], e.payload["key"], e.payload["failures"]) for e in locked] == [
        ("address", attacker, 20)]
    clock.advance(timedelta(seconds=30))
    assert try_password(WebUser(services, None), "pete", "demo", attacker).status_code == 302


def test_an_ipv6_client_counts_with_its_whole_64_network():
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key("::ffff:192.0.2.1") == "192.0.2.1" and address_key("192.0.2.1") == "192.0.2.1"


def test_two_web_processes_on_one_database_share_the_count(services, settings, clock):
    other = bootstrap(settings, clock)  # a second process: its own engine and connection pool
    try:
        first, second = WebUser(services, None), WebUser(other, None)
        assert [try_password(first, "carla", "x").status_code for _ in range(3)] == [401] * 3
        assert [try_password(second, "carla", "x").status_code for _ in range(2)] == [401, 429]
        assert try_password(first, "carla", "demo").status_code == 429
    finally:
        other.engine.dispose()


def test_guesses_sent_all_at_once_get_no_more_than_five_passwords_checked(services):
    outcomes: list[str] = []
    barrier = threading.Barrier(12)

    def guess(n: int) -> None:
        barrier.wait()
        try:
            auth.sign_in(services, "olive", f"guess-{n}", "192.0.2.50")
        except SignInThrottled:
            outcomes.append("locked")
        except Forbidden:
            outcomes.append("wrong")

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(outcomes) == 12 and outcomes.count("wrong") == 4 and outcomes.count("locked") == 8
    assert len(events(services, "login_failed")) == 5


def test_the_limits_come_from_the_settings(services, settings, clock):
    strict = bootstrap(replace(settings, sign_in_account_failures=2, sign_in_lock_seconds=600,
                               sign_in_lock_max_seconds=600), clock)
    try:
        web = WebUser(strict, None)
        assert [try_password(web, "audrey", "x").status_code for _ in range(3)] == [401, 429, 429]
        assert "Try again in 10 minutes" in try_password(web, "audrey", "demo").get_data(as_text=True)
    finally:
        strict.engine.dispose()


# --- the demo accounts ------------------------------------------------------------------------------------------------

DEMO_HINT = re.compile(r"Demo accounts|password <code>demo</code>")


def test_the_login_page_lists_the_demo_accounts_on_a_demo_installation(services):
    assert DEMO_HINT.search(WebUser(services, None).get("/login").get_data(as_text=True))


def test_an_installation_set_up_without_demo_does_not_advertise_demo_accounts(settings, clock):
    plain = bootstrap(settings, clock)
    try:
        setup.migrate(plain)
        setup.seed(plain, demo=False)
        page = WebUser(plain, None).get("/login")
        assert page.status_code == 200 and not DEMO_HINT.search(page.get_data(as_text=True))
        assert not auth.is_demo(plain)
        setup.seed(plain, demo=True)  # `rf init --demo` later makes it a demo installation
        assert DEMO_HINT.search(WebUser(plain, None).get("/login").get_data(as_text=True))
    finally:
        plain.engine.dispose()


# --- where signing in leads -------------------------------------------------------------------------------------------

OFF_SITE = [
    "//evil.example/", "///evil.example/", "/\\evil.example", "\\\\evil.example", "/\t/evil.example",
    "/%09/evil.example".replace("%09", "\t"), "/\n/evil.example", "/\r\n/evil.example", "/\x00/evil.example",
    "/\x7f/evil.example", "https://evil.example/", "http:evil.example", "javascript:alert(1)",
    "evil.example", " /inbox", "/ /evil.example", "/\u3002evil.example", "/\uff0f/evil.example",
    "data:text/html,hi", "/\t\\evil.example", "/\\\t/evil.example", "",
]


@pytest.mark.parametrize("target", OFF_SITE, ids=[repr(t) for t in OFF_SITE])
def test_next_leading_off_the_site_goes_to_the_inbox_instead(services, target):
    web = WebUser(services, None)
    token = web._token("/login")
    page = web.client.post("/login", query_string={"next": target},
                           data={"username": "maria", "password": "demo", "csrf_token": token})
    if "\x00" in target:  # a NUL character is refused before anything reads the request (no one is signed in)
        assert page.status_code == 400 and b"NUL character" in page.data
        return
    assert page.status_code == 302 and page.headers["Location"] == "/inbox"


@pytest.mark.parametrize("target", ["/requests/RF-000001", "/requests/RF-000001?tab=history&x=%2F%2Fa",
                                    "/reports/fulfilment?from=2026-01-01", "/admin/users"])
def test_next_within_the_site_is_where_signing_in_leads(services, target):
    web = WebUser(services, None)
    token = web._token("/login")
    page = web.client.post("/login", query_string={"next": target},
                           data={"username": "adam", "password": "demo", "csrf_token": token})
    assert page.status_code == 302 and page.headers["Location"] == target
