"""Stock valued at cost (``GET /v1/reports/inventory-value``), on both backends: the cost of
the last purchase-order receipt by then, else the cheapest supplier cost, else unvalued;
by location, category and currency; at past instants; scope."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from tests.factories import (
    assert_problem,
    create_product,
    create_store,
    create_supplier,
    create_warehouse,
    insert_api_key,
    line,
    price,
    random_code,
    receive,
    record_sale,
    send_as,
)


def stamp() -> str:
    return f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%S.%f}Z"


async def value(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await client.get("/v1/reports/inventory-value", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def cells(report: dict[str, Any]) -> dict[tuple[str, str | None], tuple[int, str | None]]:
    """(category, currency) -> (units, amount) of a one-location report."""
    return {(r["category"], r["currency"]): (r["units"], r["value"] and r["value"]["amount"])
            for r in report["rows"]}


async def bought(client: httpx.AsyncClient, supplier: str, location: str, sku: str,
                 quantity: int, cost: str, currency: str = "USD") -> None:
    order = await client.post("/v1/purchase-orders", json={
        "supplier_id": supplier, "location_id": location,
        "lines": [{"sku": sku, "quantity": quantity, "unit_cost": price(cost, currency)}]})
    assert order.status_code == 201, order.text
    received = await client.post(f"/v1/purchase-orders/{order.json()['id']}/receive", json={})
    assert received.status_code == 200, received.text


async def test_stock_is_valued_at_its_last_receipt_else_cheapest_supplier_else_unvalued(
        client: httpx.AsyncClient) -> None:
    shoes, balls = random_code("shoes"), random_code("balls")
    store = (await create_store(client))["code"]
    paid, listed, unknown, euro = [(await create_product(client, category=c))["sku"]
                                   for c in (shoes, shoes, balls, balls)]
    cheap = (await create_supplier(client, products={paid: "9.00", listed: "3.00"}))["code"]
    await create_supplier(client, products={listed: "2.50"})
    euros = (await client.post("/v1/suppliers", json={
        "code": random_code("SUP"), "name": "EU", "products": [
            {"sku": euro, "cost": price("4.00", "EUR")}]})).json()["code"]
    await bought(client, cheap, store, paid, 10, "7.00")
    before_second = stamp()
    await bought(client, cheap, store, paid, 5, "8.00")
    await receive(client, store, listed, 4)
    await receive(client, store, unknown, 6)
    await bought(client, euros, store, euro, 3, "4.10", "EUR")
    await record_sale(client, store, [line(paid, 2)])
    report = await value(client, location_id=store)
    assert cells(report) == {(shoes, "USD"): (17, "114.00"), (balls, "EUR"): (3, "12.30"),
                             (balls, None): (6, None)}
    assert report["unvalued_units"] == 6
    assert {t["currency"]: (t["units"], t["value"]["amount"]) for t in report["totals"]} == {
        "USD": (17, "114.00"), "EUR": (3, "12.30")}
    then = await value(client, location_id=store, as_of=before_second)
    assert cells(then) == {(shoes, "USD"): (10, "70.00")}
    assert then["as_of"].startswith(before_second[:19])


async def test_values_are_by_location_and_a_key_sees_its_own_stores(
        client: httpx.AsyncClient, database_url: str) -> None:
    category = random_code("cat")
    store = (await create_store(client))["code"]
    warehouse = (await create_warehouse(client))["code"]
    sku = (await create_product(client, category=category))["sku"]
    await create_supplier(client, products={sku: "1.25"})
    await receive(client, store, sku, 4)
    await receive(client, warehouse, sku, 8)
    everything = await value(client)
    mine = {r["location_id"]: r["value"]["amount"] for r in everything["rows"]
            if r["category"] == category}
    assert mine == {store: "5.00", warehouse: "10.00"}
    staff = (await insert_api_key(database_url, "store_staff", location_ids=[store])).key
    own = await send_as(client, staff, "GET", "/v1/reports/inventory-value")
    assert own.status_code == 200, own.text
    assert {r["location_id"] for r in own.json()["rows"]} == {store}
    assert_problem(await send_as(client, staff, "GET", "/v1/reports/inventory-value",
                                 params={"location_id": warehouse}), 403, "forbidden")
    partner = (await insert_api_key(database_url, "partner", location_ids=[store])).key
    assert_problem(await send_as(client, partner, "GET", "/v1/reports/inventory-value"),
                   403, "forbidden")


async def test_before_any_stock_and_after_now(client: httpx.AsyncClient) -> None:
    store = (await create_store(client))["code"]
    sku = (await create_product(client))["sku"]
    await receive(client, store, sku, 2)
    assert (await value(client, location_id=store, as_of="2001-01-01"))["rows"] == []
    later = await value(client, location_id=store, as_of="2999-01-01")
    assert [r["units"] for r in later["rows"]] == [2]
    assert datetime.fromisoformat(later["as_of"]) <= datetime.now(UTC)


async def test_a_bad_instant_or_location_is_a_422(client: httpx.AsyncClient) -> None:
    for params in ({"as_of": "soon"}, {"as_of": "2024-01-01T00:00:00"},
                   {"location_id": "no spaces"}, {"from": "2024-01-01"}):
        assert_problem(await client.get("/v1/reports/inventory-value", params=params), 422,
                       "validation_error")


async def test_the_report_exports_as_csv(client: httpx.AsyncClient) -> None:
    store = (await create_store(client))["code"]
    sku = (await create_product(client))["sku"]
    await create_supplier(client, products={sku: "2.00"})
    await receive(client, store, sku, 3)
    response = await client.get("/v1/reports/inventory-value", params={"location_id": store},
                                headers={"Accept": "text/csv"})
    assert response.status_code == 200, response.text
    lines = response.text.splitlines()
    assert lines[0] == "location_id,category,currency,units,value_amount,value_currency"
    assert lines[1] == f"{store},test,USD,3,6.00,USD"
