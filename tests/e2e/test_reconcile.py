"""GET /v1/admin/reconcile on both backends: a busy database has no drift, each kind of drift
made by hand in SQL is found on its level, only admins may ask, and NDJSON streams progress
(a stuck outbox row is tested through the CLI, on a database without a relay).

The session's database is shared with other tests, so each test looks at its own locations
(``?location_id=``)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import delete, func, select, update

from stockline.adapters.database import open_database
from stockline.adapters.tables import (
    inventory_levels,
    inventory_lots,
    outbox,
    purchase_order_lines,
    reservation_lines,
    transfer_lines,
)
from stockline.domain.security import Role
from tests.factories import (
    cancel_transfer,
    create_product,
    create_purchase_order,
    create_store,
    create_supplier,
    create_warehouse,
    execute_sql,
    hold_line,
    insert_api_key,
    line,
    receive,
    receive_transfer,
    record_sale,
    reserve,
    return_items,
    send_as,
    ship_transfer,
)

URL = "/v1/admin/reconcile"


async def reconcile(client: httpx.AsyncClient, location_id: str) -> dict[str, Any]:
    answer = await client.get(URL, params={"location_id": location_id})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def drained(database_url: str, location_id: str) -> None:
    """Wait until the relay has moved this location's outbox rows to the event log."""
    database = open_database(database_url)
    try:
        for _ in range(200):
            async with database.read.connect() as conn:
                waiting = (await conn.execute(select(func.count()).select_from(outbox)
                                              .where(outbox.c.location_id == location_id))
                           ).scalar()
            if not waiting:
                return
            await asyncio.sleep(0.05)
    finally:
        await database.dispose()
    raise AssertionError(f"the outbox of {location_id} was not drained")


async def lotted_receipt(client: httpx.AsyncClient, store: str, sku: str, lot: str,
                         quantity: int) -> None:
    answer = await client.post("/v1/inventory/update", json={
        "location_id": store, "sku": sku, "delta": quantity, "reason": "receipt", "lot": lot})
    assert answer.status_code == 200, answer.text


async def test_a_database_after_every_kind_of_operation_has_no_drift(
        client: httpx.AsyncClient, database_url: str) -> None:
    store = (await create_store(client))["code"]
    warehouse = (await create_warehouse(client))["code"]
    plain, lotted, moved = [(await create_product(client))["sku"] for _ in range(3)]
    await receive(client, store, plain, 40)
    await lotted_receipt(client, store, lotted, "L-A", 6)
    await lotted_receipt(client, store, lotted, "L-B", 4)
    await receive(client, warehouse, moved, 50)
    sale = await record_sale(client, store, [line(plain, 3), line(lotted, 2)])
    await return_items(client, sale["id"], [{"sku": plain, "quantity": 1}])
    kept = await reserve(client, store, [hold_line(plain, 2)])
    sold = await reserve(client, store, [hold_line(plain, 1), hold_line(lotted, 1)])
    let_go = await reserve(client, store, [hold_line(plain, 5)])
    assert (await client.post(f"/v1/reservations/{sold['id']}/commit")).status_code == 201
    assert (await client.post(f"/v1/reservations/{let_go['id']}/release")).status_code == 200
    partly = await ship_transfer(client, warehouse, store, (moved, 10))
    await receive_transfer(client, partly["id"], (moved, 4))
    called_off = await ship_transfer(client, warehouse, store, (moved, 3))
    await cancel_transfer(client, called_off["id"])
    await ship_transfer(client, warehouse, store, (moved, 2))
    supplier = (await create_supplier(client, products={plain: "3.00", moved: "4.00"}))["code"]
    order = await create_purchase_order(client, supplier, store, {plain: 8, moved: 5})
    answer = await client.post(f"/v1/purchase-orders/{order['id']}/receive",
                               json={"lines": [{"sku": plain, "quantity": 3}]})
    assert answer.status_code == 200, answer.text
    await create_purchase_order(client, supplier, store, {moved: 7})

    report = await reconcile(client, store)  # at once: the outbox may still hold events
    assert report["drift"] == [], report
    assert report["checked"] == 3 and report["drift_total"] == 0
    await drained(database_url, store)  # and once the relay has logged them
    assert (await reconcile(client, store))["drift"] == []
    assert (await reconcile(client, warehouse))["checked"] == 1
    assert (await reconcile(client, warehouse))["drift"] == []
    assert kept["status"] == "active"


# Each kind of drift, made on a level of its own: (check, expected, actual) by level.
Breaker = Callable[[httpx.AsyncClient, str, str], Awaitable[list[Any]]]


def _level_column_raised(column: str, by: int) -> Breaker:
    """A level received 10, then one of its columns raised behind the service's back."""
    async def breaker(client: httpx.AsyncClient, store: str, sku: str) -> list[Any]:
        await receive(client, store, sku, 10)
        L = inventory_levels.c
        return [update(inventory_levels).where(L.location_id == store, L.sku == sku)
                .values({column: L[column] + by})]
    return breaker


