"""Going back a version on a real database: new requests start on the version made current (audited), running ones
stay where they are, identical content changes nothing but says which version it matches, and databases from before
the current version existed keep starting on their latest version."""

from __future__ import annotations

import json

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import select, text

from app.errors import Forbidden, NotFound
from app.services.admin import auth, setup
from app.services.definitions import current
from app.services.definitions import deploy as definitions
from app.store import audit
from app.store.db import Base
from app.store.models import AuditEvent, CurrentVersion
from tests.driver import Driver
from tests.instance_states import bundled, with_renamed_tasks

PROCESS = "request_fulfillment"


def started_on(drive: Driver, number: str) -> int:
    return int(drive.show(number)["definition"]["version"])


def made_current_events(services) -> list[AuditEvent]:
    with services.uow() as uow:
        found = list(uow.session.scalars(select(AuditEvent).where(
            AuditEvent.event_type == "definition_made_current").order_by(AuditEvent.seq)))
        uow.session.expunge_all()
        return found


def audit_rows(services) -> list[int]:
    with services.uow() as uow:
        return list(uow.session.scalars(select(AuditEvent.seq)))


def test_new_requests_start_on_the_version_made_current_while_running_ones_stay_on_theirs(services, clock):
    drive = Driver(services, clock)
    assert definitions.deploy(services, with_renamed_tasks(bundled()), "olive").current_version == 2
    on_two = drive.new("assistance", title="Started on the new version")
    assert started_on(drive, on_two) == 2

    done = current.make_current(services, auth.load_identity(services, "olive"), PROCESS, 1)
    assert (done.version, done.previous_version, done.changed) == (1, 2, True)
    assert done.summary == ("Version 1 of request_fulfillment is now current: new requests start on it (was version "
                            "2). Running requests stay on their versions")
    on_one = drive.new("assistance", title="Started after going back")
    assert (started_on(drive, on_one), started_on(drive, on_two)) == (1, 2)
    [event] = made_current_events(services)
    assert (event.actor, event.request_id) == ("olive", None)
    assert {k: event.payload[k] for k in ("process_id", "version", "previous_version")} == {
        "process_id": PROCESS, "version": 1, "previous_version": 2}

    again = current.make_current(services, "olive", PROCESS, 1)
    assert (again.changed, again.summary) == (False, "Version 1 of request_fulfillment is already current; nothing "
                                                     "changed")
    assert len(made_current_events(services)) == 1
    with services.uow() as uow:
        assert audit.verify(uow.session).intact


def test_redeploying_an_older_versions_content_says_which_version_it_is_and_changes_nothing(services, clock):
    drive = Driver(services, clock)
    definitions.deploy(services, with_renamed_tasks(bundled()), "olive")
    events = audit_rows(services)
    result = definitions.deploy(services, bundled(), "olive")
    assert (result.created, result.version, result.current_version, result.is_current) == (False, 1, 2, False)
    assert audit_rows(services) == events
    assert started_on(drive, drive.new("assistance")) == 2  # still the newer version until someone chooses


def test_deploying_new_content_after_going_back_makes_the_new_version_current(services, clock):
    drive = Driver(services, clock)
    definitions.deploy(services, with_renamed_tasks(bundled()), "olive")
    current.make_current(services, "olive", PROCESS, 1)
    files = bundled()
    files["discovery.bpmn"] = files["discovery.bpmn"].replace(b"<bpmn:documentation>", b"<bpmn:documentation>v3. ", 1)
    result = definitions.deploy(services, files, "olive")
    assert (result.created, result.version, result.current_version) == (True, 3, 3)
    assert started_on(drive, drive.new("assistance")) == 3


def test_only_process_owners_and_administrators_choose_the_current_version_of_a_deployed_version(services):
    definitions.deploy(services, with_renamed_tasks(bundled()), "olive")
    with pytest.raises(Forbidden):
        current.make_current(services, auth.load_identity(services, "maria"), PROCESS, 1)
    with pytest.raises(NotFound, match="has no version 7"):
        current.make_current(services, "olive", PROCESS, 7)
    with pytest.raises(NotFound, match="has no version"):
        current.make_current(services, "olive", PROCESS, 10**23)
    with pytest.raises(NotFound, match="not deployed"):
        current.make_current(services, "olive", "no_such_process", 1)
    assert current.make_current(services, auth.load_identity(services, "adam"), PROCESS, 1).changed
    assert current.current_version_number(services, PROCESS) == 1


def test_a_database_from_before_going_back_existed_keeps_starting_on_its_latest_version(services, clock):
    cfg = Config()
    cfg.set_main_option("script_location", str(setup.MIGRATIONS))
    with services.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0004")
    with services.engine.begin() as conn:
        assert "process_current_version" not in conn.dialect.get_table_names(conn)
        row = conn.execute(text("SELECT process_id, sha256, files, spec_json FROM definition_version")).one()
        for version in (2, 3):  # two later versions, as deploys before this revision left them
            conn.execute(text("INSERT INTO definition_version (process_id, version, sha256, files, spec_json, "
                              "deployed_by, deployed_at) VALUES (:p, :v, :s, :f, :j, 'olive', :at)"),
                         {"p": row.process_id, "v": version, "s": f"{row.sha256[:60]}{version:04d}",
                          "f": row.files if isinstance(row.files, str) else json.dumps(row.files),
                          "j": row.spec_json, "at": clock.now()})
    setup.migrate(services)
    with services.uow() as uow:
        [pointer] = uow.session.scalars(select(CurrentVersion)).all()
        assert (pointer.process_id, pointer.made_current_by) == (PROCESS, "olive")
    assert current.current_version_number(services, PROCESS) == 3
    drive = Driver(services, clock)
    assert started_on(drive, drive.new("assistance")) == 3
    with services.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert [d for d in diffs if "process_current_version" in repr(d)] == []
