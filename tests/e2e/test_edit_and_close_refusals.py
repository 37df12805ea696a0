"""A closed location keeps its history but takes no new sale (single or group-committed),
hold, receipt, purchase order or inbound transfer: 409 ``location_closed``, nothing
changed. A discontinued product is no longer received or ordered (409
``product_discontinued``) nor suggested for replenishment, but sells until its stock is
gone. Both backends."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx

from stockline.adapters.uow import SqlUnitOfWork
from stockline.bootstrap import Container
from stockline.domain.commands import RecordSale, SaleLineRequest
from stockline.domain.errors import LocationClosed
from stockline.domain.model import Sale
from stockline.domain.values import Money
from stockline.services.executor import Caller, Context
from stockline.services.sales_batch import record_sales
from tests.factories import (
    assert_ledger_identity,
    assert_problem,
    collect,
    create_product,
    create_purchase_order,
    create_store,
    create_supplier,
    create_warehouse,
    hold_line,
    ledger,
    level,
    line,
    moves,
    receive,
    record_sale,
    reserve,
    sales_at,
    set_reorder,
    ship_transfer,
    stocked,
)

SALE = "/v1/sales/record"
UPDATE = "/v1/inventory/update"


async def _close(client: httpx.AsyncClient, store: str, status: str = "closed") -> None:
    response = await client.patch(f"/v1/retail-locations/{store}", json={"status": status})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == status


async def _discontinue(client: httpx.AsyncClient, sku: str) -> None:
    response = await client.patch(f"/v1/products/{sku}", json={"status": "discontinued"})
    assert response.status_code == 200, response.text


def _closed(response: httpx.Response, store: str) -> None:
    assert assert_problem(response, 409, "location_closed")["location_id"] == store


async def _snapshot(client: httpx.AsyncClient, store: str, sku: str) -> tuple[Any, ...]:
    return (await level(client, store, sku), len(await ledger(client, store, sku)),
            len(await sales_at(client, store)))


async def _reconciled(client: httpx.AsyncClient, store: str) -> None:
    answer = await client.get("/v1/admin/reconcile", params={"location_id": store})
    assert answer.status_code == 200, answer.text
    assert answer.json()["drift"] == []


# -- a closed location --------------------------------------------------------------------

async def test_a_closed_store_refuses_a_sale_keeps_its_history_and_sells_once_reopened(
        client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=10)
    await record_sale(client, store, [line(sku, 2)])
    await _close(client, store)
    before = await _snapshot(client, store, sku)
    response = await client.post(SALE, json={"location_id": store, "lines": [line(sku, 1)]})
    _closed(response, store)
    assert "closed" in response.json()["detail"]
    assert await _snapshot(client, store, sku) == before
    assert len(await sales_at(client, store)) == 1  # its history still reads
    assert (await client.get(f"/v1/retail-locations/{store}")).json()["on_hand_units"] == 8
    await _close(client, store, "active")
    await record_sale(client, store, [line(sku, 1)])
    assert (await level(client, store, sku))["on_hand"] == 7
    await assert_ledger_identity(client, store, sku)
    await _reconciled(client, store)


async def test_closed_comes_before_short_stock_and_unknown_levels(
        client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=1)
    never_stocked = (await create_product(client))["sku"]
    await _close(client, store)
    for lines in ([line(sku, 5)], [line(never_stocked, 1)], [line(sku, 1), line(never_stocked)]):
        _closed(await client.post(SALE, json={"location_id": store, "lines": lines}), store)
    assert (await level(client, store, sku))["on_hand"] == 1


async def test_a_closed_store_refuses_a_sale_of_a_lotted_level(client: httpx.AsyncClient) -> None:
    """A lotted level's sale goes down the single path (the group commit hands it over)."""
    store = (await create_store(client))["code"]
    sku = (await create_product(client))["sku"]
    assert (await client.post(UPDATE, json={"location_id": store, "sku": sku, "delta": 4,
                                            "reason": "receipt", "lot": "L1"})).status_code == 200
    await _close(client, store)
    before = await _snapshot(client, store, sku)
    _closed(await client.post(SALE, json={"location_id": store, "lines": [line(sku, 1)]}),
            store)
    assert await _snapshot(client, store, sku) == before




