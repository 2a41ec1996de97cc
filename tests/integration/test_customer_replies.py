"""Issue 15: the customer's emailed reply. The question carries a reply token (Reply-To reply+<token>@ and [token] in
the subject); a reply sent over real SMTP to the inbound endpoint completes "Await the customer's reply" as the
customer and the request goes on to its end; mail that cannot do that is kept as unfiled mail for a person to file
or discard; the same Message-ID twice completes once."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from dataclasses import replace
from email.message import EmailMessage

import pytest
from sqlalchemy import func, select

from app.domain import reply_tokens
from app.domain.permissions import OPERATOR
from app.run import inbound_mail
from app.services.audit import replay
from app.store.models import AuditEvent, InboundMail, TaskRow, User, UserNotice
from tests.conftest import free_port, html_of, text_of
from tests.driver import Driver
from tests.web import WebUser

SECRET = "reply-token-key-for-the-tests-0123456789"
ASK = {"resolution_notes": "Which office needs the VPN profile?", "resolution_code": "awaiting_customer",
       "time_spent_hours": 0.5}
DONE = {"resolution_notes": "VPN profile issued for the Tulsa office.", "resolution_code": "resolved",
        "time_spent_hours": 1}


@pytest.fixture
def settings(settings):  # the reply tokens' key, so nothing is written to the checkout's instance folder
    return replace(settings, reply_token_secret=SECRET, inbound_mail_domain="replies.omes.example",
                   inbound_mail_max_bytes=64 * 1024)


@pytest.fixture
def inbound(services) -> Iterator[int]:
    """The real inbound SMTP endpoint on a free port."""
    port = free_port()
    controller = inbound_mail.start(services, "127.0.0.1", port)
    yield port
    controller.stop()


def send(port: int, to: str, subject: str, body: str, message_id: str, *, html: str | None = None,
         sender: str = "ann@tourism.example") -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"], msg["Message-ID"] = sender, to, subject, message_id
    if html is None:
        msg.set_content(body)
    else:
        msg.add_alternative(html, subtype="html")
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.send_message(msg)


def waiting_on_the_customer(services, clock, mailbox) -> tuple[Driver, str, EmailMessage]:
    drive = Driver(services, clock)
    number = drive.new("assistance")
    drive.work()
    drive.complete(number, "assign_specialist", "maria", {"specialist": "sara"})
    drive.complete(number, "fulfil_assistance_request", "sara", ASK)
    drive.work()  # the question is emailed
    assert drive.open_bpmn_ids(number) == ["await_customer_reply"]
    [question] = mailbox.to("ann@tourism.example")
    return drive, number, question


def reply_events(services, number: str) -> list[tuple[str, dict]]:
    """(actor, payload) of the request's customer_reply_received events."""
    with services.uow() as uow:
        return [(e.actor, e.payload) for e in uow.session.scalars(select(AuditEvent).where(
            AuditEvent.event_type == "customer_reply_received").order_by(AuditEvent.seq))]


def test_the_question_carries_a_reply_token_in_its_reply_to_and_subject(services, clock, mailbox):
    _, number, question = waiting_on_the_customer(services, clock, mailbox)
    token = reply_tokens.token_for(SECRET, number)
    assert question["Reply-To"] == f"reply+{token}@replies.omes.example"
    assert question["Subject"].endswith(f"[{token}]") and "we need your reply" in question["Subject"]
    assert reply_tokens.request_number_of(SECRET, token) == number
    assert reply_tokens.request_number_of(SECRET, f"{number}.000000000000") is None


def test_an_emailed_reply_completes_the_wait_once_and_the_request_runs_to_its_end(services, clock, mailbox,
                                                                                  inbound):
    drive, number, question = waiting_on_the_customer(services, clock, mailbox)
    body = ("The Tulsa office, please.\n\nThanks, Ann\n\n"
            "On Tue, Dec 1, 2026 at 9:00 AM Request Fulfillment <rf@omes.example> wrote:\n"
            "> Which office needs the VPN profile?\n")
    for _ in range(2):  # the same message delivered twice (a retrying relay) completes the task once
        subject = " ".join(question["Subject"].split())  # unfolded: a long subject arrives over two lines
        send(inbound, question["Reply-To"], "Re: " + subject, body, "<reply-1@tourism.example>")

    assert drive.open_bpmn_ids(number) == ["fulfil_assistance_request"]
    shown = drive.show(number)
    assert shown["sla"]["state"] == "running"  # the clock runs again
    with services.uow() as uow:
        done = uow.session.scalars(select(TaskRow).where(TaskRow.request_number == number,
                                                         TaskRow.bpmn_id == "await_customer_reply")).one()
        assert done.status == "completed" and done.completed_by == "customer"
        assert uow.session.scalar(select(func.count()).select_from(InboundMail)) == 1
        completed = uow.session.scalars(select(AuditEvent).where(
            AuditEvent.event_type == "task_completed", AuditEvent.actor == "customer")).one().payload
    assert completed["data"] == {"customer_reply": "The Tulsa office, please.\n\nThanks, Ann"}
    [(_, event)] = reply_events(services, number)
    assert event["from"] == "ann@tourism.example" and "Tulsa" in event["reply"]

    drive.complete(number, "fulfil_assistance_request", "sara", DONE)
    drive.work()
    shown = drive.show(number)
    assert shown["status"] == "closed" and shown["crm_case"]["status"] == "closed"
    sam = WebUser(services, "sam")
    assert sam.post(f"/requests/{number}/notes", {"note": "Ann confirmed by phone too"}).status_code == 302
    page = sam.get(f"/requests/{number}").get_data(as_text=True)
    assert "Customer replied by email" in page and "The Tulsa office, please." in page
    assert replay.replay_request(services, number, reader=OPERATOR).as_dict()["identical"]  # from the audit log


