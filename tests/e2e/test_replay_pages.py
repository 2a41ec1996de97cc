"""The Replay button (POST with CSRF, result on the request page), "view at step N" (done/waiting elements, data,
previous/next, times in the auditor's zone) and the diagrams' JSON for a step; through the Flask test client, and
`rf replay` through the real console script."""

from __future__ import annotations

import json
import re
import subprocess
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from app.config import PROJECT_ROOT
from app.domain.local_time import moment
from app.store.models import AuditEvent, ProcessInstance
from tests.conftest import START, day, env_for
from tests.driver import Driver
from tests.e2e.test_request_page import CHROMIUM, in_own_thread, needs_bpmn_js, signed_in_page
from tests.web import WebUser

RF = str(PROJECT_ROOT / ".venv" / "bin" / "rf")
WORK_PLAN = {"work_plan": "Add the new report to the agency portal", "estimated_hours": 16,
             "planned_start": day(1), "planned_finish": day(17)}
FULFILMENT = {"fulfilment_notes": "Report built and deployed to staging", "hours_spent": 6}


@pytest.fixture
def drive(services, clock) -> Driver:
    return Driver(services, clock)


def assistance_at_fulfil(drive: Driver) -> str:
    number = drive.new("assistance")
    drive.work()
    drive.complete(number, "assign_specialist", "maria", {"specialist": "sam", "assignment_note": "VPN team"})
    return number


def events_of(services, number: str) -> list[AuditEvent]:
    with services.uow() as uow:
        events = list(uow.session.scalars(select(AuditEvent).where(AuditEvent.request_id == int(number[3:]))
                                          .order_by(AuditEvent.seq)))
        uow.session.expunge_all()
    return events


def step_of(events: list[AuditEvent], event_type: str, bpmn_id: str) -> int:
    return next(i for i, e in enumerate(events, start=1)
                if e.event_type == event_type and e.payload.get("bpmn_id") == bpmn_id)


def corrupt_title(services, number: str) -> None:
    with services.uow() as uow:
        instance = uow.session.scalars(select(ProcessInstance).where(
            ProcessInstance.request_id == int(number[3:]))).one()
        state = instance.state_json.replace("VPN access for the field office", "Something else entirely")
        uow.session.execute(update(ProcessInstance).where(ProcessInstance.id == instance.id).values(state_json=state))
        uow.commit()


def test_replay_button_posts_with_csrf_and_shows_the_result_on_the_request_page(services, drive):
    number = assistance_at_fulfil(drive)
    audrey = WebUser(services, "audrey")
    page = audrey.get(f"/requests/{number}").get_data(as_text=True)
    assert f'action="/requests/{number}/replay#replay"' in page and "Replay from the audit log" in page
    assert f'href="/requests/{number}/history"' in page

    assert audrey.post(f"/requests/{number}/replay", csrf=False).status_code == 400  # no token, no replay
    shown = audrey.post(f"/requests/{number}/replay")
    assert shown.status_code == 200
    html = shown.get_data(as_text=True)
    assert "<strong>Identical.</strong>" in html and "request_fulfillment v1" in html
    assert f"{number} · VPN access for the field office" in html  # still the request page

    corrupt_title(services, number)
    html = audrey.post(f"/requests/{number}/replay").get_data(as_text=True)
    assert "1 difference</strong>" in html
    assert "data title: &#34;Something else entirely&#34; in the stored state" in html


