"""The Requests page through the Flask test client: search and filters as a bookmarkable GET, bad values a 400 with
the reason on the page, numbered pages, and saved filters (per user, CSRF-protected, clear refusals)."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from app.store.models import SavedFilter
from tests.conftest import day
from tests.driver import Driver
from tests.web import WebUser


def saved_count(services) -> int:
    with services.uow() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(SavedFilter)) or 0)


def test_search_filters_and_pages(services, clock):
    drive = Driver(services, clock)
    vpn = drive.new("assistance", title="VPN access for rangers")
    payroll = drive.new("enhancement", provider_group="apps", title="Payroll report", agency="Office of Payroll")
    bulk = [drive.new("assistance", title=f"Bulk item {i}") for i in range(27)]
    maria, sam = WebUser(services, "maria"), WebUser(services, "sam")
    page = maria.get("/requests?q=vpn")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and vpn in text and payroll not in text and "Showing 1–1 of 1 request<" in text
    assert 'value="vpn"' in text  # the search is shown back
    text = maria.get("/requests?group=apps&type=enhancement&status=open&sort=oldest").get_data(as_text=True)
    assert payroll in text and vpn not in text
    assert payroll not in sam.get("/requests?q=payroll").get_data(as_text=True)  # need-to-know
    assert "No requests match this search" in sam.get("/requests?q=payroll").get_data(as_text=True)
    first = maria.get("/requests?per_page=25").get_data(as_text=True)
    second = maria.get("/requests?per_page=25&page=2").get_data(as_text=True)
    assert "Showing 1–25 of 29 requests" in first and "Showing 26–29 of 29 requests" in second
    assert bulk[-1] in first and vpn in second and vpn not in first
    assert re.search(r'href="/requests\?per_page=25&amp;page=2"[^>]*>Next', first)
    assert "← Previous" in second and "Next →" not in second


def test_bad_filter_values_are_a_400_naming_them(services):
    maria = WebUser(services, "maria")
    for query, named in (("status=half", "status"), ("created_from=yesterday", "created_from"),
                         ("sort=sideways", "sort"), ("sla=late", "sla"), ("page=0", "page"), ("per_page=7", "per_page"),
                         ("group=nowhere", "group"), (f"created_from={day(4)}&created_to={day(0)}", "created_to"),
                         ("q=" + "x" * 1001, "q")):
        page = maria.get(f"/requests?{query}")
        text = page.get_data(as_text=True)
        assert page.status_code == 400, query
        assert "These filters could not be used" in text and f"<strong>{named}</strong>" in text, query
    assert maria.get("/requests?q=a%00b").status_code == 400  # the app-wide NUL guard
    hostile = maria.get("/requests?q=%22NEAR(%27*%20OR%20-x:*")
    assert hostile.status_code == 200


def test_saved_filters_are_per_user_and_refuse_bad_names(services, clock):
    Driver(services, clock).new("assistance", title="VPN access for rangers")
    maria, sam = WebUser(services, "maria"), WebUser(services, "sam")
    saved = maria.post("/requests/saved", {"name": "  Open VPN  ", "query": "q=vpn&status=open&page=3&evil=1"})
    assert saved.status_code == 302 and saved.headers["Location"] == "/requests?q=vpn&status=open"
    text = maria.get("/requests").get_data(as_text=True)
    assert '<a href="/requests?q=vpn&amp;status=open">Open VPN</a>' in text
    assert "Open VPN" not in sam.get("/requests").get_data(as_text=True)  # another user's are not shown
    duplicate = maria.post("/requests/saved", {"name": "Open VPN", "query": "q=x"})
    assert duplicate.status_code == 409 and "already have a saved filter named" in duplicate.get_data(as_text=True)
    for name, reason in (("", "give the filter a name"), ("x" * 81, "at most 80 characters"),
                         ("a\x07b", "control characters")):
        refused = maria.post("/requests/saved", {"name": name, "query": "q=x"})
        assert refused.status_code == 422 and reason in refused.get_data(as_text=True), name
    assert saved_count(services) == 1
    assert maria.post("/requests/saved", {"name": "No token", "query": "q=x"}, csrf=False).status_code == 400
    with services.uow() as uow:
        filter_id = uow.session.scalars(select(SavedFilter.id)).one()
    assert sam.post(f"/requests/saved/{filter_id}/delete").status_code == 404  # not sam's
    assert maria.post(f"/requests/saved/{filter_id}/delete", csrf=False).status_code == 400
    deleted = maria.post(f"/requests/saved/{filter_id}/delete", {"query": "q=vpn"})
    assert deleted.status_code == 302 and deleted.headers["Location"] == "/requests?q=vpn"
    assert saved_count(services) == 0
