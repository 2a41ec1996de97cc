"""The business calendar and SLA targets through /api/v1 with an administrator's bearer token: read the calendar,
add and remove a holiday (the SLA calendar changes), load a year, import an ICS file, read and set the SLA targets;
every change audited naming the token; everyone else refused with nothing changed; bad input a 422 problem."""

from __future__ import annotations

import io
from datetime import date, timedelta

from sqlalchemy import func, select

from app.services.requests import sla_targets as sla
from app.store.models import Holiday
from tests.api.token_client import ApiUser, assert_documented, events, is_problem
from tests.conftest import START, day

WRITES = ("holiday_added", "holiday_removed", "holidays_loaded", "holidays_imported", "sla_target_changed")


def ics(*events_: str) -> bytes:
    body = "".join(f"BEGIN:VEVENT\r\nUID:{i}@test\r\nDTSTAMP:20261201T000000Z\r\n{e}END:VEVENT\r\n"
                   for i, e in enumerate(events_))
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{body}END:VCALENDAR\r\n".encode()


def all_day(day_: date, summary: str) -> str:
    return f"DTSTART;VALUE=DATE:{day_:%Y%m%d}\r\nSUMMARY:{summary}\r\n"


def holiday_count(services) -> int:
    with services.uow() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(Holiday)) or 0)


def is_working_day(services, day_: str) -> bool:
    with services.uow() as uow:
        return sla.load_calendar(uow.session).is_working_day(date.fromisoformat(day_))


def upload(user: ApiUser, content: bytes, filename: str = "holidays.ics"):
    return user.post("/api/v1/admin/calendar/import", data={"ics": (io.BytesIO(content), filename)},
                     content_type="multipart/form-data")


def test_the_calendar_operations_are_documented(services):
    assert_documented(services, "/api/v1/admin/", {
        ("get", "/api/v1/admin/calendar"), ("post", "/api/v1/admin/calendar/holidays"),
        ("delete", "/api/v1/admin/calendar/holidays/{holiday_id}"), ("post", "/api/v1/admin/calendar/years"),
        ("post", "/api/v1/admin/calendar/import"), ("get", "/api/v1/admin/sla-targets"),
        ("patch", "/api/v1/admin/sla-targets")})


def test_an_administrator_reads_the_calendar_of_a_year(services):
    adam = ApiUser(services, "adam")
    got = adam.get("/api/v1/admin/calendar")
    assert got.status_code == 200
    data = got.get_json()
    assert data["time_zone"] == "America/Chicago" and (data["day_start"], data["day_end"]) == ("08:00", "17:00")
    assert data["working_days"] == ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
    assert data["year"] == START.year and data["loaded_years"] == [START.year, START.year + 1]
    assert data["missing_years"] == []
    names = {h["name"] for h in data["holidays"]}
    assert "Christmas Day" in names and all(h["day"].startswith(str(START.year)) for h in data["holidays"])
    assert all(h["source"] == "statute" for h in data["holidays"])
    assert adam.get("/api/v1/admin/calendar", {"year": 2050}).get_json()["holidays"] == []


def test_adding_and_removing_a_holiday_changes_the_calendar_and_is_audited(services):
    adam = ApiUser(services, "adam")
    ice_storm = day(1)
    assert is_working_day(services, ice_storm)
    added = adam.post("/api/v1/admin/calendar/holidays", {"day": ice_storm, "name": "Ice storm closure"})
    assert added.status_code == 201, added.get_json()
    holiday = added.get_json()
    assert holiday["day"] == ice_storm and holiday["source"] == "manual" and holiday["id"] > 0
    assert not is_working_day(services, ice_storm)
    listed = adam.get("/api/v1/admin/calendar", {"year": int(ice_storm[:4])}).get_json()["holidays"]
    assert {"id": holiday["id"], "day": ice_storm, "name": "Ice storm closure", "source": "manual",
            "weekday": date.fromisoformat(ice_storm).strftime("%A"), "created_by": "adam"} in listed
    assert is_problem(adam.post("/api/v1/admin/calendar/holidays", {"day": ice_storm, "name": "Again"}), 409)
    [event] = events(services, "holiday_added")
    assert event.actor == "adam" and event.payload["day"] == ice_storm and event.payload["via"] == adam.via

    removed = adam.delete(f"/api/v1/admin/calendar/holidays/{holiday['id']}")
    assert removed.status_code == 200 and removed.get_json()["day"] == ice_storm
    assert is_working_day(services, ice_storm)
    [event] = events(services, "holiday_removed")
    assert event.payload["via"] == adam.via
    assert is_problem(adam.delete(f"/api/v1/admin/calendar/holidays/{holiday['id']}"), 404)


