"""Local calendars: time zone names, and a zone's offsets over a window as spans."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from stockline.domain.calendar import (
    OffsetSpan,
    month_of,
    offset_spans,
    stored_zone,
    time_zone,
    week_of,
)
from stockline.domain.errors import InvalidInput
from stockline.domain.values import amount_text

YEAR = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))


def test_new_york_changes_its_offset_twice_a_year_at_the_exact_second() -> None:
    spans = offset_spans(ZoneInfo("America/New_York"), *YEAR)
    assert spans == [OffsetSpan(datetime(2026, 3, 8, 7, tzinfo=UTC), -5 * 3600),
                     OffsetSpan(datetime(2026, 11, 1, 6, tzinfo=UTC), -4 * 3600),
                     OffsetSpan(None, -5 * 3600)]


def test_a_zone_without_daylight_saving_is_one_span_even_at_half_hours() -> None:
    assert offset_spans(ZoneInfo("Asia/Kolkata"), *YEAR) == [OffsetSpan(None, 19_800)]
    assert offset_spans(ZoneInfo("Asia/Kathmandu"), *YEAR) == [OffsetSpan(None, 20_700)]


def test_half_hour_daylight_saving_is_found_too() -> None:
    spans = offset_spans(ZoneInfo("Australia/Lord_Howe"), *YEAR)
    assert [s.seconds for s in spans] == [39_600, 37_800, 39_600]
    for span in spans[:-1]:
        assert span.until is not None
        zone = ZoneInfo("Australia/Lord_Howe")
        before = (span.until - timedelta(seconds=1)).astimezone(zone).utcoffset()
        assert before == timedelta(seconds=span.seconds)
        assert span.until.astimezone(zone).utcoffset() != before


def test_every_span_agrees_with_zoneinfo_hour_by_hour() -> None:
    zone = ZoneInfo("Europe/Paris")
    spans = offset_spans(zone, *YEAR)
    at = YEAR[0]
    while at < YEAR[1]:
        span = next(s for s in spans if s.until is None or at < s.until)
        assert timedelta(seconds=span.seconds) == at.astimezone(zone).utcoffset(), at
        at += timedelta(minutes=37)


@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "Europe/Pariss", "../etc/passwd",
                                  "", "Europe//Paris", "a" * 65, "/UTC"])
def test_a_name_that_is_no_zone_is_invalid_input(name: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        time_zone(name)
    assert refused.value.field == "time_zone"


def test_known_zones_and_none() -> None:
    assert time_zone(None) is None
    assert time_zone("UTC") == ZoneInfo("UTC")
    assert time_zone("America/Argentina/Buenos_Aires") is not None
    assert time_zone("Etc/GMT+5") is not None


def test_weeks_are_named_by_their_monday_and_months_by_year_and_month() -> None:
    assert week_of(date(2026, 11, 29)) == date(2026, 11, 23)  # a Sunday
    assert week_of(date(2026, 11, 30)) == date(2026, 11, 30)  # a Monday
    assert week_of(date(2027, 1, 1)) == date(2026, 12, 28)  # ISO week 53 of 2026
    assert month_of(date(2026, 3, 9)) == "2026-03"


def test_report_amounts_take_any_sign_and_size() -> None:
    assert amount_text(-55_000) == "-5.50"
    assert amount_text(12_345) == "1.2345"
    assert amount_text(10**17) == "10000000000000.00"
    assert amount_text(0) == "0.00"


def test_a_stored_zone_the_database_no_longer_knows_is_utc_days() -> None:
    assert stored_zone("Mars/Olympus_Mons") is None
    assert stored_zone(None) is None
    assert stored_zone("Europe/Paris") == ZoneInfo("Europe/Paris")
