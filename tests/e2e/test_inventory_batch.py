"""POST /v1/inventory/batch: many bodies of /v1/inventory/update, each answered on its own.

Every refused item is compared with what the single route answers for that body alone;
what was applied is read back from the levels, the ledger and the event log.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer
from tests.factories import (
    assert_ledger_identity,
    assert_problem,
    create_product,
    create_store,
    error_fields,
    insert_api_key,
    ledger,
    level,
    random_code,
    receive,
    send_as,
    stocked,
    wait_for_log,
)

BATCH = "/v1/inventory/batch"
REPLAYED = "Idempotent-Replayed"


def change(location_id: str, sku: str, delta: int, reason: str = "adjustment",
           **fields: Any) -> dict[str, Any]:
    return {"location_id": location_id, "sku": sku, "delta": delta, "reason": reason,
            **fields}


def results(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    found: list[dict[str, Any]] = response.json()["results"]
    assert [r["index"] for r in found] == list(range(len(found)))
    return found


async def single(client: httpx.AsyncClient, key: str | None,
                 body: Any) -> tuple[int, dict[str, Any]]:
    """What POST /v1/inventory/update answers for ``body`` alone, sent as ``key`` (None:
    as ``client``)."""
    response = (await client.post("/v1/inventory/update", json=body) if key is None
                else await send_as(client, key, "POST", "/v1/inventory/update", json=body))
    return response.status_code, response.json()


async def test_each_item_is_applied_or_refused_on_its_own(client: httpx.AsyncClient,
                                                          database_url: str) -> None:
    home, (a, b) = await stocked(client, quantity=10, skus=2)
    await client.post("/v1/inventory/update", json=change(home, b, -7))  # b: 3 left
    away = (await create_store(client))["code"]
    await receive(client, away, a, 4)
    away_before = await level(client, away, a)
    key = (await insert_api_key(database_url, "warehouse_staff", location_ids=[home])).key
    items: list[Any] = [
        change(home, a, 5, "receipt"),                    # 0: applied
        change(home, random_code("NO-SKU"), -1),          # 1: unknown SKU, 404
        change(home, b, -50),                             # 2: more than there is, 409
        change(home, a, "x", "receipt"),                  # 3: not an UpdateInventory, 422
        change(away, a, 1, "receipt"),                    # 4: outside the key's scope, 403
        change(home, a, -1, lot="NO-SUCH-LOT"),           # 5: level lowered, then refused
        {"location_id": home, "sku": b, "quantity": 7, "reason": "count"},  # 6: applied
        change(home, a, 2, "receipt"),                    # 7: applied after the refusals
    ]
    answered = results(await send_as(client, key, "POST", BATCH, json={"items": items}))

    assert [r["status"] for r in answered] == [200, 404, 409, 422, 403, 409, 200, 200]
    assert [answered[i]["body"]["on_hand"] for i in (0, 6, 7)] == [15, 7, 17]
    assert answered[7]["body"]["version"] == answered[0]["body"]["version"] + 1
    assert answered[2]["body"]["lines"] == [{"sku": b, "requested": 50, "available": 3}]
    for index in (1, 3, 4, 5):  # refusals that do not depend on the stock changed since
        assert (answered[index]["status"], answered[index]["body"]) == await single(
            client, key, items[index])
    assert await level(client, home, a) == answered[7]["body"]
    assert await level(client, home, b) == answered[6]["body"]
    assert await level(client, away, a) == away_before
    assert [e["delta"] for e in await ledger(client, home, a)] == [10, 5, 2]
    assert [(e["delta"], e["type"]) for e in await ledger(client, home, b)] == [
        (10, "receipt"), (-7, "adjustment"), (4, "count")]
    for sku in (a, b):
        await assert_ledger_identity(client, home, sku)
    logged = await wait_for_log(client, 3, location_id=home, sku=a,
                                types="inventory.changed")
    assert [e["data"]["on_hand"] for e in logged] == [10, 15, 17]


@pytest.mark.parametrize("body", [
    5, [], None, {}, "text",
    {"location_id": "S-1", "sku": "P-1", "delta": 1},
    {"location_id": "S-1", "sku": "P-1", "delta": 1, "quantity": 2, "reason": "count"},
    {"location_id": "S-1", "sku": "P-1", "delta": "1", "reason": "receipt"},
    {"location_id": "S-1", "sku": "P-1", "delta": 0, "reason": "receipt"},
    {"location_id": "no spaces", "sku": "P-1", "delta": 1, "reason": "receipt"},
    {"location_id": "S-1", "sku": "P-1", "delta": 1, "reason": "receipt", "on_hand": 3},
    {"location_id": "S-1", "sku": "P-1", "delta": 1, "reason": "gift"},
], ids=lambda body: repr(body)[:40])
async def test_an_item_that_does_not_validate_gets_the_single_routes_422(
        client: httpx.AsyncClient, body: Any) -> None:
    (answer,) = results(await client.post(BATCH, json={"items": [body]}))
    assert (answer["status"], answer["body"]) == await single(client, None, body)
    assert answer["status"] == 422


async def test_a_retry_with_the_key_replays_the_results_and_applies_nothing(
        client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=10)
    items = [change(store, sku, 3, "receipt"), change(store, sku, -20),
             {"sku": sku}, change(store, sku, -1)]
    headers = {"Idempotency-Key": random_code("IDEM")}
    first = await client.post(BATCH, json={"items": items}, headers=headers)
    assert [r["status"] for r in results(first)] == [200, 409, 422, 200]
    assert REPLAYED not in first.headers
    after = await level(client, store, sku)
    entries = await ledger(client, store, sku)

    again = await client.post(BATCH, json={"items": items}, headers=headers)
    assert again.status_code == 200
    assert again.content == first.content
    assert again.headers[REPLAYED] == "true"
    other = await client.post(BATCH, json={"items": items[:1]}, headers=headers)
    assert_problem(other, 422, "idempotency_key_reused")
    assert await level(client, store, sku) == after
    assert await ledger(client, store, sku) == entries
    assert (after["on_hand"], len(entries)) == (12, 3)


async def test_a_long_refusal_is_replayed_abridged_as_the_single_route_keeps_it(
        client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=10)
    noisy = {**change(store, sku, 1, "receipt"), **{f"extra{n}": n for n in range(100)}}
    items = [change(store, sku, 1, "receipt"), noisy]
    headers = {"Idempotency-Key": random_code("IDEM")}
    first = results(await client.post(BATCH, json={"items": items}, headers=headers))
    assert len(first[1]["body"]["errors"]) == 100
    replayed = results(await client.post(BATCH, json={"items": items}, headers=headers))
    assert replayed[0] == first[0]
    assert replayed[1]["status"] == 422
    assert replayed[1]["body"]["abridged"] is True
    assert replayed[1]["body"]["code"] == "validation_error"
    assert (await level(client, store, sku))["on_hand"] == 11


@pytest.mark.parametrize(("envelope", "field"), [
    ({"items": []}, "items"),
    ({"items": 5}, "items"),
    ({}, "items"),
    ({"items": [], "dry_run": True}, "dry_run"),
], ids=["empty", "not a list", "no items", "unknown member"])
async def test_a_wrong_envelope_is_a_422_for_the_whole_request(
        client: httpx.AsyncClient, envelope: dict[str, Any], field: str) -> None:
    problem = assert_problem(await client.post(BATCH, json=envelope), 422, "validation_error")
    assert field in error_fields(problem)


async def test_501_items_are_refused_whole_and_change_nothing(
        client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=10)
    before = await level(client, store, sku)
    items = [change(store, sku, 1, "receipt")] * 501
    problem = assert_problem(await client.post(BATCH, json={"items": items}), 422,
                             "validation_error")
    assert error_fields(problem) == ["items"]
    assert await level(client, store, sku) == before
    answers = results(await client.post(BATCH, json={"items": items[:500]}))
    assert answers[-1]["body"]["on_hand"] == 510


async def test_permissions_are_those_of_the_single_route(client: httpx.AsyncClient,
                                                         database_url: str) -> None:
    store, (sku,) = await stocked(client, quantity=10)
    partner = (await insert_api_key(database_url, "partner")).key
    staff = (await insert_api_key(database_url, "store_staff", location_ids=[store])).key
    assert_problem(await send_as(client, partner, "POST", BATCH, json={
        "items": [change(store, sku, 1, "receipt")]}), 403, "forbidden")
    items = [{"location_id": store, "sku": sku, "quantity": 8, "reason": "count"},
             change(store, sku, 1, "receipt")]  # store staff count, but do not receive
    answered = results(await send_as(client, staff, "POST", BATCH, json={"items": items}))
    assert [r["status"] for r in answered] == [200, 403]
    assert (answered[1]["status"], answered[1]["body"]) == await single(client, staff, items[1])
    assert (await level(client, store, sku))["on_hand"] == 8


# -- concurrent batches against a live server ---------------------------------------------

@pytest.mark.slow
async def test_concurrent_batches_over_the_same_levels_keep_the_ledger_identity(
        live_server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=live_server.base_url, timeout=120,
                                 headers={"X-API-Key": live_server.admin_key}) as live:
        await _race_batches(live)


async def _race_batches(live: httpx.AsyncClient) -> None:
    store = (await create_store(live))["code"]
    skus = [(await create_product(live))["sku"] for _ in range(4)]
    for sku in skus:
        await receive(live, store, sku, 20)
    rng = random.Random(13)
    # Each batch touches every level in its own order, taking more than it adds: the
    # levels run low, so some takes are refused while other batches add to them.
    batches = [[change(store, rng.choice(skus), rng.choice([-4, -3, -2, 1, 2]))
                for _ in range(60)] for _ in range(8)]
    responses = await asyncio.wait_for(asyncio.gather(
        *(live.post(BATCH, json={"items": items}) for items in batches)), 120)

    applied: Counter[str] = Counter()
    changes: Counter[str] = Counter()
    for items, response in zip(batches, responses, strict=True):
        answered = results(response)
        assert {r["status"] for r in answered} <= {200, 409}, response.text[:500]
        for item, answer in zip(items, answered, strict=True):
            if answer["status"] == 200:
                applied[item["sku"]] += item["delta"]
                changes[item["sku"]] += 1
            else:
                assert answer["body"]["code"] == "insufficient_stock"
    for sku in skus:
        current = await assert_ledger_identity(live, store, sku)
        assert current["on_hand"] == 20 + applied[sku]
        assert len(await ledger(live, store, sku)) == 1 + changes[sku]
    assert sum(changes.values()) > 0
