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


def versions_stored(services) -> int:
    with services.uow() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(DefinitionVersion)) or 0)


def test_checking_a_bundle_replays_the_last_finished_requests_through_it(services, clock):
    drive = Driver(services, clock)
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
    assert versions_stored(services) == before  # a check deploys nothing

    page = WebUser(services, "olive").post("/processes/deploy", {
        "action": "check", "files": [(io.BytesIO(data), name) for name, data in
                                     bundle('resolution_code == "never"').items()]})
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "What if it were deployed" in text
    assert "1 same path, 1 another path, 0 fail, 0 would wait" in text and f'href="/requests/{looped}"' in text
