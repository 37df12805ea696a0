"""Goods in hand at the till: a sale with ``in_hand`` finds its shortfall before it takes
the stock, in one transaction, so on_hand never goes below 0 (both backends)."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import httpx

from tests.e2e.test_reconcile import reconcile
from tests.factories import (
    assert_ledger_identity,
    assert_problem,
    collect,
    create_product,
    create_store,
    hold_line,
    insert_api_key,
    ledger,
    line,
    lots,
    random_sku,
    receive,
    record_sale,
    reserve,
    send_as,
    stocked,
)


async def sell_in_hand(client: httpx.AsyncClient, store: str, lines: list[dict[str, Any]],
                       **fields: Any) -> dict[str, Any]:
    return await record_sale(client, store, lines, in_hand=True, **fields)


async def open_tasks(client: httpx.AsyncClient, store: str) -> list[dict[str, Any]]:
    return await collect(client, "/v1/count-tasks", {"location_id": store, "status": "open"})


async def test_a_short_in_hand_sale_finds_the_shortfall_then_sells(
        client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=2)
    sale = await sell_in_hand(client, store, [line(sku, 5)])
    current = await assert_ledger_identity(client, store, sku)
    assert (current["on_hand"], current["available"]) == (0, 0)
    found, sold = (await ledger(client, store, sku))[-2:]
    assert (found["type"], found["reason"], found["delta"], found["balance_after"],
            found["reference"]) == ("found", "found", 3, 5, sale["id"])
    assert (sold["type"], sold["delta"], sold["balance_after"], sold["reference"]) == (
        "sale", -5, 0, sale["id"])
    (task,) = await open_tasks(client, store)
    assert (task["sku"], task["reason"], task["reference"]) == (sku, "in_hand_sale", sale["id"])
    assert (await reconcile(client, store))["drift"] == []


async def test_without_the_flag_a_short_sale_is_refused_and_nothing_changes(
        client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=2)
    answer = await client.post("/v1/sales/record", json={
        "location_id": store, "lines": [line(sku, 5)]})
    assert_problem(answer, 409, "insufficient_stock")
    answer = await client.post("/v1/sales/record", json={
        "location_id": store, "lines": [line(sku, 5)], "in_hand": False})
    assert_problem(answer, 409, "insufficient_stock")
    assert (await assert_ledger_identity(client, store, sku))["on_hand"] == 2
    assert len(await ledger(client, store, sku)) == 1
    assert await open_tasks(client, store) == []


async def test_an_in_hand_sale_that_is_covered_is_an_ordinary_sale(
        client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=5)
    await sell_in_hand(client, store, [line(sku, 3)])
    assert [e["type"] for e in await ledger(client, store, sku)] == ["receipt", "sale"]
    assert (await assert_ledger_identity(client, store, sku))["on_hand"] == 2
    assert await open_tasks(client, store) == []


async def test_holds_stay_whole_and_only_the_short_line_is_found(
        client: httpx.AsyncClient) -> None:
    store, (held, plenty) = await stocked(client, quantity=5, skus=2)
    hold = await reserve(client, store, [hold_line(held, 4)])
    await sell_in_hand(client, store, [line(held, 3), line(plenty, 2)])
    current = await assert_ledger_identity(client, store, held)
    # available was 1: 2 found, so on_hand 7 - 3 sold = 4, all of it held
    assert (current["on_hand"], current["reserved"], current["available"]) == (4, 4, 0)
    assert (await client.get(f"/v1/reservations/{hold['id']}")).json()["status"] == "active"
    found = [e["delta"] for e in await ledger(client, store, held) if e["type"] == "found"]
    assert found == [2]
    assert [e["type"] for e in await ledger(client, store, plenty)] == ["receipt", "sale"]
    assert [t["sku"] for t in await open_tasks(client, store)] == [held]
    assert (await reconcile(client, store))["drift"] == []


async def test_a_level_never_stocked_is_found_into_being(client: httpx.AsyncClient) -> None:
    store = (await create_store(client))["code"]
    sku = (await create_product(client))["sku"]
    await sell_in_hand(client, store, [line(sku, 2)])
    assert (await assert_ledger_identity(client, store, sku))["on_hand"] == 0
    assert [(e["type"], e["delta"]) for e in await ledger(client, store, sku)] == [
        ("found", 2), ("sale", -2)]
    assert (await reconcile(client, store))["drift"] == []


async def test_on_a_lotted_level_the_found_units_go_to_the_unlabelled_lot(
        client: httpx.AsyncClient) -> None:
    store = (await create_store(client))["code"]
    sku = (await create_product(client))["sku"]
    answer = await client.post("/v1/inventory/update", json={
        "location_id": store, "sku": sku, "delta": 2, "reason": "receipt", "lot": "L-1",
        "expires_on": "2030-01-01"})
    assert answer.status_code == 200, answer.text
    await sell_in_hand(client, store, [line(sku, 5)])
    entries = await ledger(client, store, sku)
    assert [(e["type"], e["lot"], e["delta"]) for e in entries if e["type"] == "found"] == [
        ("found", None, 3)]
    current = await assert_ledger_identity(client, store, sku)
    assert current["on_hand"] == sum(x["on_hand"] for x in await lots(client, store, sku)) == 0
    assert (await reconcile(client, store))["drift"] == []


async def test_unknown_keys_and_other_stores_are_refused_and_change_nothing(
        client: httpx.AsyncClient, database_url: str) -> None:
    store, (sku,) = await stocked(client, quantity=1)
    unknown = await client.post("/v1/sales/record", json={
        "location_id": store, "lines": [line(random_sku(), 1)], "in_hand": True})
    assert_problem(unknown, 404, "not_found")
    theirs = (await create_store(client))["code"]
    await receive(client, theirs, sku, 1)
    staff = await insert_api_key(database_url, "store_staff", location_ids=[store])
    body = {"lines": [line(sku, 3)], "in_hand": True}
    refused = await send_as(client, staff.key, "POST", "/v1/sales/record",
                            json={**body, "location_id": theirs})
    assert_problem(refused, 403, "forbidden")
    assert (await assert_ledger_identity(client, theirs, sku))["on_hand"] == 1
    sold = await send_as(client, staff.key, "POST", "/v1/sales/record",
                         json={**body, "location_id": store})
    assert sold.status_code == 201, sold.text
    assert (await assert_ledger_identity(client, store, sku))["on_hand"] == 0
    assert await open_tasks(client, theirs) == []


async def test_an_in_hand_sale_replays_under_its_idempotency_key(
        client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=1)
    body = {"location_id": store, "lines": [line(sku, 3)], "in_hand": True}
    headers = {"Idempotency-Key": f"hand-{random_sku()}"}
    first = await client.post("/v1/sales/record", json=body, headers=headers)
    again = await client.post("/v1/sales/record", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert [e["delta"] for e in await ledger(client, store, sku)] == [1, 2, -3]


async def test_concurrent_in_hand_sales_of_one_level_stay_consistent(
        client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=5)
    rng = random.Random(14)
    quantities = [rng.randint(1, 3) for _ in range(24)]
    flags = [n % 3 != 0 for n in range(len(quantities))]  # a third without the flag

    async def sell(quantity: int, in_hand: bool) -> httpx.Response:
        return await client.post("/v1/sales/record", json={
            "location_id": store, "lines": [line(sku, quantity)], "in_hand": in_hand})

    answers = await asyncio.gather(*(sell(q, f) for q, f in zip(quantities, flags,
                                                                strict=True)))
    assert all(a.status_code == 201 for a, f in zip(answers, flags, strict=True) if f)
    assert {a.status_code for a in answers} <= {201, 409}
    sold = sum(q for q, a in zip(quantities, answers, strict=True) if a.status_code == 201)
    entries = await ledger(client, store, sku)
    found = sum(e["delta"] for e in entries if e["type"] == "found")
    assert -sum(e["delta"] for e in entries if e["type"] == "sale") == sold
    current = await assert_ledger_identity(client, store, sku)
    assert current["on_hand"] == 5 + found - sold >= 0
    assert len(await open_tasks(client, store)) == (1 if found else 0)
    assert (await reconcile(client, store))["drift"] == []
