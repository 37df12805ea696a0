"""Replenishment rules: which levels need stock, how much, and from where (pure domain)."""

from __future__ import annotations

from typing import Any

import pytest

from stockline.domain.documents import SuggestionSource
from stockline.domain.model import Level
from stockline.domain.replenishment import (
    Offer,
    best_donor,
    best_offer,
    choose_source,
    on_order,
    order_quantity,
    suggest,
    surplus,
)
from stockline.domain.values import Money

SKU = "SKU-A"


def level(location_id: str = "STORE", sku: str = SKU, *, on_hand: int = 0, reserved: int = 0,
          **fields: Any) -> Level:
    return Level(location_id=location_id, sku=sku, on_hand=on_hand, reserved=reserved,
                 **fields)


def offer(supplier_id: str, cost: str, lead_time_days: int | None = 5, sku: str = SKU,
          currency: str = "USD") -> Offer:
    return Offer(supplier_id=supplier_id, sku=sku, cost=Money.parse(cost, currency),
                 lead_time_days=lead_time_days)


# -- how much -----------------------------------------------------------------------------

@pytest.mark.parametrize(("fields", "expected"), [
    pytest.param({"on_hand": 6, "reorder_point": 5}, 0, id="above-the-reorder-point"),
    pytest.param({"on_hand": 6}, 0, id="no-reorder-point"),
    pytest.param({"on_hand": 5, "reorder_point": 5}, 1, id="at-the-reorder-point"),
    pytest.param({"on_hand": 2, "reorder_point": 5}, 4, id="shortfall-without-settings"),
    pytest.param({"on_hand": 2, "reorder_point": 5, "safety_stock": 3}, 7,
                 id="safety-stock-on-top"),
    pytest.param({"on_hand": 0, "reorder_point": 0}, 1, id="empty-with-reorder-point-0"),
    pytest.param({"on_hand": 8, "reserved": 4, "reorder_point": 5}, 2,
                 id="reserved-stock-is-not-available"),
    pytest.param({"on_hand": 2, "reorder_point": 5, "reorder_quantity": 24}, 24,
                 id="one-reorder-quantity-covers-it"),
    pytest.param({"on_hand": 0, "reorder_point": 50, "reorder_quantity": 20}, 60,
                 id="several-reorder-quantities-when-one-is-not-enough"),
    pytest.param({"on_hand": 0, "reorder_point": 39, "reorder_quantity": 20}, 40,
                 id="exact-multiple"),
    pytest.param({"on_hand": 2, "reorder_point": 5, "reorder_quantity": 0}, 4,
                 id="reorder-quantity-0-is-unset"),
])
def test_order_quantity(fields: dict[str, Any], expected: int) -> None:
    assert order_quantity(level(**fields)) == expected


@pytest.mark.parametrize(("fields", "expected"), [
    pytest.param({"in_transit": 3}, 1, id="in-transit-counts"),
    pytest.param({"incoming": 3}, 1, id="incoming-counts"),
    pytest.param({"in_transit": 2, "incoming": 2}, 0, id="both-cover-it"),
    pytest.param({"incoming": 10}, 0, id="more-than-enough"),
])
def test_what_is_on_order_lowers_the_quantity(fields: dict[str, Any], expected: int) -> None:
    low = level(on_hand=2, reorder_point=5, **fields)
    assert on_order(low) == fields.get("in_transit", 0) + fields.get("incoming", 0)
    assert order_quantity(low) == expected


def test_a_level_covered_by_a_reorder_quantity_on_order_needs_nothing_more() -> None:
    assert order_quantity(level(on_hand=2, reorder_point=5, reorder_quantity=24,
                                incoming=24)) == 0
    # Not covered yet: one more pack.
    assert order_quantity(level(on_hand=2, reorder_point=5, reorder_quantity=24,
                                incoming=3)) == 24


def test_surplus_is_what_is_available_above_reorder_point_and_safety_stock() -> None:
    assert surplus(level(on_hand=30, reserved=5)) == 25
    assert surplus(level(on_hand=30, reserved=5, reorder_point=10, safety_stock=4)) == 11
    assert surplus(level(on_hand=3, reorder_point=10)) == -7


# -- from where ---------------------------------------------------------------------------

def test_the_donor_is_the_other_location_with_the_most_surplus() -> None:
    low = level("STORE", on_hand=1, reorder_point=5)
    stocks = [level("A", on_hand=10), level("B", on_hand=40, reorder_point=10),  # 30
              level("C", on_hand=35), level("STORE", on_hand=100),  # the level itself
              level("D", sku="OTHER", on_hand=500), level("E", on_hand=2, reorder_point=5)]
    donor = best_donor(low, stocks)
    assert donor is not None
    assert donor.location_id == "C"


