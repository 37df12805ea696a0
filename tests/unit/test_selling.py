"""The one rule whether a sale fits (domain.selling), as every way of selling applies it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from stockline.domain.errors import InsufficientStock, LocationClosed, ShortLine
from stockline.domain.model import Level
from stockline.domain.selling import take_for_sale
from stockline.domain.values import LocationStatus

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def level(sku: str, on_hand: int, reserved: int = 0) -> Level:
    return Level(location_id="S-1", sku=sku, on_hand=on_hand, reserved=reserved, version=4)


def test_a_sale_that_fits_takes_every_line_in_sku_order() -> None:
    taken = take_for_sale("S-1", LocationStatus.ACTIVE, {"B": 2, "A": 1},
                          {"A": level("A", 1), "B": level("B", 5, reserved=3)}, NOW)
    assert [(lv.sku, lv.on_hand, lv.reserved, lv.version, q) for lv, q in taken] == [
        ("A", 0, 0, 5, 1), ("B", 3, 3, 5, 2)]


def test_held_units_are_not_for_sale_and_every_short_line_is_named() -> None:
    with pytest.raises(InsufficientStock) as refused:
        take_for_sale("S-1", LocationStatus.ACTIVE, {"A": 2, "B": 1, "C": 1},
                      {"A": level("A", 3, reserved=2), "B": level("B", 1), "C": None}, NOW)
    assert refused.value.lines == (ShortLine("A", 2, 1), ShortLine("C", 1, 0))


def test_a_closed_location_sells_nothing_whatever_its_stock() -> None:
    for stock in (10, 0):
        with pytest.raises(LocationClosed):
            take_for_sale("S-1", LocationStatus.CLOSED, {"A": 1}, {"A": level("A", stock)},
                          NOW)