def notices_of(services, username: str) -> list[UserNotice]:
    with services.uow() as uow:
        rows = list(uow.session.scalars(select(UserNotice).join(User).where(User.username == username)
                                        .order_by(UserNotice.id)))
        uow.session.expunge_all()
        return rows


def test_the_specialist_is_told_of_the_reply_from_the_editable_template_not_as_a_new_assignment(
        services, clock, mailbox, inbound):
    drive, number, question = waiting_on_the_customer(services, clock, mailbox)
    adam = WebUser(services, "adam")
    listing = adam.get("/admin/email-templates").get_data(as_text=True)
    assert "Staff: the customer replied to your question" in listing
    edited = {"subject": "Reply on {{ request_number }} from {{ customer_name }}",
              "text": "{{ recipient_name }}: {{ message }} ({{ task_name }})", "html": "<p>{{ message }}</p>"}
    preview = adam.post("/admin/email-templates/customer_replied", {**edited, "action": "preview"})
    assert preview.status_code == 200
    assert "Reply on RF-2026-000042 from Ann Example" in preview.get_data(as_text=True)
    assert adam.post("/admin/email-templates/customer_replied", {**edited, "action": "save"}).status_code == 302
    mailbox.messages.clear()
    before = len(notices_of(services, "sara"))  # assigned the fulfilment and the wait for the reply
    send(inbound, question["Reply-To"], "Re: VPN", "The Tulsa office, please.", "<reply-9@tourism.example>")
    drive.work()  # the outbox sends
    [notice] = notices_of(services, "sara")[before:]  # not "assigned to you" again
    assert notice.kind == "customer_replied" and notice.text.startswith(f"Ann Agency replied: {number}")
    [mail] = mailbox.to("sara@omes.example")
    assert mail["Subject"] == f"Reply on {number} from Ann Agency"
    assert text_of(mail).strip() == "Sara Specialist: The Tulsa office, please. (Fulfil assistance request)"


def test_the_reply_notice_reads_well_by_default_and_a_filed_reply_tells_the_specialist_too(
        services, clock, mailbox, inbound):
    drive, number, question = waiting_on_the_customer(services, clock, mailbox)
    mailbox.messages.clear()
    before = len(notices_of(services, "sara"))
    send(inbound, "help@replies.omes.example", "About my VPN", "It is for Tulsa.", "<plain-9@tourism.example>")
    with services.uow() as uow:
        [mail_id] = uow.session.scalars(select(InboundMail.id)).all()
    assert WebUser(services, "maria").post(f"/mail/unfiled/{mail_id}/file", {"request": number}).status_code == 302
    drive.work()
    assert [n.kind for n in notices_of(services, "sara")[before:]] == ["customer_replied"]
    [mail] = mailbox.to("sara@omes.example")
    assert mail["Subject"] == f"Ann Agency replied: {number}"
    text = text_of(mail)
    assert text.startswith("Hello Sara Specialist,") and "It is for Tulsa." in text
    assert 'The task "Fulfil assistance request" is back in your Request Fulfillment inbox' in text
    assert "Tulsa" in html_of(mail) and "Request Fulfillment (" in text


