"""The report pages and their CSV downloads through the Flask test client, over the requests of
tests/reports_scenario.py."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest

from tests import reports_scenario
from tests.conftest import START
from tests.reports_scenario import HEALTH
from tests.web import WebUser

REPORT_NAMES = ("fulfilment", "aging", "outstanding", "breaches", "billing")


@pytest.fixture
def scenario(services, clock) -> reports_scenario.Scenario:
    thursday = (START + timedelta(days=2)).date()
    return reports_scenario.build(services, clock, START, thursday + timedelta(days=7))


def text(page) -> str:
    """The page's text with tags dropped and white space collapsed (what a reader sees)."""
    return " ".join(re.sub(r"<[^>]+>", " ", page.get_data(as_text=True)).split())


def csv_rows(download) -> list[list[str]]:
    return list(csv.reader(io.StringIO(download.get_data(as_text=True))))


def test_the_reports_index_lists_every_report_with_its_csv_download(services):
    page = WebUser(services, "maria").get("/reports")
    assert page.status_code == 200
    shown = page.get_data(as_text=True)
    for name in REPORT_NAMES:
        assert f'href="/reports/{name}"' in shown and f'href="/reports/{name}.csv"' in shown
    assert 'href="/reports" aria-current="page">Reports</a>' in shown


def test_the_fulfilment_page_shows_the_measures_of_the_requests_closed(services, scenario):
    page = WebUser(services, "maria").get("/reports/fulfilment")
    assert page.status_code == 200
    seen = text(page)
    assert "network 2 0.7 1.0 1 50.0% 0 —" in seen
    assert "apps 1 2.0 2.0 1 100.0% 1 100.0%" in seen
    assert "All 3 1.1 2.0 2 66.7% 1 100.0%" in seen
    assert f"{HEALTH} 1 2.0 2.0 1 100.0%" in seen
    assert "How this is measured" in seen and "nearest-rank 90th percentile" in seen
    assert '<title id="time-to-fulfil-per-provider-group-title">' in page.get_data(as_text=True)


def test_every_report_downloads_as_csv_with_the_numbers_of_its_page(services, scenario):
    web = WebUser(services, "maria")
    for name in REPORT_NAMES:
        assert web.get(f"/reports/{name}").status_code == 200, name
        download = web.get(f"/reports/{name}.csv?group=&type=")
        assert download.status_code == 200, name
        assert download.headers["Content-Type"] == "text/csv; charset=utf-8"
        assert re.fullmatch(rf'attachment; filename={name}_\d{{4}}-\d\d-\d\d_\d{{4}}-\d\d-\d\d\.csv',
                            download.headers["Content-Disposition"]), download.headers["Content-Disposition"]
    fulfilment = csv_rows(web.get("/reports/fulfilment.csv"))
    assert fulfilment[0][:4] == ["table", "name", "closed", "mean_days"]
    assert ["by_group", "All", "3", "1.1", "2.0", "2", "66.7", "1", "100.0"] in fulfilment
    assert csv_rows(web.get("/reports/billing.csv")) == [
        ["agency", "cases", "hours", "amount"], [HEALTH, "1", "12.50", "1062.50"], ["All", "1", "12.50", "1062.50"]]
    outstanding = csv_rows(web.get("/reports/outstanding?format=csv"))
    assert sorted(row[0] for row in outstanding[1:]) == sorted(scenario.numbers[k] for k in ("E2", "E3", "E4"))
    billing_page = text(web.get("/reports/billing"))
    assert f"{HEALTH} 1 12.50 $1,062.50" in billing_page


def test_filters_are_kept_in_the_form_and_the_csv_link(services, scenario):
    web = WebUser(services, "maria")
    page = web.get("/reports/fulfilment?since=2026-12-01&until=2026-12-01&group=network&type=assistance")
    shown = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'value="2026-12-01"' in shown and '<option value="network" selected>' in shown
    assert "/reports/fulfilment.csv?since=2026-12-01&amp;until=2026-12-01&amp;group=network&amp;type=assistance" \
        in shown
    assert "All 1 0.4 0.4 1 100.0%" in text(page)  # only A1 closed on that Tuesday


@pytest.mark.parametrize(("query", "message"), [
    ("since=2026-13-01", "&#39;2026-13-01&#39; is not a date (YYYY-MM-DD)"),
    ("until=yesterday", "&#39;yesterday&#39; is not a date"),
    ("since=2026-12-05&until=2026-12-01", "2026-12-01 is before the start 2026-12-05"),
    ("type=incident", "&#39;incident&#39;: use assistance or enhancement"),
    ("group=payroll", "no provider group &#39;payroll&#39;"),
    ("since=2000-01-01&until=2026-12-01", "a period covers at most"),
])
def test_bad_filters_answer_400_with_a_message_on_the_page_and_for_the_csv(services, query, message):
    web = WebUser(services, "maria")
    page = web.get(f"/reports/aging?{query}")
    assert page.status_code == 400 and message in page.get_data(as_text=True)
    assert "The filters could not be used" in page.get_data(as_text=True)
    download = web.get(f"/reports/aging.csv?{query}")
    assert download.status_code == 400 and message in download.get_data(as_text=True)
    assert "text/csv" not in download.headers["Content-Type"]


def test_an_unknown_report_is_a_404_and_an_unknown_format_a_400(services):
    web = WebUser(services, "maria")
    page = web.get("/reports/aging?format=xml")
    assert page.status_code == 400 and b"unknown format &#39;xml&#39;: use html or csv" in page.data
    assert web.get("/reports/salaries").status_code == 404
    assert b"no report" in web.get("/reports/salaries.csv").data


def test_specialists_see_no_reports_and_anonymous_visitors_sign_in_first(services):
    sam = WebUser(services, "sam")
    assert sam.get("/reports").status_code == 403
    assert sam.get("/reports/fulfilment").status_code == 403
    assert sam.get("/reports/fulfilment.csv").status_code == 403
    assert b'href="/reports"' not in sam.get("/inbox").data
    assert WebUser(services, None).get("/reports/fulfilment.csv").headers["Location"].startswith("/login")


def test_an_auditor_reads_every_group_and_a_car_their_own(services, scenario):
    for username in ("audrey", "carla", "olive", "adam"):
        page = WebUser(services, username).get("/reports/fulfilment")
        assert page.status_code == 200 and "All 3 1.1 2.0" in text(page), username