def test_equal_surplus_goes_to_the_smaller_location_code() -> None:
    donor = best_donor(level(), [level("B", on_hand=9), level("A", on_hand=9)])
    assert donor is not None
    assert donor.location_id == "A"


def test_no_donor_without_positive_surplus() -> None:
    assert best_donor(level(), [level("A", on_hand=5, reorder_point=5),
                                level("B", on_hand=6, reorder_point=4, safety_stock=2)]) is None


def test_the_cheapest_offer_with_a_known_lead_time_wins() -> None:
    offers = [offer("PRICEY", "9.00"), offer("CHEAP-UNKNOWN", "1.00", None),
              offer("CHEAP", "4.50", 10), offer("OTHER-SKU", "0.10", sku="SKU-Z")]
    best = best_offer(SKU, offers)
    assert best is not None
    assert best.supplier_id == "CHEAP"


def test_equal_costs_go_to_the_shorter_lead_time_then_the_code() -> None:
    best = best_offer(SKU, [offer("B", "4.00", 3), offer("A", "4.00", 7), offer("C", "4.00", 3)])
    assert best is not None
    assert best.supplier_id == "B"
    assert best_offer(SKU, [offer("A", "1.00", None)]) is None


def test_a_transfer_that_covers_the_quantity_beats_any_supplier() -> None:
    low = level(on_hand=0, reorder_point=4)  # quantity 5
    source = choose_source(low, 5, [level("WH", on_hand=5)], [offer("S", "0.01")])
    assert source == SuggestionSource(type="transfer", id="WH", surplus=5)


def test_a_supplier_beats_a_transfer_that_covers_only_part() -> None:
    low = level(on_hand=0, reorder_point=4)
    source = choose_source(low, 5, [level("WH", on_hand=4)], [offer("S", "2.50", 6)])
    assert source == SuggestionSource(type="supplier", id="S",
                                      unit_cost=Money.parse("2.50", "USD"), lead_time_days=6)


def test_a_partial_transfer_when_no_supplier_has_a_known_lead_time() -> None:
    low = level(on_hand=0, reorder_point=4)
    stocks = [level("WH-1", on_hand=2), level("WH-2", on_hand=4)]
    source = choose_source(low, 5, stocks, [offer("S", "1.00", None)])
    assert source == SuggestionSource(type="transfer", id="WH-2", surplus=4)


def test_no_source_when_nothing_can_be_spared_or_bought() -> None:
    low = level(on_hand=0, reorder_point=4)
    assert choose_source(low, 5, [level("WH", on_hand=3, reorder_point=3)],
                         [offer("S", "1.00", None)]) is None


# -- the suggestion -----------------------------------------------------------------------

def test_suggestion_carries_the_level_the_quantity_and_the_source() -> None:
    low = level(on_hand=9, reserved=2, reorder_point=10, reorder_quantity=12, safety_stock=2,
                in_transit=1, incoming=2)
    suggestion = suggest(low, [], [offer("S", "3.00")])
    assert suggestion is not None
    assert (suggestion.location_id, suggestion.sku, suggestion.available,
            suggestion.reorder_point, suggestion.reorder_quantity, suggestion.safety_stock,
            suggestion.on_order, suggestion.quantity) == ("STORE", SKU, 7, 10, 12, 2, 3, 12)
    assert suggestion.source is not None
    assert (suggestion.source.type, suggestion.source.id) == ("supplier", "S")


@pytest.mark.parametrize("fields", [
    pytest.param({"on_hand": 11, "reorder_point": 10}, id="not-low"),
    pytest.param({"on_hand": 4, "reorder_point": 10, "incoming": 7}, id="covered"),
    pytest.param({"on_hand": 4}, id="no-reorder-point"),
])
def test_no_suggestion_for_a_level_that_is_not_low_or_is_covered(
        fields: dict[str, Any]) -> None:
    assert suggest(level(**fields), [level("WH", on_hand=100)], [offer("S", "1.00")]) is None


def test_every_low_level_is_suggested_or_covered() -> None:
    """The suggestions and below_reorder_point agree: a low level is left out only when
    what is on order covers it."""
    for available in range(0, 12):
        for pending in range(0, 12):
            low = level(on_hand=available, reorder_point=5, safety_stock=1, incoming=pending)
            suggestion = suggest(low, [], [])
            if not low.is_at_or_below_reorder_point():
                assert suggestion is None
            elif suggestion is None:
                assert available + pending > 6
            else:
                assert available + pending + suggestion.quantity == 7
