"""A physical count is never refused: holds that no longer fit are released, newest first."""

from __future__ import annotations

from typing import Any

import httpx

from tests.e2e.test_reconcile import reconcile
from tests.factories import (
    assert_ledger_identity,
    create_product,
    hold_line,
    ledger,
    lots,
    receive,
    reserve,
    stocked,
    wait_for_log,
)


async def count(client: httpx.AsyncClient, store: str, sku: str, quantity: int,
                **fields: Any) -> dict[str, Any]:
    answer = await client.post("/v1/inventory/update", json={
        "location_id": store, "sku": sku, "quantity": quantity, "reason": "count", **fields})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def hold(client: httpx.AsyncClient, hold_id: str) -> dict[str, Any]:
    answer = await client.get(f"/v1/reservations/{hold_id}")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def test_count_under_holds_releases_the_newest_until_the_rest_fit(
        client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=10)
    other = (await create_product(client))["sku"]
    await receive(client, store, other, 5)
    oldest = await reserve(client, store, [hold_line(sku, 3)])
    middle = await reserve(client, store, [hold_line(sku, 4), hold_line(other, 2)])
    newest = await reserve(client, store, [hold_line(sku, 2)])

    counted = await count(client, store, sku, 5)  # 9 held, 5 on the shelf
    assert (counted["on_hand"], counted["reserved"], counted["available"]) == (5, 3, 2)
    assert [(h["status"], h["reason"]) for h in [await hold(client, r["id"]) for r in (
        oldest, middle, newest)]] == [("active", None), ("released", "stock_count"),
                                      ("released", "stock_count")]
    # The whole hold is released, its other lines too.
    assert (await assert_ledger_identity(client, store, other))["reserved"] == 0
    assert (await assert_ledger_identity(client, store, sku))["on_hand"] == 5
    counts = [e for e in await ledger(client, store, sku) if e["type"] == "count"]
    assert [(e["delta"], e["balance_after"]) for e in counts] == [(-5, 5)]

    released = await wait_for_log(client, 2, location_id=store, types="reservation.released")
    assert [(e["data"]["reservation_id"], e["data"]["reason"]) for e in released] == [
        (newest["id"], "stock_count"), (middle["id"], "stock_count")]
    assert (await reconcile(client, store))["drift"] == []


async def test_count_to_zero_releases_every_hold(client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=8)
    first = await reserve(client, store, [hold_line(sku, 5)])
    second = await reserve(client, store, [hold_line(sku, 3)])
    counted = await count(client, store, sku, 0)
    assert (counted["on_hand"], counted["reserved"], counted["available"]) == (0, 0, 0)
    assert {(await hold(client, r["id"]))["status"] for r in (first, second)} == {"released"}
    assert (await reconcile(client, store))["drift"] == []


async def test_count_that_fits_leaves_the_holds_alone(client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=10)
    held = await reserve(client, store, [hold_line(sku, 4)])
    counted = await count(client, store, sku, 4)
    assert (counted["on_hand"], counted["reserved"], counted["available"]) == (4, 4, 0)
    assert (await hold(client, held["id"]))["status"] == "active"
    assert (await hold(client, held["id"]))["reason"] is None
    assert (await assert_ledger_identity(client, store, sku))["on_hand"] == 4
    commit = await client.post(f"/v1/reservations/{held['id']}/commit")
    assert commit.status_code == 201, commit.text
    assert (await reconcile(client, store))["drift"] == []


async def test_count_of_one_lot_under_a_hold_releases_what_no_longer_fits(
        client: httpx.AsyncClient) -> None:
    store_code = (await stocked(client, quantity=1))[0]
    sku = (await create_product(client))["sku"]
    for lot, quantity in (("L-A", 6), ("L-B", 4)):
        answer = await client.post("/v1/inventory/update", json={
            "location_id": store_code, "sku": sku, "delta": quantity, "reason": "receipt",
            "lot": lot})
        assert answer.status_code == 200, answer.text
    held = await reserve(client, store_code, [hold_line(sku, 8)])
    counted = await count(client, store_code, sku, 1, lot="L-A")  # 5 gone: 5 left, 8 held
    assert (counted["on_hand"], counted["reserved"], counted["available"]) == (5, 0, 5)
    assert (await hold(client, held["id"]))["status"] == "released"
    assert sorted((x["lot"], x["on_hand"]) for x in await lots(client, store_code, sku)) == [
        ("L-A", 1), ("L-B", 4)]
    assert (await assert_ledger_identity(client, store_code, sku))["on_hand"] == 5
    assert (await reconcile(client, store_code))["drift"] == []


async def test_count_in_a_batch_releases_holds_as_a_single_count_does(
        client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=10)
    kept = await reserve(client, store, [hold_line(sku, 2)])
    let_go = await reserve(client, store, [hold_line(sku, 6)])
    answer = await client.post("/v1/inventory/batch", json={"items": [
        {"location_id": store, "sku": sku, "quantity": 3, "reason": "count"}]})
    assert answer.status_code == 200, answer.text
    [result] = answer.json()["results"]
    assert result["status"] == 200, result
    assert (result["body"]["on_hand"], result["body"]["reserved"]) == (3, 2)
    assert [(await hold(client, r["id"]))["status"] for r in (kept, let_go)] == [
        "active", "released"]
    assert (await assert_ledger_identity(client, store, sku))["on_hand"] == 3
    assert (await reconcile(client, store))["drift"] == []
