"""Issue 15: a manager's Team queue (their groups' tasks by person, with load counts), bulk release and reassign
that change all or nothing, a claim that lands on the claimed task, and each role's home page after sign-in."""

from __future__ import annotations

from sqlalchemy import func, select

from app.store.models import AuditEvent, TaskRow
from tests.driver import Driver
from tests.web import CSRF, WebUser

FULFIL = "fulfil_assistance_request"


def _assigned_to_sam(services, clock, count: int = 2) -> tuple[Driver, list[str]]:
    drive = Driver(services, clock)
    numbers = []
    for _ in range(count):
        number = drive.new("assistance", provider_group="network")
        drive.work()
        drive.complete(number, "assign_specialist", "maria", {"specialist": "sam", "assignment_note": "VPN team"})
        numbers.append(number)
    return drive, numbers


def _fulfil_tasks(services, numbers: list[str]) -> list[tuple[str, str | None]]:
    """(task id, assignee) of each request's open *Fulfil* task."""
    with services.uow() as uow:
        return [(row.task_uuid, row.assignee) for row in uow.session.scalars(select(TaskRow).where(
            TaskRow.request_number.in_(numbers), TaskRow.bpmn_id == FULFIL, TaskRow.status == "open"))]


def _audit_count(services) -> int:
    """Audit events about tasks (signing in is audited too, and is not what these tests count)."""
    with services.uow() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(AuditEvent)
                                      .where(AuditEvent.event_type.like("task_%"))))


def test_the_team_queue_shows_each_persons_load_and_only_managers_open_it(services, clock):
    _, numbers = _assigned_to_sam(services, clock)
    page = WebUser(services, "maria").get("/team")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert all(number in text for number in numbers)
    sam_row = text[text.index("Sam Specialist"):].split("</tr>")[0]
    assert "<td>2</td>" in sam_row
    assert "Team</a>" in text  # the navigation offers it to a manager
    narrowed = WebUser(services, "maria").get("/team?person=sara").get_data(as_text=True)
    assert "No assigned tasks for sara" in narrowed
    for outsider in ("sam", "carla", "audrey"):
        assert WebUser(services, outsider).get("/team").status_code == 403, outsider


def test_bulk_reassign_moves_every_selected_task_and_audits_each(services, clock):
    _, numbers = _assigned_to_sam(services, clock)
    ids = [task_id for task_id, _ in _fulfil_tasks(services, numbers)]
    before = _audit_count(services)
    answer = WebUser(services, "maria").post("/team/bulk", {"task": ids, "action": "assign", "assignee": "sara"})
    assert answer.status_code == 303
    assert {assignee for _, assignee in _fulfil_tasks(services, numbers)} == {"sara"}
    assert _audit_count(services) == before + 2


def test_a_bulk_action_with_one_refused_task_changes_nothing(services, clock):
    _, numbers = _assigned_to_sam(services, clock)
    ids = [task_id for task_id, _ in _fulfil_tasks(services, numbers)]
    maria = WebUser(services, "maria")
    before = _audit_count(services)
    refusals = [
        ({"task": ids, "action": "assign", "assignee": "pete"}, "does not hold the"),  # not a specialist
        ({"task": [*ids, "no-such-task"], "action": "assign", "assignee": "sara"}, "no task no-such-task"),
        ({"task": [], "action": "release"}, "select at least one task"),
        ({"task": ids, "action": "assign", "assignee": ""}, "choose whom"),
        ({"task": ids, "action": "explode"}, "choose Release or Reassign"),
    ]
    for form, message in refusals:
        answer = maria.post("/team/bulk", form)
        assert answer.status_code == 422, form
        assert message in answer.get_data(as_text=True), form
    assert maria.post("/team/bulk", {"task": ids, "action": "release"}, csrf=False).status_code in (400, 403)
    assert WebUser(services, "sam").post("/team/bulk", {"task": ids, "action": "release"}).status_code == 403
    assert {assignee for _, assignee in _fulfil_tasks(services, numbers)} == {"sam"}
    assert _audit_count(services) == before


def test_bulk_release_puts_the_tasks_back_in_the_group_queue_once(services, clock):
    _, numbers = _assigned_to_sam(services, clock)
    ids = [task_id for task_id, _ in _fulfil_tasks(services, numbers)]
    maria = WebUser(services, "maria")
    assert maria.post("/team/bulk", {"task": ids, "action": "release"}).status_code == 303
    assert {assignee for _, assignee in _fulfil_tasks(services, numbers)} == {None}
    again = maria.post("/team/bulk", {"task": ids, "action": "release"})
    assert again.status_code == 422 and "is not assigned to anyone" in again.get_data(as_text=True)
    assert "2 unassigned tasks" in maria.get("/team").get_data(as_text=True)


def test_a_claim_lands_on_the_claimed_tasks_form(services, clock):
    drive = Driver(services, clock)
    number = drive.new("assistance", provider_group="network")
    drive.work()
    task = drive.open_task(number, "assign_specialist")
    maria = WebUser(services, "maria")
    answer = maria.post(f"/tasks/{task.task_uuid}/claim", {"next": "/inbox?queue=available"})
    assert answer.status_code == 302 and answer.headers["Location"].endswith(f"/tasks/{task.task_uuid}")
    again = maria.post(f"/tasks/{task.task_uuid}/claim", {"next": "/inbox?queue=available"})
    assert again.headers["Location"].endswith(f"/tasks/{task.task_uuid}")  # already hers: still her next work
    assert drive.open_task(number, "assign_specialist").assignee == "maria"


def test_each_role_lands_on_its_own_home_page_after_signing_in(services):
    homes = {"maria": "/inbox", "sam": "/inbox", "audrey": "/audit", "olive": "/processes", "adam": "/admin/users"}
    for username, home in homes.items():
        client = WebUser(services, None).client
        token = CSRF.search(client.get("/login").get_data(as_text=True)).group(1)
        answer = client.post("/login", data={"username": username, "password": "demo", "csrf_token": token})
        assert answer.status_code == 302 and answer.headers["Location"] == home, username
        assert f'class="brand" href="{home}"' in client.get(home).get_data(as_text=True), username
    audrey_inbox = WebUser(services, "audrey").get("/inbox").get_data(as_text=True)
    assert "your work starts at the" in audrey_inbox and 'href="/audit"' in audrey_inbox
