"""The bell and /notifications (newest first, mark read, mark all read), the staff email switches in Preferences, and
the email template admin page: edit, preview from sample data, a syntax error or an unknown variable refused with
nothing saved, reset to default; every change audited."""

from __future__ import annotations

import html

import pytest
from sqlalchemy import select

from app.mail.defaults import DEFAULTS
from app.store.models import AuditEvent, EmailTemplate, User, UserNotice
from tests.driver import Driver
from tests.web import WebUser

EDIT = "/admin/email-templates/customer_fulfilled"


@pytest.fixture
def drive(services, clock) -> Driver:
    return Driver(services, clock)


def _assign(drive: Driver, specialist: str) -> str:
    number = drive.new("assistance")
    drive.work()
    drive.complete(number, "assign_specialist", "maria", {"specialist": specialist})
    return number


def _stored(services) -> list[EmailTemplate]:
    with services.uow() as uow:
        rows = list(uow.session.scalars(select(EmailTemplate)))
        uow.session.expunge_all()
        return rows


def _audited(services, event_type: str) -> list[dict]:
    with services.uow() as uow:
        return list(uow.session.scalars(select(AuditEvent.payload).where(AuditEvent.event_type == event_type)))


def test_the_bell_counts_unread_notifications_and_the_page_marks_them_read(services, drive):
    first, second = _assign(drive, "sam"), _assign(drive, "sam")
    sam = WebUser(services, "sam")
    inbox = sam.get("/inbox").get_data(as_text=True)
    assert 'aria-label="Notifications: 2 unread"' in inbox and '<span class="bell-count">2</span>' in inbox

    page = sam.get("/notifications").get_data(as_text=True)
    assert page.index(second) < page.index(first)  # newest first
    assert "2 unread · 2 in all" in page
    with services.uow() as uow:
        ids = list(uow.session.scalars(select(UserNotice.id).join(User).where(User.username == "sam")
                                       .order_by(UserNotice.id)))
    assert sam.post(f"/notifications/{ids[0]}/read", csrf=False).status_code == 400  # no CSRF token: refused
    assert sam.post(f"/notifications/{ids[0]}/read").status_code == 302
    assert "1 unread · 2 in all" in sam.get("/notifications").get_data(as_text=True)
    assert WebUser(services, "sara").post(f"/notifications/{ids[1]}/read").status_code == 404  # not hers
    assert sam.post("/notifications/read-all").status_code == 302
    assert "0 unread · 2 in all" in sam.get("/notifications").get_data(as_text=True)
    assert 'class="bell-count"' not in sam.get("/inbox").get_data(as_text=True)
    assert WebUser(services, None).get("/notifications").status_code == 302  # signed out: to the sign-in page


def test_switching_assignment_email_off_is_saved_and_audited(services):
    sam = WebUser(services, "sam")
    page = sam.get("/account/preferences").get_data(as_text=True)
    assert 'name="email_on_assignment" checked' in page
    assert sam.post("/account/preferences/email", {"email_on_billing": "on",
                                                   "email_on_escalation": "on"}).status_code == 302
    page = sam.get("/account/preferences").get_data(as_text=True)
    assert 'name="email_on_assignment" >' in page and 'name="email_on_billing" checked' in page
    [change] = _audited(services, "user_email_preferences_set")
    assert change["before"]["email_on_assignment"] is True and change["after"]["email_on_assignment"] is False


def test_an_administrator_previews_saves_and_resets_a_template_and_bad_ones_are_refused(services):
    adam = WebUser(services, "adam")
    listing = adam.get("/admin/email-templates").get_data(as_text=True)
    assert "Customer: assistance request fulfilled" in listing and "Staff: a task assigned to you" in listing
    page = adam.get(EDIT).get_data(as_text=True)
    assert "Preview (sample data)" in page and "Dear Ann Example," in page and "customer_name" in page
    assert html.escape('&lt;offline&gt;', quote=True) in page  # the sample title, escaped in the HTML preview

    default = DEFAULTS["customer_fulfilled"]
    edited = {"subject": "Done: {{ case_number }}", "text": "Hi {{ customer_name }}\n{{ message }}",
              "html": "<p>Hi {{ customer_name }}</p>"}
    preview = adam.post(EDIT, {**edited, "action": "preview"})
    assert preview.status_code == 200 and "Done: CS-10023" in preview.get_data(as_text=True)
    assert _stored(services) == []  # a preview saves nothing

    for bad, message in (({"text": "Hi {{ customer_name "}, "syntax error on line 1"),
                         ({"subject": "{{ customr_name }}"}, "unknown variable customr_name"),
                         ({"html": "{{ ''.__class__.__mro__ }}"}, "SecurityError")):
        refused = adam.post(EDIT, {**edited, **bad, "action": "save"})
        assert refused.status_code == 422, bad
        assert message in html.unescape(refused.get_data(as_text=True)), bad
        assert _stored(services) == []

    assert adam.post(EDIT, {**edited, "action": "save"}).status_code == 302
    [row] = _stored(services)
    assert (row.subject, row.text_body, row.updated_by) == (edited["subject"], edited["text"], "adam")
    assert "changed by adam" in adam.get("/admin/email-templates").get_data(as_text=True)
    assert WebUser(services, "maria").get(EDIT).status_code == 403

    assert adam.post(f"{EDIT}/reset").status_code == 302
    assert _stored(services) == []
    assert html.escape(default.subject) in adam.get(EDIT).get_data(as_text=True)
    [saved] = _audited(services, "email_template_saved")
    [reset] = _audited(services, "email_template_reset")
    assert saved["before"]["subject"] == default.subject and saved["after"]["subject"] == edited["subject"]
    assert reset["before"]["subject"] == edited["subject"] and reset["after"]["subject"] == default.subject
    assert adam.get("/admin/email-templates/no_such_template").status_code == 404
