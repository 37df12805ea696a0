"""GraphQL's batch of level changes and CSV import against the real app, on both
backends: each item or row answered as REST answers it, one write per idempotency key
(across protocols too), and the route's permission checked before anything is read."""

from __future__ import annotations

from typing import Any

import httpx

from tests.factories import (
    create_api_key,
    create_product,
    create_store,
    level,
    random_code,
    random_sku,
)
from tests.graphql_support import PAYLOAD_ERRORS, codes, gql

BATCH = f"""mutation ($items: [UpdateInventoryInput!]!, $key: String) {{
  updateInventoryBatch(items: $items, idempotencyKey: $key) {{
    results {{ index level {{ sku onHand }} {PAYLOAD_ERRORS} }} {PAYLOAD_ERRORS} }} }}"""
IMPORT = f"""mutation ($kind: ImportKind!, $csv: String!, $dryRun: Boolean!, $key: String) {{
  importFile(kind: $kind, csv: $csv, dryRun: $dryRun, idempotencyKey: $key) {{
    result {{ kind rows created updated unchanged dryRun }} {PAYLOAD_ERRORS} }} }}"""


def item(store: str, sku: str, delta: int) -> dict[str, Any]:
    return {"locationId": store, "sku": sku, "delta": delta, "reason": "RECEIPT"}


async def test_a_batch_answers_each_item_and_replays_as_one_write(
        client: httpx.AsyncClient) -> None:
    store = (await create_store(client))["code"]
    sku = (await create_product(client))["sku"]
    key = random_code("IDEM")
    items = [item(store, sku, 5), item(store, random_sku(), 1), item("no spaces", sku, 1),
             {**item(store, sku, -9), "reason": "DAMAGE"}, item(store, sku, 2)]
    first = (await gql(client, BATCH, {"items": items, "key": key}))["updateInventoryBatch"]
    assert first["userErrors"] == []
    results = first["results"]
    assert [r["index"] for r in results] == [0, 1, 2, 3, 4]
    assert [r["level"] for r in results] == [{"sku": sku, "onHand": 5}, None, None, None,
                                             {"sku": sku, "onHand": 7}]
    assert [codes(r) for r in results[1:4]] == [
        [("not_found", None)], [("validation_error", "locationId")],
        [("insufficient_stock", "lines")]]
    again = (await gql(client, BATCH, {"items": items, "key": key}))["updateInventoryBatch"]
    assert [r["level"] for r in again["results"]] == [r["level"] for r in results]
    assert [codes(r) for r in again["results"]] == [codes(r) for r in results]
    assert (await level(client, store, sku))["on_hand"] == 7


async def test_a_batch_key_used_over_graphql_replays_over_rest(
        client: httpx.AsyncClient) -> None:
    store = (await create_store(client))["code"]
    sku = (await create_product(client))["sku"]
    key = random_code("IDEM")
    made = (await gql(client, BATCH, {"items": [item(store, sku, 3)], "key": key}))
    assert made["updateInventoryBatch"]["results"][0]["level"] == {"sku": sku, "onHand": 3}
    rest = await client.post("/v1/inventory/batch", headers={"Idempotency-Key": key}, json={
        "items": [{"location_id": store, "sku": sku, "delta": 3, "reason": "receipt"}]})
    assert rest.status_code == 200 and rest.headers.get("Idempotent-Replayed") == "true"
    assert rest.json()["results"][0]["body"]["on_hand"] == 3
    assert (await level(client, store, sku))["on_hand"] == 3


async def test_a_batch_refused_whole_changes_nothing(client: httpx.AsyncClient) -> None:
    store = (await create_store(client))["code"]
    sku = (await create_product(client))["sku"]
    empty = (await gql(client, BATCH, {"items": []}))["updateInventoryBatch"]
    assert empty["results"] is None and codes(empty) == [("validation_error", "items")]
    too_many = (await gql(client, BATCH, {"items": [item(store, sku, 1)] * 501}))
    assert codes(too_many["updateInventoryBatch"]) == [("validation_error", "items")]
    partner = (await create_api_key(client, "partner"))["key"]
    refused = (await gql(client, BATCH, {"items": []}, key=partner))["updateInventoryBatch"]
    assert codes(refused) == [("forbidden", None)]  # the role before the body, as REST
    assert (await level(client, store, sku))["on_hand"] == 0


async def test_a_file_is_imported_whole_or_refused_by_line(client: httpx.AsyncClient) -> None:
    skus = [random_sku(), random_sku()]
    good = "sku,name,category,price_amount,price_currency\n" + "".join(
        f"{sku},Imported {sku},test,4.50,USD\n" for sku in skus)
    dry = (await gql(client, IMPORT, {"kind": "PRODUCTS", "csv": good, "dryRun": True}))
    assert dry["importFile"] == {"result": {"kind": "PRODUCTS", "rows": 2, "created": 2,
                                            "updated": 0, "unchanged": 0, "dryRun": True},
                                 "userErrors": []}
    assert (await client.get(f"/v1/products/{skus[0]}")).status_code == 404
    key = random_code("IDEM")
    made = (await gql(client, IMPORT, {"kind": "PRODUCTS", "csv": good, "dryRun": False,
                                       "key": key}))["importFile"]
    assert made["result"]["created"] == 2
    rest = await client.post("/v1/imports/products", content=good,
                             headers={"Content-Type": "text/csv", "Idempotency-Key": key})
    assert rest.status_code == 200 and rest.headers.get("Idempotent-Replayed") == "true"
    assert rest.json()["created"] == 2  # the first answer, replayed: nothing applied twice
    assert (await client.get(f"/v1/products/{skus[1]}")).json()["name"] == f"Imported {skus[1]}"

    bad = "sku,name,category,price_amount,price_currency\n" + (
        f"{random_sku()},ok,test,1.00,USD\n{random_sku()},bad,test,lots,USD\n")
    refused = (await gql(client, IMPORT, {"kind": "PRODUCTS", "csv": bad,
                                          "dryRun": False}))["importFile"]
    assert refused["result"] is None
    assert [(e["code"], e["field"]) for e in refused["userErrors"]] == [
        ("validation_error", "price_amount")]
    assert refused["userErrors"][0]["message"].startswith("line 3: ")


async def test_an_import_is_refused_before_the_file_is_read(client: httpx.AsyncClient) -> None:
    store = (await create_store(client))["code"]
    staff = (await create_api_key(client, "store_staff", location_ids=[store]))["key"]
    # store staff may count (levels) but not write the catalogue (products)
    csv = "sku,name,category\nnot a sku,x,y\n"
    refused = (await gql(client, IMPORT, {"kind": "PRODUCTS", "csv": csv, "dryRun": True},
                         key=staff))["importFile"]
    assert codes(refused) == [("forbidden", None)]
    checked = (await gql(client, IMPORT, {"kind": "LEVELS", "csv": csv, "dryRun": True},
                         key=staff))["importFile"]
    assert checked["result"] is None and checked["userErrors"]  # let in: its header refused
    assert {e["code"] for e in checked["userErrors"]} == {"validation_error"}