def test_an_idempotency_key_adds_a_holiday_once(services):
    adam = ApiUser(services, "adam")
    body, key = {"day": day(1), "name": "Ice storm closure"}, {"Idempotency-Key": "ice-storm-1"}
    first = adam.post("/api/v1/admin/calendar/holidays", body, headers=key)
    again = adam.post("/api/v1/admin/calendar/holidays", body, headers=key)
    assert first.status_code == again.status_code == 201 and first.get_json() == again.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    other = adam.post("/api/v1/admin/calendar/holidays", {**body, "name": "Another"}, headers=key)
    assert is_problem(other, 422) and other.get_json()["errors"][0]["field"] == "Idempotency-Key"
    assert len(events(services, "holiday_added")) == 1


def test_loading_a_year_and_importing_an_ics_file(services):
    adam = ApiUser(services, "adam")
    year = START.year + 3
    loaded = adam.post("/api/v1/admin/calendar/years", {"year": year})
    assert loaded.status_code == 201 and loaded.get_json()["year"] == year and loaded.get_json()["added"] >= 10
    assert is_problem(adam.post("/api/v1/admin/calendar/years", {"year": year}), 409)
    assert adam.get("/api/v1/admin/calendar", {"year": year}).get_json()["holidays"]
    [event] = events(services, "holidays_loaded")
    assert event.payload["year"] == year and event.payload["via"] == adam.via

    before = holiday_count(services)
    refused = upload(adam, ics(all_day(date(year + 1, 6, 1), "Good"),
                               "DTSTART;VALUE=DATE:20280704\r\nRRULE:FREQ=YEARLY\r\nSUMMARY:Every July 4\r\n"))
    assert is_problem(refused, 422) and "repeats" in refused.get_json()["errors"][0]["message"]
    assert is_problem(upload(adam, b"not a calendar"), 422)
    assert holiday_count(services) == before and events(services, "holidays_imported") == []

    monday = date(year + 1, 6, 5) - timedelta(days=date(year + 1, 6, 5).weekday())
    done = upload(adam, ics(all_day(monday, "Storm day"), all_day(monday + timedelta(days=5), "A Saturday")))
    assert done.status_code == 201, done.get_json()
    assert done.get_json() == {"added": [{"day": monday.isoformat(), "name": "Storm day"}], "already_present": [],
                               "weekend_skipped": [(monday + timedelta(days=5)).isoformat()],
                               "cancelled_skipped": 0}
    assert holiday_count(services) == before + 1 and not is_working_day(services, monday.isoformat())
    [event] = events(services, "holidays_imported")
    assert event.payload["file"] == "holidays.ics" and event.payload["via"] == adam.via


