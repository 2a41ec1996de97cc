"""The overview pages through the Flask test client."""

from __future__ import annotations

from tests.driver import Driver
from tests.web import WebUser


def test_dashboard_lists_requests_and_a_request_page_shows_its_path(services, clock):
    number = Driver(services, clock).new("assistance")
    web = WebUser(services, "maria")
    page = web.get("/")
    assert page.status_code == 200 and number.encode() in page.data
    detail = web.get(f"/requests/{number}")
    assert detail.status_code == 200 and b"request_type_gateway" in detail.data
    assert web.get(f"/api/requests/{number}").get_json()["number"] == number


def test_unknown_request_is_a_404_page_and_json_error(services):
    web = WebUser(services, "maria")
    page = web.get("/requests/RF-424242")
    assert page.status_code == 404 and b"no request RF-424242" in page.data
    api = web.get("/api/requests/RF-424242")
    assert api.status_code == 404 and api.get_json()["detail"] == "no request RF-424242"


def test_anonymous_visitors_are_sent_to_sign_in_and_health_is_public(services):
    anonymous = WebUser(services, None)
    assert anonymous.get("/inbox").headers["Location"].startswith("/login")
    assert anonymous.get("/api/requests/RF-000001").status_code == 401
    assert anonymous.get("/health").get_json() == {"status": "ok"}


def test_wrong_password_is_refused_and_audited(services):
    from sqlalchemy import select

    from app.store.models import AuditEvent

    anonymous = WebUser(services, None)
    page = anonymous.post("/login", {"username": "maria", "password": "nope"}, csrf=False)
    assert page.status_code == 400  # no CSRF token: refused before the password is even checked
    token = anonymous._token("/login")
    page = anonymous.client.post("/login", data={"username": "maria", "password": "nope", "csrf_token": token})
    assert page.status_code == 401 and b"wrong password" in page.data
    with services.uow() as uow:
        kinds = [e.event_type for e in uow.session.scalars(select(AuditEvent))]
    assert "login_failed" in kinds and "login" not in kinds
