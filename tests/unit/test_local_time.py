"""Times as people read them (app.domain.local_time): zones, daylight saving, dates, the installation's zone."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from app.config import Settings
from app.domain.local_time import (
    DEFAULT_ZONE,
    UnknownTimeZone,
    business_start,
    calendar_date,
    instant,
    iso_utc,
    local_wall_time,
    moment,
    zone,
)

CENTRAL = zone("America/Chicago")


def test_a_moment_reads_as_people_write_it_in_the_readers_zone_without_seconds():
    at = datetime(2026, 12, 3, 17, 7, 41, 123456, tzinfo=UTC)
    assert moment(at, CENTRAL) == "Thu 3 Dec 2026, 11:07 CST"
    assert moment(at, zone("Europe/Berlin")) == "Thu 3 Dec 2026, 18:07 CET"
    assert moment(at, zone("Asia/Kolkata")) == "Thu 3 Dec 2026, 22:37 IST"
    assert moment(at, CENTRAL, year=False) == "Thu 3 Dec, 11:07 CST"
    assert moment(None, CENTRAL) == "" and moment("", CENTRAL) == ""


def test_daylight_saving_time_shows_in_the_hour_and_the_abbreviation():
    assert moment(datetime(2026, 7, 3, 17, 7, tzinfo=UTC), CENTRAL) == "Fri 3 Jul 2026, 12:07 CDT"
    assert moment(datetime(2027, 3, 14, 7, 59, tzinfo=UTC), CENTRAL) == "Sun 14 Mar 2027, 01:59 CST"
    assert moment(datetime(2027, 3, 14, 8, 0, tzinfo=UTC), CENTRAL) == "Sun 14 Mar 2027, 03:00 CDT"
    assert moment(datetime(2026, 11, 1, 6, 30, tzinfo=UTC), CENTRAL) == "Sun 1 Nov 2026, 01:30 CDT"
    assert moment(datetime(2026, 11, 1, 7, 30, tzinfo=UTC), CENTRAL) == "Sun 1 Nov 2026, 01:30 CST"


def test_a_stored_time_without_an_offset_is_utc_and_iso_strings_are_read_too():
    naive = datetime(2026, 12, 3, 17, 7)
    assert instant(naive) == datetime(2026, 12, 3, 17, 7, tzinfo=UTC)
    assert moment(naive, CENTRAL) == moment("2026-12-03T17:07:00+00:00", CENTRAL) == "Thu 3 Dec 2026, 11:07 CST"
    assert moment("2026-12-03T12:07:00-05:00", CENTRAL) == "Thu 3 Dec 2026, 11:07 CST"


def test_machines_get_the_exact_instant_in_utc():
    assert iso_utc(datetime(2026, 12, 3, 11, 7, 41, 999, tzinfo=CENTRAL)) == "2026-12-03T17:07:41Z"
    assert iso_utc("2026-12-03T17:07:00+00:00") == "2026-12-03T17:07:00Z" and iso_utc(None) == ""


def test_a_date_stays_its_date_and_an_instant_becomes_the_local_date():
    assert calendar_date(date(2026, 12, 3)) == calendar_date("2026-12-03") == "3 Dec 2026"
    late_evening = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)  # 21:00 on the 3rd in Oklahoma
    assert calendar_date(late_evening, CENTRAL) == "3 Dec 2026"
    with pytest.raises(ValueError):
        calendar_date(late_evening)


def test_a_named_date_starts_at_the_local_business_start_across_daylight_saving_changes():
    assert business_start(date(2026, 12, 10), CENTRAL) == datetime(2026, 12, 10, 14, 0, tzinfo=UTC)
    assert business_start(date(2027, 3, 15), CENTRAL) == datetime(2027, 3, 15, 13, 0, tzinfo=UTC)
    assert business_start(date(2027, 3, 14), CENTRAL) == datetime(2027, 3, 14, 13, 0, tzinfo=UTC)  # the change day
    assert business_start(date(2026, 11, 2), CENTRAL) == datetime(2026, 11, 2, 14, 0, tzinfo=UTC)


def test_a_wall_clock_time_in_a_spring_forward_gap_moves_on_and_a_repeated_one_is_its_first_pass():
    assert local_wall_time(datetime(2027, 3, 14, 2, 30), CENTRAL) == datetime(2027, 3, 14, 8, 30, tzinfo=UTC)
    assert local_wall_time(datetime(2026, 11, 1, 1, 30), CENTRAL) == datetime(2026, 11, 1, 6, 30, tzinfo=UTC)


@pytest.mark.parametrize("bad", ["Mars/Olympus", "", "  ", "../etc/passwd", "/usr/share/zoneinfo/UTC",
                                 "America/Chicago/..", "x" * 200, "America/Chicago\x00", "localtime"])
def test_an_unknown_zone_is_refused_with_what_a_zone_looks_like(bad):
    with pytest.raises(UnknownTimeZone, match="is not an IANA time zone name such as America/Chicago"):
        zone(bad)


def test_the_installation_zone_defaults_to_oklahomas_and_an_unknown_one_stops_the_start():
    assert Settings.from_env({}).time_zone == DEFAULT_ZONE == "America/Chicago"
    assert Settings.from_env({"RF_TIME_ZONE": " Europe/Berlin "}).time_zone == "Europe/Berlin"
    with pytest.raises(ValueError, match="RF_TIME_ZONE: 'Central' is not an IANA time zone name"):
        Settings.from_env({"RF_TIME_ZONE": "Central"})
