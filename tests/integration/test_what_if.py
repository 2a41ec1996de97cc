"""What-if before deploy (issue 16 part 4): checking a bundle replays the last finished requests of the current
version through it with their recorded data and times, and says which would take the same path and which would
not, before anything is deployed."""

from __future__ import annotations

import io
from datetime import timedelta

from sqlalchemy import func, select

from app.config import PROJECT_ROOT
from app.services.admin.auth import authenticate
from app.services.definitions import versions
from app.store.models import DefinitionVersion
from tests.api.api_client import ApiUser, assert_problem
from tests.driver import Driver
from tests.integration.test_process_insights import ASK, RESOLVED, assign, fulfil
from tests.web import WebUser

ASKING = 'resolution_code == "awaiting_customer"'


def bundle(asking: str = ASKING) -> dict[str, bytes]:
    files = {p.name: p.read_bytes() for p in (PROJECT_ROOT / "bpmn").glob("*.bpmn")}
    text = files["assistance_request.bpmn"].decode()
    assert ASKING in text
    files["assistance_request.bpmn"] = text.replace(ASKING, asking).encode()
    return files


def two_finished(drive: Driver, clock) -> tuple[str, str]:
    """Two closed assistance requests: one straight through (3 h), one that asked the customer once (6 h)."""
    straight = drive.new("assistance")
    drive.work()
    assign(drive, clock, straight, 1)
    fulfil(drive, clock, straight, 2, RESOLVED)
    looped = drive.new("assistance")
    drive.work()
    assign(drive, clock, looped, 1)
    fulfil(drive, clock, looped, 1, ASK)
    clock.advance(timedelta(hours=3))
    drive.complete(looped, "await_customer_reply", "sam", {"customer_reply": "The Tulsa office"})
    fulfil(drive, clock, looped, 1, RESOLVED)
    return straight, looped


def versions_stored(services) -> int:
    with services.uow() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(DefinitionVersion)) or 0)


def test_checking_a_bundle_replays_the_last_finished_requests_through_it(services, clock):
    drive = Driver(services, clock)
    straight, looped = two_finished(drive, clock)
    drive.new("assistance")  # still running: not replayed
    olive = authenticate(services, "olive", "demo")
    before = versions_stored(services)

    same = versions.submit(services, olive, bundle(), deploy=False).what_if
    assert same is not None and same["version"] == 1
    assert {r["request"]: r["outcome"] for r in same["requests"]} == {straight: "same", looped: "same"}

    never_asks = versions.submit(services, olive, bundle('resolution_code == "never"'), deploy=False).what_if
    assert never_asks is not None
    rows = {r["request"]: r for r in never_asks["requests"]}
    assert rows[straight]["outcome"] == "same"
    assert rows[looped]["outcome"] == "other_path", rows[looped]
    assert rows[looped]["detail"] == "from step 9: Update and close CRM case instead of Ask the customer"
    assert never_asks["counts"] == {"same": 1, "other_path": 1, "fails": 0, "waits": 0}
    # recorded times: assigned after 1 h, fulfilled 1 h later, the customer answered after 3 h, fulfilled again 1 h
    # later; never asking keeps one pass of each task and drops the wait for the customer and the second fulfilment
    looped_times = {k: rows[looped][k] for k in ("took_hours", "kept_hours", "dropped_hours", "new_elements")}
    assert looped_times == {"took_hours": 6.0, "kept_hours": 2.0, "dropped_hours": 4.0, "new_elements": []}
    assert (rows[straight]["took_hours"], rows[straight]["kept_hours"], rows[straight]["dropped_hours"]) == \
        (3.0, 3.0, 0.0)
    one = versions.submit(services, olive, bundle('resolution_code == "never"'), deploy=False, replay=1).what_if
    assert one is not None and one["asked"] == 1 and [r["request"] for r in one["requests"]] == [looped]
    assert versions_stored(services) == before  # a check deploys nothing

    page = WebUser(services, "olive").post("/processes/deploy", {
        "action": "check", "files": [(io.BytesIO(data), name) for name, data in
                                     bundle('resolution_code == "never"').items()]})
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "What if it were deployed" in text
    assert "1 same path, 1 another path, 0 fail, 0 would wait" in text and f'href="/requests/{looped}"' in text
    assert '<td class="num" data-col="dropped">4.00</td>' in text and "not estimated" in text

    for bad in ("0", "201", "x", "2.5"):
        refused = WebUser(services, "olive").post("/processes/deploy", {
            "action": "check", "what_if": bad, "files": [(io.BytesIO(data), name) for name, data in bundle().items()]})
        assert refused.status_code == 422, bad
        assert "must be a whole number from 1 to 200" in refused.get_data(as_text=True)
    page = WebUser(services, "olive").post("/processes/deploy", {
        "action": "check", "what_if": "1", "files": [(io.BytesIO(data), name) for name, data in bundle().items()]})
    assert page.status_code == 200 and "The last 1 finished request of version 1" in page.get_data(as_text=True)
    assert versions_stored(services) == before


def test_the_api_check_replays_as_many_requests_as_asked(services, clock):
    drive = Driver(services, clock)
    numbers = []
    for _ in range(2):
        number = drive.new("assistance")
        drive.work()
        assign(drive, clock, number, 2)
        fulfil(drive, clock, number, 1, RESOLVED)
        numbers.append(number)
    olive = ApiUser(services, "olive")

    plain = olive.upload("/api/v1/processes/check", bundle())
    assert plain.status_code == 200 and plain.get_json()["what_if"] is None

    asked = olive.upload("/api/v1/processes/check?what_if=1", bundle('resolution_code == "never"'))
    assert asked.status_code == 200, asked.get_json()
    found = asked.get_json()["what_if"]
    assert found["version"] == 1 and found["asked"] == 1 and found["counts"]["same"] == 1
    [row] = found["requests"]
    assert row["request"] == numbers[-1] and row["outcome"] == "same"
    assert (row["took_hours"], row["kept_hours"], row["dropped_hours"]) == (3.0, 3.0, 0.0)
    assert row["recorded"] == row["replayed"] and row["new_elements"] == []

    both = olive.upload("/api/v1/processes/check?what_if=200", bundle()).get_json()["what_if"]
    assert sorted(r["request"] for r in both["requests"]) == sorted(numbers)

    for bad in ("0", "201", "many"):
        assert_problem(olive.upload(f"/api/v1/processes/check?what_if={bad}", bundle()), 422)

    schema = ApiUser(services, None).get("/api/v1/openapi.json").get_json()
    check = schema["paths"]["/api/v1/processes/check"]["post"]
    assert any(p["name"] == "what_if" and p["in"] == "query" for p in check["parameters"])
