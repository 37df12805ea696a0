"""The one write path: an entrypoint other than REST calls the write service with a command
and a caller, and one idempotency key means one effect whichever protocol carries it."""

from __future__ import annotations

import json

import httpx

from stockline.adapters.authentication import ADMIN
from stockline.bootstrap import Container
from stockline.domain.commands import RecordSale, SaleLineRequest, UpdateInventory
from stockline.domain.errors import InsufficientStock
from stockline.domain.values import Money, Reason
from stockline.entrypoints.http.auth import caller_of
from stockline.entrypoints.operations import RECORD_SALE, UPDATE_INVENTORY
from tests.factories import assert_problem, level, line, random_code, sales_at, stocked

REPLAYED = "Idempotent-Replayed"
CALLER = caller_of(ADMIN)  # the principal the tests' REST client authenticates as


def sale_of(store: str, sku: str, quantity: int) -> RecordSale:
    """The command REST builds from ``{"location_id", "lines": [line(sku, quantity)]}``."""
    body = line(sku, quantity)
    price = body["unit_price"]
    return RecordSale(location_id=store, lines=(SaleLineRequest(
        sku=sku, quantity=quantity, unit_price=Money.parse(price["amount"],
                                                           price["currency"])),))


async def test_a_key_used_by_another_entrypoint_replays_the_same_sale_over_rest(
        client: httpx.AsyncClient, container: Container) -> None:
    store, (sku,) = await stocked(client, 5)
    key = random_code("XP")
    first = await container.writes.execute(RECORD_SALE, sale_of(store, sku, 2), CALLER, key=key)
    assert first.result is not None and first.error is None and not first.replayed
    assert first.answer.outcome == "ok"
    again = await client.post("/v1/sales/record", headers={"Idempotency-Key": key},
                              json={"location_id": store, "lines": [line(sku, 2)]})
    assert (again.status_code, again.headers[REPLAYED]) == (201, "true")
    assert again.json()["id"] == first.result.id
    assert again.content == first.answer.body  # the document is the same bytes
    assert [s["id"] for s in await sales_at(client, store)] == [first.result.id]
    assert (await level(client, store, sku))["on_hand"] == 3


async def test_a_key_used_over_rest_replays_to_another_entrypoint(
        client: httpx.AsyncClient, container: Container) -> None:
    store, (sku,) = await stocked(client, 5)
    key = random_code("XP")
    sold = await client.post("/v1/sales/record", headers={"Idempotency-Key": key},
                             json={"location_id": store, "lines": [line(sku, 1)]})
    assert sold.status_code == 201, sold.text
    again = await container.writes.execute(RECORD_SALE, sale_of(store, sku, 1), CALLER, key=key)
    assert again.replayed and again.result is None
    assert (again.answer.outcome, json.loads(again.answer.body)["id"]) == ("ok",
                                                                           sold.json()["id"])
    other = await container.writes.execute(RECORD_SALE, sale_of(store, sku, 2), CALLER, key=key)
    assert other.answer.outcome == "idempotency_key_reused" and not other.replayed
    assert (await level(client, store, sku))["on_hand"] == 4


async def test_a_refusal_is_a_domain_error_and_replays_alike_over_rest(
        client: httpx.AsyncClient, container: Container) -> None:
    store, (sku,) = await stocked(client, 1)
    key = random_code("XP")
    refused = await container.writes.execute(RECORD_SALE, sale_of(store, sku, 3), CALLER,
                                             key=key)
    assert isinstance(refused.error, InsufficientStock) and refused.result is None
    document = json.loads(refused.answer.body)
    assert (refused.answer.outcome, document["code"], document["lines"]) == (
        "insufficient_stock", "insufficient_stock",
        [{"sku": sku, "requested": 3, "available": 1}])
    replay = await client.post("/v1/sales/record", headers={"Idempotency-Key": key},
                               json={"location_id": store, "lines": [line(sku, 3)]})
    problem = assert_problem(replay, 409, "insufficient_stock")
    assert replay.headers[REPLAYED] == "true"
    assert {k: v for k, v in problem.items() if k not in ("type", "title", "status")} == document
    assert await sales_at(client, store) == []


async def test_an_inventory_update_without_a_key_keeps_no_record(
        client: httpx.AsyncClient, container: Container) -> None:
    store, (sku,) = await stocked(client, 2)
    change = UpdateInventory(location_id=store, sku=sku, delta=3, reason=Reason.RECEIPT)
    done = await container.writes.execute(UPDATE_INVENTORY, change, CALLER)
    assert done.result is not None and done.result.on_hand == 5
    assert json.loads(done.answer.body)["on_hand"] == 5
    assert (await level(client, store, sku))["on_hand"] == 5
