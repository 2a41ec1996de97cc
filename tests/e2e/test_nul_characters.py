"""A NUL character in a page's address, query or form is a 400 with a clear message, on SQLite and PostgreSQL
(where it reached the database and failed as a 500 before), and a form carrying one changes nothing."""

from __future__ import annotations

from sqlalchemy import func, select

from app.store.models import AuditEvent, User
from tests.driver import Driver
from tests.web import WebUser

PAGES = ["/requests/RF-%00", "/requests/RF-%00/history", "/requests/RF-000001/history?step=%00",
         "/audit?request=%00", "/audit?actor=a%00b", "/inbox?group=%00", "/reports/fulfilment?group=%00",
         "/processes/a%00b", "/incidents?x=%00", "/?q=%00", "/api/requests/RF-%00"]


def counts(services) -> tuple[int, int]:
    with services.uow() as uow:
        return (int(uow.session.scalar(select(func.count()).select_from(User))),
                int(uow.session.scalar(select(func.count()).select_from(AuditEvent))))


def test_a_nul_character_anywhere_in_a_page_request_is_a_400_and_changes_nothing(services, clock):
    Driver(services, clock).new("assistance")
    web = WebUser(services, "adam")
    before = counts(services)
    for path in PAGES:
        response = web.get(path)
        assert response.status_code == 400, (path, response.status_code)
        assert b"NUL character" in response.data, path
    created = web.post("/admin/users", {"username": "eve\x00", "full_name": "Eve", "email": "eve@omes.example",
                                        "password": "long-enough-1"})
    assert created.status_code == 400 and b"NUL character" in created.data
    assert counts(services) == before
