"""The migration page of a definition version through the Flask test client: the check table, migrating a selection
or all eligible instances (POST with CSRF, 303 back with a summary), refusals with reasons, and who may use it."""

from __future__ import annotations

import re

import pytest

from app.services.definitions import deploy as definitions
from tests.driver import Driver
from tests.e2e.conftest import snapshot
from tests.integration.test_migration import NEW_NAME, changed_bundle, two_requests
from tests.web import WebUser

PAGE = "/processes/request_fulfillment/versions/1/migrate"


@pytest.fixture
def drive(services, clock) -> Driver:
    return Driver(services, clock)


@pytest.fixture
def deployed_twice(services, drive) -> tuple[str, str]:
    waiting, started = two_requests(drive)
    definitions.deploy(services, changed_bundle(), "olive")
    return waiting, started


def row(html: str, number: str) -> str:
    found = re.search(rf'<tr data-request="{number}".*?</tr>', html, re.S)
    assert found, f"no row for {number}"
    return found.group(0)


def seen_values(html: str) -> list[str]:
    return re.findall(r'name="seen" value="([^"]+)"', html)


def test_the_page_shows_each_running_instance_with_where_it_waits_and_whether_it_can_move(services, deployed_twice):
    waiting, started = deployed_twice
    page = WebUser(services, "olive").get(PAGE)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Migrate running instances of request_fulfillment version 1" in html
    assert '<option value="2" selected>version 2 (latest)</option>' in html
    assert "eligible" in row(html, waiting) and f'name="request" value="{waiting}"' in row(html, waiting)
    assert "Assign to a specialist" in row(html, waiting)
    refused = row(html, started)
    assert "not eligible" in refused and 'name="request"' not in refused
    assert "Fulfil assistance request (fulfil_assistance_request) in assistance_request is ready and was changed" in \
        refused
    assert "Migrate selected" in html and "Migrate all eligible" in html


def test_migrating_the_selection_redirects_back_with_a_summary_and_the_request_shows_its_new_version(
        services, drive, deployed_twice):
    waiting, started = deployed_twice
    olive = WebUser(services, "olive")
    html = olive.get(PAGE).get_data(as_text=True)
    posted = olive.post(PAGE, {"to": "2", "request": [waiting, started], "seen": seen_values(html),
                               "action": "selected"})
    assert posted.status_code == 303 and posted.headers["Location"].endswith(f"{PAGE}?to=2")
    after = olive.get(PAGE).get_data(as_text=True)
    assert "Migrated 1 instance to version 2; refused 1." in after
    assert f"{started} refused: Fulfil assistance request (fulfil_assistance_request)" in after
    assert f'data-request="{waiting}"' not in after and f'data-request="{started}"' in after
    assert "request_fulfillment v2" in olive.get(f"/requests/{waiting}").get_data(as_text=True)
    drive.complete(waiting, "assign_specialist", "maria", {"specialist": "sam"})
    assert drive.open_task(waiting, "fulfil_assistance_request").name == NEW_NAME


def test_migrate_all_eligible_moves_them_without_a_selection(services, deployed_twice):
    waiting, started = deployed_twice
    admin = WebUser(services, "adam")
    posted = admin.post(PAGE, {"to": "2", "action": "all"})
    assert posted.status_code == 303
    assert "Migrated 1 instance to version 2; refused 1." in admin.get(PAGE).get_data(as_text=True)


def test_a_row_that_changed_after_the_page_was_shown_is_refused_not_migrated(services, drive, deployed_twice):
    waiting, _ = deployed_twice
    olive = WebUser(services, "olive")
    html = olive.get(PAGE).get_data(as_text=True)
    drive.complete(waiting, "assign_specialist", "maria", {"specialist": "sam"})
    olive.post(PAGE, {"to": "2", "request": [waiting], "seen": seen_values(html), "action": "selected"})
    after = olive.get(PAGE).get_data(as_text=True)
    assert "Migrated 0 instances to version 2; refused 1." in after and "changed after the check was shown" in after
    assert f'data-request="{waiting}"' in after


def test_posting_without_a_selection_or_without_csrf_changes_nothing(services, deployed_twice):
    olive = WebUser(services, "olive")
    before = snapshot(services)
    empty = olive.post(PAGE, {"to": "2", "action": "selected"})
    assert empty.status_code == 303
    assert "Nothing migrated: name the requests to migrate" in olive.get(PAGE).get_data(as_text=True)
    assert olive.post(PAGE, {"to": "2", "action": "all"}, csrf=False).status_code == 400
    assert {k: v for k, v in snapshot(services).items() if k != "audit_event"} == \
        {k: v for k, v in before.items() if k != "audit_event"}


def test_bad_versions_give_a_clear_4xx(services, deployed_twice):
    olive = WebUser(services, "olive")
    assert olive.get("/processes/request_fulfillment/versions/9/migrate").status_code == 404
    assert olive.get(f"{PAGE}?to=x").status_code == 422
    assert olive.get("/processes/request_fulfillment/versions/2/migrate?to=1").status_code == 422
    latest = olive.get("/processes/request_fulfillment/versions/2/migrate").get_data(as_text=True)
    assert "There is no newer version of request_fulfillment than version 2" in latest


@pytest.mark.parametrize("username", ["sam", "maria", "audrey"])
def test_staff_and_auditors_may_not_open_or_post_the_page(services, deployed_twice, username):
    user = WebUser(services, username)
    assert user.get(PAGE).status_code == 403
    assert user.post(PAGE, {"to": "2", "action": "all"}).status_code == 403


def test_a_request_stuck_in_an_incident_moves_to_a_newer_version_and_keeps_its_incident(services, drive):
    from tests.instance_states import CHARGEABLE_ENHANCEMENT, State, bundled, laid_out_anew, open_jobs, rest_at

    stuck = rest_at(drive, State(CHARGEABLE_ENHANCEMENT, "update_work_list", incident="bad plan dates"))
    [incident] = open_jobs(drive, stuck.number)
    definitions.deploy(services, laid_out_anew(bundled()), "olive")
    olive = WebUser(services, "olive")
    html = olive.get(PAGE).get_data(as_text=True)
    assert "eligible" in row(html, stuck.number) and "Update the work list" in row(html, stuck.number)
    posted = olive.post(PAGE, {"to": "2", "request": [stuck.number], "seen": seen_values(html),
                               "action": "selected"})
    assert posted.status_code == 303
    assert "Migrated 1 instance to version 2." in olive.get(PAGE).get_data(as_text=True)
    assert drive.show(stuck.number)["definition"]["version"] == 2
    [still] = open_jobs(drive, stuck.number)
    assert (still.id, still.status, still.attempts) == (incident.id, "incident", incident.attempts)


@pytest.mark.parametrize("path", [
    "/processes/request_fulfillment/versions/99999999999999999999999/migrate",
    f"{PAGE}?to=99999999999999999999999",
    "/processes/request_fulfillment/versions/99999999999999999999999",
])
def test_a_version_number_beyond_any_stored_one_is_not_found(services, deployed_twice, path):
    olive = WebUser(services, "olive")
    assert olive.get(path).status_code in (404, 422)  # no such version / not a version number: never a 500
    before = snapshot(services)
    posted = olive.post(PAGE, {"to": "99999999999999999999999", "action": "all"})
    assert posted.status_code == 303
    assert "Nothing migrated" in olive.get(posted.headers["Location"]).get_data(as_text=True)
    assert snapshot(services) == before
