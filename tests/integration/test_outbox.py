"""The email outbox against a real database and real SMTP servers: one bad message never stops the others; failed
messages are listed for administrators with their reason and can be retried (audited)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from app.bootstrap import bootstrap
from app.domain.permissions import Identity
from app.errors import Conflict, Forbidden, NotFound
from app.services import worker
from app.services.admin import outbox
from app.services.admin.auth import load_identity
from app.store.models import AuditEvent, Notification
from tests.conftest import free_port

ADMIN_ONLY_OUTSIDER = Identity("maria", "Maria Manager", "", frozenset({("manager", "network")}))


class Picky:
    """A real SMTP server that refuses some recipients for good (550) and others for now (451), and has no SMTPUTF8
    (internationalised addresses)."""

    def __init__(self) -> None:
        self.delivered: list[tuple[list[str], bytes]] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,  # noqa: N802 - aiosmtpd API
                          options: list[str]) -> str:
        if address.startswith("nobody@"):
            return "550 5.1.1 No such mailbox"
        if address.startswith("later@"):
            return "451 4.3.0 Mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd API
        self.delivered.append((list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


@pytest.fixture
def picky(services):
    """The test's database, with mail going to a Picky server; yields (services, server)."""
    handler = Picky()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, enable_SMTPUTF8=False)
    controller.start()
    other = bootstrap(replace(services.settings, smtp_port=port), services.clock)
    try:
        yield other, handler
    finally:
        controller.stop()
        other.engine.dispose()


def queue(services, *rows: dict[str, Any]) -> list[int]:
    """Outbox rows as any producer (or an older version of this one) may have left them."""
    now = services.clock.now()
    with services.uow() as uow:
        made = [Notification(kind="customer", to_addrs=row.get("to", "ann@tourism.example"),
                             subject=row.get("subject", "Your request"), body=row.get("body", "Hello"),
                             request_number=None, idempotency_key=f"test-{index}-{len(row.get('subject', ''))}",
                             created_at=now, next_attempt_at=now) for index, row in enumerate(rows)]
        uow.session.add_all(made)
        uow.commit()
        return [n.id for n in made]


def status(services, notification_id: int) -> Notification:
    with services.uow() as uow:
        row = uow.session.get(Notification, notification_id)
        assert row is not None
        uow.session.expunge(row)
        return row


def test_a_message_that_cannot_be_built_fails_with_its_reason_and_the_rest_are_sent(services, mailbox):
    first, poison, last = queue(services, {"subject": "Before the bad one"}, {"subject": "Line one\nBcc: evil@x.test"},
                                {"subject": "After the bad one"})
    assert worker.send_mail(services, services.clock.now()) == 2
    assert sorted(m["Subject"] for m in mailbox.messages) == ["After the bad one", "Before the bad one"]
    bad = status(services, poison)
    assert bad.status == "failed" and bad.attempts == 1
    assert bad.last_error.startswith("cannot be built: ValueError")
    assert (status(services, first).status, status(services, last).status) == ("sent", "sent")
    assert worker.send_mail(services, services.clock.now() + timedelta(days=1)) == 0  # never tried again by itself
    assert len(mailbox.messages) == 2


def test_an_address_refused_for_good_fails_at_once_and_a_busy_one_is_retried_later(services, picky):
    other, server = picky
    good, refused, busy = queue(services, {"to": "ann@tourism.example", "subject": "Good"},
                                {"to": "nobody@tourism.example", "subject": "Refused"},
                                {"to": "later@tourism.example", "subject": "Busy"})
    now = services.clock.now()
    assert worker.send_mail(other, now) == 1
    assert status(services, good).status == "sent"
    gone = status(services, refused)
    assert gone.status == "failed" and "refused by the mail server" in gone.last_error and "550" in gone.last_error
    waiting = status(services, busy)
    assert waiting.status == "queued" and waiting.attempts == 1 and "451" in waiting.last_error
    assert waiting.next_attempt_at > now
    later = now
    for _ in range(5):
        later += timedelta(hours=1)
        worker.send_mail(other, later)
    given_up = status(services, busy)
    assert given_up.status == "failed" and given_up.attempts == services.settings.service_max_attempts
    assert given_up.last_error.startswith("gave up after 3 attempts")
    assert [to for to, _ in server.delivered] == [["ann@tourism.example"]]


def test_a_message_some_recipients_refuse_is_sent_to_the_others_and_says_who_refused(services, picky):
    other, server = picky
    [both] = queue(services, {"to": "ann@tourism.example, nobody@tourism.example", "subject": "Escalation"})
    assert worker.send_mail(other, services.clock.now()) == 1
    row = status(services, both)
    assert row.status == "sent" and "nobody@tourism.example (550" in row.last_error
    assert [to for to, _ in server.delivered] == [["ann@tourism.example"]]