def test_history_at_step_shows_done_and_waiting_elements_data_and_neighbours(services, drive):
    number = assistance_at_fulfil(drive)
    events = events_of(services, number)
    user = WebUser(services, "maria")  # a manager: her looks are not logged, so no step is added meanwhile

    at_start = user.get(f"/requests/{number}/history?step=1")
    assert at_start.status_code == 200
    html = at_start.get_data(as_text=True)
    assert f"{number} at step 1 of {len(events)}" in html
    waiting = re.findall(r'class="task-card[^"]*" data-bpmn-id="([^"]+)"', html)
    assert waiting == ["take_crm_case"]  # queued for the worker
    done = re.findall(r'<li data-bpmn-id="([^"]+)"', html)
    assert done[:2] == ["request_received", "request_type_gateway"] and "assign_specialist" not in done
    assert 'rel="prev"' not in html and f'href="/requests/{number}/history?step=2&amp;tz=America/Chicago"' in html

    step = step_of(events, "task_completed", "assign_specialist")
    html = user.get(f"/requests/{number}/history?step={step}").get_data(as_text=True)
    waiting = re.findall(r'class="task-card[^"]*" data-bpmn-id="([^"]+)"', html)
    done = re.findall(r'<li data-bpmn-id="([^"]+)"', html)
    assert waiting == ["fulfil_assistance_request"]
    assert {"take_crm_case", "assign_specialist"} <= set(done)
    assert re.search(r'<th scope="row">specialist</th><td>sam</td>', html)
    assert f'href="/requests/{number}/history?step={step - 1}&amp;tz=America/Chicago"' in html
    assert 'aria-current="step"' in html

    latest = user.get(f"/requests/{number}/history").get_data(as_text=True)  # no step: the last one
    assert f"at step {len(events)} of {len(events)}" in latest and 'rel="next"' not in latest


def test_an_auditors_replay_and_history_views_are_themselves_audited(services, drive):
    number = drive.new("assistance")
    before = len(events_of(services, number))
    audrey = WebUser(services, "audrey")
    assert audrey.post(f"/requests/{number}/replay").status_code == 200
    html = audrey.get(f"/requests/{number}/history").get_data(as_text=True)
    views = [e.payload for e in events_of(services, number) if e.event_type == "auditor_viewed"]
    assert views == [{"view": "replay", "request_number": number}, {"view": "history", "request_number": number}]
    assert f"at step {before + 2} of {before + 2}" in html  # her look is the last step
    assert "<strong>Identical.</strong>" in audrey.post(f"/requests/{number}/replay").get_data(as_text=True)


def shown_in(zone: str) -> str:
    """The tests' start as the history page writes it in `zone` (e.g. Tue 1 Dec 2026, 09:00 CST)."""
    return moment(START, ZoneInfo(zone))


def test_history_times_are_in_the_auditors_zone(services, drive):
    number = drive.new("assistance")  # at the tests' start (by default 2026-12-01 15:00 UTC)
    user = WebUser(services, "maria")
    html = user.get(f"/requests/{number}/history?step=1").get_data(as_text=True)
    assert shown_in("America/Chicago") in html and "Times in America/Chicago" in html  # the default zone
    html = user.get(f"/requests/{number}/history?step=1&tz=America/New_York").get_data(as_text=True)
    assert shown_in("America/New_York") in html
    html = user.get(f"/requests/{number}/history?step=1").get_data(as_text=True)  # remembered for the session
    assert shown_in("America/New_York") in html
    bad = user.get(f"/requests/{number}/history?step=1&tz=Mars/Olympus")
    assert bad.status_code == 422 and "Mars/Olympus" in bad.get_data(as_text=True)
    assert user.get(f"/requests/{number}/history?step=99").status_code == 422
    assert user.get(f"/requests/{number}/history?step=x").status_code == 422


def test_diagrams_json_for_a_step_is_coloured_for_that_step(services, drive, clock):
    number = drive.new("enhancement")
    drive.complete(number, "draw_up_work_plan", "pete", WORK_PLAN)
    drive.work()
    drive.complete(number, "fulfil_enhancement_request", "pete", FULFILMENT)
    drive.complete(number, "test_solution", "pete", {"test_result": "fail", "test_notes": "Totals are wrong"})
    events = events_of(services, number)
    user = WebUser(services, "maria")

    def by_process(step: int) -> dict[str, dict]:
        response = user.get(f"/api/requests/{number}/diagrams?step={step}")
        assert response.status_code == 200
        return {d["process_id"]: d for d in response.get_json()}

    current = {d["process_id"]: d for d in user.get(f"/api/requests/{number}/diagrams").get_json()}
    first = by_process(1)
    assert set(first) == set(current)  # the same JSON shape and diagrams
    assert set(first["request_fulfillment"]) == set(current["request_fulfillment"])
    assert first["enhancement_request"]["active"] == ["draw_up_work_plan"]
    assert "draw_up_work_plan" not in first["enhancement_request"]["completed"]
    assert first["request_fulfillment"]["active_kinds"]["fulfil_enhancement"] == "call_activity"

    failed = by_process(step_of(events, "task_completed", "test_solution"))
    assert failed["enhancement_request"]["active"] == ["fulfil_enhancement_request"]
    assert failed["enhancement_request"]["completed"]["test_solution"] == 1
    assert failed["enhancement_request"]["completed"]["fulfil_enhancement_request"] == 1
    assert failed["request_fulfillment"]["active_kinds"] == {"fulfil_enhancement": "call_activity"}
    assert user.get(f"/api/requests/{number}/diagrams?step=abc").status_code == 422


