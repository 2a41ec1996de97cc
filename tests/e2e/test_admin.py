"""Administrators manage users, roles and groups in the browser; every action is audited; nobody else may."""

from __future__ import annotations

from sqlalchemy import select

from app.store.models import AuditEvent
from tests.driver import Driver
from tests.web import WebUser


def test_admin_creates_a_user_grants_a_role_and_the_user_can_work(services, clock):
    adam = WebUser(services, "adam")
    assert adam.post("/admin/users", {"username": "nina", "full_name": "Nina Network", "email": "nina@omes.example",
                                      "password": "s3cret-pass"}).status_code == 302
    assert adam.post("/admin/users/nina/grant", {"role": "specialist", "group": "network"}).status_code == 302
    number = Driver(services, clock).new("assistance")
    Driver(services, clock).work()
    maria = WebUser(services, "maria")
    task = Driver(services, clock).open_task(number, "assign_specialist")
    form = maria.get(f"/tasks/{task.task_uuid}").get_data(as_text=True)
    assert ">nina<" in form  # the new specialist is offered for assignment
    nina = WebUser(services, "nina", "s3cret-pass")
    assert nina.get("/inbox").status_code == 200
    with services.uow() as uow:
        kinds = [(e.actor, e.event_type) for e in uow.session.scalars(select(AuditEvent))]
    assert ("adam", "user_created") in kinds and ("adam", "role_granted") in kinds


def test_bad_admin_input_is_refused_with_a_message_and_changes_nothing(services):
    adam = WebUser(services, "adam")
    page = adam.post("/admin/users", {"username": "X", "full_name": "", "email": "nope", "password": "short"})
    text = page.get_data(as_text=True)
    assert page.status_code == 422 and "username" in text and "password" in text
    assert adam.post("/admin/users/sam/grant", {"role": "specialist", "group": ""}).status_code == 422
    assert adam.post("/admin/users/sam/grant", {"role": "specialist", "group": "network"}).status_code == 409
    assert adam.post("/admin/users/adam/active", {"active": "0"}).status_code == 409
    with services.uow() as uow:
        kinds = [e.event_type for e in uow.session.scalars(select(AuditEvent))]
    assert not {"user_created", "role_granted", "user_deactivated"} & set(kinds)


def test_deactivated_users_cannot_sign_in_and_non_admins_get_403(services):
    adam = WebUser(services, "adam")
    assert adam.post("/admin/users/sara/active", {"active": "0"}).status_code == 302
    anonymous = WebUser(services, None)
    token = anonymous._token("/login")
    page = anonymous.client.post("/login", data={"username": "sara", "password": "demo", "csrf_token": token})
    assert page.status_code == 401
    for user in ("maria", "olive", "audrey"):
        web = WebUser(services, user)
        assert web.get("/admin/users").status_code == 403
        assert web.post("/admin/users/sam/grant", {"role": "admin", "group": ""}).status_code == 403
