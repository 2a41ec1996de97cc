"""Web sessions end on the server: a cookie replayed after sign-out, after its user was deactivated, after the idle
limit or after the longest lifetime signs nobody in. And every response carries the browser protection headers."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.bootstrap import bootstrap
from app.config import Settings
from app.store.models import AuditEvent, User, WebSession
from app.web import create_app
from app.web.security import CONTENT_SECURITY_POLICY
from tests.web import WebUser

COOKIE = "rf_session"


def cookie_of(web: WebUser) -> str:
    cookie = web.client.get_cookie(COOKIE)
    assert cookie is not None, "no session cookie"
    return cookie.value


def replay(services, cookie: str, path: str = "/inbox"):
    """A fresh browser presenting a copied cookie."""
    client = create_app(services, {"SECRET_KEY": "test-secret"}).test_client()
    client.set_cookie(COOKIE, cookie)
    return client.get(path)


def signed_out(response) -> bool:
    return response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_a_cookie_replayed_after_sign_out_no_longer_signs_anyone_in(services):
    sam = WebUser(services, "sam")
    stolen = cookie_of(sam)
    assert replay(services, stolen).status_code == 200  # (a copied cookie works while the session is open)
    assert sam.post("/logout").status_code == 302
    assert signed_out(replay(services, stolen))
    assert signed_out(replay(services, stolen, "/requests/RF-000001"))
    assert replay(services, stolen, "/api/requests/RF-000001").status_code == 401
    with services.uow() as uow:
        ended = uow.session.scalars(select(WebSession)).one()
        assert ended.end_reason == "signed_out" and ended.ended_at is not None
        assert uow.session.scalars(select(AuditEvent.actor).where(AuditEvent.event_type == "logout")).all() == ["sam"]


def test_signing_out_ends_only_that_browsers_session(services):
    office, laptop = WebUser(services, "pete"), WebUser(services, "pete")
    office.post("/logout")
    assert signed_out(office.get("/inbox")) and laptop.get("/inbox").status_code == 200


def test_deactivating_a_user_ends_every_session_of_theirs_at_once(services):
    desk, phone = WebUser(services, "sara"), WebUser(services, "sara")
    stolen = cookie_of(desk)
    adam = WebUser(services, "adam")
    assert adam.post("/admin/users/sara/active", {"active": "0"}).status_code == 302
    assert signed_out(desk.get("/inbox")) and signed_out(phone.get("/inbox"))
    assert adam.post("/admin/users/sara/active", {"active": "1"}).status_code == 302
    assert signed_out(replay(services, stolen))  # reactivating does not bring the old sessions back
    with services.uow() as uow:
        payloads = uow.session.scalars(select(AuditEvent.payload)
                                       .where(AuditEvent.event_type == "user_deactivated")).all()
        sara_id = uow.session.scalars(select(User.id).where(User.username == "sara")).one()
        reasons = uow.session.scalars(select(WebSession.end_reason).where(WebSession.user_id == sara_id)).all()
    assert payloads == [{"username": "sara", "sessions_ended": 2}] and reasons == ["deactivated", "deactivated"]
    assert WebUser(services, "sara").get("/inbox").status_code == 200  # she may sign in again


def test_a_session_unused_for_twelve_hours_has_ended(services, clock):
    maria = WebUser(services, "maria")
    clock.advance(timedelta(hours=11, minutes=59))
    assert maria.get("/inbox").status_code == 200
    clock.advance(timedelta(hours=11, minutes=59))  # counted from the last use, not from signing in
    assert maria.get("/inbox").status_code == 200
    clock.advance(timedelta(hours=12, minutes=1))
    page = maria.get("/inbox")
    assert signed_out(page)
    login = maria.get(page.headers["Location"]).get_data(as_text=True)
    assert "Your session ended after 12 hours without use. Sign in again." in login


def test_no_session_outlives_the_longest_lifetime_however_busy(services, settings, clock):
    short = bootstrap(replace(settings, session_idle_minutes=30, session_max_hours=2), clock)
    try:
        carla = WebUser(short, "carla")
        for _ in range(4):
            clock.advance(timedelta(minutes=29))
            assert carla.get("/inbox").status_code == 200
        clock.advance(timedelta(minutes=5))
        page = carla.get("/inbox")
        assert signed_out(page)
        assert "Sessions last at most 2 hours" in carla.get(page.headers["Location"]).get_data(as_text=True)
        clock.advance(timedelta(minutes=31))
        assert signed_out(WebUser(short, "carla").get("/inbox")) is False
    finally:
        short.engine.dispose()


def test_a_cookie_from_before_server_side_sessions_signs_nobody_in(services):
    app = create_app(services, {"SECRET_KEY": "test-secret"})
    old_style = app.session_interface.get_signing_serializer(app).dumps({"user": "adam", "csrf": "x"})
    client = app.test_client()
    client.set_cookie(COOKIE, old_style)
    assert signed_out(client.get("/admin/users"))


def test_session_lifetime_and_https_come_from_the_environment():
    settings = Settings.from_env({"RF_SESSION_IDLE_MINUTES": "45", "RF_SESSION_MAX_HOURS": "10", "RF_HTTPS": "yes",
                                  "RF_TRUSTED_PROXIES": "1"})
    assert (settings.session_idle_minutes, settings.session_max_hours, settings.https, settings.trusted_proxies) == (
        45, 10, True, 1)
    defaults = Settings.from_env({})
    assert (defaults.session_idle_minutes, defaults.session_max_hours, defaults.https) == (720, 168, False)
    for name, value in (("RF_SESSION_IDLE_MINUTES", "twelve"), ("RF_SESSION_MAX_HOURS", "0"), ("RF_HTTPS", "maybe")):
        with pytest.raises(ValueError, match=name):
            Settings.from_env({name: value})


# --- headers ----------------------------------------------------------------------------------------------------------

PROTECTION = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def test_every_response_carries_the_browser_protection_headers(services):
    anonymous, adam = WebUser(services, None), WebUser(services, "adam")
    assert adam.get("/inbox").headers["Cache-Control"] == "no-store"  # no signed-in page from the cache
    responses = [anonymous.get("/login"), anonymous.get("/health"), anonymous.get("/inbox"),
                 anonymous.get("/api/requests/RF-1"), adam.get("/inbox"), adam.get("/requests/RF-999999"),
                 adam.get("/static/style.css"), adam.get("/api/requests/RF-999999"), adam.post("/logout")]
    for response in responses:
        for name, value in PROTECTION.items():
            assert response.headers.get(name) == value, (response.request.path, name)
        assert "Strict-Transport-Security" not in response.headers
    policy = dict(part.split(" ", 1) for part in CONTENT_SECURITY_POLICY.split("; "))
    assert policy["frame-ancestors"] == "'none'" and policy["script-src"] == "'self'"
    assert "unsafe-eval" not in CONTENT_SECURITY_POLICY and "'unsafe-inline'" not in policy["script-src"]


def test_over_https_the_cookie_is_secure_and_hsts_is_sent(services):
    https = replace(services, settings=replace(services.settings, https=True))
    client = create_app(https, {"SECRET_KEY": "test-secret"}).test_client()
    login = client.get("/login", base_url="https://rf.example")
    assert login.headers["Strict-Transport-Security"] == "max-age=31536000"
    cookie = login.headers["Set-Cookie"]
    assert cookie.startswith("__Host-rf_session=") and "Secure" in cookie and "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie and "Path=/" in cookie and "Domain" not in cookie
    plain = WebUser(services, None).client.get("/login").headers["Set-Cookie"]
    assert plain.startswith(f"{COOKIE}=") and "Secure" not in plain and "HttpOnly" in plain


def test_behind_a_trusted_proxy_the_forwarded_client_address_is_the_one_counted(services):
    proxied = replace(services, settings=replace(services.settings, trusted_proxies=1))
    client = create_app(proxied, {"SECRET_KEY": "test-secret"}).test_client()
    page = client.get("/login")
    token = page.get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    client.post("/login", data={"username": "maria", "password": "nope", "csrf_token": token},
                headers={"X-Forwarded-For": "198.51.100.23"})
    with services.uow() as uow:
        remote = uow.session.scalars(select(AuditEvent.payload).where(AuditEvent.event_type == "login_failed")).one()
    assert remote["remote"] == "198.51.100.23"
