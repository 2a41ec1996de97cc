"""The 60 day schedule page through the Flask test client, over the requests of tests/reports_scenario.py."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select

from app.store.models import AuditEvent, ProcessInstance, ServiceRequest
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


def log_enhancement(services, title: str = "Visitor report") -> str:
    carla = WebUser(services, "carla")
    page = carla.post("/requests/new", {"request_type": "enhancement", "routine": "true", "title": title,
                                        "agency": "Tourism", "requester_name": "Ann Agency",
                                        "requester_email": "ann@tourism.example", "provider_group": "apps",
                                        "priority": "high"})
    assert page.status_code == 302
    return page.headers["Location"].rsplit("/", 1)[1]


def queue_state(services, number: str) -> tuple[str, object, int, int]:
    """status, planned week, process instances, audit events of the request."""
    with services.uow() as uow:
        s = uow.session
        request = s.scalars(select(ServiceRequest).where(ServiceRequest.number == number)).one()
        return (request.status, request.planned_week,
                s.scalar(select(func.count()).select_from(ProcessInstance)
                         .where(ProcessInstance.request_id == request.id)) or 0,
                s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.request_id == request.id)) or 0)


MONDAY = START.date() - timedelta(days=START.date().weekday())


def test_the_schedule_lists_waiting_requests_by_week_and_a_service_provider_pulls_one_to_its_work_plan(services):
    number = log_enhancement(services)
    pete = WebUser(services, "pete")
    html = pete.get("/schedule").get_data(as_text=True)
    row = re.search(rf'<tr class="this-week" data-queued="{number}">(.*?)</tr>', html, re.S)
    assert row and "this week" in row.group(1)
    assert f'action="/schedule/{number}/pull"' in row.group(1) and f'action="/schedule/{number}/plan"' in row.group(1)
    assert 'name="csrf_token"' in row.group(1)
    page = pete.post(f"/schedule/{number}/pull")
    assert page.status_code == 302 and page.headers["Location"].startswith("/tasks/")
    task = pete.get(page.headers["Location"]).get_data(as_text=True)
    assert "Draw up work plan and estimates" in task and "pulled from the schedule" in task
    assert queue_state(services, number)[:3] == ("open", MONDAY, 1)
    assert f'data-queued="{number}"' not in pete.get("/schedule").get_data(as_text=True)


def test_pulling_twice_is_a_409_and_starts_one_process(services):
    number = log_enhancement(services)
    assert WebUser(services, "maria").post(f"/schedule/{number}/pull").status_code == 302
    before = queue_state(services, number)
    again = WebUser(services, "pete").post(f"/schedule/{number}/pull")
    assert again.status_code == 409 and "not waiting on the schedule any more" in again.get_data(as_text=True)
    assert queue_state(services, number) == before and before[2] == 1


def test_a_wrong_role_a_missing_csrf_token_and_an_unknown_request_change_nothing(services):
    number = log_enhancement(services)
    before = queue_state(services, number)
    carla = WebUser(services, "carla")
    assert carla.post(f"/schedule/{number}/pull").status_code == 403
    assert carla.post(f"/schedule/{number}/plan", {"week": "2026-W52"}).status_code == 403
    assert f'action="/schedule/{number}/pull"' not in carla.get("/schedule").get_data(as_text=True)
    assert WebUser(services, "sam").post(f"/schedule/{number}/pull").status_code == 404  # not his group
    assert WebUser(services, "pete").post(f"/schedule/{number}/pull", csrf=False).status_code == 400
    assert WebUser(services, "pete").post("/schedule/RF-999999/pull").status_code == 404
    assert queue_state(services, number) == before


def test_re_planning_moves_the_request_and_a_bad_week_is_a_422(services):
    number = log_enhancement(services)
    pete = WebUser(services, "pete")
    later = MONDAY + timedelta(weeks=3)
    iso = later.isocalendar()
    page = pete.post(f"/schedule/{number}/plan", {"week": f"{iso.year}-W{iso.week:02d}"})
    assert page.status_code == 302 and page.headers["Location"].startswith("/schedule")
    assert queue_state(services, number)[:2] == ("scheduled", later)
    shown = text(pete.get("/schedule"))
    assert f"{later:%b %d} – {later + timedelta(days=6):%b %d}" in shown
    before = queue_state(services, number)
    for bad in ("", "someday", "2026-W99", (MONDAY - timedelta(weeks=2)).isoformat()):
        refused = pete.post(f"/schedule/{number}/plan", {"week": bad})
        assert refused.status_code == 422, bad
        assert "week" in refused.get_data(as_text=True)
    early = pete.post(f"/schedule/{number}/pull")
    assert early.status_code == 403 and "a service provider pulls it from that week on" in text(early)
    assert queue_state(services, number) == before
