"""PATCH of warehouses, stores, suppliers and products: only the fields sent change, bad
bodies are 422 and change nothing; lists filter by status; a location shows its units
beside its capacity; edits log their events (both backends)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from stockline.bootstrap import Container
from tests.e2e.test_events_emitted import Log
from tests.factories import (
    assert_problem,
    collect,
    create_product,
    create_store,
    create_supplier,
    create_warehouse,
    line,
    random_code,
    random_location,
    random_sku,
    receive,
    record_sale,
)


async def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# -- locations ----------------------------------------------------------------------------

async def test_store_patch_changes_only_the_fields_sent_and_null_clears(
        client: httpx.AsyncClient) -> None:
    store = await create_store(client, address="1 Main St", capacity=500,
                               operating_hours={"mon": "09:00-18:00"})
    url = f"/v1/retail-locations/{store['code']}"
    renamed = await _ok(await client.patch(url, json={"name": "Flagship", "region": "west"}))
    assert (renamed["name"], renamed["region"]) == ("Flagship", "west")
    assert (renamed["address"], renamed["capacity"]) == ("1 Main St", 500)
    assert renamed["operating_hours"] == {"mon": "09:00-18:00"}
    assert renamed["status"] == "active"
    cleared = await _ok(await client.patch(url, json={"address": None, "capacity": None}))
    assert (cleared["address"], cleared["capacity"], cleared["name"]) == (None, None, "Flagship")
    assert await _ok(await client.get(url)) == cleared
    assert cleared["created_at"] == store["created_at"]


async def test_warehouse_patch_changes_hours_capacity_and_coordinates(
        client: httpx.AsyncClient) -> None:
    warehouse = await create_warehouse(client, capacity=1000)
    url = f"/v1/warehouses/{warehouse['code']}"
    changed = await _ok(await client.patch(url, json={
        "operating_hours": {"sun": "closed"}, "capacity": 2000, "latitude": 40.7,
        "longitude": -74.0}))
    assert (changed["capacity"], changed["latitude"], changed["longitude"]) == (2000, 40.7, -74.0)
    assert changed["operating_hours"] == {"sun": "closed"}
    assert changed["type"] == "warehouse" and changed["name"] == warehouse["name"]


@pytest.mark.parametrize("body", [
    {}, {"name": None}, {"status": None}, {"status": "gone"}, {"capacity": -1},
    {"capacity": "10"}, {"latitude": 91}, {"code": "OTHER"}, {"type": "warehouse"},
    {"created_at": "2026-01-01T00:00:00Z"}, {"on_hand_units": 3}, {"colour": "red"},
    {"name": ""}, {"name": "x" * 201}, {"operating_hours": {"MON": "x"}},
])
async def test_bad_location_patch_is_422_and_changes_nothing(
        client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    store = await create_store(client, capacity=5)
    url = f"/v1/retail-locations/{store['code']}"
    before = await _ok(await client.get(url))
    assert_problem(await client.patch(url, json=body), 422, "validation_error")
    assert await _ok(await client.get(url)) == before


async def test_a_warehouse_has_no_region_to_patch(client: httpx.AsyncClient) -> None:
    warehouse = await create_warehouse(client)
    response = await client.patch(f"/v1/warehouses/{warehouse['code']}",
                                  json={"region": "west"})
    assert_problem(response, 422, "validation_error")


async def test_patch_of_an_unknown_location_or_of_the_other_kind_is_404(
        client: httpx.AsyncClient) -> None:
    store = await create_store(client)
    for url in (f"/v1/retail-locations/{random_location()}", f"/v1/warehouses/{random_code('W')}",
                f"/v1/warehouses/{store['code']}"):
        assert_problem(await client.patch(url, json={"name": "x"}), 404, "not_found")
    assert (await _ok(await client.get(f"/v1/retail-locations/{store['code']}")))["name"] == \
        store["name"]


# -- suppliers ----------------------------------------------------------------------------

async def test_supplier_patch_is_partial_and_null_clears_contact_and_lead_time(
        client: httpx.AsyncClient) -> None:
    sku = (await create_product(client))["sku"]
    supplier = await create_supplier(client, products={sku: "4.00"}, lead_time_days=7,
                                     contact={"name": "Ann", "email": "ann@example.com"})
    url = f"/v1/suppliers/{supplier['code']}"
    renamed = await _ok(await client.patch(url, json={"name": "Acme", "lead_time_days": 3}))
    assert (renamed["name"], renamed["lead_time_days"]) == ("Acme", 3)
    assert renamed["contact"] == supplier["contact"]
    assert renamed["products"] == supplier["products"] and renamed["status"] == "active"
    assert renamed["updated_at"] > supplier["updated_at"]
    cleared = await _ok(await client.patch(url, json={"contact": None,
                                                      "lead_time_days": None}))
    assert (cleared["contact"], cleared["lead_time_days"], cleared["name"]) == (None, None,
                                                                                 "Acme")
    assert await _ok(await client.get(url)) == cleared


@pytest.mark.parametrize("body", [
    {}, {"name": None}, {"status": "discontinued"}, {"lead_time_days": 3651},
    {"lead_time_days": -1}, {"products": []}, {"code": "X"}, {"contact": {"fax": "1"}},
])
async def test_bad_supplier_patch_is_422_and_changes_nothing(
        client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    supplier = await create_supplier(client)
    url = f"/v1/suppliers/{supplier['code']}"
    assert_problem(await client.patch(url, json=body), 422, "validation_error")
    assert await _ok(await client.get(url)) == supplier


async def test_patch_of_an_unknown_supplier_is_404(client: httpx.AsyncClient) -> None:
    response = await client.patch(f"/v1/suppliers/{random_code('SUP')}", json={"name": "x"})
    assert_problem(response, 404, "not_found")


# -- products -----------------------------------------------------------------------------

async def test_product_patch_with_a_stale_version_is_409_and_changes_nothing(
        client: httpx.AsyncClient) -> None:
    product = await create_product(client)
    url = f"/v1/products/{product['sku']}"
    renamed = await _ok(await client.patch(url, json={"name": "New", "expected_version": 1}))
    assert renamed["version"] == 2
    stale = assert_problem(await client.patch(url, json={"name": "Lost", "expected_version": 1}),
                           409, "version_conflict")
    assert (stale["expected_version"], stale["current_version"]) == (1, 2)
    assert (await _ok(await client.get(url)))["name"] == "New"
    # Sent alone, the version is a check: it passes and changes nothing, or it is stale.
    assert await _ok(await client.patch(url, json={"expected_version": 2})) == renamed
    assert_problem(await client.patch(url, json={"expected_version": 1}), 409,
                   "version_conflict")


@pytest.mark.parametrize("body", [
    {"status": "closed"}, {"status": None}, {"expected_version": None}, {"expected_version": -1},
    {"name": "x", "expected_version": "1"},
])
async def test_bad_product_patch_is_422(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    product = await create_product(client)
    url = f"/v1/products/{product['sku']}"
    assert_problem(await client.patch(url, json=body), 422, "validation_error")
    assert await _ok(await client.get(url)) == product


async def test_product_patch_of_an_unknown_sku_is_404(client: httpx.AsyncClient) -> None:
    response = await client.patch(f"/v1/products/{random_sku()}", json={"status": "active"})
    assert_problem(response, 404, "not_found")


# -- lists, capacity, events --------------------------------------------------------------

async def test_lists_filter_by_status(client: httpx.AsyncClient) -> None:
    region = random_code("R")
    open_store = await create_store(client, region=region)
    shut_store = await create_store(client, region=region)
    await _ok(await client.patch(f"/v1/retail-locations/{shut_store['code']}",
                                 json={"status": "closed"}))
    for status, expected in (("active", open_store), ("closed", shut_store)):
        found = await collect(client, "/v1/retail-locations", {"region": region,
                                                                "status": status})
        assert [x["code"] for x in found] == [expected["code"]]
    warehouse = await create_warehouse(client)
    await _ok(await client.patch(f"/v1/warehouses/{warehouse['code']}",
                                 json={"status": "closed"}))
    closed = await collect(client, "/v1/warehouses", {"status": "closed"})
    assert warehouse["code"] in {x["code"] for x in closed}
    assert all(x["status"] == "closed" for x in closed)
    active = await collect(client, "/v1/warehouses", {"status": "active"})
    assert warehouse["code"] not in {x["code"] for x in active}


async def test_product_and_supplier_lists_filter_by_status(client: httpx.AsyncClient) -> None:
    sku = (await create_product(client))["sku"]
    await _ok(await client.patch(f"/v1/products/{sku}", json={"status": "discontinued"}))
    gone = await collect(client, "/v1/products", {"q": sku, "status": "discontinued"})
    assert [p["sku"] for p in gone] == [sku]
    assert await collect(client, "/v1/products", {"q": sku, "status": "active"}) == []
    supplier = await create_supplier(client, products={sku: "1.00"})
    await _ok(await client.patch(f"/v1/suppliers/{supplier['code']}", json={"status": "closed"}))
    closed = await collect(client, "/v1/suppliers", {"sku": sku, "status": "closed"})
    assert [s["code"] for s in closed] == [supplier["code"]]
    assert await collect(client, "/v1/suppliers", {"sku": sku, "status": "active"}) == []


@pytest.mark.parametrize("path", ["/v1/warehouses", "/v1/retail-locations", "/v1/products",
                                  "/v1/suppliers"])
async def test_an_unknown_status_filter_is_422(client: httpx.AsyncClient, path: str) -> None:
    assert_problem(await client.get(path, params={"status": "gone"}), 422, "validation_error")


async def test_a_location_shows_its_units_against_its_capacity(
        client: httpx.AsyncClient) -> None:
    region = random_code("R")
    store = (await create_store(client, capacity=200, region=region))["code"]
    empty = (await create_store(client, region=region))["code"]
    skus = [(await create_product(client))["sku"] for _ in range(2)]
    await receive(client, store, skus[0], 30)
    await receive(client, store, skus[1], 20)
    await record_sale(client, store, [line(skus[0], 5)])
    one = await _ok(await client.get(f"/v1/retail-locations/{store}"))
    assert (one["on_hand_units"], one["capacity"], one["capacity_used"]) == (45, 200, 0.225)
    listed = {x["code"]: x for x in await collect(client, "/v1/retail-locations",
                                                 {"region": region})}
    assert listed[store] == one
    assert (listed[empty]["on_hand_units"], listed[empty]["capacity_used"]) == (0, None)
    patched = await _ok(await client.patch(f"/v1/retail-locations/{store}",
                                           json={"capacity": 40}))
    assert (patched["on_hand_units"], patched["capacity_used"]) == (45, 1.125)


async def test_edits_log_location_and_supplier_events_and_a_no_op_logs_none(
        client: httpx.AsyncClient, container: Container) -> None:
    store = (await create_store(client))["code"]
    supplier = (await create_supplier(client))["code"]
    log = await Log(container, store, supplier).start()
    await _ok(await client.patch(f"/v1/retail-locations/{store}", json={"status": "closed"}))
    await _ok(await client.patch(f"/v1/retail-locations/{store}", json={"status": "closed"}))
    await _ok(await client.patch(f"/v1/suppliers/{supplier}", json={"lead_time_days": 9}))
    logged = await log.since()
    assert [(e.type, e.location_id) for e in logged] == [("location.updated", store),
                                                         ("supplier.updated", None)]
    assert (logged[0].data["status"], logged[0].data["changed"]) == ("closed", ["status"])
    assert (logged[1].data["supplier_id"], logged[1].data["lead_time_days"]) == (supplier, 9)


async def test_location_list_exports_as_csv_with_status_and_units(
        client: httpx.AsyncClient) -> None:
    region = random_code("R")
    store = (await create_store(client, region=region, capacity=10))["code"]
    sku = (await create_product(client))["sku"]
    await receive(client, store, sku, 4)
    response = await client.get("/v1/retail-locations", params={"region": region},
                                headers={"Accept": "text/csv"})
    assert response.status_code == 200, response.text
    header, row = response.text.splitlines()[:2]
    values = dict(zip(header.split(","), row.split(","), strict=True))
    assert (values["code"], values["status"], values["on_hand_units"]) == (store, "active", "4")
