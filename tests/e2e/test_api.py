"""The behaviours the API contract promises, route by route."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.factories import (
    assert_ledger_identity,
    assert_problem,
    collect,
    create_product,
    create_store,
    create_warehouse,
    ledger,
    level,
    line,
    price,
    random_code,
    random_location,
    random_sku,
    receive,
    record_sale,
    sales_at,
    stocked,
    without_credentials,
)


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def change(client: httpx.AsyncClient, store: str, sku: str, **fields: Any
                 ) -> httpx.Response:
    return await client.post("/v1/inventory/update",
                             json={"location_id": store, "sku": sku, **fields})


# -- products -------------------------------------------------------------------------------

async def test_create_product_answers_201_with_the_product(client: httpx.AsyncClient) -> None:
    sku = random_sku()
    response = await client.post("/v1/products", json={
        "sku": sku, "name": "Pegasus 41", "category": "running-shoes",
        "attributes": {"size": "42", "color": "black", "weight": 0.3, "waterproof": False},
        "price": {"amount": "129.9", "currency": "EUR"}})
    assert response.status_code == 201, response.text
    product = response.json()
    assert product["sku"] == sku
    assert (product["name"], product["category"]) == ("Pegasus 41", "running-shoes")
    assert product["attributes"] == {"size": "42", "color": "black", "weight": 0.3,
                                     "waterproof": False}
    assert product["price"] == {"amount": "129.90", "currency": "EUR"}
    assert product["version"] == 1
    assert product["created_at"] == product["updated_at"]
    assert (await client.get(f"/v1/products/{sku}")).json() == product


async def test_duplicate_sku_is_409_already_exists_and_keeps_the_first(
        client: httpx.AsyncClient) -> None:
    first = await create_product(client, name="First")
    again = await client.post("/v1/products", json={"sku": first["sku"], "name": "Second",
                                                    "category": "other"})
    problem = assert_problem(again, 409, "already_exists")
    assert (problem["resource"], problem["key"]) == ("product", first["sku"])
    assert (await client.get(f"/v1/products/{first['sku']}")).json() == first


async def test_patch_merges_attributes_and_null_removes_a_key(client: httpx.AsyncClient) -> None:
    created = await create_product(client, attributes={"size": "42", "color": "black",
                                                       "type": "road"})
    response = await client.patch(f"/v1/products/{created['sku']}", json={
        "attributes": {"color": "red", "type": None, "sport": "running"}})
    assert response.status_code == 200, response.text
    patched = response.json()
    assert patched["attributes"] == {"size": "42", "color": "red", "sport": "running"}
    assert (patched["name"], patched["category"], patched["price"]) == (
        created["name"], created["category"], created["price"])
    assert patched["version"] == 2
    assert patched["created_at"] == created["created_at"]
    assert when(patched["updated_at"]) >= when(created["updated_at"])
    assert (await client.get(f"/v1/products/{created['sku']}")).json() == patched


async def test_patch_changes_only_what_is_sent_and_each_patch_increments_the_version(
        client: httpx.AsyncClient) -> None:
    created = await create_product(client, attributes={"size": "42"})
    sku = created["sku"]
    renamed = (await client.patch(f"/v1/products/{sku}", json={"name": "Renamed"})).json()
    assert (renamed["name"], renamed["version"]) == ("Renamed", 2)
    repriced = (await client.patch(f"/v1/products/{sku}", json={
        "price": price("5.5", "USD"), "category": "sale"})).json()
    assert repriced["price"] == {"amount": "5.50", "currency": "USD"}
    assert (repriced["name"], repriced["category"], repriced["version"]) == ("Renamed", "sale", 3)
    assert repriced["attributes"] == {"size": "42"}


async def test_list_products_by_category(client: httpx.AsyncClient) -> None:
    category, other = random_code("CAT"), random_code("CAT")
    wanted = sorted([(await create_product(client, category=category))["sku"]
                     for _ in range(3)])
    await create_product(client, category=other)
    found = await collect(client, "/v1/products", {"category": category})
    assert [p["sku"] for p in found] == wanted


async def test_q_finds_words_of_sku_or_name_in_any_case(client: httpx.AsyncClient) -> None:
    token = random_code("Q").replace("-", "")
    by_sku = await create_product(client, sku=f"{token}-1", name="Plain")
    by_name = await create_product(client, name=f"Shoe {token.lower()} edition")
    await create_product(client, name="Unrelated")
    for q in (token.lower(), token.upper(), token[:6].capitalize()):
        found = await collect(client, "/v1/products", {"q": q})
        assert sorted(p["sku"] for p in found) == sorted([by_sku["sku"], by_name["sku"]]), q


async def test_q_takes_percent_and_underscore_as_word_separators(
        client: httpx.AsyncClient) -> None:
    category = random_code("CAT")
    cotton = await create_product(client, category=category, name="100% cotton")
    await create_product(client, category=category, name="1000 threads")
    await create_product(client, category=category, name="A_B")
    await create_product(client, category=category, name="AXB")
    found = await collect(client, "/v1/products", {"category": category, "q": "100%"})
    assert [p["sku"] for p in found] == [cotton["sku"]]
    found = await collect(client, "/v1/products", {"category": category, "q": "a_b"})
    assert [p["name"] for p in found] == ["A_B"]


@pytest.mark.parametrize(("stored", "query"), [
    ("black", "black"),
    (42, "42"),
    (1.5, "1.5"),
    (True, "true"),
], ids=["string", "integer", "float", "boolean"])
async def test_attribute_filter_matches_string_and_number_attributes(
        client: httpx.AsyncClient, stored: Any, query: str) -> None:
    category = random_code("CAT")
    match = await create_product(client, category=category, attributes={"a": stored, "b": "x"})
    await create_product(client, category=category, attributes={"a": "other", "b": "x"})
    await create_product(client, category=category, attributes={"b": "x"})
    found = await collect(client, "/v1/products", {"category": category, "attr.a": query})
    assert [p["sku"] for p in found] == [match["sku"]]


async def test_attribute_filter_matches_a_number_and_its_string_alike(
        client: httpx.AsyncClient) -> None:
    category = random_code("CAT")
    as_int = await create_product(client, category=category, attributes={"size": 42})
    as_text = await create_product(client, category=category, attributes={"size": "42"})
    await create_product(client, category=category, attributes={"size": 43})
    found = await collect(client, "/v1/products", {"category": category, "attr.size": "42"})
    assert sorted(p["sku"] for p in found) == sorted([as_int["sku"], as_text["sku"]])


async def test_several_attribute_filters_must_all_match(client: httpx.AsyncClient) -> None:
    category = random_code("CAT")
    both = await create_product(client, category=category,
                                attributes={"size": "42", "color": "black"})
    await create_product(client, category=category, attributes={"size": "42", "color": "red"})
    await create_product(client, category=category, attributes={"size": "43", "color": "black"})
    found = await collect(client, "/v1/products", {"category": category, "attr.size": "42",
                                                   "attr.color": "black"})
    assert [p["sku"] for p in found] == [both["sku"]]


async def test_product_pages_return_every_item_exactly_once(client: httpx.AsyncClient) -> None:
    category = random_code("CAT")
    skus = sorted([(await create_product(client, category=category))["sku"] for _ in range(7)])
    pages, cursor = [], None
    while True:
        params: dict[str, Any] = {"category": category, "limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/v1/products", params=params)).json()
        pages.append([p["sku"] for p in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [sku for page in pages for sku in page] == skus


# -- locations ------------------------------------------------------------------------------

async def test_create_and_get_a_warehouse(client: httpx.AsyncClient) -> None:
    code = random_code("WH")
    body = {"code": code, "name": "Central DC", "address": "1 Dock Road", "latitude": 52.5,
            "longitude": -13.25, "capacity": 250_000,
            "operating_hours": {"mon": "06:00-22:00", "sun": "closed"}}
    response = await client.post("/v1/warehouses", json=body)
    assert response.status_code == 201, response.text
    created = response.json()
    assert {k: created[k] for k in body} == body
    assert (created["type"], created["region"]) == ("warehouse", None)
    assert (await client.get(f"/v1/warehouses/{code}")).json() == created
    assert code in [w["code"] for w in await collect(client, "/v1/warehouses")]
    assert code not in [s["code"] for s in await collect(client, "/v1/retail-locations")]


async def test_create_and_get_a_retail_location(client: httpx.AsyncClient) -> None:
    code = random_location()
    response = await client.post("/v1/retail-locations", json={
        "code": code, "name": "Main Street", "region": "north", "address": "5 Main St",
        "capacity": 800})
    assert response.status_code == 201, response.text
    created = response.json()
    assert (created["type"], created["region"], created["capacity"]) == ("retail", "north", 800)
    assert (await client.get(f"/v1/retail-locations/{code}")).json() == created


async def test_list_retail_locations_by_region(client: httpx.AsyncClient) -> None:
    region, other = random_code("REGION"), random_code("REGION")
    wanted = sorted([(await create_store(client, region=region))["code"] for _ in range(3)])
    await create_store(client, region=other)
    found = await collect(client, "/v1/retail-locations", {"region": region}, limit=2)
    assert [s["code"] for s in found] == wanted
    assert {s["region"] for s in found} == {region}


@pytest.mark.parametrize(("first", "second"), [
    ("/v1/warehouses", "/v1/retail-locations"),
    ("/v1/retail-locations", "/v1/warehouses"),
    ("/v1/warehouses", "/v1/warehouses"),
    ("/v1/retail-locations", "/v1/retail-locations"),
])
async def test_a_location_code_is_taken_once_across_both_types(
        client: httpx.AsyncClient, first: str, second: str) -> None:
    code = random_location()
    created = await client.post(first, json={"code": code, "name": "First"})
    assert created.status_code == 201, created.text
    problem = assert_problem(await client.post(second, json={"code": code, "name": "Second"}),
                             409, "already_exists")
    assert problem["key"] == code
    assert (await client.get(f"{first}/{code}")).json() == created.json()


# -- inventory ------------------------------------------------------------------------------

async def test_never_stocked_level_answers_zeros_at_version_0(client: httpx.AsyncClient) -> None:
    store = (await create_store(client))["code"]
    sku = (await create_product(client))["sku"]
    assert await level(client, store, sku) == {
        "location_id": store, "sku": sku, "on_hand": 0, "reserved": 0, "available": 0,
        "in_transit": 0, "incoming": 0, "reorder_point": None, "reorder_quantity": None,
        "safety_stock": None, "version": 0, "updated_at": None, "as_of": None}
    assert await collect(client, "/v1/inventory", {"location_id": store}) == []


async def test_level_springs_into_being_on_first_receipt(client: httpx.AsyncClient) -> None:
    store = (await create_store(client))["code"]
    sku = (await create_product(client))["sku"]
    response = await change(client, store, sku, delta=5, reason="receipt")
    assert response.status_code == 200, response.text
    created = response.json()
    assert (created["on_hand"], created["available"], created["version"]) == (5, 5, 1)
    assert created["updated_at"] is not None
    assert await level(client, store, sku) == created
    assert await collect(client, "/v1/inventory", {"location_id": store}) == [created]


async def test_deltas_move_on_hand_and_each_is_in_the_ledger(client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=10)
    steps = [(-2, "adjustment"), (-1, "damage"), (3, "found"), (-4, "loss"), (2, "return"),
             (5, "receipt")]
    for delta, reason in steps:
        response = await change(client, store, sku, delta=delta, reason=reason, note=reason)
        assert response.status_code == 200, response.text
    current = await assert_ledger_identity(client, store, sku)
    assert (current["on_hand"], current["version"]) == (13, 7)
    entries = await ledger(client, store, sku)
    assert [(e["delta"], e["type"], e["reason"], e["note"]) for e in entries[1:]] == [
        (d, r, r, r) for d, r in steps]
    assert [e["balance_after"] for e in entries] == [10, 8, 7, 10, 6, 8, 13]


@pytest.mark.parametrize(("counted", "delta"), [(7, -3), (12, 2), (10, 0), (0, -10)])
async def test_count_sets_the_absolute_quantity_and_the_ledger_records_the_difference(
        client: httpx.AsyncClient, counted: int, delta: int) -> None:
    store, (sku,) = await stocked(client, quantity=10)
    response = await change(client, store, sku, quantity=counted, reason="count")
    assert response.status_code == 200, response.text
    assert (response.json()["on_hand"], response.json()["available"]) == (counted, counted)
    last = (await ledger(client, store, sku))[-1]
    assert (last["delta"], last["balance_after"], last["type"]) == (delta, counted, "count")
    await assert_ledger_identity(client, store, sku)


async def test_count_of_a_never_stocked_level_creates_it(client: httpx.AsyncClient) -> None:
    store = (await create_store(client))["code"]
    sku = (await create_product(client))["sku"]
    response = await change(client, store, sku, quantity=6, reason="count")
    assert response.status_code == 200, response.text
    assert (response.json()["on_hand"], response.json()["version"]) == (6, 1)
    assert (await assert_ledger_identity(client, store, sku))["on_hand"] == 6


async def test_expected_version_is_a_compare_and_set(client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=10)
    version = (await level(client, store, sku))["version"]
    ok = await change(client, store, sku, delta=-1, reason="adjustment",
                      expected_version=version)
    assert ok.status_code == 200, ok.text
    assert ok.json()["version"] == version + 1

    stale = await change(client, store, sku, delta=-1, reason="adjustment",
                         expected_version=version)
    problem = assert_problem(stale, 409, "version_conflict")
    assert (problem["expected_version"], problem["current_version"]) == (version, version + 1)
    assert (problem["location_id"], problem["sku"]) == (store, sku)
    assert await level(client, store, sku) == ok.json()
    stale_count = await change(client, store, sku, quantity=1, reason="count",
                               expected_version=version)
    assert assert_problem(stale_count, 409, "version_conflict")["current_version"] == version + 1
    assert len(await ledger(client, store, sku)) == 2


@pytest.mark.parametrize(("expected", "status"), [(0, 200), (1, 409)])
async def test_expected_version_of_a_never_stocked_level_is_0(
        client: httpx.AsyncClient, expected: int, status: int) -> None:
    store = (await create_store(client))["code"]
    sku = (await create_product(client))["sku"]
    response = await change(client, store, sku, delta=3, reason="receipt",
                            expected_version=expected)
    assert response.status_code == status, response.text
    if status == 409:
        assert assert_problem(response, 409, "version_conflict")["current_version"] == 0
        assert (await level(client, store, sku))["version"] == 0


async def test_removing_more_than_available_is_409_and_changes_nothing(
        client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=4)
    before = await level(client, store, sku)
    for reason in ("adjustment", "damage", "loss"):
        response = await change(client, store, sku, delta=-5, reason=reason)
        problem = assert_problem(response, 409, "insufficient_stock")
        assert problem["location_id"] == store
        assert problem["lines"] == [{"sku": sku, "requested": 5, "available": 4}]
    assert await level(client, store, sku) == before
    assert len(await ledger(client, store, sku)) == 1
    emptied = await change(client, store, sku, delta=-4, reason="adjustment")
    assert (emptied.json()["on_hand"], emptied.json()["available"]) == (0, 0)


async def test_removing_from_a_never_stocked_level_is_insufficient_stock(
        client: httpx.AsyncClient) -> None:
    store = (await create_store(client))["code"]
    sku = (await create_product(client))["sku"]
    problem = assert_problem(await change(client, store, sku, delta=-1, reason="adjustment"),
                             409, "insufficient_stock")
    assert problem["lines"] == [{"sku": sku, "requested": 1, "available": 0}]
    assert (await level(client, store, sku))["version"] == 0


async def test_list_levels_by_sku_location_and_type(client: httpx.AsyncClient) -> None:
    sku = (await create_product(client))["sku"]
    other_sku = (await create_product(client))["sku"]
    store = (await create_store(client))["code"]
    warehouse = (await create_warehouse(client))["code"]
    for location in (store, warehouse):
        await receive(client, location, sku, 5)
        await receive(client, location, other_sku, 1)

    by_sku = await collect(client, "/v1/inventory", {"sku": sku})
    assert sorted(x["location_id"] for x in by_sku) == sorted([store, warehouse])
    assert {x["sku"] for x in by_sku} == {sku}
    by_location = await collect(client, "/v1/inventory", {"location_id": store})
    assert sorted(x["sku"] for x in by_location) == sorted([sku, other_sku])
    for kind, code in (("warehouse", warehouse), ("retail", store)):
        found = await collect(client, "/v1/inventory", {"sku": sku, "location_type": kind})
        assert [x["location_id"] for x in found] == [code]


async def test_below_reorder_point_lists_levels_at_or_under_it(client: httpx.AsyncClient) -> None:
    store, (low, at, high, unset) = await stocked(client, quantity=5, skus=4)
    for sku, point in ((low, 8), (at, 5), (high, 2)):
        response = await client.put(f"/v1/inventory/{store}/{sku}/settings",
                                    json={"reorder_point": point})
        assert response.status_code == 200, response.text
    below = await collect(client, "/v1/inventory",
                          {"location_id": store, "below_reorder_point": "true"})
    assert sorted(x["sku"] for x in below) == sorted([low, at])
    above = await collect(client, "/v1/inventory",
                          {"location_id": store, "below_reorder_point": "false"})
    assert sorted(x["sku"] for x in above) == sorted([high, unset])


async def test_level_pages_return_every_item_exactly_once(client: httpx.AsyncClient) -> None:
    store, skus = await stocked(client, quantity=1, skus=5)
    found = await collect(client, "/v1/inventory", {"location_id": store}, limit=2)
    assert [x["sku"] for x in found] == sorted(skus)


async def test_put_settings_sets_reorder_point_quantity_and_safety_stock(
        client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=10)
    before = await level(client, store, sku)
    response = await client.put(f"/v1/inventory/{store}/{sku}/settings", json={
        "reorder_point": 4, "reorder_quantity": 20, "safety_stock": 2})
    assert response.status_code == 200, response.text
    settings = response.json()
    assert (settings["reorder_point"], settings["reorder_quantity"],
            settings["safety_stock"]) == (4, 20, 2)
    assert (settings["on_hand"], settings["version"]) == (10, before["version"] + 1)
    assert await level(client, store, sku) == settings


async def test_settings_before_the_first_receipt_start_an_empty_level(
        client: httpx.AsyncClient) -> None:
    store = (await create_store(client))["code"]
    sku = (await create_product(client))["sku"]
    response = await client.put(f"/v1/inventory/{store}/{sku}/settings",
                                json={"reorder_point": 3})
    assert response.status_code == 200, response.text
    assert (response.json()["on_hand"], response.json()["reorder_point"]) == (0, 3)
    await receive(client, store, sku, 5)
    assert (await level(client, store, sku))["reorder_point"] == 3


# -- sales ----------------------------------------------------------------------------------

async def test_multi_line_sale_takes_every_line_and_answers_the_sale(
        client: httpx.AsyncClient) -> None:
    store, (shoes, socks) = await stocked(client, quantity=10, skus=2)
    response = await client.post("/v1/sales/record", json={
        "location_id": store, "channel": "ecommerce", "payment_status": "authorized",
        "external_ref": "ORDER-1001",
        "lines": [line(shoes, 2, "89.99"), line(socks, 3, "4.5")]})
    assert response.status_code == 201, response.text
    sale = response.json()
    assert sale["id"].startswith("sale_")
    assert (sale["location_id"], sale["status"], sale["units"]) == (store, "completed", 5)
    assert (sale["channel"], sale["payment_status"], sale["external_ref"]) == (
        "ecommerce", "authorized", "ORDER-1001")
    assert sale["actor"] == "admin"
    assert sale["lines"] == [
        {"line_no": 1, "sku": shoes, "quantity": 2, "returned_quantity": 0,
         "unit_price": price("89.99"), "total": price("179.98")},
        {"line_no": 2, "sku": socks, "quantity": 3, "returned_quantity": 0,
         "unit_price": price("4.50"), "total": price("13.50")}]
    assert sale["total"] == price("193.48")
    assert sale["returns"] == []
    assert (await assert_ledger_identity(client, store, shoes))["on_hand"] == 8
    assert (await assert_ledger_identity(client, store, socks))["on_hand"] == 7
    assert (await client.get(f"/v1/sales/{sale['id']}")).json() == sale


async def test_sale_defaults_to_pos_paid_now(client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=1)
    started = datetime.now(UTC)
    sale = await record_sale(client, store, [line(sku)])
    assert (sale["channel"], sale["payment_status"], sale["external_ref"]) == ("pos", "paid",
                                                                               None)
    assert started <= when(sale["occurred_at"]) <= datetime.now(UTC)


async def test_lines_of_one_sku_are_summed_against_its_stock(client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=3)
    short = await client.post("/v1/sales/record", json={
        "location_id": store, "lines": [line(sku, 2), line(sku, 2)]})
    problem = assert_problem(short, 409, "insufficient_stock")
    assert problem["lines"] == [{"sku": sku, "requested": 4, "available": 3}]
    sale = await record_sale(client, store, [line(sku, 2), line(sku, 1)])
    assert [x["line_no"] for x in sale["lines"]] == [1, 2]
    assert [(e["delta"], e["reference"]) for e in (await ledger(client, store, sku))[1:]] == [
        (-3, sale["id"])]


async def test_sale_with_short_lines_names_every_short_line_and_changes_nothing(
        client: httpx.AsyncClient) -> None:
    store, (plenty, short, shorter) = await stocked(client, quantity=2, skus=3)
    await receive(client, store, plenty, 8)
    before = {sku: await level(client, store, sku) for sku in (plenty, short, shorter)}
    response = await client.post("/v1/sales/record", json={"location_id": store, "lines": [
        line(plenty, 5), line(short, 3), line(shorter, 4)]})
    problem = assert_problem(response, 409, "insufficient_stock")
    assert problem["location_id"] == store
    assert sorted(problem["lines"], key=lambda x: x["sku"]) == sorted([
        {"sku": short, "requested": 3, "available": 2},
        {"sku": shorter, "requested": 4, "available": 2}], key=lambda x: x["sku"])
    assert {sku: await level(client, store, sku) for sku in before} == before
    assert await sales_at(client, store) == []
    assert len(await ledger(client, store, plenty)) == 2


async def test_sale_of_a_never_stocked_sku_is_insufficient_stock(
        client: httpx.AsyncClient) -> None:
    store, (stocked_sku,) = await stocked(client, quantity=5)
    never = (await create_product(client))["sku"]
    response = await client.post("/v1/sales/record", json={
        "location_id": store, "lines": [line(stocked_sku), line(never, 2)]})
    problem = assert_problem(response, 409, "insufficient_stock")
    assert problem["lines"] == [{"sku": never, "requested": 2, "available": 0}]
    assert (await level(client, store, stocked_sku))["on_hand"] == 5
    assert (await level(client, store, never))["version"] == 0


async def test_occurred_at_with_an_offset_is_kept_as_the_same_instant(
        client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=1)
    sale = await record_sale(client, store, [line(sku)], occurred_at="2021-06-01T12:00:00+02:00")
    assert when(sale["occurred_at"]) == datetime(2021, 6, 1, 10, 0, tzinfo=UTC)
    assert (await client.get(f"/v1/sales/{sale['id']}")).json() == sale
    entry = (await ledger(client, store, sku))[-1]
    assert when(entry["occurred_at"]) == datetime(2021, 6, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
async def three_sales(client: httpx.AsyncClient) -> tuple[str, str, str, list[dict[str, Any]]]:
    """A store with three back-dated sales, oldest first, on three channels."""
    store, (a, b) = await stocked(client, quantity=10, skus=2)
    sales = [
        await record_sale(client, store, [line(a)], channel="pos",
                          occurred_at="2021-01-01T10:00:00Z"),
        await record_sale(client, store, [line(b)], channel="ecommerce",
                          occurred_at="2021-01-02T10:00:00Z"),
        await record_sale(client, store, [line(a), line(b)], channel="marketplace",
                          occurred_at="2021-01-03T10:00:00Z"),
    ]
    return store, a, b, sales


@pytest.mark.parametrize(("params", "expected"), [
    ({}, [2, 1, 0]),
    ({"from": "2021-01-02T10:00:00Z"}, [2, 1]),
    ({"to": "2021-01-02T10:00:00Z"}, [0]),
    ({"from": "2021-01-01T12:00:01+02:00", "to": "2021-01-03T10:00:00Z"}, [1]),
    ({"sku": "A"}, [2, 0]),
    ({"sku": "B"}, [2, 1]),
    ({"channel": "ecommerce"}, [1]),
    ({"channel": "marketplace", "sku": "B"}, [2]),
    ({"channel": "pos", "sku": "B"}, []),
], ids=["all", "from-inclusive", "to-exclusive", "window-with-offset", "sku-a", "sku-b",
        "channel", "channel-and-sku", "nothing"])
async def test_list_sales_newest_first_by_filters(
        client: httpx.AsyncClient, three_sales: tuple[str, str, str, list[dict[str, Any]]],
        params: dict[str, str], expected: list[int]) -> None:
    store, a, b, sales = three_sales
    query = {**params, "location_id": store}
    if "sku" in query:
        query["sku"] = {"A": a, "B": b}[query["sku"]]
    found = await collect(client, "/v1/sales", query)
    assert [s["id"] for s in found] == [sales[i]["id"] for i in expected]


async def test_sale_pages_return_every_sale_exactly_once(
        client: httpx.AsyncClient, three_sales: tuple[str, str, str, list[dict[str, Any]]]
) -> None:
    store, _, _, sales = three_sales
    found = await collect(client, "/v1/sales", {"location_id": store}, limit=1)
    assert found == list(reversed(sales))


async def test_sales_of_other_stores_are_not_listed(client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=5)
    elsewhere, (other,) = await stocked(client, quantity=5)
    mine = await record_sale(client, store, [line(sku)])
    await record_sale(client, elsewhere, [line(other)])
    assert [s["id"] for s in await sales_at(client, store)] == [mine["id"]]


async def test_unknown_sale_id_is_404(client: httpx.AsyncClient) -> None:
    problem = assert_problem(await client.get("/v1/sales/sale_NOSUCHSALE"), 404, "not_found")
    assert (problem["resource"], problem["key"]) == ("sale", "sale_NOSUCHSALE")


async def test_sale_with_an_unknown_sku_is_404_and_sells_nothing(
        client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=5)
    unknown = random_sku()
    response = await client.post("/v1/sales/record", json={
        "location_id": store, "lines": [line(sku), line(unknown)]})
    problem = assert_problem(response, 404, "not_found")
    assert (problem["resource"], problem["key"]) == ("product", unknown)
    assert (await level(client, store, sku))["on_hand"] == 5


@pytest.mark.parametrize("missing", ["location", "product"])
async def test_level_of_an_unknown_location_or_sku_is_404(client: httpx.AsyncClient,
                                                          missing: str) -> None:
    store, (sku,) = await stocked(client, quantity=1)
    unknown = random_code("UNKNOWN")
    path = f"/v1/inventory/{unknown}/{sku}" if missing == "location" else (
        f"/v1/inventory/{store}/{unknown}")
    problem = assert_problem(await client.get(path), 404, "not_found")
    assert (problem["resource"], problem["key"]) == (missing, unknown)


# -- the ledger -----------------------------------------------------------------------------

async def test_ledger_lists_every_change_with_its_cause(client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=10)
    await change(client, store, sku, delta=-2, reason="damage", note="dropped")
    sale = await record_sale(client, store, [line(sku, 3)])
    await change(client, store, sku, quantity=4, reason="count")

    entries = await ledger(client, store, sku)
    assert [(e["delta"], e["balance_after"], e["type"], e["reason"], e["reference"])
            for e in entries] == [
        (10, 10, "receipt", "receipt", None),
        (-2, 8, "damage", "damage", None),
        (-3, 5, "sale", "sale", sale["id"]),
        (-1, 4, "count", "count", None)]
    assert {e["actor"] for e in entries} == {"admin"}
    assert {(e["location_id"], e["sku"]) for e in entries} == {(store, sku)}
    assert (entries[1]["note"], entries[1]["lot"]) == ("dropped", None)
    assert [e["id"] for e in entries] == sorted(e["id"] for e in entries)
    assert all(when(e["occurred_at"]) <= datetime.now(UTC) for e in entries)


async def test_ledger_filters_by_type_and_time(client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=10)
    old = await record_sale(client, store, [line(sku)], occurred_at="2020-03-01T00:00:00Z")
    new = await record_sale(client, store, [line(sku)], occurred_at="2020-03-02T00:00:00Z")
    base = {"location_id": store, "sku": sku}
    sales = await collect(client, "/v1/stock-movements", {**base, "type": "sale"})
    assert [e["reference"] for e in sales] == [old["id"], new["id"]]
    receipts = await collect(client, "/v1/stock-movements", {**base, "type": "receipt"})
    assert [e["delta"] for e in receipts] == [10]
    window = await collect(client, "/v1/stock-movements", {
        **base, "from": "2020-03-01T00:00:00Z", "to": "2020-03-02T00:00:00Z"})
    assert [e["reference"] for e in window] == [old["id"]]
    by_location = await collect(client, "/v1/stock-movements", {"location_id": store})
    assert len(by_location) == 3


async def test_ledger_pages_return_every_entry_exactly_once(client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=10)
    for _ in range(4):
        await change(client, store, sku, delta=-1, reason="adjustment")
    paged = await collect(client, "/v1/stock-movements", {"location_id": store, "sku": sku},
                          limit=2)
    assert paged == await ledger(client, store, sku)
    assert len(paged) == 5


# -- operations -----------------------------------------------------------------------------

async def test_every_answer_carries_a_request_id(client: httpx.AsyncClient) -> None:
    ids = set()
    for response in (await client.get("/v1/products", params={"limit": 1}),
                     await client.get("/v1/nope"),
                     await client.get("/v1/products", params={"limit": 0}),
                     await without_credentials(client, "GET", "/v1/products"),
                     await client.get("/healthz")):
        assert re.fullmatch(r"[A-Za-z0-9._:-]{8,128}", response.headers["X-Request-ID"])
        ids.add(response.headers["X-Request-ID"])
    assert len(ids) == 5


async def test_a_valid_incoming_request_id_is_reused(client: httpx.AsyncClient) -> None:
    mine = random_code("req") + ":1.2_3"
    response = await client.get("/v1/products", params={"limit": 1},
                                headers={"X-Request-ID": mine})
    assert response.headers["X-Request-ID"] == mine


@pytest.mark.parametrize("bad", ["has space", "x" * 129, "semi;colon", ""])
async def test_an_invalid_incoming_request_id_is_replaced(client: httpx.AsyncClient,
                                                          bad: str) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": bad})
    assert response.headers["X-Request-ID"] not in ("", bad)


@pytest.mark.parametrize(("path", "body"), [
    ("/healthz", {"status": "ok"}),
    ("/readyz", {"status": "ready", "database": "ok"}),
])
async def test_health_answers_without_credentials(client: httpx.AsyncClient, path: str,
                                                  body: dict[str, str]) -> None:
    response = await without_credentials(client, "GET", path)
    assert (response.status_code, response.json()) == (200, body)


async def test_openapi_and_docs_are_reachable_without_credentials(
        client: httpx.AsyncClient) -> None:
    spec = await without_credentials(client, "GET", "/openapi.json")
    assert spec.status_code == 200
    paths = spec.json()["paths"]
    for path in ("/v1/products", "/v1/inventory/update", "/v1/sales/record",
                 "/v1/stock-movements", "/v1/inventory/{location_id}/{sku}"):
        assert path in paths, path
    docs = await without_credentials(client, "GET", "/docs")
    assert docs.status_code == 200
    assert "text/html" in docs.headers["content-type"]


async def test_bearer_admin_key_is_a_credential(client: httpx.AsyncClient) -> None:
    bearer = f"Bearer {client.headers['X-API-Key']}"
    response = await without_credentials(client, "GET", "/v1/products",
                                         headers={"Authorization": bearer})
    assert response.status_code == 200, response.text


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one Prometheus series (0 when absent)."""
    for row in text.splitlines():
        if row.startswith("#") or not row.startswith(name):
            continue
        series, _, value = row.rpartition(" ")
        series_name, _, label_text = series.partition("{")
        found = dict(re.findall(r'(\w+)="([^"]*)"', label_text))
        if series_name == name and found == labels:
            return float(value)
    return 0.0


