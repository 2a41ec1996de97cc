"""The 60 day schedule page through the Flask test client, over the requests of tests/reports_scenario.py."""

from __future__ import annotations

import re
from datetime import timedelta

from tests import reports_scenario
from tests.conftest import START
from tests.web import WebUser


def text(page) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", page.get_data(as_text=True)).split())


def test_the_schedule_shows_load_per_week_and_flags_what_will_miss_the_plan(services, clock):
    thursday = (START + timedelta(days=2)).date()
    scenario = reports_scenario.build(services, clock, START, thursday + timedelta(days=7))
    n = scenario.numbers
    page = WebUser(services, "maria").get("/schedule")
    assert page.status_code == 200
    seen = text(page)
    assert "Enhancement requests of apps, network from 3 Dec 2026 for 60 days" in seen
    assert "3 open enhancement requests" in seen and "1 will miss the plan" in seen
    assert "1 awaiting a work plan" in seen and "1 on track" in seen
    # the load table: week, then requests and business days per group (apps, network)
    assert "Dec 03 – Dec 09 0 0.0 0 0.0" in seen
    assert "Dec 10 – Dec 16 0 0.0 1 5.0" in seen
    assert "Jan 28 – Jan 31 0 0.0 0 0.0" in seen
    html = page.get_data(as_text=True)
    assert '<title id="planned-work-per-week-title">Planned work per week</title>' in html
    assert "network, Dec 10: 5 business days" in html
    row = re.search(rf'<tr class="overdue" data-request="{n["E3"]}">(.*?)</tr>', html, re.S)
    assert row and "will miss the plan:" in row.group(1) and "planned finish Dec 02 has passed" in row.group(1)
    e1 = re.search(rf'<tr class="" data-request="{n["E1"]}">(.*?)</tr>', html, re.S)
    assert e1 and ">on time<" in e1.group(1)
    e2 = re.search(rf'<tr class="" data-request="{n["E2"]}">(.*?)</tr>', html, re.S)
    assert e2 and ">no plan<" in e2.group(1)
    assert "How this is measured" in seen


def test_the_schedule_can_show_one_provider_group(services, clock):
    reports_scenario.build(services, clock, START, (START + timedelta(days=9)).date())
    web = WebUser(services, "maria")
    page = web.get("/schedule?group=network")
    assert page.status_code == 200
    assert "Enhancement requests of network from" in text(page) and "Branch office link" in text(page)
    assert "Audit extract" not in text(page)
    assert '<option selected>network</option>' in page.get_data(as_text=True)


def test_an_unknown_group_is_a_400_and_another_groups_schedule_a_403(services):
    web = WebUser(services, "maria")
    page = web.get("/schedule?group=payroll")
    assert page.status_code == 400 and "no provider group &#39;payroll&#39;" in page.get_data(as_text=True)
    assert WebUser(services, "sam").get("/schedule?group=apps").status_code == 403


def test_an_empty_schedule_says_so_and_still_shows_the_weeks(services):
    page = WebUser(services, "sam").get("/schedule")
    assert page.status_code == 200
    assert "No enhancement requests on the schedule of network." in text(page)
    assert "0 will miss the plan" in text(page) and "No data" in page.get_data(as_text=True)
