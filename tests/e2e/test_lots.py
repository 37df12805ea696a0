"""Levels kept in lots: receipts name lots, sales take the first-expiring first, and a
lotted level's on_hand is always the sum of its lots (both backends)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.factories import (
    assert_ledger_identity,
    create_product,
    create_store,
    ledger,
    line,
    lots,
)


async def _update(client: httpx.AsyncClient, **body: Any) -> httpx.Response:
    return await client.post("/v1/inventory/update", json=body)


async def _lotted_level(client: httpx.AsyncClient) -> tuple[str, str]:
    store = (await create_store(client))["code"]
    sku = (await create_product(client))["sku"]
    for code, quantity, expires in (("L-LATE", 5, "2027-09-01"), ("L-SOON", 3, "2027-02-01"),
                                    ("L-NONE", 4, None)):
        body: dict[str, Any] = {"location_id": store, "sku": sku, "delta": quantity,
                                "reason": "receipt", "lot": code}
        if expires:
            body["expires_on"] = expires
        assert (await _update(client, **body)).status_code == 200
    return store, sku


def _held(found: list[dict[str, Any]]) -> dict[str | None, int]:
    return {x["lot"]: x["on_hand"] for x in found}


async def _assert_lots_add_up(client: httpx.AsyncClient, store: str, sku: str) -> None:
    level = await assert_ledger_identity(client, store, sku)
    assert sum(x["on_hand"] for x in await lots(client, store, sku)) == level["on_hand"]


async def test_level_lists_its_lots_first_expiring_first(client: httpx.AsyncClient) -> None:
    store, sku = await _lotted_level(client)
    found = await lots(client, store, sku)
    assert [(x["lot"], x["on_hand"], x["expires_on"]) for x in found] == [
        ("L-SOON", 3, "2027-02-01"), ("L-LATE", 5, "2027-09-01"), ("L-NONE", 4, None)]
    await _assert_lots_add_up(client, store, sku)


async def test_sale_takes_the_first_expiring_lots_with_one_ledger_entry_each(
        client: httpx.AsyncClient) -> None:
    store, sku = await _lotted_level(client)
    sale = await client.post("/v1/sales/record",
                             json={"location_id": store, "lines": [line(sku, 6)]})
    assert sale.status_code == 201, sale.text
    assert _held(await lots(client, store, sku)) == {"L-LATE": 2, "L-NONE": 4}
    entries = [e for e in await ledger(client, store, sku) if e["type"] == "sale"]
    assert [(e["lot"], e["delta"], e["balance_after"]) for e in entries] == [
        ("L-SOON", -3, 9), ("L-LATE", -3, 6)]
    assert {e["reference"] for e in entries} == {sale.json()["id"]}
    await _assert_lots_add_up(client, store, sku)


async def test_stock_held_before_the_first_lot_becomes_the_unlabelled_lot(
        client: httpx.AsyncClient) -> None:
    store = (await create_store(client))["code"]
    sku = (await create_product(client))["sku"]
    await _update(client, location_id=store, sku=sku, delta=7, reason="receipt")
    assert await lots(client, store, sku) == []
    await _update(client, location_id=store, sku=sku, delta=2, reason="receipt", lot="B-1",
                  expires_on="2027-03-01")
    await _update(client, location_id=store, sku=sku, delta=1, reason="receipt")
    assert _held(await lots(client, store, sku)) == {"B-1": 2, None: 8}
    await _assert_lots_add_up(client, store, sku)


async def test_write_off_and_count_of_a_named_lot(client: httpx.AsyncClient) -> None:
    store, sku = await _lotted_level(client)
    damaged = await _update(client, location_id=store, sku=sku, delta=-2, reason="damage",
                            lot="L-LATE")
    assert damaged.status_code == 200, damaged.text
    counted = await _update(client, location_id=store, sku=sku, quantity=1, reason="count",
                            lot="L-NONE")
    assert counted.status_code == 200, counted.text
    assert counted.json()["on_hand"] == 3 + 3 + 1
    assert _held(await lots(client, store, sku)) == {"L-SOON": 3, "L-LATE": 3, "L-NONE": 1}
    await _assert_lots_add_up(client, store, sku)


async def test_removing_more_than_a_lot_holds_is_refused_and_changes_nothing(
        client: httpx.AsyncClient) -> None:
    store, sku = await _lotted_level(client)
    before = await lots(client, store, sku)
    response = await _update(client, location_id=store, sku=sku, delta=-4, reason="damage",
                             lot="L-SOON")
    assert response.status_code == 409
    problem = response.json()
    assert problem["code"] == "insufficient_stock"
    assert problem["lines"] == [{"sku": sku, "requested": 4, "available": 3, "lot": "L-SOON"}]
    assert await lots(client, store, sku) == before
    missing = await _update(client, location_id=store, sku=sku, delta=-1, reason="loss",
                            lot="NO-SUCH-LOT")
    assert missing.status_code == 409
    await _assert_lots_add_up(client, store, sku)


async def test_expiry_without_a_lot_is_refused(client: httpx.AsyncClient) -> None:
    store = (await create_store(client))["code"]
    sku = (await create_product(client))["sku"]
    response = await _update(client, location_id=store, sku=sku, delta=1, reason="receipt",
                             expires_on="2027-01-01")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "expires_on"
