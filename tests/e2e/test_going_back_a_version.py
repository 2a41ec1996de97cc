"""Going back a version in the web and with `rf`: re-deploying an older version's content (upload, modeler, `rf
deploy`) says which version it is identical to and offers to make it current; the versions page, the version page
and `rf make-current` make it current (audited); new requests then start on it; everyone else is turned away."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest

from app.services.definitions import deploy as definitions
from app.store.models import AuditEvent
from tests.driver import Driver
from tests.e2e.conftest import Rf, records, snapshot
from tests.e2e.test_processes import edit, modeler_sources
from tests.instance_states import bundled, with_renamed_tasks
from tests.web import WebUser

PROCESS = "request_fulfillment"
VERSIONS = f"/processes/{PROCESS}"
MAKE_V1_CURRENT = f"/processes/{PROCESS}/versions/1/make-current"


@pytest.fixture
def drive(services, clock) -> Driver:
    return Driver(services, clock)


@pytest.fixture
def bad_v2(services) -> None:
    """A newer version 2 that new requests start on (the one to go back from)."""
    assert definitions.deploy(services, with_renamed_tasks(bundled()), "olive").version == 2


def upload(user: WebUser, files: dict[str, bytes]) -> Any:
    data = {"csrf_token": user.token, "action": "deploy",
            "files": [(io.BytesIO(b), name) for name, b in sorted(files.items())]}
    return user.client.post("/processes/deploy", data=data, content_type="multipart/form-data")


def version_row(html: str, version: int) -> str:
    found = re.search(rf'<tr data-version="{version}">.*?</tr>', html, re.S)
    assert found, f"no row for version {version}"
    return found.group(0)


def made_current(services) -> list[AuditEvent]:
    return records(services, AuditEvent, AuditEvent.event_type == "definition_made_current")


def test_uploading_an_older_versions_content_offers_to_make_it_current_and_the_offer_does(services, drive, bad_v2):
    olive = WebUser(services, "olive")
    before = snapshot(services)
    deployed = upload(olive, bundled())
    assert deployed.status_code == 303 and deployed.headers["Location"].endswith(f"{VERSIONS}?offer=1")
    assert snapshot(services) == before  # nothing deployed, nothing made current yet
    page = olive.get(deployed.headers["Location"]).get_data(as_text=True)
    assert ("Identical to version 1; nothing deployed. New requests start on version 2, the current version"
            in page)
    assert "Start new requests on version 1 again?" in page
    assert f'action="{MAKE_V1_CURRENT}"' in page and "Make version 1 current</button>" in page
    assert "current</span>" in version_row(page, 2) and "current</span>" not in version_row(page, 1)

    posted = olive.post(MAKE_V1_CURRENT)
    assert posted.status_code == 303 and posted.headers["Location"].endswith(VERSIONS)
    page = olive.get(VERSIONS).get_data(as_text=True)
    assert ("Version 1 of request_fulfillment is now current: new requests start on it (was version 2). Running "
            "requests stay on their versions." in page)
    assert "current</span>" in version_row(page, 1) and "Make current" in version_row(page, 2)
    assert "Start new requests on version 1 again?" not in page
    assert drive.show(drive.new("assistance"))["definition"]["version"] == 1
    [event] = made_current(services)
    assert (event.actor, event.payload["version"], event.payload["previous_version"]) == ("olive", 1, 2)
    listed = olive.get("/processes").get_data(as_text=True)
    assert re.search(r'<tr data-process="request_fulfillment">.*?>v1</a></td>\s*<td><a [^>]*>v2</a>', listed, re.S)


def test_deploying_an_older_versions_content_from_the_modeler_offers_the_same(services, bad_v2):
    olive = WebUser(services, "olive")
    sources = modeler_sources(olive.get(f"/processes/{PROCESS}/versions/1/edit").get_data(as_text=True))
    deployed = edit(olive, sources, "deploy", version=1)
    assert deployed.status_code == 303 and deployed.headers["Location"].endswith(f"{VERSIONS}?offer=1")
    assert "Make version 1 current</button>" in olive.get(deployed.headers["Location"]).get_data(as_text=True)


def test_identical_content_of_the_current_version_needs_no_offer(services):
    olive = WebUser(services, "olive")
    deployed = upload(olive, bundled())
    assert deployed.headers["Location"].endswith(VERSIONS)
    page = olive.get(VERSIONS).get_data(as_text=True)
    assert "Identical to version 1; nothing deployed. Version 1 is current" in page
    assert "again?</h2>" not in page and "Make current</button>" not in page


def test_the_version_page_makes_its_version_current_and_a_stale_offer_is_not_shown(services, drive, bad_v2):
    olive = WebUser(services, "olive")
    page = olive.get(f"/processes/{PROCESS}/versions/1").get_data(as_text=True)
    assert f'action="{MAKE_V1_CURRENT}"' in page
    assert olive.post(MAKE_V1_CURRENT).status_code == 303
    assert "current</span>" in olive.get(f"/processes/{PROCESS}/versions/1").get_data(as_text=True)
    assert "again?</h2>" not in olive.get(f"{VERSIONS}?offer=1").get_data(as_text=True)  # already current
    assert "again?</h2>" not in olive.get(f"{VERSIONS}?offer=x").get_data(as_text=True)
    assert olive.post(MAKE_V1_CURRENT).status_code == 303  # again: nothing changes, nothing is recorded
    assert "Version 1 of request_fulfillment is already current; nothing changed." in olive.get(VERSIONS).get_data(
        as_text=True)
    assert len(made_current(services)) == 1


@pytest.mark.parametrize("username", ["maria", "sam", "audrey"])
def test_staff_and_auditors_may_not_choose_the_current_version(services, bad_v2, username):
    user = WebUser(services, username)
    before = snapshot(services)
    assert user.post(MAKE_V1_CURRENT).status_code == 403
    assert snapshot(services) == before


def test_bad_make_current_posts_are_refused_with_a_clear_4xx_and_change_nothing(services, bad_v2):
    olive = WebUser(services, "olive")
    before = snapshot(services)
    assert olive.post(MAKE_V1_CURRENT, csrf=False).status_code == 400
    missing = olive.post(f"/processes/{PROCESS}/versions/9/make-current")
    assert missing.status_code == 404 and "has no version 9" in missing.get_data(as_text=True)
    assert olive.post(f"/processes/{PROCESS}/versions/99999999999999999999999/make-current").status_code == 404
    assert olive.post("/processes/no_such_process/versions/1/make-current").status_code == 404
    assert olive.get(MAKE_V1_CURRENT).status_code == 405
    assert snapshot(services) == before


# --- the command line ---------------------------------------------------------------------------------------------

def write(files: dict[str, bytes], into: Path) -> str:
    into.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (into / name).write_bytes(data)
    return str(into)


def test_rf_deploy_of_an_older_versions_content_prints_how_to_make_it_current_and_rf_make_current_does(
        services, drive, rf: Rf, bad_v2, tmp_path):
    old = write(bundled(), tmp_path / "v1")
    outcome = rf("deploy", old, "--user", "olive")
    assert outcome.exit_code == 0, str(outcome)
    assert outcome.stdout.splitlines()[:2] == [
        "request_fulfillment v1 unchanged (identical content); new requests start on v2.",
        "  To start them on v1 again: rf make-current request_fulfillment 1"]
    as_json = rf.ok("deploy", old)
    assert (as_json["version"], as_json["created"], as_json["current_version"], as_json["made_current"]) == (
        1, False, 2, False)
    assert made_current(services) == []

    switched = rf("make-current", PROCESS, "1", "--user", "olive")
    assert switched.exit_code == 0, str(switched)
    assert switched.stdout.strip() == ("Version 1 of request_fulfillment is now current: new requests start on it "
                                       "(was version 2). Running requests stay on their versions.")
    assert rf.show(rf.new_request("assistance"))["definition"]["version"] == 1
    assert rf.ok("make-current", PROCESS, "1")["changed"] is False
    [event] = made_current(services)
    assert event.actor == "olive"


def test_rf_deploy_make_current_goes_back_in_one_step(services, rf: Rf, bad_v2, tmp_path):
    done = rf.ok("deploy", write(bundled(), tmp_path / "v1"), "--make-current", "--user", "olive")
    assert (done["version"], done["made_current"], done["previous_version"], done["current_version"]) == (
        1, True, 2, 1)
    text = rf("deploy", write(with_renamed_tasks(bundled()), tmp_path / "v2"))
    assert text.stdout.startswith("request_fulfillment v2 unchanged (identical content); new requests start on v1.")


@pytest.mark.parametrize("args, message", [
    ((PROCESS, "9"), "process request_fulfillment has no version 9"),
    ((PROCESS, "99999999999999999999999"), "has no version"),
    (("no_such_process", "1"), "process no_such_process is not deployed"),
    ((PROCESS, "0"), "0 is not in the range x>=1"),
    ((PROCESS, "one"), "'one' is not a valid integer"),
])
def test_rf_make_current_refuses_bad_input_with_exit_2_and_changes_nothing(services, rf: Rf, bad_v2, args, message):
    before = snapshot(services)
    outcome = rf.fails("make-current", *args)
    assert message in outcome.output
    assert snapshot(services) == before
