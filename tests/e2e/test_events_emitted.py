"""Every committed write logs its events; a refused or replayed write logs none (both
backends). Events are read back from the event log the relay fills."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from stockline.adapters.bus import EVERYTHING, EventRecord
from stockline.adapters.tables import outbox
from stockline.bootstrap import Container
from tests.factories import create_product, create_store, create_warehouse, line, receive


async def _settled(container: Container) -> int:
    """Wait until the relay has logged every committed outbox row; the last id logged."""
    for _ in range(500):
        async with container.database.read.connect() as conn:
            if (await conn.execute(select(outbox.c.id).limit(1))).first() is None:
                return (await container.queries.event_log_bounds())[1]
        await asyncio.sleep(0.01)
    raise AssertionError("the relay did not log the outbox within 5 s")


class Log:
    """The events logged since a mark, about the codes of one test."""

    def __init__(self, container: Container, *codes: str) -> None:
        self.container, self.codes, self.mark = container, set(codes), 0

    async def start(self) -> Log:
        self.mark = await _settled(self.container)
        return self

    def about(self, *codes: str) -> None:
        self.codes.update(codes)

    async def since(self) -> list[EventRecord]:
        await _settled(self.container)
        found = await self.container.queries.events_after(self.mark, EVERYTHING, 10_000)
        self.mark = found[-1].id if found else self.mark
        return [e for e in found if e.location_id in self.codes or e.sku in self.codes
                or self.codes & {str(v) for v in e.data.values() if isinstance(v, str)}]

    async def types(self) -> Counter[str]:
        return Counter(e.type for e in await self.since())


async def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code < 300, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_catalog_writes_log_product_changed(client: httpx.AsyncClient,
                                                  container: Container) -> None:
    log = await Log(container).start()
    sku = (await create_product(client))["sku"]
    log.about(sku)
    await _ok(await client.patch(f"/v1/products/{sku}", json={"name": "Renamed"}))
    changed = await log.since()
    assert [(e.type, e.sku, e.data["created"]) for e in changed] == [
        ("product.changed", sku, True), ("product.changed", sku, False)]
    assert changed[0].id < changed[1].id


async def test_receipt_count_and_settings_log_inventory_changed_and_low_stock(
        client: httpx.AsyncClient, container: Container) -> None:
    store = (await create_store(client))["code"]
    sku = (await create_product(client))["sku"]
    log = await Log(container, store).start()
    await receive(client, store, sku, 10)
    await _ok(await client.put(f"/v1/inventory/{store}/{sku}/settings",
                               json={"reorder_point": 5}))
    await _ok(await client.post("/v1/inventory/update", json={
        "location_id": store, "sku": sku, "quantity": 4, "reason": "count"}))
    logged = await log.since()
    assert [e.type for e in logged] == ["inventory.changed", "inventory.changed",
                                        "inventory.changed", "inventory.low_stock"]
    assert [e.data["on_hand"] for e in logged] == [10, 10, 4, 4]
    assert logged[2].data["delta"] == -6


async def test_sale_logs_each_level_then_the_sale(client: httpx.AsyncClient,
                                                  container: Container) -> None:
    store = (await create_store(client))["code"]
    skus = [(await create_product(client))["sku"] for _ in range(2)]
    for sku in skus:
        await receive(client, store, sku, 5)
    log = await Log(container, store).start()
    sale = await _ok(await client.post("/v1/sales/record", json={
        "location_id": store, "lines": [line(skus[0], 2), line(skus[1], 1)]}))
    logged = await log.since()
    assert [e.type for e in logged] == ["inventory.changed", "inventory.changed",
                                        "sale.recorded"]
    assert logged[-1].data["sale_id"] == sale["id"]
    assert {e.sku: e.data["on_hand"] for e in logged[:2]} == {skus[0]: 3, skus[1]: 4}


async def test_return_logs_sale_returned_and_the_restocked_level(
        client: httpx.AsyncClient, container: Container) -> None:
    store = (await create_store(client))["code"]
    sku = (await create_product(client))["sku"]
    await receive(client, store, sku, 5)
    sale = await _ok(await client.post("/v1/sales/record", json={
        "location_id": store, "lines": [line(sku, 3)]}))
    log = await Log(container, store).start()
    await _ok(await client.post(f"/v1/sales/{sale['id']}/returns", json={
        "lines": [{"sku": sku, "quantity": 1}], "restock": True, "reason": "wrong_size"}))
    await _ok(await client.post(f"/v1/sales/{sale['id']}/returns", json={
        "lines": [{"sku": sku, "quantity": 1}], "restock": False, "reason": "damaged"}))
    assert await log.types() == Counter({"inventory.changed": 1, "sale.returned": 2})


async def test_transfer_ship_receive_and_cancel_log_their_events(
        client: httpx.AsyncClient, container: Container) -> None:
    origin = (await create_warehouse(client))["code"]
    destination = (await create_store(client))["code"]
    sku = (await create_product(client))["sku"]
    await receive(client, origin, sku, 10)
    log = await Log(container, origin, destination).start()

    async def ship() -> dict[str, Any]:
        return await _ok(await client.post("/v1/stock-movements/transfer", json={
            "from_location_id": origin, "to_location_id": destination,
            "lines": [{"sku": sku, "quantity": 2}]}))

    first, second = await ship(), await ship()
    await _ok(await client.post(f"/v1/stock-movements/transfers/{first['id']}/receive",
                                json={}))
    await _ok(await client.post(f"/v1/stock-movements/transfers/{second['id']}/cancel",
                                json={}))
    assert await log.types() == Counter({"transfer.shipped": 2, "transfer.received": 1,
                                         "transfer.cancelled": 1, "inventory.changed": 7})


async def test_reservations_log_created_committed_released(
        client: httpx.AsyncClient, container: Container) -> None:
    store = (await create_store(client))["code"]
    sku = (await create_product(client))["sku"]
    await receive(client, store, sku, 10)
    log = await Log(container, store).start()

    async def hold() -> dict[str, Any]:
        return await _ok(await client.post("/v1/reservations", json={
            "location_id": store, "lines": [{"sku": sku, "quantity": 2}],
            "ttl_seconds": 600}))

    kept, dropped = await hold(), await hold()
    await _ok(await client.post(f"/v1/reservations/{kept['id']}/commit", json={}))
    await _ok(await client.post(f"/v1/reservations/{dropped['id']}/release"))
    assert await log.types() == Counter({
        "reservation.created": 2, "reservation.committed": 1, "reservation.released": 1,
        "sale.recorded": 1, "inventory.changed": 4})


async def test_purchase_order_logs_incoming_and_received_stock(
        client: httpx.AsyncClient, container: Container) -> None:
    store = (await create_store(client))["code"]
    sku = (await create_product(client))["sku"]
    supplier = f"SUP-{store}"
    await _ok(await client.post("/v1/suppliers", json={
        "code": supplier, "name": "Supplier", "lead_time_days": 3,
        "products": [{"sku": sku, "cost": {"amount": "5.00", "currency": "USD"}}]}))
    log = await Log(container, store).start()
    order = await _ok(await client.post("/v1/purchase-orders", json={
        "supplier_id": supplier, "location_id": store, "lines": [{"sku": sku, "quantity": 8}]}))
    await _ok(await client.post(f"/v1/purchase-orders/{order['id']}/receive", json={}))
    logged = await log.since()
    assert [(e.type, e.data["incoming"], e.data["on_hand"]) for e in logged] == [
        ("inventory.changed", 8, 0), ("inventory.changed", 0, 8)]


@pytest.mark.parametrize("attempt", ["short_sale", "unknown_sku", "bad_transfer",
                                     "over_return"])
async def test_a_refused_write_logs_nothing(client: httpx.AsyncClient, container: Container,
                                            attempt: str) -> None:
    store = (await create_store(client))["code"]
    sku = (await create_product(client))["sku"]
    await receive(client, store, sku, 2)
    sale = await _ok(await client.post("/v1/sales/record", json={
        "location_id": store, "lines": [line(sku, 1)]}))
    log = await Log(container, store, sku).start()
    requests = {
        "short_sale": ("/v1/sales/record", {"location_id": store,
                                            "lines": [line(sku, 1), line(sku, 5)]}),
        "unknown_sku": ("/v1/inventory/update", {"location_id": store, "sku": "NO-SUCH-SKU",
                                                 "delta": 1, "reason": "receipt"}),
        "bad_transfer": ("/v1/stock-movements/transfer", {
            "from_location_id": store, "to_location_id": "NO-SUCH-STORE",
            "lines": [{"sku": sku, "quantity": 1}]}),
        "over_return": (f"/v1/sales/{sale['id']}/returns", {
            "lines": [{"sku": sku, "quantity": 2}], "restock": True, "reason": "other"}),
    }
    path, body = requests[attempt]
    response = await client.post(path, json=body)
    assert 400 <= response.status_code < 500, response.text
    assert await log.since() == []


async def test_a_replayed_write_logs_nothing_more(client: httpx.AsyncClient,
                                                 container: Container) -> None:
    store = (await create_store(client))["code"]
    sku = (await create_product(client))["sku"]
    await receive(client, store, sku, 5)
    log = await Log(container, store).start()
    body = {"location_id": store, "lines": [line(sku, 1)]}
    headers = {"Idempotency-Key": f"replay-{store}"}
    for _ in range(3):
        assert (await client.post("/v1/sales/record", json=body,
                                  headers=headers)).status_code == 201
    assert await log.types() == Counter({"inventory.changed": 1, "sale.recorded": 1})
