"""Replenishment by sales and by place, over HTTP on both backends: a low level is ordered up
to its pace of sales over the lead time plus the cover days (STOCKLINE_REPLENISHMENT_COVER_DAYS,
14 by default), and stock is moved from the nearest location that can spare it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from stockline.config import Settings
from tests.factories import (
    collect,
    create_product,
    create_store,
    create_supplier,
    create_warehouse,
    line,
    receive,
    record_sale,
    set_reorder,
)

SUGGESTIONS = "/v1/replenishment/suggestions"
CHICAGO = {"region": "Midwest", "latitude": 41.8930, "longitude": -87.6240}
JOLIET_IL = {"latitude": 41.5250, "longitude": -88.0817}
MCDONOUGH_GA = {"latitude": 33.4473, "longitude": -84.1469}
MILWAUKEE = {"region": "Midwest", "latitude": 43.0390, "longitude": -87.9140}


async def one(client: httpx.AsyncClient, location_id: str, sku: str) -> dict[str, Any]:
    (found,) = await collect(client, SUGGESTIONS, {"location_id": location_id, "sku": sku})
    return found


async def stock(client: httpx.AsyncClient, location_id: str, sku: str, on_hand: int,
                **settings: int) -> None:
    if on_hand:
        await receive(client, location_id, sku, on_hand)
    if settings:
        await set_reorder(client, location_id, sku, settings.pop("reorder_point", None),
                          **settings)


def days_ago(days: int) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).isoformat()


async def test_a_chicago_store_is_offered_illinois_stock_before_georgia(
        client: httpx.AsyncClient) -> None:
    sku = (await create_product(client))["sku"]
    chicago = (await create_store(client, **CHICAGO))["code"]
    georgia = (await create_warehouse(client, **MCDONOUGH_GA))["code"]
    illinois = (await create_warehouse(client, **JOLIET_IL))["code"]
    await stock(client, chicago, sku, 5, reorder_point=20)  # needs 16
    await stock(client, illinois, sku, 182)
    await stock(client, georgia, sku, 900)
    await create_supplier(client, products={sku: "1.00"}, lead_time_days=3)
    found = await one(client, chicago, sku)
    assert (found["quantity"], found["source"]["type"], found["source"]["id"],
            found["source"]["surplus"]) == (16, "transfer", illinois, 182)


async def test_a_nearer_location_that_cannot_cover_it_all_yields_to_one_that_can(
        client: httpx.AsyncClient) -> None:
    sku = (await create_product(client))["sku"]
    chicago = (await create_store(client, **CHICAGO))["code"]
    georgia = (await create_warehouse(client, **MCDONOUGH_GA))["code"]
    illinois = (await create_warehouse(client, **JOLIET_IL))["code"]
    await stock(client, chicago, sku, 0, reorder_point=199)  # needs 200
    await stock(client, illinois, sku, 182)
    await stock(client, georgia, sku, 900)
    found = await one(client, chicago, sku)
    assert (found["source"]["type"], found["source"]["id"]) == ("transfer", georgia)


async def test_the_same_region_comes_before_a_nearer_location_elsewhere(
        client: httpx.AsyncClient) -> None:
    sku = (await create_product(client))["sku"]
    chicago = (await create_store(client, **CHICAGO))["code"]
    milwaukee = (await create_store(client, **MILWAUKEE))["code"]
    across = (await create_store(client, region="Southeast", **JOLIET_IL))["code"]
    unknown = (await create_warehouse(client))["code"]  # no region, no coordinates
    await stock(client, chicago, sku, 0, reorder_point=4)
    for donor, on_hand in ((milwaukee, 10), (across, 50), (unknown, 500)):
        await stock(client, donor, sku, on_hand)
    found = await one(client, chicago, sku)
    assert (found["source"]["type"], found["source"]["id"]) == ("transfer", milwaukee)


async def test_a_selling_level_is_ordered_up_to_its_sales_over_lead_time_and_cover(
        client: httpx.AsyncClient, settings: Settings) -> None:
    sku = (await create_product(client))["sku"]
    store = (await create_store(client))["code"]
    await stock(client, store, sku, 60, reorder_point=10, safety_stock=3)
    supplier = (await create_supplier(client, products={sku: "2.00"}, lead_time_days=7))["code"]
    # 56 units in the last 28 days: 2 a day; a sale before the window does not count.
    await record_sale(client, store, [line(sku, 30)], occurred_at=days_ago(20))
    await record_sale(client, store, [line(sku, 26)], occurred_at=days_ago(2))
    await receive(client, store, sku, 30)
    await record_sale(client, store, [line(sku, 30)], occurred_at=days_ago(40))
    horizon = 7 + settings.replenishment_cover_days
    found = await one(client, store, sku)
    # available 4; target max(10 + 3 + 1, 3 + 2 * horizon)
    assert (found["available"], found["daily_velocity"]) == (4, 2.0)
    assert found["quantity"] == max(14, 3 + 2 * horizon) - 4
    assert (found["source"]["type"], found["source"]["id"]) == ("supplier", supplier)


async def test_a_level_that_sells_nothing_keeps_the_reorder_point_rule(
        client: httpx.AsyncClient) -> None:
    sku = (await create_product(client))["sku"]
    store = (await create_store(client))["code"]
    await stock(client, store, sku, 4, reorder_point=10, safety_stock=3)
    await create_supplier(client, products={sku: "2.00"}, lead_time_days=7)
    found = await one(client, store, sku)
    assert (found["daily_velocity"], found["quantity"]) == (0.0, 10)  # 10 + 3 + 1 - 4
