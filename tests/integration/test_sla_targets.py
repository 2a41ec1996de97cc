"""SLA due dates of new requests come from the target table and the holiday table, both seeded by `rf init`."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from app.domain.business_calendar import CHICAGO, oklahoma_holidays
from app.services.admin import auth, setup
from app.services.admin import calendar as calendar_admin
from app.store.models import AuditEvent, Holiday, HolidayYear, ServiceRequest, SlaTarget
from tests.driver import Driver


def ct(*args: int) -> datetime:
    return datetime(*args, tzinfo=CHICAGO)


def due_of(services, number: str) -> datetime:
    with services.uow() as uow:
        request = uow.session.scalars(select(ServiceRequest).where(ServiceRequest.number == number)).one()
        return request.sla_due_at


def test_seed_loads_the_clock_years_once_and_the_default_targets(services, clock):
    with services.uow() as uow:
        s = uow.session
        assert [(h.day, h.name, h.source) for h in s.scalars(select(Holiday).order_by(Holiday.day))] == [
            (h.day, h.name, "statute") for y in (2026, 2027) for h in oklahoma_holidays(y)]
        assert sorted(s.scalars(select(HolidayYear.year))) == [2026, 2027]
        targets = {(t.request_type, t.priority): (t.amount, t.unit) for t in s.scalars(select(SlaTarget))}
        [seeded] = [e.payload for e in s.scalars(select(AuditEvent)) if e.event_type == "reference_data_seeded"]
    assert targets == {
        ("assistance", "critical"): (4, "business_hours"), ("assistance", "high"): (1, "business_days"),
        ("assistance", "medium"): (3, "business_days"), ("assistance", "low"): (5, "business_days"),
        ("enhancement", "critical"): (20, "business_days"), ("enhancement", "high"): (30, "business_days"),
        ("enhancement", "medium"): (40, "business_days"), ("enhancement", "low"): (40, "business_days")}
    assert seeded["holiday_years_loaded"] == [2026, 2027] and seeded["holidays_added"] == 23

    adam = auth.load_identity(services, "adam")
    with services.uow() as uow:
        christmas_eve = uow.session.scalars(select(Holiday.id).where(Holiday.day == date(2026, 12, 24))).one()
    calendar_admin.remove_holiday(services, adam, christmas_eve)
    assert setup.seed(services, demo=True) == {"roles_added": 0, "demo_users_added": 0, "holidays_added": 0,
                                               "holiday_years_loaded": [], "sla_targets_added": 0}
    with services.uow() as uow:  # a removed holiday stays removed
        assert uow.session.scalars(select(Holiday).where(Holiday.day == date(2026, 12, 24))).first() is None

    clock.set(datetime(2027, 3, 1, 12, tzinfo=UTC))  # a year later the next year is added
    assert setup.seed(services, demo=False)["holiday_years_loaded"] == [2028]


def test_new_requests_are_due_on_the_business_calendar(services, clock):
    drive = Driver(services, clock)  # the clock: Tuesday, December 1, 2026, 09:00 in Oklahoma
    critical = drive.new("assistance", priority="critical")
    assert due_of(services, critical) == ct(2026, 12, 1, 13)
    drive.work()  # the CRM case is taken; the first task's due date is the request's
    assert drive.open_task(critical, "assign_specialist").due_at == ct(2026, 12, 1, 13)
    assert due_of(services, drive.new("assistance", priority="high")) == ct(2026, 12, 2, 9)
    assert due_of(services, drive.new("assistance", priority="low")) == ct(2026, 12, 8, 9)
    # 40 business days skip December 24 and 25, January 1 and Martin Luther King Day (January 18)
    assert due_of(services, drive.new("enhancement", priority="medium", provider_group="apps")) == ct(2027, 2, 1, 9)
    explicit = drive.new("assistance", priority="critical", sla_due_at="2026-12-24T10:00:00-06:00")
    assert due_of(services, explicit) == ct(2026, 12, 24, 10)  # the request's own due date wins

    clock.set(ct(2026, 12, 23, 16))  # Wednesday 16:00; Thursday and Friday are Christmas holidays
    assert due_of(services, drive.new("assistance", priority="critical")) == ct(2026, 12, 28, 11)
    clock.set(ct(2026, 12, 5, 10))  # a Saturday: the clock starts Monday 08:00
    assert due_of(services, drive.new("assistance", priority="critical")) == ct(2026, 12, 7, 12)


def test_changed_targets_and_holidays_apply_to_requests_logged_afterwards(services, clock):
    drive = Driver(services, clock)
    before = drive.new("assistance", priority="critical")
    adam = auth.load_identity(services, "adam")
    changes = calendar_admin.set_targets(services, adam, {
        "amount-assistance-critical": "2", "unit-assistance-critical": "business_days",
        "amount-assistance-high": "1", "unit-assistance-high": "business_days",  # unchanged
        "amount-enhancement-low": "60", "unit-enhancement-low": "calendar_days"})
    assert changes == [
        {"request_type": "assistance", "priority": "critical", "before": "4 business hours",
         "after": "2 business days"},
        {"request_type": "enhancement", "priority": "low", "before": "40 business days",
         "after": "60 calendar days"}]
    calendar_admin.add_holiday(services, adam, "2026-12-02", "Ice storm closure")
    after = drive.new("assistance", priority="critical")
    assert due_of(services, before) == ct(2026, 12, 1, 13)  # unchanged
    # Tue 09-17 (8h), Wednesday closed, Thursday (9h), Friday 08-09 (1h)
    assert due_of(services, after) == ct(2026, 12, 4, 9)
    low = drive.new("enhancement", priority="low", provider_group="apps")
    assert due_of(services, low) == clock.now() + timedelta(days=60)
    with services.uow() as uow:
        kinds = [(e.actor, e.event_type) for e in uow.session.scalars(select(AuditEvent))]
    assert kinds.count(("adam", "sla_target_changed")) == 2 and ("adam", "holiday_added") in kinds


def test_a_missing_target_row_falls_back_to_the_default(services, clock):
    with services.uow() as uow:
        uow.session.delete(uow.session.scalars(select(SlaTarget).where(SlaTarget.request_type == "assistance",
                                                                       SlaTarget.priority == "critical")).one())
        uow.commit()
    assert due_of(services, Driver(services, clock).new("assistance", priority="critical")) == ct(2026, 12, 1, 13)
