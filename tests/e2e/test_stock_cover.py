"""GET /v1/reports/stock-cover: each level's pace of sales over the trailing 28 days, and how
long its stock lasts at that pace (both backends)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import update

from stockline.adapters.tables import sale_returns
from tests.factories import (
    as_key,
    assert_problem,
    collect,
    create_api_key,
    create_product,
    create_store,
    execute_sql,
    line,
    moves,
    receive,
    record_sale,
    return_items,
    stocked,
)

URL = "/v1/reports/stock-cover"


def days_ago(days: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).isoformat()


async def cover(client: httpx.AsyncClient, **filters: str) -> list[dict[str, Any]]:
    return await collect(client, URL, filters)


async def only(client: httpx.AsyncClient, store: str, sku: str) -> dict[str, Any]:
    (row,) = await cover(client, location_id=store, sku=sku)
    return row


async def test_velocity_counts_net_sales_of_the_trailing_28_days_only(
        client: httpx.AsyncClient, database_url: str) -> None:
    store, (sku,) = await stocked(client, quantity=100)
    recent = await record_sale(client, store, [line(sku, 10)], occurred_at=days_ago(3))
    await record_sale(client, store, [line(sku, 20)], occurred_at=days_ago(27))
    old = await record_sale(client, store, [line(sku, 50)], occurred_at=days_ago(29))
    await return_items(client, recent["id"], moves((sku, 2)), restock=True)
    # A return of the old sale made before the window opened does not count either.
    await return_items(client, old["id"], moves((sku, 5)), restock=False)
    await execute_sql(database_url, update(sale_returns)
                      .where(sale_returns.c.sale_id == old["id"])
                      .values(created_at=datetime.now(UTC) - timedelta(days=28, hours=12)))
    row = await only(client, store, sku)
    # 10 + 20 - 2 = 28 units in 28 days; 100 - 80 + 2 = 22 available.
    today = datetime.now(UTC).date()
    assert row == {"location_id": store, "sku": sku, "on_hand": 22, "available": 22,
                   "daily_velocity": 1.0, "days_of_cover": 22.0,
                   "stockout_date": (today + timedelta(days=22)).isoformat()}


async def test_cover_rounds_down_to_the_day_stock_runs_out(client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=17)
    await record_sale(client, store, [line(sku, 7)], occurred_at=days_ago(1))
    row = await only(client, store, sku)  # 7 / 28 = 0.25 a day; 10 left: 40 days
    assert (row["daily_velocity"], row["days_of_cover"]) == (0.25, 40.0)
    assert date.fromisoformat(row["stockout_date"]) == datetime.now(UTC).date() + timedelta(
        days=40)
    await record_sale(client, store, [line(sku, 3)])  # 10 / 28 a day; 7 left: 19.6 days
    row = await only(client, store, sku)
    assert (row["daily_velocity"], row["days_of_cover"]) == (0.3571, 19.6)
    assert date.fromisoformat(row["stockout_date"]) == datetime.now(UTC).date() + timedelta(
        days=19)


async def test_a_level_that_sells_nothing_has_no_cover_or_stockout(
        client: httpx.AsyncClient) -> None:
    store, (sku, other) = await stocked(client, quantity=10, skus=2)
    elsewhere = (await create_store(client))["code"]
    await receive(client, elsewhere, sku, 10)
    await record_sale(client, elsewhere, [line(sku, 4)])  # another location's sales
    await record_sale(client, store, [line(other, 4)])  # another SKU's sales
    await record_sale(client, store, [line(sku, 4)], occurred_at=days_ago(40))
    row = await only(client, store, sku)
    assert (row["on_hand"], row["daily_velocity"], row["days_of_cover"],
            row["stockout_date"]) == (6, 0.0, None, None)


async def test_returns_beyond_sales_do_not_make_velocity_negative(
        client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=10)
    old = await record_sale(client, store, [line(sku, 5)], occurred_at=days_ago(40))
    await return_items(client, old["id"], moves((sku, 5)), restock=True)
    row = await only(client, store, sku)
    assert (row["on_hand"], row["daily_velocity"], row["days_of_cover"]) == (10, 0.0, None)


async def test_sold_out_level_runs_out_today(client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=3)
    await record_sale(client, store, [line(sku, 3)])
    row = await only(client, store, sku)
    assert (row["available"], row["days_of_cover"], row["stockout_date"]) == (
        0, 0.0, datetime.now(UTC).date().isoformat())


async def test_filters_and_pages_list_every_level_once_in_order(
        client: httpx.AsyncClient) -> None:
    store, skus = await stocked(client, quantity=5, skus=3)
    rows = await collect(client, URL, {"location_id": store}, limit=1)
    assert [(r["location_id"], r["sku"]) for r in rows] == [(store, s) for s in sorted(skus)]
    assert [r["sku"] for r in await cover(client, sku=skus[1], location_id=store)] == [skus[1]]
    unknown = (await create_product(client))["sku"]
    assert await cover(client, sku=unknown) == []
    csv = await client.get(URL, params={"location_id": store}, headers={"Accept": "text/csv"})
    assert csv.status_code == 200, csv.text
    header, *lines = csv.text.strip().splitlines()
    assert header.split(",")[:4] == ["location_id", "sku", "on_hand", "available"]
    assert len(lines) == 3
    assert_problem(await client.get(URL, params={"cursor": "junk"}), 422, "validation_error")
    assert_problem(await client.get(URL, params={"store": store}), 422, "validation_error")


async def test_a_key_sees_the_cover_of_its_own_locations_only(
        client: httpx.AsyncClient) -> None:
    home, (sku,) = await stocked(client, quantity=5)
    other = (await create_store(client))["code"]
    await receive(client, other, sku, 5)
    clerk = (await create_api_key(client, "store_staff", location_ids=[home]))["key"]
    seen = await as_key(client, clerk, "GET", URL, params={"sku": sku})
    assert seen.status_code == 200, seen.text
    assert [r["location_id"] for r in seen.json()["items"]] == [home]
    refused = await as_key(client, clerk, "GET", URL, params={"location_id": other})
    assert_problem(refused, 403, "forbidden")
    partner = (await create_api_key(client, "partner"))["key"]
    assert_problem(await as_key(client, partner, "GET", URL), 403, "forbidden")
