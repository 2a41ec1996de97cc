"""`rf migrate` end to end: --check lists per instance whether it can move and changes nothing; --request and --all
migrate, refusing (exit 3) what cannot move with its reason; bad input exits 2 with a message, never a traceback."""

from __future__ import annotations

import pytest

from app.store.models import AuditEvent
from tests.driver import Driver
from tests.e2e.conftest import Rf, records, snapshot
from tests.integration.test_migration import changed_bundle, two_requests

PROCESS = "request_fulfillment"


@pytest.fixture
def deployed_twice(services, clock, rf, tmp_path) -> tuple[str, str]:
    waiting, started = two_requests(Driver(services, clock))
    changed_bundle(tmp_path / "bpmn_v2")
    assert rf.ok("deploy", str(tmp_path / "bpmn_v2"), "--user", "olive")["version"] == 2
    return waiting, started


def test_check_lists_each_instance_as_eligible_or_refused_with_its_reason_and_changes_nothing(
        services, rf: Rf, deployed_twice):
    waiting, started = deployed_twice
    before = snapshot(services)
    listed = rf.ok("migrate", PROCESS, "--from-version", "1", "--check")
    assert (listed["to_version"], listed["newer_versions"]) == (2, [2])
    verdicts = {i["request_number"]: i for i in listed["instances"]}
    assert verdicts[waiting]["eligible"] and verdicts[waiting]["waiting_at"] == ["Assign to a specialist"]
    assert not verdicts[started]["eligible"]
    assert "fulfil_assistance_request" in verdicts[started]["reason"]
    text = rf("migrate", PROCESS, "--from-version", "1", "--check")
    assert text.exit_code == 0
    assert f"  {waiting}  at Assign to a specialist  eligible" in text.stdout
    assert f"  {started}  at Fulfil assistance request  refused: Fulfil assistance request" in text.stdout
    assert snapshot(services) == before


def test_migrating_named_requests_reports_each_and_exits_3_when_one_is_refused(services, rf: Rf, deployed_twice):
    waiting, started = deployed_twice
    outcome = rf("migrate", PROCESS, "--from-version", "1", "--to-version", "2", "--request", waiting,
                 "--request", started, "--user", "olive")
    assert outcome.exit_code == 3, str(outcome)
    assert outcome.stdout.splitlines()[0] == "Migrated 1 instance to version 2; refused 1"
    assert f"migrated {waiting}: version 1 -> 2" in outcome.stdout
    assert f"refused {started}: Fulfil assistance request (fulfil_assistance_request)" in outcome.stdout
    assert rf.show(waiting)["definition"]["version"] == 2 and rf.show(started)["definition"]["version"] == 1
    [event] = records(services, AuditEvent, AuditEvent.event_type == "instance_migrated")
    assert (event.actor, event.payload["request"], event.payload["from_version"], event.payload["to_version"]) == (
        "olive", waiting, 1, 2)


def test_migrate_all_with_json_moves_every_eligible_instance(services, rf: Rf, deployed_twice):
    waiting, started = deployed_twice
    outcome = rf("migrate", PROCESS, "--from-version", "1", "--all", "--json")
    assert outcome.exit_code == 3
    report = outcome.json()
    assert report["migrated"] == [waiting] and [r["request"] for r in report["refused"]] == [started]
    again = rf("migrate", PROCESS, "--from-version", "1", "--request", started, "--json")
    assert again.exit_code == 3 and again.json()["migrated"] == []
    assert rf("migrate", PROCESS, "--from-version", "1", "--request", waiting).exit_code == 3  # already moved


@pytest.mark.parametrize("args, message", [
    (("--from-version", "1"), "give --request NUMBER (repeatable), --all or --check"),
    (("--from-version", "1", "--all", "--request", "RF-000001"), "give --request NUMBER"),
    (("--from-version", "9", "--check"), "has no version 9"),
    (("--from-version", "2", "--to-version", "1", "--all"), "must be newer"),
    (("--from-version", "2", "--all"), "no newer version of request_fulfillment than 2"),
])
def test_bad_input_exits_2_with_a_message_and_changes_nothing(services, rf: Rf, deployed_twice, args, message):
    before = snapshot(services)
    outcome = rf.fails("migrate", PROCESS, *args)
    assert message in outcome.output
    assert snapshot(services) == before


def test_the_console_script_migrates_too(services, settings, clock, deployed_twice):
    waiting, _ = deployed_twice
    outcome = Rf(settings, "console-script", clock)("migrate", PROCESS, "--from-version", "1", "--request", waiting)
    assert outcome.exit_code == 0, str(outcome)
    assert outcome.stdout.startswith("Migrated 1 instance to version 2")


def test_a_request_stuck_in_an_incident_is_migrated_with_exit_0_and_keeps_its_incident(services, clock, rf: Rf,
                                                                                      tmp_path):
    from tests.instance_states import CHARGEABLE_ENHANCEMENT, State, bundled, laid_out_anew, open_jobs, rest_at

    drive = Driver(services, clock)
    stuck = rest_at(drive, State(CHARGEABLE_ENHANCEMENT, "update_work_list", incident="bad plan dates"))
    (tmp_path / "v2").mkdir()
    for name, data in laid_out_anew(bundled()).items():
        (tmp_path / "v2" / name).write_bytes(data)
    assert rf.ok("deploy", str(tmp_path / "v2"), "--user", "olive")["version"] == 2
    listed = rf.ok("migrate", PROCESS, "--from-version", "1", "--check")
    assert [(i["request_number"], i["eligible"]) for i in listed["instances"]] == [(stuck.number, True)]
    outcome = rf("migrate", PROCESS, "--from-version", "1", "--request", stuck.number, "--user", "olive")
    assert outcome.exit_code == 0, str(outcome)
    assert outcome.stdout.startswith("Migrated 1 instance to version 2") and "Traceback" not in outcome.output
    assert rf.show(stuck.number)["definition"]["version"] == 2
    assert [job.status for job in open_jobs(drive, stuck.number)] == ["incident"]
