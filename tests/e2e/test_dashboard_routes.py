"""The two read-only routes the dashboard added, on both backends: stock summed by
location (of a SKU, of a category), within a key's locations; and the event pipeline's
status (outbox lag, the relay's leader), for those who may read operations."""

from __future__ import annotations

import httpx

from tests.factories import (
    as_key,
    assert_problem,
    create_api_key,
    create_product,
    create_store,
    line,
    random_code,
    receive,
    record_sale,
    set_reorder,
)


async def _by_location(client: httpx.AsyncClient, **params: str) -> dict[str, dict]:
    response = await client.get("/v1/inventory/by-location", params=params)
    assert response.status_code == 200, response.text
    return {row["location_id"]: row for row in response.json()["items"]}


async def test_stock_is_summed_by_location_for_a_sku_and_a_category(
        client: httpx.AsyncClient) -> None:
    category = random_code("CAT")
    a, b = (await create_store(client))["code"], (await create_store(client))["code"]
    one = (await create_product(client, category=category))["sku"]
    two = (await create_product(client, category=category))["sku"]
    await receive(client, a, one, 10)
    await receive(client, a, two, 4)
    await receive(client, b, one, 3)
    await set_reorder(client, a, two, reorder_point=5)
    await client.post("/v1/reservations", json={"location_id": a, "lines": [
        {"sku": one, "quantity": 2}]})
    await record_sale(client, b, [line(one)])

    rows = await _by_location(client, category=category)
    assert {k: rows[k] for k in (a, b)} == {
        a: {"location_id": a, "location_type": "retail", "skus": 2, "on_hand": 14,
            "reserved": 2, "available": 12, "in_transit": 0, "low": 1},
        b: {"location_id": b, "location_type": "retail", "skus": 1, "on_hand": 2,
            "reserved": 0, "available": 2, "in_transit": 0, "low": 0}}
    of_two = await _by_location(client, sku=two)
    assert set(of_two) == {a} and of_two[a]["on_hand"] == 4


async def test_a_key_of_some_locations_sums_theirs_only(client: httpx.AsyncClient) -> None:
    a, b = (await create_store(client))["code"], (await create_store(client))["code"]
    sku = (await create_product(client))["sku"]
    await receive(client, a, sku, 5)
    await receive(client, b, sku, 6)
    key = await create_api_key(client, "partner", location_ids=[a])  # reads its own only
    response = await as_key(client, key["key"], "GET", "/v1/inventory/by-location",
                            params={"sku": sku})
    assert response.status_code == 200, response.text
    assert [row["location_id"] for row in response.json()["items"]] == [a]


async def test_bad_filters_of_the_sum_are_refused(client: httpx.AsyncClient) -> None:
    for params in ({"sku": "no spaces"}, {"category": ""}, {"category": "x" * 101},
                   {"location_id": "A"}):
        response = await client.get("/v1/inventory/by-location", params=params)
        assert_problem(response, 422, "validation_error")


async def test_the_status_tells_the_outbox_lag_and_the_relay_leader(
        client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/admin/status")
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body["outbox"]) == {"pending", "oldest_pending_seconds", "newest_event_id",
                                   "published_through"}
    assert body["outbox"]["pending"] >= 0
    assert body["outbox"]["published_through"] <= body["outbox"]["newest_event_id"]
    assert sum(node["this_node"] for node in body["nodes"]) == 1
    assert all(node["leads_relay"] == (node["lease_until"] is not None)
               for node in body["nodes"])


async def test_the_status_is_refused_to_store_staff(client: httpx.AsyncClient) -> None:
    key = await create_api_key(client, "store_staff")
    response = await as_key(client, key["key"], "GET", "/v1/admin/status")
    assert_problem(response, 403, "forbidden")