async def metrics(client: httpx.AsyncClient) -> str:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


async def test_metrics_count_requests_by_route_and_status(client: httpx.AsyncClient) -> None:
    assert_problem(await without_credentials(client, "GET", "/metrics"), 401, "unauthorized")
    before = await metrics(client)
    for _ in range(3):
        assert (await client.get(f"/v1/products/{random_sku()}")).status_code == 404
    after = await metrics(client)
    labels = {"method": "GET", "route": "/v1/products/{sku}", "status": "404"}
    assert (sample(after, "stockline_http_requests_total", **labels)
            - sample(before, "stockline_http_requests_total", **labels)) == 3
    assert "stockline_http_request_duration_seconds_bucket" in after


async def test_metrics_count_sales_and_units_once_per_sale(client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=10)
    before = await metrics(client)
    key = {"Idempotency-Key": random_code("METRICS")}
    body = {"location_id": store, "channel": "marketplace", "lines": [line(sku, 4)]}
    for _ in range(2):  # the replay is not a second sale
        assert (await client.post("/v1/sales/record", json=body, headers=key)).status_code == 201
    refused = await client.post("/v1/sales/record", json={**body, "lines": [line(sku, 99)]})
    assert refused.status_code == 409
    after = await metrics(client)
    assert (sample(after, "stockline_sales_total", channel="marketplace")
            - sample(before, "stockline_sales_total", channel="marketplace")) == 1
    assert (sample(after, "stockline_units_sold_total")
            - sample(before, "stockline_units_sold_total")) == 4
