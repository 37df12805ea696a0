"""Short-shipped transfers over HTTP, on SQLite and PostgreSQL: close with the rest lost or
sent back, cancel after a partial receipt, the refusals (which change nothing), replays
under an Idempotency-Key, who may close, and receipts racing a close on a live server.

After every flow the reconciliation of both ends is clean: a loss leaves the destination's
``in_transit`` with a ``transfer_lost`` ledger row of delta 0, so ``on_hand`` is still the
sum of the ledger's deltas and ``in_transit`` what the open transfers carry.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer
from tests.factories import (
    assert_ledger_identity,
    assert_problem,
    cancel_transfer,
    collect,
    create_product,
    create_store,
    create_warehouse,
    error_fields,
    get_transfer,
    insert_api_key,
    ledger,
    level,
    lots,
    random_code,
    receive,
    receive_transfer,
    send_as,
    ship_transfer,
    wait_for_log,
)

TRANSFERS = "/v1/stock-movements/transfers"


async def route(client: httpx.AsyncClient) -> tuple[str, str, str, str]:
    """A warehouse holding 10 of SKU x and 5 of SKU y, and an empty store: (from, to, x, y)."""
    warehouse = (await create_warehouse(client))["code"]
    store = (await create_store(client))["code"]
    skus = []
    for quantity in (10, 5):
        sku = (await create_product(client))["sku"]
        await receive(client, warehouse, sku, quantity)
        skus.append(sku)
    return warehouse, store, skus[0], skus[1]


async def counts(client: httpx.AsyncClient, location_id: str, sku: str) -> tuple[int, int]:
    """(on_hand, in_transit) of a level, after checking its ledger identity."""
    current = await assert_ledger_identity(client, location_id, sku)
    return current["on_hand"], current["in_transit"]


def post_close(client: httpx.AsyncClient, transfer_id: str, body: Any,
               **kwargs: Any) -> Awaitable[httpx.Response]:
    return client.post(f"{TRANSFERS}/{transfer_id}/close", json=body, **kwargs)


async def close(client: httpx.AsyncClient, transfer_id: str, remainder: str,
                **fields: Any) -> dict[str, Any]:
    response = await post_close(client, transfer_id, {"remainder": remainder, **fields})
    assert response.status_code == 200, response.text
    return dict(response.json())


def settled(transfer: dict[str, Any]) -> list[tuple[int, int, int, int]]:
    """Per line: (received, sent back, lost, still in transit)."""
    return [(ln["received_quantity"], ln["cancelled_quantity"], ln["lost_quantity"],
             ln["in_transit"]) for ln in transfer["lines"]]


async def assert_reconciled(client: httpx.AsyncClient, *locations: str) -> None:
    for location in locations:
        answer = await client.get("/v1/admin/reconcile", params={"location_id": location})
        assert answer.status_code == 200, answer.text
        assert answer.json()["drift"] == [], answer.json()


async def snapshot(client: httpx.AsyncClient, places: list[str], skus: list[str],
                   transfer_id: str) -> dict[str, Any]:
    """Levels, ledgers and the transfer: what a refusal must leave alone."""
    state: dict[str, Any] = {"transfer": await get_transfer(client, transfer_id)}
    for place in places:
        for sku in skus:
            state[f"level {place} {sku}"] = await level(client, place, sku)
            state[f"ledger {place} {sku}"] = await ledger(client, place, sku)
    return state


# -- closing --------------------------------------------------------------------------------

async def test_close_lost_writes_the_rest_off_in_transit(client: httpx.AsyncClient) -> None:
    origin, destination, x, y = await route(client)
    shipped = await ship_transfer(client, origin, destination, (x, 6), (y, 4))
    await receive_transfer(client, shipped["id"], (x, 2))
    closed = await close(client, shipped["id"], "lost", note="pallet missing")
    assert (closed["status"], closed["remainder"]) == ("closed", "lost")
    assert closed["closed_at"] == closed["updated_at"] and closed["cancelled_at"] is None
    assert settled(closed) == [(2, 0, 4, 0), (0, 0, 4, 0)]
    assert await get_transfer(client, shipped["id"]) == closed
    assert await collect(client, TRANSFERS, {"location_id": destination,
                                             "status": "closed"}) == [closed]

    assert await counts(client, destination, x) == (2, 0)
    assert await counts(client, destination, y) == (0, 0)
    assert await counts(client, origin, x) == (4, 0)
    assert await counts(client, origin, y) == (1, 0)
    assert [(e["type"], e["delta"], e["balance_after"], e["reason"], e["reference"], e["note"])
            for e in await ledger(client, destination, x)] == [
        ("transfer_in", 2, 2, "transfer_in", shipped["id"], None),
        ("transfer_lost", 0, 2, "lost_in_transit", shipped["id"],
         f"4 lost in transit from {origin}: pallet missing")]
    assert [(e["type"], e["delta"], e["note"]) for e in await ledger(client, destination, y)] == [
        ("transfer_lost", 0, f"4 lost in transit from {origin}: pallet missing")]
    assert [e["type"] for e in await ledger(client, origin, x)] == ["receipt", "transfer_out"]
    lost = await client.get("/v1/stock-movements", params={
        "location_id": destination, "type": "transfer_lost"})
    assert lost.status_code == 200, lost.text
    assert {(e["sku"], e["reference"]) for e in lost.json()["items"]} == {
        (x, shipped["id"]), (y, shipped["id"])}
    await assert_reconciled(client, origin, destination)


async def test_close_emits_its_event_and_the_level_events(client: httpx.AsyncClient) -> None:
    origin, destination, x, _ = await route(client)
    shipped = await ship_transfer(client, origin, destination, (x, 5))
    await receive_transfer(client, shipped["id"], (x, 1))
    await close(client, shipped["id"], "lost")
    (event,) = await wait_for_log(client, 1, location_id=origin, types="transfer.closed")
    assert event["data"]["transfer_id"] == shipped["id"]
    assert (event["data"]["status"], event["data"]["remainder"]) == ("closed", "lost")
    assert event["data"]["settled"] == [{"sku": x, "quantity": 4}]
    assert event["data"]["lines"][0]["lost_quantity"] == 4
    changes = await wait_for_log(client, 3, location_id=destination, sku=x,
                                 types="inventory.changed")
    assert [(e["data"]["on_hand"], e["data"]["in_transit"]) for e in changes] == [
        (0, 5), (1, 4), (1, 0)]


async def test_close_return_ships_the_rest_back_to_the_origin(
        client: httpx.AsyncClient) -> None:
    origin, destination, x, y = await route(client)
    shipped = await ship_transfer(client, origin, destination, (x, 6), (y, 4))
    await receive_transfer(client, shipped["id"], (x, 2), (y, 4))
    closed = await close(client, shipped["id"], "return", note="short-shipped")
    assert (closed["status"], closed["remainder"]) == ("closed", "return")
    assert settled(closed) == [(2, 4, 0, 0), (4, 0, 0, 0)]
    assert await counts(client, origin, x) == (8, 0)
    assert await counts(client, destination, x) == (2, 0)
    assert await counts(client, destination, y) == (4, 0)
    back = (await ledger(client, origin, x))[-1]
    assert (back["type"], back["delta"], back["balance_after"], back["reason"],
            back["reference"], back["note"]) == (
        "transfer_cancel", 4, 8, "transfer_close", shipped["id"], "short-shipped")
    assert not [e for e in await ledger(client, destination, x) if e["type"] == "transfer_lost"]
    await assert_reconciled(client, origin, destination)


async def test_a_transfer_nothing_of_which_arrived_can_be_closed(
        client: httpx.AsyncClient) -> None:
    origin, destination, x, _ = await route(client)
    shipped = await ship_transfer(client, origin, destination, (x, 3))
    closed = await close(client, shipped["id"], "lost")
    assert settled(closed) == [(0, 0, 3, 0)]
    assert await counts(client, destination, x) == (0, 0)
    assert await counts(client, origin, x) == (7, 0)
    await assert_reconciled(client, origin, destination)


async def test_lots_lost_in_transit_are_counted_on_the_lots(client: httpx.AsyncClient) -> None:
    origin = (await create_warehouse(client))["code"]
    destination = (await create_store(client))["code"]
    sku = (await create_product(client))["sku"]
    for lot, quantity, expires in (("LATE", 6, "2031-06-01"), ("SOON", 4, "2031-01-01")):
        response = await client.post("/v1/inventory/update", json={
            "location_id": origin, "sku": sku, "delta": quantity, "reason": "receipt",
            "lot": lot, "expires_on": expires})
        assert response.status_code == 200, response.text
    shipped = await ship_transfer(client, origin, destination, (sku, 7))
    await receive_transfer(client, shipped["id"], (sku, 5))  # SOON 4, LATE 1
    closed = await close(client, shipped["id"], "lost")
    assert [(x["lot"], x["received_quantity"], x["returned_quantity"], x["lost_quantity"],
             x["in_transit"]) for x in closed["lines"][0]["lots"]] == [
        ("SOON", 4, 0, 0, 0), ("LATE", 1, 0, 2, 0)]
    assert [(x["lot"], x["on_hand"]) for x in await lots(client, destination, sku)] == [
        ("SOON", 4), ("LATE", 1)]
    assert await counts(client, origin, sku) == (3, 0)
    await assert_reconciled(client, origin, destination)


# -- cancelling after a partial receipt -----------------------------------------------------

async def test_cancel_after_a_partial_receipt_returns_only_what_is_in_transit(
        client: httpx.AsyncClient) -> None:
    origin, destination, x, y = await route(client)
    shipped = await ship_transfer(client, origin, destination, (x, 6), (y, 2))
    await receive_transfer(client, shipped["id"], (x, 2), (y, 2))
    cancelled = await cancel_transfer(client, shipped["id"], note="rest not coming")
    assert (cancelled["status"], cancelled["remainder"]) == ("cancelled", None)
    assert settled(cancelled) == [(2, 4, 0, 0), (2, 0, 0, 0)]
    assert await counts(client, origin, x) == (8, 0)
    assert await counts(client, destination, x) == (2, 0)
    assert await counts(client, origin, y) == (3, 0)
    assert await counts(client, destination, y) == (2, 0)
    back = (await ledger(client, origin, x))[-1]
    assert (back["type"], back["delta"], back["reason"], back["note"]) == (
        "transfer_cancel", 4, "transfer_cancel", "rest not coming")
    assert [e["type"] for e in await ledger(client, origin, y)] == ["receipt", "transfer_out"]
    await assert_reconciled(client, origin, destination)


# -- refusals -------------------------------------------------------------------------------

@pytest.mark.parametrize(("history", "action", "state"), [
    (["receive"], "close", "received"),
    (["receive-part", "receive"], "close", "received"),
    (["cancel"], "close", "cancelled"),
    (["close-lost"], "close", "closed"),
    (["close-return"], "close", "closed"),
    (["receive-part", "close-lost"], "receive", "closed"),
    (["close-return"], "cancel", "closed"),
])
async def test_closing_an_ended_transfer_is_409_invalid_state_and_changes_nothing(
        client: httpx.AsyncClient, history: list[str], action: str, state: str) -> None:
    origin, destination, x, y = await route(client)
    shipped = await ship_transfer(client, origin, destination, (x, 4))
    for step in history:
        if step == "cancel":
            await cancel_transfer(client, shipped["id"])
        elif step.startswith("close-"):
            await close(client, shipped["id"], step.removeprefix("close-"))
        else:
            await receive_transfer(client, shipped["id"],
                                   *([(x, 1)] if step == "receive-part" else []))
    before = await snapshot(client, [origin, destination], [x, y], shipped["id"])
    url = f"{TRANSFERS}/{shipped['id']}/{action}"
    response = await client.post(url, json={"remainder": "lost"} if action == "close" else {})
    problem = assert_problem(response, 409, "invalid_state")
    assert (problem["resource"], problem["key"], problem["state"]) == (
        "transfer", shipped["id"], state)
    assert await snapshot(client, [origin, destination], [x, y], shipped["id"]) == before


@pytest.mark.parametrize(("body", "field"), [
    ({}, "remainder"),
    ({"remainder": "stolen"}, "remainder"),
    ({"remainder": None}, "remainder"),
    ({"remainder": "LOST"}, "remainder"),
    ({"remainder": "lost", "note": "x" * 501}, "note"),
    ({"remainder": "lost", "status": "closed"}, "status"),
    ([], "body"),
    (None, "body"),
])
async def test_bad_close_bodies_are_422_and_change_nothing(
        client: httpx.AsyncClient, body: Any, field: str) -> None:
    origin, destination, x, y = await route(client)
    shipped = await ship_transfer(client, origin, destination, (x, 3))
    await receive_transfer(client, shipped["id"], (x, 1))
    before = await snapshot(client, [origin, destination], [x, y], shipped["id"])
    problem = assert_problem(await post_close(client, shipped["id"], body), 422,
                             "validation_error")
    assert field in error_fields(problem), problem
    assert await snapshot(client, [origin, destination], [x, y], shipped["id"]) == before


async def test_closing_an_unknown_transfer_is_404(client: httpx.AsyncClient) -> None:
    unknown = f"trf_{random_code('X').replace('-', '')}"
    problem = assert_problem(await post_close(client, unknown, {"remainder": "return"}), 404,
                             "not_found")
    assert (problem["resource"], problem["key"]) == ("transfer", unknown)


# -- replays --------------------------------------------------------------------------------

async def test_a_replayed_close_applies_once(client: httpx.AsyncClient) -> None:
    origin, destination, x, _ = await route(client)
    shipped = await ship_transfer(client, origin, destination, (x, 5))
    key = {"Idempotency-Key": random_code("CLS")}
    answers = [await post_close(client, shipped["id"], {"remainder": "lost"}, headers=key)
               for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a.headers.get("Idempotent-Replayed") for a in answers] == [None, "true", "true"]
    assert answers[1].json() == answers[0].json()
    assert len([e for e in await ledger(client, destination, x)
                if e["type"] == "transfer_lost"]) == 1
    assert await counts(client, destination, x) == (0, 0)
    other = await post_close(client, shipped["id"], {"remainder": "return"}, headers=key)
    assert_problem(other, 422, "idempotency_key_reused")
    assert_problem(await post_close(client, shipped["id"], {"remainder": "lost"}), 409,
                   "invalid_state")
    await assert_reconciled(client, origin, destination)


# -- who may close --------------------------------------------------------------------------

@pytest.mark.parametrize(("role", "at", "allowed"), [
    ("warehouse_staff", "origin", True),
    ("manager", "origin", True),
    ("warehouse_staff", "destination", False),
    ("store_staff", "destination", False),
    ("partner", "origin", False),
])
async def test_only_the_origin_may_close(client: httpx.AsyncClient, database_url: str,
                                         role: str, at: str, allowed: bool) -> None:
    origin, destination, x, y = await route(client)
    shipped = await ship_transfer(client, origin, destination, (x, 4))
    await receive_transfer(client, shipped["id"], (x, 1))
    key = await insert_api_key(database_url, role, location_ids=[
        origin if at == "origin" else destination])
    before = await snapshot(client, [origin, destination], [x, y], shipped["id"])
    response = await send_as(client, key.key, "POST", f"{TRANSFERS}/{shipped['id']}/close",
                             json={"remainder": "return"})
    if allowed:
        assert response.status_code == 200, response.text
        assert (response.json()["status"], response.json()["actor"]) == ("closed", "admin")
        assert await counts(client, origin, x) == (9, 0)
    else:
        assert_problem(response, 403, "forbidden")
        assert await snapshot(client, [origin, destination], [x, y], shipped["id"]) == before


# -- receipts racing a close ----------------------------------------------------------------

@pytest.fixture
async def live(live_server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=live_server.base_url,
                                 headers={"X-API-Key": live_server.admin_key},
                                 limits=limits, timeout=httpx.Timeout(60.0)) as client:
        yield client


RACE_ANSWERS = {("receive", 200, None), ("receive", 409, "invalid_state"),
                ("receive", 409, "quantity_exceeded"), ("close", 200, None),
                ("close", 409, "invalid_state")}


async def _attempt(live: httpx.AsyncClient, transfer_id: str, kind: str,
                   body: dict[str, Any]) -> tuple[str, int, str | None]:
    response = await live.post(f"{TRANSFERS}/{transfer_id}/{kind}", json=body)
    code = response.json().get("code") if response.status_code >= 400 else None
    return kind, response.status_code, code


async def test_receipts_racing_a_close_never_settle_more_than_was_shipped(
        live: httpx.AsyncClient) -> None:
    origin, destination, x, _ = await route(live)
    await receive(live, origin, x, 200)
    rng = random.Random(20261204)
    shipped = [await ship_transfer(live, origin, destination, (x, 20)) for _ in range(8)]
    work = []
    for transfer in shipped:
        # At most 18 of the 20 can arrive: every transfer is still open when a close
        # comes, whatever the order, so exactly one close of each pair succeeds.
        work += [_attempt(live, transfer["id"], "receive", {"lines": [
            {"sku": x, "quantity": rng.randint(1, 3)}]}) for _ in range(6)]
        work += [_attempt(live, transfer["id"], "close", {"remainder": remainder})
                 for remainder in ("lost", "return")]
    rng.shuffle(work)
    answers = await asyncio.gather(*work)
    assert set(answers) <= RACE_ANSWERS, answers
    assert sum(1 for kind, status, _ in answers if kind == "close" and status == 200) == 8

    totals = {"received": 0, "returned": 0}
    losses = []
    for transfer in shipped:
        now = await get_transfer(live, transfer["id"])
        assert now["status"] == "closed", now
        (ln,) = now["lines"]
        assert ln["received_quantity"] + ln["cancelled_quantity"] + ln["lost_quantity"] == 20
        assert ln["in_transit"] == 0 and (ln["cancelled_quantity"] == 0
                                          or ln["lost_quantity"] == 0), now
        totals["received"] += ln["received_quantity"]
        totals["returned"] += ln["cancelled_quantity"]
        losses += [ln["lost_quantity"]] if ln["lost_quantity"] else []
    assert await counts(live, destination, x) == (totals["received"], 0)
    assert await counts(live, origin, x) == (210 - 160 + totals["returned"], 0)
    lost_rows = [e for e in await ledger(live, destination, x) if e["type"] == "transfer_lost"]
    assert sorted(int(e["note"].split(" ")[0]) for e in lost_rows) == sorted(losses)
    await assert_reconciled(live, origin, destination)