def run_rf(settings, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([RF, *args], capture_output=True, text=True, env=env_for(settings, START), timeout=120)


def test_rf_replay_one_and_all_with_exit_codes(services, settings, drive, clock):
    good = assistance_at_fulfil(drive)
    other = drive.new("enhancement", provider_group="apps")
    clock.advance(timedelta(hours=1))
    drive.complete(other, "draw_up_work_plan", "pete", WORK_PLAN)
    drive.work()

    done = run_rf(settings, "replay", good)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{good} (request_fulfillment v1): identical")
    as_json = json.loads(run_rf(settings, "replay", good, "--json").stdout)
    assert as_json["identical"] is True and as_json["differences"] == []

    everything = run_rf(settings, "replay", "--all")
    assert everything.returncode == 0, everything.stderr
    assert "2 requests replayed: 2 identical, 0 with differences" in everything.stdout

    corrupt_title(services, good)
    bad = run_rf(settings, "replay", good)
    assert bad.returncode == 3
    assert "  - data title: " in bad.stdout and "1 difference" in bad.stdout
    summary = run_rf(settings, "replay", "--all", "--json")
    assert summary.returncode == 3
    data = json.loads(summary.stdout)  # the progress bar goes to stderr, never into the JSON
    assert (data["requests"], data["identical"], data["with_differences"]) == (2, 1, 1)
    assert data["different"][0]["request"] == good
    assert data["different"][0]["differences"][0]["element"] == "title"

    assert run_rf(settings, "replay").returncode == 2
    assert run_rf(settings, "replay", good, "--all").returncode == 2
    missing = run_rf(settings, "replay", "RF-999999")
    assert missing.returncode == 2 and "no request RF-999999" in missing.stderr


# In Chromium: the history page's viewer colours the diagram for the chosen step (SQLite only, like tests/browser)


@needs_bpmn_js
@pytest.mark.skipif(not CHROMIUM.exists(), reason="no Chromium at /usr/bin/chromium (make browser installs it)")
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_history_viewer_colours_the_diagram_for_the_step(services, drive, served):
    number = drive.new("enhancement")
    drive.complete(number, "draw_up_work_plan", "pete", WORK_PLAN)
    drive.work()
    drive.complete(number, "fulfil_enhancement_request", "pete", FULFILMENT)
    drive.complete(number, "test_solution", "pete", {"test_result": "fail", "test_notes": "Totals are wrong"})
    drive.complete(number, "fulfil_enhancement_request", "pete", FULFILMENT)
    step = step_of(events_of(services, number), "task_completed", "test_solution")
    in_own_thread(lambda: check_step_in_chromium(served, number, step))


def check_step_in_chromium(base_url: str, number: str, step: int) -> None:
    from playwright.sync_api import expect

    with signed_in_page(base_url, "audrey") as (page, errors):
        page.goto(f"/requests/{number}/history?step={step}")
        expect(page.get_by_role("tab").first).to_contain_text("Enhancement Request")
        # after the failed test: fulfil is waiting again; fulfil and test completed once (only the merge in
        # front of fulfil was passed twice)
        expect(page.locator('.djs-element.rf-active[data-element-id="fulfil_enhancement_request"]')).to_have_count(1)
        expect(page.locator('.djs-element.rf-done[data-element-id="test_solution"]')).to_have_count(1)
        expect(page.locator('.djs-element.rf-active[data-element-id="test_solution"]')).to_have_count(0)
        expect(page.locator(".djs-overlay .rf-count")).to_have_text(["×2"])
        page.get_by_role("link", name=f"Step {step + 1} →").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text(f"at step {step + 1}")
        assert errors == []