async def _a_reservation_line_deleted(client: httpx.AsyncClient, store: str,
                                      sku: str) -> list[Any]:
    await receive(client, store, sku, 10)
    held = await reserve(client, store, [hold_line(sku, 3)])
    return [delete(reservation_lines).where(reservation_lines.c.reservation_id == held["id"])]


async def _a_transfer_line_changed(client: httpx.AsyncClient, store: str,
                                   sku: str) -> list[Any]:
    warehouse = (await create_warehouse(client))["code"]
    await receive(client, warehouse, sku, 10)
    shipped = await ship_transfer(client, warehouse, store, (sku, 6))
    return [update(transfer_lines).where(transfer_lines.c.transfer_id == shipped["id"])
            .values(quantity=8)]


async def _a_transfer_loss_changed(client: httpx.AsyncClient, store: str,
                                   sku: str) -> list[Any]:
    """An open transfer whose line says 2 were lost, which nothing took out of transit."""
    warehouse = (await create_warehouse(client))["code"]
    await receive(client, warehouse, sku, 10)
    shipped = await ship_transfer(client, warehouse, store, (sku, 6))
    return [update(transfer_lines).where(transfer_lines.c.transfer_id == shipped["id"])
            .values(lost_quantity=2)]


async def _a_lot_changed(client: httpx.AsyncClient, store: str, sku: str) -> list[Any]:
    await lotted_receipt(client, store, sku, "L-1", 10)
    c = inventory_lots.c
    return [update(inventory_lots).where(c.location_id == store, c.sku == sku)
            .values(on_hand=c.on_hand - 1)]


async def _an_order_line_changed(client: httpx.AsyncClient, store: str,
                                 sku: str) -> list[Any]:
    supplier = (await create_supplier(client, products={sku: "2.00"}))["code"]
    order = await create_purchase_order(client, supplier, store, {sku: 10})
    return [update(purchase_order_lines)
            .where(purchase_order_lines.c.purchase_order_id == order["id"])
            .values(received_quantity=4)]


CASES: dict[str, tuple[Breaker, list[tuple[str, int | None, int | None]]]] = {
    "on_hand": (_level_column_raised("on_hand", 7),
                [("on_hand_ledger", 10, 17), ("ledger_balance", 10, 17)]),
    "reservation": (_a_reservation_line_deleted, [("reserved_reservations", 0, 3)]),
    "transfer": (_a_transfer_line_changed, [("in_transit_transfers", 8, 6)]),
    "transfer loss": (_a_transfer_loss_changed, [("in_transit_transfers", 4, 6)]),
    "lot": (_a_lot_changed, [("lots_total", 9, 10)]),
    "order": (_an_order_line_changed, [("incoming_orders", 6, 10)]),
    "event": (_level_column_raised("version", 5), [("event_missing", 6, 1)]),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_each_kind_of_drift_is_reported_on_its_level(
        client: httpx.AsyncClient, database_url: str, case: str) -> None:
    breaker, wanted = CASES[case]
    store = (await create_store(client))["code"]
    sku = (await create_product(client))["sku"]
    statements = await breaker(client, store, sku)
    assert (await reconcile(client, store))["drift"] == []
    await drained(database_url, store)
    await execute_sql(database_url, *statements)
    report = await reconcile(client, store)
    found = [(d["check"], d["expected"], d["actual"]) for d in report["drift"]]
    assert found == wanted, report
    assert {(d["location_id"], d["sku"]) for d in report["drift"]} == {(store, sku)}
    assert all(d["detail"] for d in report["drift"])
    assert report["drift_total"] == len(wanted) and not report["truncated"]
    assert report["by_check"][wanted[0][0]] == 1


@pytest.mark.parametrize("role", [r.value for r in Role if r is not Role.ADMIN])
async def test_only_admins_may_reconcile(client: httpx.AsyncClient, database_url: str,
                                         role: str) -> None:
    key = await insert_api_key(database_url, role)
    answer = await send_as(client, key.key, "GET", URL)
    assert answer.status_code == 403, answer.text


async def test_ndjson_streams_progress_then_the_report(client: httpx.AsyncClient) -> None:
    store = (await create_store(client))["code"]
    sku = (await create_product(client))["sku"]
    await receive(client, store, sku, 5)
    async with client.stream("GET", URL, headers={"Accept": "application/x-ndjson"}) as answer:
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("application/x-ndjson")
        lines = [orjson.loads(x) async for x in answer.aiter_lines() if x]
    *progress, report = lines
    assert len(progress) >= 2 and all(set(p) == {"progress"} for p in progress)
    counts = [p["progress"]["checked"] for p in progress]
    assert counts == sorted(counts) and counts[0] == 0
    assert {p["progress"]["of"] for p in progress} == {report["checked"]} == {counts[-1]}
    assert report["checked"] >= 1 and "drift" in report and "by_check" in report