def test_mail_without_a_valid_token_is_unfiled_and_a_manager_files_it_against_the_request(services, clock, mailbox,
                                                                                          inbound):
    drive, number, question = waiting_on_the_customer(services, clock, mailbox)
    send(inbound, "help@replies.omes.example", "About my VPN", "It is for Tulsa.", "<plain-1@tourism.example>")
    send(inbound, f"reply+{number}.0123456789ab@replies.omes.example", "Re: VPN", "Tulsa", "<forged@x.example>")
    send(inbound, question["Reply-To"], "Re: VPN", "", "<html-1@tourism.example>", html="<p>Tulsa</p>")
    assert drive.open_bpmn_ids(number) == ["await_customer_reply"]  # none of them answered it

    maria = WebUser(services, "maria")
    page = maria.get("/mail/unfiled").get_data(as_text=True)
    assert "About my VPN" in page and "no valid reply token" in page
    assert "not one this system issued" in page and "no plain text part" in page
    assert 'href="/mail/unfiled"' in page  # in the navigation of those who file mail
    sam = WebUser(services, "sam")
    assert sam.get("/mail/unfiled").status_code == 403  # a specialist does not file mail
    assert 'href="/mail/unfiled"' not in sam.get("/").get_data(as_text=True)
    with services.uow() as uow:
        rows = {m.message_id: m.id for m in uow.session.scalars(select(InboundMail))}

    assert maria.post(f"/mail/unfiled/{rows['<plain-1@tourism.example>']}/file",
                      {"request": "RF-999999"}).status_code == 404  # nothing filed against nothing
    answer = maria.post(f"/mail/unfiled/{rows['<plain-1@tourism.example>']}/file", {"request": number})
    assert answer.status_code == 302
    assert drive.open_bpmn_ids(number) == ["fulfil_assistance_request"]  # it answered the waiting task
    assert maria.post(f"/mail/unfiled/{rows['<forged@x.example>']}/discard").status_code == 302
    assert maria.post(f"/mail/unfiled/{rows['<forged@x.example>']}/discard").status_code == 409
    page = maria.get("/mail/unfiled").get_data(as_text=True)
    assert "About my VPN" not in page and "<forged" not in page and "no plain text part" in page
    with services.uow() as uow:
        statuses = {m.message_id: (m.status, m.handled_by) for m in uow.session.scalars(select(InboundMail))}
    assert statuses["<plain-1@tourism.example>"] == ("filed", "maria")
    assert statuses["<forged@x.example>"] == ("discarded", "maria")
    [(actor, event)] = reply_events(services, number)
    assert actor == "maria" and event["outcome"] == "completed"


def test_a_reply_to_a_request_no_longer_waiting_or_too_large_is_unfiled(services, clock, mailbox, inbound):
    drive, number, question = waiting_on_the_customer(services, clock, mailbox)
    drive.complete(number, "await_customer_reply", "sara", {"customer_reply": "Tulsa (by phone)"})
    send(inbound, question["Reply-To"], "Re: VPN", "Tulsa", "<late@tourism.example>")
    send(inbound, question["Reply-To"], "Re: VPN", "x" * (70 * 1024), "<big@tourism.example>")
    with services.uow() as uow:
        rows = {m.message_id: m for m in uow.session.scalars(select(InboundMail))}
        assert rows["<late@tourism.example>"].status == "unfiled"
        assert "not waiting for the customer's reply" in (rows["<late@tourism.example>"].reason or "")
        assert rows["<late@tourism.example>"].request_number == number
        assert rows["<big@tourism.example>"].status == "unfiled" and "kB" in (rows["<big@tourism.example>"].reason
                                                                               or "")
        late = rows["<late@tourism.example>"].id
    # filed against the request that no longer waits, the reply is kept as an internal note
    maria = WebUser(services, "maria")
    assert maria.post(f"/mail/unfiled/{late}/file", {"request": number}
                      ).status_code == 302
    page = maria.get(f"/requests/{number}").get_data(as_text=True)
    assert "Email from ann@tourism.example" in page


def test_rf_inbound_mail_receives_replies_for_production(services, clock, mailbox):
    import subprocess
    import sys
    import time
    from pathlib import Path

    from tests.conftest import env_for

    drive, number, question = waiting_on_the_customer(services, clock, mailbox)
    port = free_port()
    env = env_for(services.settings) | {"RF_INBOUND_MAIL_PORT": str(port), "RF_REPLY_TOKEN_SECRET": SECRET,
                                        "RF_INBOUND_MAIL_DOMAIN": "replies.omes.example", "RF_LOG_FORMAT": "text"}
    rf = Path(sys.executable).parent / "rf"
    process = subprocess.Popen([str(rf), "inbound-mail"], env=env, stdout=subprocess.PIPE,  # noqa: S603
                               stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                send(port, question["Reply-To"], "Re: VPN", "Tulsa, thanks.", "<cli-1@tourism.example>")
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, process.communicate()[0]
                time.sleep(0.2)
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0]
    assert f"customer replies received on 127.0.0.1:{port}" in output
    assert drive.open_bpmn_ids(number) == ["fulfil_assistance_request"]
