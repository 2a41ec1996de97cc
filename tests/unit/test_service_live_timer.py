"""The service-live timer names a date: it fires at that date's business start (08:00) in the installation's zone,
not at midnight UTC (18:00 Central the evening before), through daylight saving changes and in another zone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from app import engine
from app.domain.local_time import DEFAULT_ZONE
from app.engine.spiff_patches import configure_timer_zone
from app.engine.spiff_patches import timer_zone as configured_zone
from tests.unit.test_engine import NOW, START_DATA, run_services, spec_json, step  # noqa: F401 - spec_json: fixture


@pytest.fixture
def zone_back() -> Iterator[None]:
    before = configured_zone().key
    yield
    configure_timer_zone(before)


def waiting_for_service_live(spec: str, live_date: str) -> engine.InstanceState:
    state = engine.start(spec, START_DATA, NOW)
    state = run_services(spec, step(spec, state, "draw_up_work_plan", {
        "work_plan": "x", "estimated_hours": 1, "planned_start": "2026-12-02", "planned_finish": "2026-12-03"}))
    state = step(spec, state, "fulfil_enhancement_request", {"fulfilment_notes": "n", "hours_spent": 1})
    state = step(spec, state, "test_solution", {"test_result": "pass", "test_notes": "ok"})
    state = run_services(spec, step(spec, state, "determine_chargeability", {
        "chargeable": True, "billable_hours": 2, "hourly_rate": 80, "billing_code": "PS-1"}))
    return step(spec, state, "initiate_billing", {"service_live_date": live_date, "billing_notes": ""})


def test_a_live_date_fires_at_eight_in_the_morning_central_and_not_a_moment_earlier(spec_json):  # noqa: F811
    state = waiting_for_service_live(spec_json, "2026-12-10")
    eight_central = datetime(2026, 12, 10, 14, 0, tzinfo=UTC)  # 08:00 CST
    assert state.next_timer_at == eight_central
    for too_early in (datetime(2026, 12, 10, 0, 5, tzinfo=UTC), eight_central - timedelta(minutes=1)):
        still = engine.fire_due_timers(spec_json, state.state_json, too_early)
        assert still.fired_timers == [] and still.next_timer_at == eight_central
    fired = engine.fire_due_timers(spec_json, state.state_json, eight_central + timedelta(seconds=1))
    assert fired.fired_timers == ["wait_until_service_live"]
    assert [c.bpmn_id for c in fired.service_calls] == ["request_asd_update"]


@pytest.mark.parametrize(("live_date", "due_utc"), [
    ("2027-03-12", datetime(2027, 3, 12, 14, 0, tzinfo=UTC)),  # the Friday before spring forward: CST, UTC-6
    ("2027-03-15", datetime(2027, 3, 15, 13, 0, tzinfo=UTC)),  # the Monday after: CDT, UTC-5
    ("2027-11-05", datetime(2027, 11, 5, 13, 0, tzinfo=UTC)),  # the Friday before fall back: CDT
    ("2027-11-08", datetime(2027, 11, 8, 14, 0, tzinfo=UTC)),  # the Monday after: CST
])
def test_the_business_start_stays_at_eight_local_across_daylight_saving_changes(spec_json, live_date,  # noqa: F811
                                                                                   due_utc):
    assert waiting_for_service_live(spec_json, live_date).next_timer_at == due_utc


def test_the_installation_zone_decides_where_eight_in_the_morning_is(spec_json, zone_back):  # noqa: F811
    configure_timer_zone("Europe/Berlin")
    assert waiting_for_service_live(spec_json, "2026-12-10").next_timer_at == datetime(2026, 12, 10, 7, 0, tzinfo=UTC)
    configure_timer_zone(DEFAULT_ZONE)
    assert waiting_for_service_live(spec_json, "2026-12-10").next_timer_at == datetime(2026, 12, 10, 14, 0, tzinfo=UTC)


def test_a_waiting_timer_keeps_the_instant_it_computed_when_the_zone_changes_later(spec_json, zone_back):  # noqa: F811
    state = waiting_for_service_live(spec_json, "2026-12-10")
    configure_timer_zone("Asia/Tokyo")
    assert engine.inspect(spec_json, state.state_json).next_timer_at == datetime(2026, 12, 10, 14, 0, tzinfo=UTC)