async def test_concurrent_sales_at_a_closed_store_are_all_refused(
        client: httpx.AsyncClient) -> None:
    store, skus = await stocked(client, quantity=50, skus=3)
    await _close(client, store)
    before = [await level(client, store, sku) for sku in skus]
    answers = await asyncio.gather(*(
        client.post(SALE, json={"location_id": store, "lines": [line(skus[n % 3], 1)]})
        for n in range(30)))
    for response in answers:
        _closed(response, store)
    # (Which path took them depends on the app's group commit settings; the batch path's
    # refusal is proven on its own below.)
    assert [await level(client, store, sku) for sku in skus] == before
    assert await sales_at(client, store) == []


async def test_a_group_commit_refuses_the_sales_of_a_closed_store_alone(
        client: httpx.AsyncClient, container: Container) -> None:
    """The batch path itself, on the real database: in one batch, the closed store's sales
    are refused and the open one's recorded."""
    shut, (sku,) = await stocked(client, quantity=5)
    open_store, (other,) = await stocked(client, quantity=5)
    await _close(client, shut)
    ctx = Context(caller=Caller(principal="test", actor="test"), now=datetime.now(UTC),
                  digests=container.executor.digests)

    def sale(store: str, item: str) -> tuple[RecordSale, Context]:
        return RecordSale(location_id=store, lines=(SaleLineRequest(
            sku=item, quantity=1, unit_price=Money(Decimal("1.00"), "USD")),)), ctx

    async with SqlUnitOfWork(container.database.write) as uow:
        outcomes = await record_sales(uow, [sale(shut, sku), sale(open_store, other),
                                            sale(shut, sku)])
        await uow.rollback()
    assert [type(o) for o in outcomes] == [LocationClosed, Sale, LocationClosed]


async def test_a_closed_store_refuses_receipts_and_changes_nothing(
        client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=3)
    await _close(client, store)
    before = await _snapshot(client, store, sku)
    receipt = {"location_id": store, "sku": sku, "delta": 5, "reason": "receipt"}
    _closed(await client.post(UPDATE, json=receipt), store)
    batch = await client.post("/v1/inventory/batch", json={"items": [receipt]})
    assert batch.status_code == 200, batch.text
    (result,) = batch.json()["results"]
    assert (result["status"], result["body"]["code"]) == (409, "location_closed")
    assert await _snapshot(client, store, sku) == before


async def test_a_closed_store_is_still_counted_adjusted_and_emptied(
        client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=10)
    warehouse = (await create_warehouse(client))["code"]
    await _close(client, store)
    for body in ({"quantity": 9, "reason": "count"}, {"delta": -1, "reason": "damage"},
                 {"delta": 1, "reason": "found"}):
        response = await client.post(UPDATE, json={"location_id": store, "sku": sku, **body})
        assert response.status_code == 200, response.text
    shipped = await ship_transfer(client, store, warehouse, (sku, 9))
    assert shipped["status"] == "in_transit"
    assert (await level(client, store, sku))["on_hand"] == 0
    await assert_ledger_identity(client, store, sku)
    await _reconciled(client, store)


async def test_a_closed_store_takes_no_inbound_transfer_but_receives_one_already_shipped(
        client: httpx.AsyncClient) -> None:
    warehouse = (await create_warehouse(client))["code"]
    store = (await create_store(client))["code"]
    sku = (await create_product(client))["sku"]
    await receive(client, warehouse, sku, 10)
    on_its_way = await ship_transfer(client, warehouse, store, (sku, 4))
    await _close(client, store)
    refused = await client.post("/v1/stock-movements/transfer", json={
        "from_location_id": warehouse, "to_location_id": store, "lines": moves((sku, 1))})
    _closed(refused, store)
    assert (await level(client, warehouse, sku))["on_hand"] == 6
    received = await client.post(
        f"/v1/stock-movements/transfers/{on_its_way['id']}/receive", json={})
    assert received.status_code == 200, received.text
    assert (await level(client, store, sku))["on_hand"] == 4


async def test_a_closed_store_takes_no_hold_and_commits_none_made_before(
        client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=5)
    held = await reserve(client, store, [hold_line(sku, 2)])
    await _close(client, store)
    _closed(await client.post("/v1/reservations", json={
        "location_id": store, "lines": [hold_line(sku, 1)]}), store)
    _closed(await client.post(f"/v1/reservations/{held['id']}/commit"), store)
    after = await level(client, store, sku)
    assert (after["on_hand"], after["reserved"]) == (5, 2)
    released = await client.post(f"/v1/reservations/{held['id']}/release")
    assert released.status_code == 200, released.text


