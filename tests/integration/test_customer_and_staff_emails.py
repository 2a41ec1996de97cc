"""Customer and staff emails composed from templates, received by a real SMTP server: the customer's CRM case number
in the subject, a greeting and the provider group's signature, text and HTML parts with the HTML escaped; staff told
of work assigned to them and of billing cases, by email when they want it and in the app always."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from app.services import worker
from app.services.notices import events
from app.store.models import EmailTemplate, Notification, ProviderGroup, ServiceRequest, TaskRow, User, UserNotice
from tests.conftest import day, html_of, text_of
from tests.driver import Driver

HOSTILE_TITLE = '<script>alert("x")</script> & <b>VPN</b>'
FULFILMENT = {"resolution_notes": "Created the VPN profile.\nUse <your> badge.", "resolution_code": "resolved",
              "time_spent_hours": 1.5}


@pytest.fixture
def drive(services, clock) -> Driver:
    return Driver(services, clock)


def _case_and_group(services, number: str) -> tuple[str, str]:
    with services.uow() as uow:
        request = uow.session.scalars(select(ServiceRequest).where(ServiceRequest.number == number)).one()
        group = uow.session.get(ProviderGroup, request.provider_group_id)
        assert request.crm_case_id and group is not None
        return request.crm_case_id, group.name


def _fulfil(drive: Driver, number: str) -> None:
    drive.work()  # takes the CRM case
    drive.complete(number, "assign_specialist", "maria", {"specialist": "sam", "assignment_note": "VPN team"})
    drive.complete(number, "fulfil_assistance_request", "sam", FULFILMENT)
    drive.work()  # closes the CRM case, queues and sends the email


def test_the_fulfilment_email_names_the_crm_case_greets_the_customer_signs_for_the_group_and_escapes_html(
        drive, services, mailbox):
    number = drive.new("assistance", title=HOSTILE_TITLE)
    _fulfil(drive, number)
    case, group = _case_and_group(services, number)

    [mail] = mailbox.to("ann@tourism.example")
    assert case in mail["Subject"] and number in mail["Subject"]
    assert mail.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in mail.walk()][1:] == ["text/plain", "text/html"]
    text, html = text_of(mail), html_of(mail)
    assert text.startswith("Dear Ann Agency,") and "Created the VPN profile.\nUse <your> badge." in text
    assert HOSTILE_TITLE in text and f"case {case} (our request {number})" in text
    assert f"Kind regards,\n{group}\n{services.settings.mail_from}" in text
    assert "<script>" not in html and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;VPN" in html
    assert "Use &lt;your&gt; badge." in html and "Dear Ann Agency," in html and group in html


def test_a_stored_template_that_fails_when_composing_falls_back_to_the_default_and_is_logged(
        drive, services, mailbox, caplog):
    with services.uow() as uow:  # passes no check at save time: written as a broken row might be left
        uow.session.add(EmailTemplate(key="customer_fulfilled", subject="{{ provider_group.missing.deeper }}",
                                      text_body="x", html_body="x", updated_by="adam"))
        uow.commit()
    number = drive.new("assistance")
    with caplog.at_level(logging.WARNING, logger="app.adapters.mail_compose"):
        _fulfil(drive, number)
    case, _ = _case_and_group(services, number)
    [mail] = mailbox.to("ann@tourism.example")
    assert case in mail["Subject"] and text_of(mail).startswith("Dear Ann Agency,")
    assert any("customer_fulfilled failed, the default is used" in r.getMessage() for r in caplog.records)
    assert drive.show(number)["status"] == "closed"


def test_an_assignment_emails_the_specialist_once_and_leaves_a_notice_even_when_the_email_is_off(
        drive, services, mailbox):
    number = drive.new("assistance")
    drive.work()
    drive.complete(number, "assign_specialist", "maria", {"specialist": "sam"})
    worker.run_once(services, now=drive.clock.now())
    worker.run_once(services, now=drive.clock.now())  # a second pass sends nothing again
    sam = _user(services, "sam")
    [mail] = mailbox.to(sam.email)
    assert mail["Subject"].startswith("Assigned to you: ") and number in mail["Subject"]
    assert text_of(mail).startswith(f"Hello {sam.full_name},") and "Open it in your Request Fulfillment inbox" in \
        text_of(mail)
    assert [n.kind for n in _notices(services, "sam")] == ["task_assigned"]

    with services.uow() as uow:
        uow.session.scalars(select(User).where(User.username == "sara")).one().email_on_assignment = False
        uow.commit()
    mailbox.messages.clear()
    other = drive.new("assistance")
    drive.work()
    drive.complete(other, "assign_specialist", "maria", {"specialist": "sara"})
    drive.work()
    assert mailbox.to(_user(services, "sara").email) == []
    [notice] = _notices(services, "sara")
    assert notice.kind == "task_assigned" and other in notice.text and notice.read_at is None
    with services.uow() as uow:
        assert uow.session.scalars(select(Notification).where(Notification.kind == "task_assigned",
                                                              Notification.request_number == other)).all() == []


def test_an_assignment_told_again_writes_neither_its_notice_nor_its_email_twice(drive, services):
    """A retried step tells of the same assignment again: the notice's key is there, so neither it nor its email is
    written again (on PostgreSQL both in one statement, the email inserted from the notice's insert)."""
    number = drive.new("assistance")
    drive.work()
    drive.complete(number, "assign_specialist", "maria", {"specialist": "sam"})
    for _ in range(2):
        with services.uow() as uow:
            task = uow.session.scalars(select(TaskRow).where(TaskRow.request_number == number,
                                                             TaskRow.status == "open")).one()
            events.task_assigned(uow.session, task, uow.session.get(ServiceRequest, task.request_id),
                                 drive.clock.now())
            uow.commit()
    with services.uow() as uow:
        notices = uow.session.scalars(select(UserNotice.key).where(UserNotice.task_uuid == task.task_uuid)).all()
        emails = uow.session.scalars(select(Notification.idempotency_key).where(
            Notification.kind == "task_assigned", Notification.request_number == number)).all()
    assert len(notices) == 1 and notices == emails and notices[0].startswith(f"assigned-{task.task_uuid}-")


def test_a_chargeable_enhancement_tells_the_car_a_billing_case_is_forwarded(drive, services, mailbox):
    number = drive.new("enhancement")
    drive.complete(number, "draw_up_work_plan", "pete", {"work_plan": "Build the report", "estimated_hours": 16,
                                                         "planned_start": day(1), "planned_finish": day(17)})
    drive.work()
    drive.complete(number, "fulfil_enhancement_request", "pete", {"fulfilment_notes": "Built", "hours_spent": 6})
    drive.complete(number, "test_solution", "pete", {"test_result": "pass", "test_notes": "Fine"})
    drive.complete(number, "determine_chargeability", "pete",
                   {"chargeable": True, "billable_hours": 2, "hourly_rate": 85, "billing_code": "PS-1"})
    drive.work()
    assert "initiate_billing" in drive.open_bpmn_ids(number)
    carla = _user(services, "carla")
    [mail] = [m for m in mailbox.to(carla.email) if m["Subject"].startswith("Billing case")]
    assert number in mail["Subject"] and "initiate billing" in text_of(mail)
    assert [n.kind for n in _notices(services, "carla")] == ["billing_forwarded"]


def _user(services, username: str) -> User:
    with services.uow() as uow:
        user = uow.session.scalars(select(User).where(User.username == username)).one()
        uow.session.expunge(user)
        return user


def _notices(services, username: str) -> list[UserNotice]:
    with services.uow() as uow:
        rows = list(uow.session.scalars(select(UserNotice).join(User).where(User.username == username)))
        uow.session.expunge_all()
        return rows


def test_an_escalation_leaves_a_notice_for_the_manager_and_emails_only_those_who_want_it(drive, services, mailbox):
    with services.uow() as uow:
        uow.session.scalars(select(User).where(User.username == "maria")).one().email_on_escalation = False
        uow.commit()
    number = drive.new("assistance", priority="critical")
    drive.work()
    drive.clock.set(datetime.fromisoformat(drive.show(number)["sla_due_at"]) + timedelta(minutes=30))
    drive.work()
    assert [e["level"] for e in drive.show(number)["sla"]["escalations"]] == ["warning", "breach"]
    assert mailbox.to(_user(services, "maria").email) == []
    [notice] = _notices(services, "maria")  # the warning was superseded by the breach: told once
    assert notice.kind == "sla_breach" and number in notice.text and "SLA target passed" in notice.text
