"""Idempotency-Key: a retried write is answered as the first time, and applied once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.factories import (
    assert_ledger_identity,
    assert_problem,
    create_product,
    create_store,
    ledger,
    level,
    line,
    random_code,
    random_location,
    random_sku,
    receive,
    sales_at,
    stocked,
)

REPLAYED = "Idempotent-Replayed"


def new_key() -> str:
    return random_code("IDEM")


async def post_sale(client: httpx.AsyncClient, key: str | None, store: str, sku: str,
                    quantity: int = 1) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key else {}
    return await client.post("/v1/sales/record", headers=headers,
                             json={"location_id": store, "lines": [line(sku, quantity)]})


async def test_ten_identical_requests_with_one_key_record_exactly_one_sale(
        client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=10)
    key = new_key()
    responses = [await post_sale(client, key, store, sku, 2) for _ in range(10)]

    first, replays = responses[0], responses[1:]
    assert first.status_code == 201, first.text
    assert REPLAYED not in first.headers
    for replay in replays:
        assert replay.status_code == 201
        assert replay.content == first.content
        assert replay.headers["content-type"] == first.headers["content-type"]
        assert replay.headers[REPLAYED] == "true"
    sales = await sales_at(client, store)
    assert [s["id"] for s in sales] == [first.json()["id"]]
    current = await assert_ledger_identity(client, store, sku)
    assert current["on_hand"] == 8
    assert [e["type"] for e in await ledger(client, store, sku)] == ["receipt", "sale"]


async def test_concurrent_requests_with_one_key_record_exactly_one_sale(
        client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=10)
    key = new_key()
    responses = await asyncio.gather(*(post_sale(client, key, store, sku, 3)
                                       for _ in range(10)))

    created = [r for r in responses if r.status_code == 201]
    assert created, [r.text for r in responses]
    assert {r.content for r in created} == {created[0].content}
    for response in responses:
        if response.status_code != 201:  # still in flight when asked: the contract allows it
            assert_problem(response, 409, "idempotency_key_in_use")
    assert sum(REPLAYED not in r.headers for r in created) <= 1
    assert len(await sales_at(client, store)) == 1
    assert (await assert_ledger_identity(client, store, sku))["on_hand"] == 7


async def test_same_key_with_a_different_body_is_422_and_applies_nothing(
        client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=10)
    key = new_key()
    first = await post_sale(client, key, store, sku, 1)
    assert first.status_code == 201, first.text
    after_first = await level(client, store, sku)

    mismatch = await post_sale(client, key, store, sku, 2)
    problem = assert_problem(mismatch, 422, "idempotency_key_reused")
    assert key in problem["detail"]
    assert REPLAYED not in mismatch.headers
    assert await level(client, store, sku) == after_first
    assert len(await sales_at(client, store)) == 1

    again = await post_sale(client, key, store, sku, 1)  # the key still holds the first answer
    assert (again.status_code, again.content) == (201, first.content)
    assert again.headers[REPLAYED] == "true"


async def test_same_body_sent_with_other_key_order_and_spacing_is_a_replay(
        client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=10)
    key = new_key()
    first = await client.post("/v1/inventory/update", headers={"Idempotency-Key": key}, json={
        "location_id": store, "sku": sku, "delta": 4, "reason": "receipt"})
    assert first.status_code == 200, first.text
    reordered = (f'{{ "reason" : "receipt", "delta": 4,\n "sku": "{sku}", '
                 f'"location_id": "{store}" }}').encode()
    again = await client.post("/v1/inventory/update", content=reordered, headers={
        "Idempotency-Key": key, "Content-Type": "application/json"})
    assert (again.status_code, again.content) == (200, first.content)
    assert again.headers[REPLAYED] == "true"
    assert (await level(client, store, sku))["on_hand"] == 14


@pytest.mark.parametrize("kind", ["insufficient_stock", "not_found"])
async def test_refused_write_is_replayed_as_refused_even_after_the_cause_is_gone(
        client: httpx.AsyncClient, kind: str) -> None:
    store = (await create_store(client))["code"]
    sku = random_sku()
    if kind == "insufficient_stock":
        await create_product(client, sku)
        await receive(client, store, sku, 1)
    key = new_key()
    refused = await post_sale(client, key, store, sku, 3)
    status = 409 if kind == "insufficient_stock" else 404
    assert_problem(refused, status, kind)

    if kind == "not_found":
        await create_product(client, sku)
    await receive(client, store, sku, 10)
    replay = await post_sale(client, key, store, sku, 3)
    assert (replay.status_code, replay.content) == (status, refused.content)
    assert replay.headers["content-type"].startswith("application/problem+json")
    assert replay.headers[REPLAYED] == "true"
    assert await sales_at(client, store) == []

    fresh = await post_sale(client, new_key(), store, sku, 3)  # a new key is a new attempt
    assert fresh.status_code == 201, fresh.text


async def test_request_refused_by_validation_does_not_use_up_the_key(
        client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=10)
    key = new_key()
    invalid = await client.post("/v1/sales/record", headers={"Idempotency-Key": key},
                                json={"location_id": store, "lines": []})
    assert_problem(invalid, 422, "validation_error")
    valid = await post_sale(client, key, store, sku, 1)
    assert valid.status_code == 201, valid.text
    assert REPLAYED not in valid.headers


async def test_same_key_on_a_different_route_is_a_mismatch(client: httpx.AsyncClient) -> None:
    key = new_key()
    code = random_code("SAME")
    product = await client.post("/v1/products", headers={"Idempotency-Key": key},
                                json={"sku": code, "name": "Same", "category": "same"})
    assert product.status_code == 201, product.text

    warehouse = await client.post("/v1/warehouses", headers={"Idempotency-Key": key},
                                  json={"code": code, "name": "Same"})
    assert_problem(warehouse, 422, "idempotency_key_reused")
    assert (await client.get(f"/v1/warehouses/{code}")).status_code == 404


async def test_same_key_and_body_on_another_path_is_a_mismatch(
        client: httpx.AsyncClient) -> None:
    store, (first_sku, other_sku) = await stocked(client, quantity=5, skus=2)
    key = new_key()
    body = {"reorder_point": 2}
    first = await client.put(f"/v1/inventory/{store}/{first_sku}/settings", json=body,
                             headers={"Idempotency-Key": key})
    assert first.status_code == 200, first.text
    before = await level(client, store, other_sku)

    other = await client.put(f"/v1/inventory/{store}/{other_sku}/settings", json=body,
                             headers={"Idempotency-Key": key})
    assert_problem(other, 422, "idempotency_key_reused")
    assert await level(client, store, other_sku) == before


async def test_without_a_key_each_identical_request_is_applied(
        client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=10)
    for _ in range(2):
        response = await post_sale(client, None, store, sku, 1)
        assert response.status_code == 201, response.text
        assert REPLAYED not in response.headers
    assert len(await sales_at(client, store)) == 2


async def test_different_keys_are_different_requests(client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=10)
    first = await post_sale(client, new_key(), store, sku, 1)
    second = await post_sale(client, new_key(), store, sku, 1)
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["id"] != second.json()["id"]
    assert REPLAYED not in second.headers
    assert (await level(client, store, sku))["on_hand"] == 8


# -- every write route ----------------------------------------------------------------------

@dataclass
class Write:
    """One write, and a check that its effect happened exactly once."""

    method: str
    url: str
    body: dict[str, Any]
    other_body: dict[str, Any]
    applied_once: Callable[[], Awaitable[None]]


async def _create_product(client: httpx.AsyncClient) -> Write:
    sku, category = random_sku(), random_code("CAT")

    async def check() -> None:
        found = (await client.get("/v1/products", params={"category": category})).json()
        assert [(p["sku"], p["version"]) for p in found["items"]] == [(sku, 1)]
    body = {"sku": sku, "name": "Once", "category": category}
    return Write("POST", "/v1/products", body, {**body, "name": "Twice"}, check)


async def _patch_product(client: httpx.AsyncClient) -> Write:
    sku = (await create_product(client, attributes={"size": "42"}))["sku"]

    async def check() -> None:
        found = (await client.get(f"/v1/products/{sku}")).json()
        assert (found["version"], found["attributes"]) == (2, {"size": "42", "color": "red"})
    return Write("PATCH", f"/v1/products/{sku}", {"attributes": {"color": "red"}},
                 {"attributes": {"color": "blue"}}, check)


async def _create_location(client: httpx.AsyncClient, path: str) -> Write:
    code = random_location()

    async def check() -> None:
        found = (await client.get(f"{path}/{code}")).json()
        assert found["code"] == code
    return Write("POST", path, {"code": code, "name": "Once"}, {"code": code, "name": "Twice"},
                 check)


async def _update_inventory(client: httpx.AsyncClient) -> Write:
    store, (sku,) = await stocked(client, quantity=10)

    async def check() -> None:
        current = await assert_ledger_identity(client, store, sku)
        assert (current["on_hand"], current["version"]) == (15, 2)
    body = {"location_id": store, "sku": sku, "delta": 5, "reason": "receipt"}
    return Write("POST", "/v1/inventory/update", body, {**body, "delta": 6}, check)


async def _put_settings(client: httpx.AsyncClient) -> Write:
    store, (sku,) = await stocked(client, quantity=10)
    before = await level(client, store, sku)

    async def check() -> None:
        current = await level(client, store, sku)
        assert (current["reorder_point"], current["version"]) == (4, before["version"] + 1)
    return Write("PUT", f"/v1/inventory/{store}/{sku}/settings", {"reorder_point": 4},
                 {"reorder_point": 5}, check)


async def _record_sale(client: httpx.AsyncClient) -> Write:
    store, (sku,) = await stocked(client, quantity=10)

    async def check() -> None:
        assert len(await sales_at(client, store)) == 1
        assert (await assert_ledger_identity(client, store, sku))["on_hand"] == 9
    return Write("POST", "/v1/sales/record", {"location_id": store, "lines": [line(sku)]},
                 {"location_id": store, "lines": [line(sku, 2)]}, check)


ROUTES: dict[str, Callable[[httpx.AsyncClient], Awaitable[Write]]] = {
    "products": _create_product,
    "patch-product": _patch_product,
    "warehouses": lambda c: _create_location(c, "/v1/warehouses"),
    "retail-locations": lambda c: _create_location(c, "/v1/retail-locations"),
    "inventory-update": _update_inventory,
    "settings": _put_settings,
    "sales-record": _record_sale,
}


@pytest.mark.parametrize("route", list(ROUTES))
async def test_every_write_route_replays_the_first_answer_and_applies_once(
        client: httpx.AsyncClient, route: str) -> None:
    write = await ROUTES[route](client)
    headers = {"Idempotency-Key": new_key()}
    first = await client.request(write.method, write.url, json=write.body, headers=headers)
    assert first.status_code in (200, 201), first.text
    replay = await client.request(write.method, write.url, json=write.body, headers=headers)
    assert (replay.status_code, replay.content) == (first.status_code, first.content)
    assert replay.headers[REPLAYED] == "true"
    await write.applied_once()

    mismatch = await client.request(write.method, write.url, json=write.other_body,
                                    headers=headers)
    assert_problem(mismatch, 422, "idempotency_key_reused")
    await write.applied_once()