def test_an_internationalised_address_the_server_cannot_take_fails_without_stopping_the_rest(services, picky):
    other, server = picky
    intl, plain = queue(services, {"to": "jösé@tourism.example", "subject": "Accented"}, {"subject": "Plain"})
    assert worker.send_mail(other, services.clock.now()) == 1
    row = status(services, intl)
    assert row.status == "failed" and "SMTPNotSupportedError" in row.last_error
    assert len(server.delivered) == 1 and b"Subject: Plain" in server.delivered[0][1]
    assert status(services, plain).status == "sent"


def test_an_unreachable_mail_server_is_retried_and_the_message_fails_only_after_the_last_attempt(services):
    down = bootstrap(replace(services.settings, smtp_port=free_port()), services.clock)
    try:
        [message] = queue(services, {"subject": "Nobody listens"})
        now = services.clock.now()
        for attempt in range(1, 4):
            worker.send_mail(down, now)
            row = status(services, message)
            assert row.attempts == attempt
            assert row.status == ("failed" if attempt == 3 else "queued")
            now = row.next_attempt_at if row.status == "queued" else now
        assert "ConnectionRefusedError" in row.last_error
    finally:
        down.engine.dispose()


def test_an_administrator_sees_failed_messages_with_their_reason_and_retries_one(services, mailbox):
    adam = load_identity(services, "adam")
    poison, good = queue(services, {"subject": "Broken\r\nsubject"}, {"subject": "Fine"})
    worker.send_mail(services, services.clock.now())
    seen = outbox.overview(services, adam)
    assert (seen.failed_total, seen.queued, seen.sent) == (1, 0, 1)
    [failed] = seen.failed
    assert (failed.id, failed.subject, failed.attempts) == (poison, "Broken\r\nsubject", 1)
    assert failed.reason.startswith("cannot be built")

    with services.uow() as uow:  # an administrator repairs the record, then retries it
        uow.session.get(Notification, poison).subject = "Repaired subject"
        uow.commit()
    outbox.retry_message(services, adam, poison)
    row = status(services, poison)
    assert (row.status, row.attempts, row.last_error) == ("queued", 0, None)
    with services.uow() as uow:
        [event] = uow.session.scalars(select(AuditEvent).where(AuditEvent.event_type == "mail_retried")).all()
        assert event.actor == "adam"
        assert event.payload["before"]["status"] == "failed"
        assert event.payload["before"]["error"].startswith("cannot be built")
    sent = worker.send_mail(services, services.clock.now())
    assert sent == 1, status(services, poison).__dict__
    assert sorted(m["Subject"] for m in mailbox.messages) == ["Fine", "Repaired subject"]
    with pytest.raises(Conflict, match="is sent, not failed"):
        outbox.retry_message(services, adam, poison)
    for missing in (999_999, 0, -1, 2**31, 10**30):
        with pytest.raises(NotFound):
            outbox.retry_message(services, adam, missing)
    assert outbox.overview(services, adam).failed == []


def test_retry_all_queues_every_failed_message_once(services, mailbox):
    adam = load_identity(services, "adam")
    queue(services, {"subject": "One\nbad"}, {"subject": "Two\nbad"})
    worker.send_mail(services, services.clock.now())
    assert outbox.retry_all(services, adam) == 2
    assert outbox.retry_all(services, adam) == 0
    assert outbox.overview(services, adam).queued == 2


def test_only_administrators_see_or_retry_the_outbox(services):
    [message] = queue(services, {"subject": "x\ny"})
    worker.send_mail(services, services.clock.now())
    for who in (ADMIN_ONLY_OUTSIDER, load_identity(services, "olive"), load_identity(services, "audrey")):
        with pytest.raises(Forbidden):
            outbox.overview(services, who)
        with pytest.raises(Forbidden):
            outbox.retry_message(services, who, message)
        with pytest.raises(Forbidden):
            outbox.retry_all(services, who)
    assert status(services, message).status == "failed"


def test_a_subject_queued_with_a_line_break_or_too_long_is_stored_as_one_bounded_line(services):
    with services.uow() as uow:
        box = services.clients(uow.session, services.clock.now()).outbox
        box.queue(kind="customer", to=["ann@tourism.example"], subject="Request RF-1 fulfilled:\n" + "word " * 100,
                  body="b", request_number=None, key="bounded")
        uow.commit()
        row = uow.session.scalars(select(Notification).where(Notification.idempotency_key == "bounded")).one()
        assert "\n" not in row.subject and len(row.subject) <= 300 and row.subject.endswith("…")
        assert row.subject.startswith("Request RF-1 fulfilled: word word")
