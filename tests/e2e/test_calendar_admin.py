"""Administrators keep the holiday table and the SLA targets in the browser; every change is audited; a bad calendar
file is refused whole with a message; nobody else may."""

from __future__ import annotations

import io
from datetime import date

from sqlalchemy import func, select

from app.services.admin.calendar import ICS_MAX_BYTES
from app.store.models import AuditEvent, Holiday, HolidayYear, SlaTarget
from tests.web import WebUser


def holidays(services) -> dict[date, tuple[str, str]]:
    with services.uow() as uow:
        return {h.day: (h.name, h.source) for h in uow.session.scalars(select(Holiday))}


def events(services, *kinds: str) -> list[tuple[str, str, dict]]:
    with services.uow() as uow:
        return [(e.actor, e.event_type, e.payload) for e in uow.session.scalars(
            select(AuditEvent).where(AuditEvent.event_type.in_(kinds)).order_by(AuditEvent.seq))]


def ics(*events: str) -> bytes:
    body = "".join(f"BEGIN:VEVENT\r\nUID:{i}@test\r\nDTSTAMP:20261201T000000Z\r\n{e}END:VEVENT\r\n"
                   for i, e in enumerate(events))
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{body}END:VCALENDAR\r\n".encode()


def upload(user: WebUser, content: bytes, filename: str = "holidays.ics"):
    return user.post("/admin/calendar/import", {"ics": (io.BytesIO(content), filename)})


def text(page) -> str:
    return page.get_data(as_text=True)


def test_the_page_lists_holidays_and_targets_and_is_linked_from_the_admin_page(services):
    adam = WebUser(services, "adam")
    assert "/admin/calendar" in text(adam.get("/admin/users"))
    page = adam.get("/admin/calendar")
    body = text(page)
    assert page.status_code == 200
    assert "Friday, July 3" in body and "Independence Day (observed)" in body
    assert "New Year&#39;s Day 2028 (observed)" in body
    assert 'name="amount-assistance-critical"' in body and "4 business hours" in body
    assert "Tue 1 Dec 2026, 13:00 CST" in body  # a critical request logged now (09:00 Oklahoma time) is due at 13:00
    assert "No holidays are loaded" not in body


def test_add_and_remove_a_holiday(services):
    adam = WebUser(services, "adam")
    page = adam.post("/admin/calendar/holidays", {"day": "2026-12-31", "name": "  New Year's Eve  "})
    assert page.status_code == 302
    assert holidays(services)[date(2026, 12, 31)] == ("New Year's Eve", "manual")
    assert "Thursday, December 31, 2026 (New Year&#39;s Eve) is now a holiday." in text(adam.get("/admin/calendar"))

    refused = [adam.post("/admin/calendar/holidays", data) for data in (
        {"day": "2026-12-31", "name": "Twice"},              # already a holiday: 409
        {"day": "2026-12-26", "name": "Saturday"},           # a weekend: 422
        {"day": "31/12/2026", "name": "Bad date"},           # not a date: 422
        {"day": "2026-12-30", "name": ""})]                  # no name: 422
    assert [p.status_code for p in refused] == [409, 422, 422, 422]
    assert "already a holiday" in text(refused[0]) and "weekends are never working days" in text(refused[1])
    assert "is not a date" in text(refused[2]) and "give the holiday a name" in text(refused[3])
    assert date(2026, 12, 30) not in holidays(services)

    with services.uow() as uow:
        holiday_id = uow.session.scalars(select(Holiday.id).where(Holiday.day == date(2026, 12, 31))).one()
    assert adam.post(f"/admin/calendar/holidays/{holiday_id}/remove").status_code == 302
    assert date(2026, 12, 31) not in holidays(services)
    assert adam.post(f"/admin/calendar/holidays/{holiday_id}/remove").status_code == 404
    assert [(a, k, p["day"]) for a, k, p in events(services, "holiday_added", "holiday_removed")] == [
        ("adam", "holiday_added", "2026-12-31"), ("adam", "holiday_removed", "2026-12-31")]


def test_import_holidays_from_an_ics_file(services):
    adam = WebUser(services, "adam")
    content = ics("DTSTART;VALUE=DATE:20280103\r\nSUMMARY:Winter closure\r\n",
                  "DTSTART;VALUE=DATE:20281225\r\nDTEND;VALUE=DATE:20281227\r\nSUMMARY:Christmas\r\n",  # two days
                  "DTSTART;VALUE=DATE:20261225\r\nSUMMARY:Christmas Day\r\n",                         # present
                  "DTSTART;VALUE=DATE:20280101\r\nSUMMARY:New Year (a Saturday)\r\n",                 # weekend
                  "DTSTART;VALUE=DATE:20280104\r\nSTATUS:CANCELLED\r\nSUMMARY:Called off\r\n")
    page = upload(adam, content)
    assert page.status_code == 302
    shown = text(adam.get("/admin/calendar"))
    assert ("Imported 3 holidays from holidays.ics; 1 already present; 1 on a weekend skipped; "
            "1 cancelled skipped.") in shown
    found = holidays(services)
    assert found[date(2028, 1, 3)] == ("Winter closure", "ics")
    assert found[date(2028, 12, 25)] == found[date(2028, 12, 26)] == ("Christmas", "ics")
    assert found[date(2026, 12, 25)] == ("Christmas Day", "statute")  # kept as it was
    assert date(2028, 1, 1) not in found and date(2028, 1, 4) not in found
    [(actor, _, payload)] = events(services, "holidays_imported")
    assert actor == "adam" and payload["file"] == "holidays.ics"
    assert [h["day"] for h in payload["added"]] == ["2028-01-03", "2028-12-25", "2028-12-26"]


