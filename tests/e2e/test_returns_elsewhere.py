"""Returns brought back at another store than the sale's, on both backends."""

from __future__ import annotations

import httpx

from tests.e2e.test_reconcile import reconcile
from tests.factories import (
    as_key,
    assert_ledger_identity,
    assert_problem,
    create_api_key,
    create_store,
    ledger,
    level,
    line,
    moves,
    record_sale,
    return_items,
    stocked,
)


async def test_return_at_another_store_restocks_there_and_references_the_sale(
        client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=10)
    sale = await record_sale(client, store, [line(sku, 4)])
    other = (await create_store(client))["code"]
    made = await return_items(client, sale["id"], moves((sku, 3)), location_id=other)
    assert (made["location_id"], made["sale_id"], made["sale_status"]) == (
        other, sale["id"], "partially_returned")

    assert (await assert_ledger_identity(client, other, sku))["on_hand"] == 3
    assert (await assert_ledger_identity(client, store, sku))["on_hand"] == 6
    entries = [(e["type"], e["delta"], e["reference"]) for e in await ledger(client, other, sku)]
    assert entries == [("return", 3, sale["id"])]
    assert [e["type"] for e in await ledger(client, store, sku)] == ["receipt", "sale"]
    found = (await client.get(f"/v1/sales/{sale['id']}")).json()
    assert [r["location_id"] for r in found["returns"]] == [other]
    assert (await reconcile(client, other))["drift"] == []
    assert (await reconcile(client, store))["drift"] == []


async def test_return_without_a_location_comes_back_at_the_sale_s_store(
        client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=5)
    sale = await record_sale(client, store, [line(sku, 2)])
    made = await return_items(client, sale["id"], moves((sku, 2)))
    assert made["location_id"] == store
    assert (await level(client, store, sku))["on_hand"] == 5
    returned = [e for e in await ledger(client, store, sku) if e["type"] == "return"]
    assert [(e["delta"], e["reference"]) for e in returned] == [(2, sale["id"])]


async def test_store_key_returns_only_at_its_own_stores(client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=5)
    sale = await record_sale(client, store, [line(sku, 2)])
    home = (await create_store(client))["code"]
    elsewhere = (await create_store(client))["code"]
    key = (await create_api_key(client, "store_staff", location_ids=[home]))["key"]
    url = f"/v1/sales/{sale['id']}/returns"
    body = {"lines": moves((sku, 1)), "restock": True, "reason": "wrong_size"}

    refused = await as_key(client, key, "POST", url, json={**body, "location_id": elsewhere})
    assert_problem(refused, 403, "forbidden")
    assert_problem(await as_key(client, key, "POST", url, json=body), 403, "forbidden")
    assert (await client.get(f"/v1/sales/{sale['id']}")).json()["returns"] == []
    taken = await as_key(client, key, "POST", url, json={**body, "location_id": home})
    assert taken.status_code == 201, taken.text
    assert (await level(client, home, sku))["on_hand"] == 1
    assert (await level(client, store, sku))["on_hand"] == 3


async def test_return_at_an_unknown_or_malformed_location_is_refused(
        client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=5)
    sale = await record_sale(client, store, [line(sku, 2)])
    url = f"/v1/sales/{sale['id']}/returns"
    body = {"lines": moves((sku, 1)), "restock": True, "reason": "wrong_size"}
    problem = assert_problem(await client.post(url, json={**body, "location_id": "NOWHERE-1"}),
                             404, "not_found")
    assert (problem["resource"], problem["key"]) == ("location", "NOWHERE-1")
    assert_problem(await client.post(url, json={**body, "location_id": "not a code!"}), 422,
                   "validation_error")
    after = (await client.get(f"/v1/sales/{sale['id']}")).json()
    assert (after["status"], after["returns"]) == ("completed", [])
    assert (await level(client, store, sku))["on_hand"] == 3
