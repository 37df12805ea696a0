"""Cover and nearness (pure domain): velocity, days of cover and stockout date; the
cover-based order quantity; donors ranked by region, then distance, then surplus."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from stockline.domain.cover import (
    WINDOW_DAYS,
    cover_of,
    daily_velocity,
    stockout,
    units_over,
    window_start,
)
from stockline.domain.model import Level
from stockline.domain.replenishment import (
    Offer,
    Place,
    choose_source,
    distance_km,
    order_quantity,
    ranked_donors,
    suggest,
)
from stockline.domain.values import Money
from stockline.entrypoints.demo.sites import DemoSize, location_commands

SKU = "SKU-A"
TODAY = date(2026, 12, 4)
CHICAGO = Place(region="Midwest", latitude=41.8930, longitude=-87.6240)
JOLIET = Place(latitude=41.5250, longitude=-88.0817)
MCDONOUGH = Place(latitude=33.4473, longitude=-84.1469)


def level(location_id: str = "STORE", *, on_hand: int = 0, **fields: Any) -> Level:
    return Level(location_id=location_id, sku=SKU, on_hand=on_hand, **fields)


# -- cover --------------------------------------------------------------------------------

def test_velocity_is_net_units_over_the_window_and_never_negative() -> None:
    assert WINDOW_DAYS == 28
    assert daily_velocity(56) == 2.0
    assert daily_velocity(0) == daily_velocity(-5) == 0.0
    now = datetime(2026, 12, 4, 12, tzinfo=UTC)
    assert window_start(now) == datetime(2026, 11, 6, 12, tzinfo=UTC)


def test_cover_and_stockout_follow_available_at_that_pace() -> None:
    made = cover_of(level(on_hand=30, reserved=5), 14, TODAY)  # 0.5 a day, 25 available
    assert (made.on_hand, made.available, made.daily_velocity) == (30, 25, 0.5)
    assert (made.days_of_cover, made.stockout_date) == (50.0, date(2027, 1, 23))
    partial = cover_of(level(on_hand=10), 28 * 3, TODAY)  # 3 a day: 3.33 days
    assert partial.stockout_date == date(2026, 12, 7)


def test_nothing_sold_means_no_cover_and_no_stockout() -> None:
    made = cover_of(level(on_hand=10), 0, TODAY)
    assert (made.daily_velocity, made.days_of_cover, made.stockout_date) == (0.0, None, None)


def test_a_stockout_beyond_the_calendar_is_its_last_day() -> None:
    assert stockout(TODAY, 1e12) == date.max
    assert cover_of(level(on_hand=10**12), 1, TODAY).stockout_date == date.max


def test_units_over_a_horizon_round_up_without_float_noise() -> None:
    assert units_over(0.1, 30) == 3
    assert units_over(2.0, 21) == 42
    assert units_over(0.25, 3) == 1
    assert units_over(0.0, 100) == 0


# -- how much -----------------------------------------------------------------------------

@pytest.mark.parametrize(("velocity", "horizon", "fields", "expected"), [
    pytest.param(0.0, 21, {"reorder_point": 10}, 11, id="no-sales-reorder-point-rule"),
    pytest.param(2.0, 21, {"reorder_point": 10}, 42, id="cover-beats-reorder-point"),
    pytest.param(2.0, 21, {"reorder_point": 10, "safety_stock": 3}, 45, id="plus-safety"),
    pytest.param(0.2, 21, {"reorder_point": 10}, 11, id="slow-seller-keeps-the-floor"),
    pytest.param(2.0, 21, {"reorder_point": 10, "reorder_quantity": 24}, 48, id="packs"),
    pytest.param(2.0, 21, {"reorder_point": 10, "in_transit": 30}, 12, id="on-order"),
    pytest.param(2.0, 21, {"reorder_point": 10, "on_hand": 11}, 0, id="not-low"),
])
def test_order_quantity_covers_the_horizon_at_the_pace_of_sales(
        velocity: float, horizon: int, fields: dict[str, Any], expected: int) -> None:
    assert order_quantity(level(**fields), velocity, horizon) == expected


def test_the_horizon_is_the_best_offers_lead_time_plus_the_cover_days() -> None:
    low = level(reorder_point=5)
    offers = [Offer(supplier_id="S1", sku=SKU, cost=Money.parse("2.00", "USD"),
                    lead_time_days=6)]
    made = suggest(low, [], offers, daily_velocity=1.0, cover_days=10)
    assert made is not None
    assert (made.quantity, made.daily_velocity) == (16, 1.0)
    alone = suggest(low, [], [], daily_velocity=1.0, cover_days=10)  # no offer: no lead time
    assert alone is not None and alone.quantity == 10


# -- where from ---------------------------------------------------------------------------

def test_distance_is_great_circle_and_needs_both_coordinates() -> None:
    km = distance_km(CHICAGO, JOLIET)
    assert km is not None and 50 < km < 60
    far = distance_km(CHICAGO, MCDONOUGH)
    assert far is not None and 950 < far < 1050
    assert distance_km(CHICAGO, Place(region="Midwest")) is None
    assert distance_km(CHICAGO, CHICAGO) == 0.0


def test_donors_rank_by_region_then_distance_then_surplus() -> None:
    places = {"STORE": CHICAGO, "IL": JOLIET, "GA": MCDONOUGH,
              "MKE": Place(region="Midwest", latitude=43.0, longitude=-87.9),
              "FAR-MW": Place(region="Midwest"), "X": Place()}
    stocks = [level("GA", on_hand=900), level("IL", on_hand=182), level("MKE", on_hand=5),
              level("FAR-MW", on_hand=50), level("X", on_hand=1000), level("Y", on_hand=2000),
              level("NONE", on_hand=5, reorder_point=5)]
    ranked = ranked_donors(level(reorder_point=20), stocks, places)
    assert [d.location_id for d in ranked] == ["MKE", "FAR-MW", "IL", "GA", "Y", "X"]


def test_the_nearest_donor_that_covers_the_whole_quantity_is_chosen() -> None:
    places = {"STORE": CHICAGO, "IL": JOLIET, "GA": MCDONOUGH}
    stocks = [level("GA", on_hand=900), level("IL", on_hand=182)]
    low = level(on_hand=5, reorder_point=20)
    chosen = choose_source(low, 16, stocks, [], places)
    assert chosen is not None and (chosen.id, chosen.surplus) == ("IL", 182)
    bigger = choose_source(low, 200, stocks, [], places)
    assert bigger is not None and bigger.id == "GA"
    partial = choose_source(low, 2000, stocks, [], places)  # nobody covers: the nearest
    assert partial is not None and (partial.id, partial.surplus) == ("IL", 182)


def test_the_demos_chicago_store_is_offered_the_illinois_centre_first() -> None:
    commands = location_commands(DemoSize())
    places = {c.code: Place(region=c.region, latitude=c.latitude, longitude=c.longitude)
              for c in commands}
    chicago = next(c.code for c in commands if c.address and "Chicago, IL" in c.address)
    centres = [level(c.code, on_hand=1000 if "GA" in (c.address or "") else 182)
               for c in commands if c.code.startswith("DC-")]
    ranked = ranked_donors(level(chicago, reorder_point=20), centres, places)
    assert [d.location_id for d in ranked][:2] == ["DC-CENTRAL", "DC-EAST"]
