"""Tasks through /api/v1: the queues with counts, a task with its form schema, claim/release/assign, complete with
data validated by the form schema and its cross-field rules; an assistance request carried to closed by the API."""

from __future__ import annotations

from tests.api.client import Api, is_problem
from tests.driver import REQUEST, Driver


def only_task(api: Api, queue: str = "available") -> dict:
    page = api.get(f"/api/v1/tasks?queue={queue}").get_json()
    assert page["total"] == 1, page
    return page["items"][0]


def test_an_assistance_request_goes_from_logged_to_closed_through_the_api(services, clock, mailbox):
    drive = Driver(services, clock)
    maria, sam = Api(services, "maria"), Api(services, "sam")
    number = maria.post("/api/v1/requests", {"request_type": "assistance", "data": REQUEST}).get_json()["number"]
    drive.work()
    task = only_task(maria)
    assert task["name"] and task["request_number"] == number
    detail = maria.get(f"/api/v1/tasks/{task['id']}").get_json()
    assert "specialist" in detail["form_schema"]["properties"] and detail["may_claim"] and detail["may_assign"]
    assert maria.post(f"/api/v1/tasks/{task['id']}/claim").get_json()["assignee"] == "maria"
    counts = maria.get("/api/v1/tasks?queue=mine").get_json()["counts"]
    assert (counts["mine"], counts["available"]) == (1, 0)
    bad = is_problem(maria.post(f"/api/v1/tasks/{task['id']}/complete", {"data": {"specialist": "nobody"}}), 422)
    assert bad["errors"] and bad["errors"][0]["field"] == "specialist"
    is_problem(maria.post(f"/api/v1/tasks/{task['id']}/complete", {"specialist": "sam"}), 422)  # no "data"
    done = maria.post(f"/api/v1/tasks/{task['id']}/complete",
                      {"data": {"specialist": "sam", "assignment_note": "VPN team"}})
    assert done.status_code == 200 and done.get_json()["status"] == "completed"
    is_problem(maria.post(f"/api/v1/tasks/{task['id']}/complete", {"data": {"specialist": "sam"}}), 409)
    fulfil = only_task(sam, "mine")
    assert sam.post(f"/api/v1/tasks/{fulfil['id']}/complete", {"data": {
        "resolution_notes": "Created the VPN profile", "resolution_code": "resolved",
        "time_spent_hours": 1.5}}).status_code == 200
    drive.work()
    shown = maria.get(f"/api/v1/requests/{number}").get_json()
    assert shown["status"] == "closed" and shown["open_tasks"] == []
    assert shown["path"][-1] == "assistance_request_closed"
    assert any(number in m["Subject"] for m in mailbox.to(REQUEST["requester_email"]))


def test_release_and_assign_follow_the_pages_rules(services, clock):
    drive = Driver(services, clock)
    number = drive.new("assistance")
    drive.work()
    maria, sam, sara = Api(services, "maria"), Api(services, "sam"), Api(services, "sara")
    task = drive.open_task(number, "assign_specialist").task_uuid
    is_problem(sam.post(f"/api/v1/tasks/{task}/claim"), 403)  # not a manager: not his lane
    is_problem(sam.get(f"/api/v1/tasks/{task}"), 403)
    assert maria.post(f"/api/v1/tasks/{task}/claim").status_code == 200
    assert maria.post(f"/api/v1/tasks/{task}/release").get_json()["assignee"] is None
    drive.complete(number, "assign_specialist", "maria", {"specialist": "sam", "assignment_note": "x"})
    fulfil = drive.open_task(number, "fulfil_assistance_request").task_uuid
    is_problem(sam.post(f"/api/v1/tasks/{fulfil}/assign", {"assignee": "sara"}), 403)  # only managers assign
    assigned = maria.post(f"/api/v1/tasks/{fulfil}/assign", {"assignee": "sara"})
    assert assigned.status_code == 200 and assigned.get_json()["assignee"] == "sara"
    is_problem(maria.post(f"/api/v1/tasks/{fulfil}/assign", {"assignee": "carla"}), 403)  # not a specialist
    is_problem(maria.post(f"/api/v1/tasks/{fulfil}/assign", {}), 422)
    is_problem(maria.get("/api/v1/tasks/not-a-task"), 404)
    is_problem(maria.get("/api/v1/tasks?queue=everything"), 422)
    assert sara.get("/api/v1/tasks?queue=mine").get_json()["items"][0]["id"] == fulfil


def test_a_task_of_a_request_someone_may_not_read_does_not_exist_for_them_whatever_they_try(services, clock):
    from app.services.admin import auth
    from app.services.admin import users as user_admin

    admin = auth.load_identity(services, "adam")
    user_admin.create_user(services, admin, {"username": "gina", "full_name": "Gina Apps", "email": "gina@omes.example",
                                             "password": "long-enough-1"})
    user_admin.grant(services, admin, "gina", "manager", "apps")  # a manager, but of the other group
    drive = Driver(services, clock)
    number = drive.new("assistance")
    drive.work()
    task = drive.open_task(number, "assign_specialist").task_uuid
    gina = Api(services, "gina")
    for call in (lambda: gina.get(f"/api/v1/tasks/{task}"), lambda: gina.post(f"/api/v1/tasks/{task}/claim"),
                 lambda: gina.post(f"/api/v1/tasks/{task}/release"),
                 lambda: gina.post(f"/api/v1/tasks/{task}/assign", {"assignee": "sam"}),
                 lambda: gina.post(f"/api/v1/tasks/{task}/complete", {"data": {"specialist": "sam"}})):
        assert is_problem(call(), 404)["detail"] == f"no task {task}"
    assert drive.open_task(number, "assign_specialist").assignee is None
