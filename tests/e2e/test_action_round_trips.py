"""What one user action costs the database: a task form POST is one write transaction, validates once and reads
its version's spec and forms from memory; a rejected form still shows the page with the fields' messages."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, select

from app.store.models import AuditEvent, TaskRow
from tests.api.client import Api
from tests.driver import REQUEST, Driver
from tests.web import WebUser

FORM = {"specialist": "sam", "assignment_note": "VPN team"}


@contextmanager
def statements(services: Any) -> Iterator[dict[str, Any]]:
    seen: dict[str, Any] = {"sql": [], "commits": 0}

    def on_execute(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen["sql"].append(statement)

    def on_commit(_conn: Any) -> None:
        seen["commits"] += 1

    event.listen(services.engine, "before_cursor_execute", on_execute)
    event.listen(services.engine, "commit", on_commit)
    try:
        yield seen
    finally:
        event.remove(services.engine, "before_cursor_execute", on_execute)
        event.remove(services.engine, "commit", on_commit)


def test_a_task_form_post_is_one_commit_and_reads_no_definition_after_the_first(services, clock):
    drive = Driver(services, clock)
    numbers = [drive.new("assistance", title=f"VPN {i}") for i in range(2)]
    drive.work()
    maria = WebUser(services, "maria")
    first, second = (drive.open_task(number, "assign_specialist") for number in numbers)
    assert maria.post(f"/tasks/{first.task_uuid}", FORM).status_code == 302  # fills this process's caches
    with statements(services) as seen:
        answer = maria.post(f"/tasks/{second.task_uuid}", FORM)
    assert answer.status_code == 302
    assert seen["commits"] == 1  # the completion; the sign-in check only reads
    assert len([sql for sql in seen["sql"] if "audit_chain" in sql]) == 2, seen["sql"]  # lock, one write
    # every statement counted (SQLite's BEGIN of the sign-in read and BEGIN IMMEDIATE of the completion included):
    # the sign-in check is one read; the instance's lock also finds it by the task and brings the reference
    # generation; under that lock the open task is marked completed and read back in one statement (on PostgreSQL
    # with the instance's other open tasks and its jobs, a read of their own on SQLite); the instance save is a
    # prebuilt Core statement (on PostgreSQL the same statement also adds the task's notes to the request's search
    # entry and inserts the next task's row; on SQLite those are statements of their own); the audit events (task
    # completed, task created) are written as the completion commits: one lock of the request's chain head, which
    # on PostgreSQL draws both events' seqs, then on PostgreSQL one batch that writes both rows and moves the head;
    # assigning the specialist adds their notice and email (the notice written unless its key exists, then the
    # outbox row: on PostgreSQL one statement, the email inserted from the notice's insert), while who they are, the
    # choices of the form, the email template and the webhook subscriptions are reference data this process
    # already holds at this generation
    assert len(seen["sql"]) <= {"sqlite": 15, "postgresql": 7}[services.engine.dialect.name], seen["sql"]
    assert not [sql for sql in seen["sql"] if "FROM app_user" in sql or "email_template" in sql
                or "webhook_subscription" in sql], seen["sql"]
    assert not [sql for sql in seen["sql"] if "definition_version.spec_json" in sql or
                "definition_version.files" in sql]
    # nor the task page's history (the completed tasks' audit payloads): the POST loads what completing needs
    assert not [sql for sql in seen["sql"] if sql.lstrip().upper().startswith("SELECT")
                and "audit_event.payload" in sql]
    with services.uow() as uow:
        done = uow.session.scalars(select(TaskRow).where(TaskRow.task_uuid == second.task_uuid)).one()
        assert (done.status, done.completed_by) == ("completed", "maria")
        payload = uow.session.scalars(select(AuditEvent.payload).where(
            AuditEvent.event_type == "task_completed", AuditEvent.request_id == done.request_id)).one()
        assert payload["data"] == FORM


def test_a_web_request_reads_the_reference_generation_once_with_its_sign_in_check(services, clock):
    """The sign-in check (a session cookie or an API token) brings the reference generation along, and the
    request's own transaction takes it from there: a new request reads it once, whichever way it is signed in."""
    maria = WebUser(services, "maria")
    new_request = {"request_type": "assistance", "routine": "true", **REQUEST, "title": "Printer"}
    api = Api(services, "maria")
    calls = [lambda: maria.post("/requests/new", new_request),
             lambda: api.post("/api/v1/requests", {"request_type": "assistance",
                                                   "data": {**REQUEST, "title": "Printer"}})]
    for call in calls + calls:  # the first of each fills this process's caches
        with statements(services) as seen:
            answer = call()
        assert answer.status_code in (201, 302), answer.get_data(as_text=True)
        assert len([sql for sql in seen["sql"] if "reference_generation" in sql]) == 1, seen["sql"]
        assert "reference_generation" in seen["sql"][0] or "reference_generation" in seen["sql"][1], seen["sql"]


def test_a_rejected_form_writes_nothing_and_shows_the_fields_messages(services, clock):
    drive = Driver(services, clock)
    number = drive.new("assistance")
    drive.work()
    task = drive.open_task(number, "assign_specialist")
    maria = WebUser(services, "maria")
    with statements(services) as seen:
        page = maria.post(f"/tasks/{task.task_uuid}", {"specialist": "nobody", "assignment_note": "typed note"})
    assert page.status_code == 422
    assert seen["commits"] == 0
    text = page.get_data(as_text=True)
    assert "typed note" in text  # what was typed stays in the form
    assert drive.open_task(number, "assign_specialist").status == "open"
