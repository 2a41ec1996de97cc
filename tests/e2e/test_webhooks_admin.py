"""Admin → Webhooks through the real pages: administrators only (403 for others, and no link), a bad URL answers 422
naming the problem and keeps the input, the secret is shown once, the delivery log shows attempts and Redeliver
re-queues the same event id; every form carries the CSRF token. Also `rf webhooks list` and the migration."""

from __future__ import annotations

import re

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select

from app.store.db import Base
from app.store.models import WebhookDelivery
from tests.driver import Driver
from tests.e2e.conftest import Rf
from tests.web import WebUser
from tests.webhook_receiver import Receiver

SECRET = re.compile(r'value="(whsec_[A-Za-z0-9_\-]+)"')


def test_only_administrators_reach_the_webhook_pages_and_only_they_see_the_link(services):
    for name in ("maria", "olive", "audrey", "sam"):
        user = WebUser(services, name)
        assert user.get("/admin/webhooks").status_code == 403
        assert user.post("/admin/webhooks", {"url": "http://127.0.0.1/x", "events": "task.ready"}).status_code == 403
        assert user.get("/admin/webhooks/1").status_code == 403
        assert user.post("/admin/webhooks/1/ping").status_code == 403
    adam = WebUser(services, "adam")
    assert "/admin/webhooks" in adam.get("/admin/users").get_data(as_text=True)
    assert adam.get("/admin/webhooks").status_code == 200


def test_a_bad_url_is_refused_with_a_clear_message_and_the_form_kept(services):
    adam = WebUser(services, "adam")
    for url, words in [("ftp://files.example/x", "only http and https URLs are allowed"),
                       ("not a url", "spaces"), ("https://user:pw@hooks.example/", "no user name or password"),
                       ("http://hooks.example:99999/", "cannot be read")]:
        page = adam.post("/admin/webhooks", {"url": url, "description": "CRM", "events": ["task.ready"]})
        text = page.get_data(as_text=True)
        assert page.status_code == 422 and words in text, (url, page.status_code)
        assert "whsec_" not in text
    page = adam.post("/admin/webhooks", {"url": "https://hooks.example/in", "description": "no events"})
    assert page.status_code == 422 and "choose at least one event" in page.get_data(as_text=True)
    assert adam.post("/admin/webhooks", {"url": "https://hooks.example/in", "events": "task.ready"},
                     csrf=False).status_code in (400, 403)
    assert "No subscriptions yet" in adam.get("/admin/webhooks").get_data(as_text=True)
    assert adam.get("/admin/webhooks/99999").status_code == 404
    assert adam.get("/admin/webhooks/99999999999999").status_code == 404


def test_subscribe_ping_and_redeliver_from_the_pages(services, clock, receiver: Receiver):
    adam = WebUser(services, "adam")
    page = adam.post("/admin/webhooks", {"url": receiver.url, "description": "CRM feed",
                                         "events": ["request.created", "task.ready"]})
    text = page.get_data(as_text=True)
    assert page.status_code == 201 and "shown only this once" in text
    secret = SECRET.search(text).group(1)
    receiver.secrets.append(secret)
    receiver.now = clock.now
    listing = adam.get("/admin/webhooks").get_data(as_text=True)
    assert receiver.url in listing and secret not in listing  # never shown again
    assert secret not in adam.get("/admin/webhooks/1").get_data(as_text=True)

    drive = Driver(services, clock)
    number = drive.new("assistance")
    assert adam.post("/admin/webhooks/1/ping").status_code == 302
    drive.work()
    assert sorted(r.event_type for r in receiver.received) == ["ping", "request.created", "task.ready"]
    log = adam.get("/admin/webhooks/1").get_data(as_text=True)
    assert "HTTP 200" in log and number in log and "Redeliver" in log
    assert log.count('name="csrf_token"') == log.count("<form")  # every form carries the token

    with services.uow() as uow:
        created = uow.session.scalars(select(WebhookDelivery)
                                      .where(WebhookDelivery.event_type == "request.created")).one()
        uow.session.expunge(created)
    redo = adam.post(f"/admin/webhooks/1/deliveries/{created.id}/redeliver")
    assert redo.status_code == 302
    again = adam.post(f"/admin/webhooks/1/deliveries/{created.id}/redeliver")  # still queued: a warning, no 500
    assert again.status_code == 302
    assert "still queued" in adam.get("/admin/webhooks/1").get_data(as_text=True)
    drive.work()
    assert receiver.counts()[created.event_id] == 2

    rotated = adam.post("/admin/webhooks/1/rotate")
    new_secret = SECRET.search(rotated.get_data(as_text=True)).group(1)
    assert rotated.status_code == 200 and new_secret != secret
    assert adam.post("/admin/webhooks/1/active", {"active": "0"}).status_code == 302
    assert "inactive" in adam.get("/admin/webhooks").get_data(as_text=True)
    drive.new("assistance")
    drive.work()
    assert receiver.bad_signatures == [] and len(receiver.received) == 4  # nothing after deactivation


def test_rf_webhooks_list_shows_subscriptions_without_their_secrets(services, settings, clock):
    adam = WebUser(services, "adam")
    text = adam.post("/admin/webhooks", {"url": "https://hooks.example/in", "events": ["sla.breached"]}).get_data(
        as_text=True)
    secret = SECRET.search(text).group(1)
    rf = Rf(settings, clock=clock)
    [listed] = rf.ok("webhooks", "list")
    assert (listed["url"], listed["events"], listed["active"]) == ("https://hooks.example/in", ["sla.breached"], True)
    plain = rf("webhooks", "list")
    assert plain.exit_code == 0 and "https://hooks.example/in" in plain.stdout and secret not in plain.output


def test_migrated_webhook_tables_match_the_models(services):
    tables = {"webhook_subscription", "webhook_delivery", "webhook_attempt"}
    with services.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert set(conn.dialect.get_table_names(conn)) >= tables
    assert [d for d in diffs if any(name in str(d) for name in tables)] == []