def test_reading_and_setting_the_sla_targets(services):
    adam = ApiUser(services, "adam")
    targets = adam.get("/api/v1/admin/sla-targets").get_json()["targets"]
    assert len(targets) == 8
    high = next(t for t in targets if (t["request_type"], t["priority"]) == ("assistance", "high"))
    assert (high["amount"], high["unit"], high["text"]) == (1, "business_days", "1 business day")

    refused = adam.patch("/api/v1/admin/sla-targets", {"targets": [
        {"request_type": "assistance", "priority": "high", "amount": 300, "unit": "business_days"}]})
    assert is_problem(refused, 422) and refused.get_json()["errors"][0]["field"] == "amount-assistance-high"
    twice = {"request_type": "assistance", "priority": "low", "amount": 2, "unit": "business_days"}
    assert is_problem(adam.patch("/api/v1/admin/sla-targets", {"targets": [twice, twice]}), 422)
    assert is_problem(adam.patch("/api/v1/admin/sla-targets", {"targets": []}), 422)
    assert events(services, "sla_target_changed") == []

    done = adam.patch("/api/v1/admin/sla-targets", {"targets": [
        {"request_type": "assistance", "priority": "high", "amount": 12, "unit": "business_hours"},
        {"request_type": "enhancement", "priority": "low", "amount": 40, "unit": "business_days"}]})
    assert done.status_code == 200, done.get_json()
    assert done.get_json() == {"changes": [{"request_type": "assistance", "priority": "high",
                                            "before": "1 business day", "after": "12 business hours"}]}
    high = next(t for t in adam.get("/api/v1/admin/sla-targets").get_json()["targets"]
                if (t["request_type"], t["priority"]) == ("assistance", "high"))
    assert (high["amount"], high["unit"], high["updated_by"]) == (12, "business_hours", "adam")
    [event] = events(services, "sla_target_changed")
    assert event.payload["after"] == "12 business hours" and event.payload["via"] == adam.via


def test_only_administrators_and_nothing_changes_for_the_others(services):
    before = holiday_count(services)
    with services.uow() as uow:
        some_holiday = uow.session.scalars(select(Holiday.id)).first()
    for who in ("maria", "audrey", "olive", "carla", "sam"):
        user = ApiUser(services, who)
        assert is_problem(user.get("/api/v1/admin/calendar"), 403), who
        assert is_problem(user.get("/api/v1/admin/sla-targets"), 403), who
        assert is_problem(user.post("/api/v1/admin/calendar/holidays", {"day": day(1), "name": "Mine"}), 403), who
        assert is_problem(user.delete(f"/api/v1/admin/calendar/holidays/{some_holiday}"), 403), who
        assert is_problem(user.post("/api/v1/admin/calendar/years", {"year": START.year + 3}), 403), who
        assert is_problem(upload(user, ics(all_day(date(START.year + 4, 6, 1), "Mine"))), 403), who
        assert is_problem(user.patch("/api/v1/admin/sla-targets", {"targets": [
            {"request_type": "assistance", "priority": "high", "amount": 2, "unit": "business_hours"}]}), 403), who
    assert holiday_count(services) == before
    for kind in WRITES:
        assert events(services, kind) == [], kind


def test_junk_input_is_a_422_problem_never_a_500(services):
    adam = ApiUser(services, "adam")
    before = holiday_count(services)
    for query in ({"year": 1999}, {"year": 2101}, {"year": "soon"}):
        assert is_problem(adam.get("/api/v1/admin/calendar", query), 422), query
    saturday = date.fromisoformat(day(0)) + timedelta(days=(5 - date.fromisoformat(day(0)).weekday()) % 7)
    for body in ({"day": "2027-02-30", "name": "Nope"}, {"day": day(1), "name": "x"}, {"day": day(1)},
                 {"day": day(1), "name": "n" * 201}, {"day": saturday.isoformat(), "name": "A Saturday"},
                 {"day": "1999-12-31", "name": "Too early"}, None, []):
        assert is_problem(adam.post("/api/v1/admin/calendar/holidays", body), 422), body
    for body in ({"year": 1999}, {"year": "next"}, {}):
        assert is_problem(adam.post("/api/v1/admin/calendar/years", body), 422), body
    for path in ("abc", "0", "99999999999"):
        assert is_problem(adam.delete(f"/api/v1/admin/calendar/holidays/{path}"), 422), path
    assert is_problem(adam.post("/api/v1/admin/calendar/import", data={}, content_type="multipart/form-data"), 422)
    for target in ({"request_type": "incident", "priority": "high", "amount": 1, "unit": "business_days"},
                   {"request_type": "assistance", "priority": "high", "amount": 0, "unit": "business_days"},
                   {"request_type": "assistance", "priority": "high", "amount": 1, "unit": "weeks"}):
        assert is_problem(adam.patch("/api/v1/admin/sla-targets", {"targets": [target]}), 422), target
    assert holiday_count(services) == before
    for kind in WRITES:
        assert events(services, kind) == [], kind
