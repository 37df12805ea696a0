"""The whole local days and months of a report's window, which the rollup answers."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from stockline.adapters.queries.report_rollup import Slots, Unit, full_slots


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_a_utc_window_on_midnights_is_whole_days() -> None:
    assert full_slots(None, Unit.DAY, _at("2026-01-01"), _at("2026-01-03")) == Slots(
        date(2026, 1, 1), date(2026, 1, 3), _at("2026-01-01"), _at("2026-01-03"))


def test_the_partial_local_days_at_the_edges_are_left_out() -> None:
    paris = ZoneInfo("Europe/Paris")  # UTC+1 in winter, +2 from 29 March 2026
    found = full_slots(paris, Unit.DAY, _at("2026-03-27 12:00"), _at("2026-03-31 12:00"))
    assert found == Slots(date(2026, 3, 28), date(2026, 3, 31), _at("2026-03-27 23:00"),
                          _at("2026-03-30 22:00"))


def test_whole_local_months_in_quarter_hour_zones() -> None:
    kathmandu = ZoneInfo("Asia/Kathmandu")  # UTC+5:45
    found = full_slots(kathmandu, Unit.MONTH, _at("2026-01-01"), _at("2026-04-01"))
    assert found == Slots("2026-02", "2026-04", _at("2026-01-31 18:15"),
                          _at("2026-03-31 18:15"))


def test_a_window_shorter_than_a_whole_slot_has_none() -> None:
    new_york = ZoneInfo("America/New_York")
    assert full_slots(new_york, Unit.DAY, _at("2026-01-01"), _at("2026-01-02 04:59")) is None
    assert full_slots(None, Unit.MONTH, _at("2026-01-02"), _at("2026-03-01")) == Slots(
        "2026-02", "2026-03", _at("2026-02-01"), _at("2026-03-01"))
    assert full_slots(None, Unit.MONTH, _at("2026-01-02"), _at("2026-02-28")) is None


def test_thirds_of_a_utc_month() -> None:
    assert full_slots(None, Unit.THIRD, _at("2026-01-05 06:00"), _at("2026-03-02")) == Slots(
        "2026-01-2", "2026-03-1", _at("2026-01-11"), _at("2026-03-01"))
    assert full_slots(None, Unit.THIRD, _at("2026-02-21"), _at("2026-03-11")) == Slots(
        "2026-02-3", "2026-03-2", _at("2026-02-21"), _at("2026-03-11"))
    assert full_slots(None, Unit.THIRD, _at("2026-02-22"), _at("2026-03-10")) is None