async def test_a_closed_store_orders_and_receives_no_purchase(client: httpx.AsyncClient) -> None:
    store = (await create_store(client))["code"]
    sku = (await create_product(client))["sku"]
    supplier = (await create_supplier(client, products={sku: "2.00"}))["code"]
    order = await create_purchase_order(client, supplier, store, {sku: 6})
    draft = await create_purchase_order(client, supplier, store, {sku: 1}, draft=True)
    await _close(client, store)
    _closed(await client.post("/v1/purchase-orders", json={
        "supplier_id": supplier, "location_id": store, "lines": [{"sku": sku, "quantity": 1}]}),
        store)
    _closed(await client.post(f"/v1/purchase-orders/{draft['id']}/order", json={}), store)
    _closed(await client.post(f"/v1/purchase-orders/{order['id']}/receive", json={}), store)
    after = await level(client, store, sku)
    assert (after["on_hand"], after["incoming"]) == (0, 6)
    cancelled = await client.post(f"/v1/purchase-orders/{order['id']}/cancel", json={})
    assert cancelled.status_code == 200, cancelled.text
    await _reconciled(client, store)


# -- a discontinued product -----------------------------------------------------------------

async def test_a_discontinued_product_is_neither_received_nor_ordered(
        client: httpx.AsyncClient) -> None:
    store, (sku, kept) = await stocked(client, quantity=3, skus=2)
    supplier = (await create_supplier(client, products={sku: "2.00", kept: "2.00"}))["code"]
    order = await create_purchase_order(client, supplier, store, {sku: 2})
    await _discontinue(client, sku)
    before = await _snapshot(client, store, sku)
    refused = await client.post(UPDATE, json={"location_id": store, "sku": sku, "delta": 1,
                                              "reason": "receipt"})
    assert assert_problem(refused, 409, "product_discontinued")["skus"] == [sku]
    mixed = await client.post("/v1/purchase-orders", json={
        "supplier_id": supplier, "location_id": store,
        "lines": [{"sku": kept, "quantity": 1}, {"sku": sku, "quantity": 1}]})
    assert assert_problem(mixed, 409, "product_discontinued")["skus"] == [sku]
    assert_problem(await client.post(f"/v1/purchase-orders/{order['id']}/receive", json={}),
                   409, "product_discontinued")
    assert await _snapshot(client, store, sku) == before
    counted = await client.post(UPDATE, json={"location_id": store, "sku": sku, "quantity": 2,
                                              "reason": "count"})
    assert counted.status_code == 200, counted.text


async def test_a_discontinued_product_sells_until_its_stock_is_gone(
        client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=3)
    await _discontinue(client, sku)
    await record_sale(client, store, [line(sku, 2)])
    await record_sale(client, store, [line(sku, 1)])
    assert_problem(await client.post(SALE, json={"location_id": store, "lines": [line(sku)]}),
                   409, "insufficient_stock")
    assert (await level(client, store, sku))["on_hand"] == 0
    await _reconciled(client, store)


async def test_replenishment_leaves_out_discontinued_products_closed_stores_and_suppliers(
        client: httpx.AsyncClient) -> None:
    store = (await create_store(client))["code"]
    shut = (await create_store(client))["code"]
    skus = [(await create_product(client))["sku"] for _ in range(3)]
    supplier = (await create_supplier(client, products=dict.fromkeys(skus, "1.00")))["code"]
    for location in (store, shut):
        for sku in skus:
            await set_reorder(client, location, sku, 5)

    async def suggested() -> dict[tuple[str, str], Any]:
        found = [s for loc in (store, shut)
                 for s in await collect(client, "/v1/replenishment/suggestions",
                                        {"location_id": loc})]
        return {(s["location_id"], s["sku"]): s["source"] for s in found}

    assert len(await suggested()) == 6
    await _discontinue(client, skus[0])
    await _close(client, shut)
    now = await suggested()
    assert set(now) == {(store, skus[1]), (store, skus[2])}
    assert (now[store, skus[1]]["type"], now[store, skus[1]]["id"]) == ("supplier", supplier)
    closing = await client.patch(f"/v1/suppliers/{supplier}", json={"status": "closed"})
    assert closing.status_code == 200, closing.text
    assert all(source is None for source in (await suggested()).values())
    assert_problem(await client.post("/v1/purchase-orders", json={
        "supplier_id": supplier, "location_id": store,
        "lines": [{"sku": skus[1], "quantity": 1}]}), 409, "invalid_state")