def test_a_bad_calendar_file_is_refused_whole_with_a_message(services):
    adam = WebUser(services, "adam")
    before = holidays(services)
    good = "DTSTART;VALUE=DATE:20280103\r\nSUMMARY:Winter closure\r\n"
    cases = [
        (b"this is not a calendar", "not a valid iCalendar"),
        (b"\xff\xfe\x00garbage", "not UTF-8"),
        (b"", "choose an .ics file"),
        (ics(good, "DTSTART;VALUE=DATE:2028XX25\r\nSUMMARY:Broken\r\n"), "broken VEVENT DTSTART"),
        (ics(good, "DTSTART:20281124T090000Z\r\nSUMMARY:Timed\r\n"), "only all-day events"),
        (ics(good, "DTSTART;VALUE=DATE:20280704\r\nRRULE:FREQ=YEARLY\r\nSUMMARY:Every July 4\r\n"), "repeats"),
        (ics(good, "DTSTART;VALUE=DATE:20280601\r\nDTEND;VALUE=DATE:20280901\r\nSUMMARY:Summer\r\n"), "covers 92 days"),
        (ics(good, "SUMMARY:No date\r\n"), "has no DTSTART"),
        (b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n", "no events"),
        (b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20280103\r\n", "not a valid iCalendar"),
        (ics(good) + b" " * ICS_MAX_BYTES, "larger than 256 KiB"),
    ]
    for content, message in cases:
        page = upload(adam, content, "holidays.ics" if content else "")
        body = text(page)
        assert page.status_code == 422, (message, page.status_code)
        assert "the calendar file was not imported" in body and message in body, (message, body[:2000])
    assert holidays(services) == before  # nothing half-written
    assert events(services, "holidays_imported") == []


def test_load_the_statutory_holidays_of_a_year_once(services):
    adam = WebUser(services, "adam")
    assert adam.post("/admin/calendar/years", {"year": "2028"}).status_code == 302
    assert sorted(d for d in holidays(services) if d.year == 2028) == [
        date(2028, 1, 17), date(2028, 2, 21), date(2028, 5, 29), date(2028, 7, 4), date(2028, 9, 4),
        date(2028, 11, 10), date(2028, 11, 23), date(2028, 11, 24), date(2028, 12, 25), date(2028, 12, 26)]
    again = adam.post("/admin/calendar/years", {"year": "2028"})
    assert again.status_code == 409 and "were loaded before" in text(again)
    assert adam.post("/admin/calendar/years", {"year": "1800"}).status_code == 422
    [(actor, _, payload)] = events(services, "holidays_loaded")
    assert actor == "adam" and payload["year"] == 2028 and len(payload["holidays"]) == 10


def test_a_missing_year_is_flagged(services):
    with services.uow() as uow:
        uow.session.delete(uow.session.get(HolidayYear, 2027))
        uow.commit()
    assert "No holidays are loaded for 2027" in text(WebUser(services, "adam").get("/admin/calendar"))


def test_edit_the_sla_targets(services):
    adam = WebUser(services, "adam")
    page = adam.post("/admin/calendar/targets", {"amount-assistance-critical": "6", "unit-assistance-critical":
                                                 "business_hours", "amount-assistance-low": "5",
                                                 "unit-assistance-low": "business_days"})
    assert page.status_code == 302
    assert "assistance critical: 4 business hours → 6 business hours" in text(adam.get("/admin/calendar"))
    bad = adam.post("/admin/calendar/targets", {"amount-assistance-critical": "0", "unit-assistance-critical":
                                                "business_hours", "amount-assistance-high": "two",
                                                "unit-assistance-high": "business_days",
                                                "amount-assistance-low": "1", "unit-assistance-low": "fortnights"})
    assert bad.status_code == 422
    assert all(f in text(bad) for f in ("amount-assistance-critical", "amount-assistance-high", "unit-assistance-low"))
    with services.uow() as uow:
        rows = {(t.request_type, t.priority): (t.amount, t.unit, t.updated_by)
                for t in uow.session.scalars(select(SlaTarget))}
    assert rows[("assistance", "critical")] == (6, "business_hours", "adam")
    assert rows[("assistance", "low")] == (5, "business_days", "system")
    assert [p for _, _, p in events(services, "sla_target_changed")] == [
        {"request_type": "assistance", "priority": "critical", "before": "4 business hours",
         "after": "6 business hours"}]


def test_non_admins_get_403_and_change_nothing(services):
    with services.uow() as uow:
        count = uow.session.scalar(select(func.count()).select_from(Holiday))
    for username in ("maria", "olive", "audrey", "sam"):
        user = WebUser(services, username)
        assert user.get("/admin/calendar").status_code == 403
        assert user.post("/admin/calendar/holidays", {"day": "2026-12-30", "name": "Sneaky"}).status_code == 403
        assert user.post("/admin/calendar/holidays/1/remove").status_code == 403
        assert upload(user, ics("DTSTART;VALUE=DATE:20281227\r\nSUMMARY:x\r\n")).status_code == 403
        assert user.post("/admin/calendar/years", {"year": "2029"}).status_code == 403
        assert user.post("/admin/calendar/targets", {"amount-assistance-critical": "99",
                                                     "unit-assistance-critical": "business_days"}).status_code == 403
    with services.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(Holiday)) == count
    assert events(services, "holiday_added", "holiday_removed", "holidays_imported", "holidays_loaded",
                  "sla_target_changed") == []
