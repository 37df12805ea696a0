"""Transfers over HTTP, on SQLite and PostgreSQL: ship, receive (all or part), cancel, list.

Every refusal is checked against a snapshot of the levels at both ends, their ledgers and
the transfer itself: a refused request changes nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import httpx
import pytest

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
    ledger,
    level,
    lots,
    moves,
    random_code,
    random_sku,
    receive,
    receive_transfer,
    ship_transfer,
    stocked,
)

TRANSFERS = "/v1/stock-movements/transfers"
SHIP = "/v1/stock-movements/transfer"


async def route(client: httpx.AsyncClient) -> tuple[str, str, list[str]]:
    """A warehouse holding 10 of SKU x and 5 of SKU y, and an empty store: (from, to, skus)."""
    warehouse = (await create_warehouse(client))["code"]
    store = (await create_store(client))["code"]
    skus = []
    for quantity in (10, 5):
        sku = (await create_product(client))["sku"]
        await receive(client, warehouse, sku, quantity)
        skus.append(sku)
    return warehouse, store, skus


async def counts(client: httpx.AsyncClient, location_id: str, sku: str) -> tuple[int, int]:
    """(on_hand, in_transit) of a level, after checking its ledger identity."""
    current = await assert_ledger_identity(client, location_id, sku)
    return current["on_hand"], current["in_transit"]


async def snapshot(client: httpx.AsyncClient, places: list[str], skus: list[str],
                   transfer_id: str | None = None) -> dict[str, Any]:
    """Levels, ledgers and (when given) the transfer: what a refusal must leave alone."""
    state: dict[str, Any] = {}
    for place in places:
        for sku in skus:
            state[f"level {place} {sku}"] = await level(client, place, sku)
            state[f"ledger {place} {sku}"] = await ledger(client, place, sku)
    if transfer_id is not None:
        state["transfer"] = await get_transfer(client, transfer_id)
    state["transfers"] = await collect(client, TRANSFERS, {"sku": skus[0]})
    return state


def post_receive(client: httpx.AsyncClient, transfer_id: str, body: Any = None,
                 **kwargs: Any) -> Awaitable[httpx.Response]:
    return client.post(f"{TRANSFERS}/{transfer_id}/receive", json=body, **kwargs)


def post_cancel(client: httpx.AsyncClient, transfer_id: str,
                body: dict[str, Any] | None = None,
                **kwargs: Any) -> Awaitable[httpx.Response]:
    return client.post(f"{TRANSFERS}/{transfer_id}/cancel", json=body, **kwargs)


# -- shipping ---------------------------------------------------------------------------

async def test_ship_takes_from_the_origin_and_puts_stock_in_transit(
        client: httpx.AsyncClient) -> None:
    origin, destination, (x, y) = await route(client)
    response = await client.post(SHIP, json={
        "from_location_id": origin, "to_location_id": destination,
        "lines": moves((x, 4), (y, 5)), "note": "weekly top-up", "external_ref": "WMS-77"})
    assert response.status_code == 201, response.text
    transfer = response.json()
    assert transfer["id"].startswith("trf_")
    assert (transfer["status"], transfer["from_location_id"], transfer["to_location_id"],
            transfer["note"], transfer["external_ref"], transfer["actor"]) == (
        "in_transit", origin, destination, "weekly top-up", "WMS-77", "admin")
    assert transfer["lines"] == [
        {"line_no": 1, "sku": x, "quantity": 4, "received_quantity": 0,
         "cancelled_quantity": 0, "lost_quantity": 0, "in_transit": 4, "lots": []},
        {"line_no": 2, "sku": y, "quantity": 5, "received_quantity": 0,
         "cancelled_quantity": 0, "lost_quantity": 0, "in_transit": 5, "lots": []}]
    assert transfer["created_at"] == transfer["updated_at"]
    assert (transfer["received_at"], transfer["cancelled_at"]) == (None, None)
    assert await get_transfer(client, transfer["id"]) == transfer

    assert await counts(client, origin, x) == (6, 0)
    assert await counts(client, origin, y) == (0, 0)
    assert await counts(client, destination, x) == (0, 4)
    assert await counts(client, destination, y) == (0, 5)
    assert (await level(client, destination, x))["available"] == 0
    out = [e for e in await ledger(client, origin, x) if e["type"] == "transfer_out"]
    assert [(e["delta"], e["balance_after"], e["reference"], e["reason"], e["note"])
            for e in out] == [(-4, 6, transfer["id"], "transfer_out", "weekly top-up")]
    assert await ledger(client, destination, x) == []


async def test_store_to_store_and_store_to_warehouse(client: httpx.AsyncClient) -> None:
    first, (sku,) = await stocked(client, quantity=8)
    second = (await create_store(client))["code"]
    warehouse = (await create_warehouse(client))["code"]
    onward = await ship_transfer(client, first, second, (sku, 5))
    await receive_transfer(client, onward["id"])
    back = await ship_transfer(client, second, warehouse, (sku, 2))
    await receive_transfer(client, back["id"])
    assert await counts(client, first, sku) == (3, 0)
    assert await counts(client, second, sku) == (3, 0)
    assert await counts(client, warehouse, sku) == (2, 0)


async def test_short_lines_are_named_every_one_and_nothing_changes(
        client: httpx.AsyncClient) -> None:
    origin, destination, (x, y) = await route(client)
    z = (await create_product(client))["sku"]  # never stocked at the origin
    before = await snapshot(client, [origin, destination], [x, y])
    response = await client.post(SHIP, json={
        "from_location_id": origin, "to_location_id": destination,
        "lines": moves((x, 11), (y, 5), (z, 1))})
    problem = assert_problem(response, 409, "insufficient_stock")
    assert problem["location_id"] == origin
    assert [(s["sku"], s["requested"], s["available"]) for s in problem["lines"]] == [
        (x, 11, 10), (z, 1, 0)]
    assert await snapshot(client, [origin, destination], [x, y]) == before
    assert (await client.get(f"/v1/inventory/{destination}/{z}")).json()["version"] == 0


async def test_stock_on_its_way_is_gone_from_the_origin(client: httpx.AsyncClient) -> None:
    origin, destination, (x, _) = await route(client)
    response = await client.post(SHIP, json={"from_location_id": origin,
                                             "to_location_id": destination,
                                             "lines": moves((x, 10))})
    assert response.status_code == 201, response.text
    again = await client.post(SHIP, json={"from_location_id": origin,
                                          "to_location_id": destination,
                                          "lines": moves((x, 1))})
    assert assert_problem(again, 409, "insufficient_stock")["lines"][0]["available"] == 0


async def test_shipping_to_the_same_location_is_422(client: httpx.AsyncClient) -> None:
    origin, destination, (x, y) = await route(client)
    before = await snapshot(client, [origin], [x, y])
    response = await client.post(SHIP, json={"from_location_id": origin,
                                             "to_location_id": origin, "lines": moves((x, 1))})
    assert error_fields(assert_problem(response, 422, "validation_error")) == [
        "to_location_id"]
    assert await snapshot(client, [origin], [x, y]) == before


@pytest.mark.parametrize(("change", "field"), [
    ({"lines": []}, "lines"),
    ({"lines": "x"}, "lines"),
    ({"lines": [{"sku": "{x}", "quantity": 0}]}, "lines.0.quantity"),
    ({"lines": [{"sku": "{x}", "quantity": -1}]}, "lines.0.quantity"),
    ({"lines": [{"sku": "{x}", "quantity": 1.5}]}, "lines.0.quantity"),
    ({"lines": [{"sku": "{x}", "quantity": "1"}]}, "lines.0.quantity"),
    ({"lines": [{"sku": "{x}", "quantity": 1_000_001}]}, "lines.0.quantity"),
    ({"lines": [{"sku": "no spaces", "quantity": 1}]}, "lines.0.sku"),
    ({"lines": [{"sku": "{x}", "quantity": 1, "lot": "L1"}]}, "lines.0.lot"),
    ({"lines": [{"sku": "{x}", "quantity": 1}, {"sku": "{x}", "quantity": 2}]}, "lines"),
    ({"to_location_id": None}, "to_location_id"),
    ({"from_location_id": "bad code!"}, "from_location_id"),
    ({"status": "received"}, "status"),
    ({"id": "trf_MINE"}, "id"),
    ({"note": "x" * 501}, "note"),
    ({"external_ref": ""}, "external_ref"),
])
async def test_bad_transfer_bodies_are_422_and_change_nothing(
        client: httpx.AsyncClient, change: dict[str, Any], field: str) -> None:
    origin, destination, (x, y) = await route(client)
    body: dict[str, Any] = {"from_location_id": origin, "to_location_id": destination,
                            "lines": moves((x, 1))}
    for key, value in change.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            value = [{k: (x if v == "{x}" else v) for k, v in item.items()} for item in value]
        body[key] = value
    before = await snapshot(client, [origin, destination], [x, y])
    problem = assert_problem(await client.post(SHIP, json=body), 422, "validation_error")
    assert field in error_fields(problem), problem
    assert await snapshot(client, [origin, destination], [x, y]) == before


async def test_more_lines_than_allowed_is_422(client: httpx.AsyncClient) -> None:
    origin, destination, (x, _) = await route(client)
    lines = [{"sku": f"SKU-{n}", "quantity": 1} for n in range(501)]
    response = await client.post(SHIP, json={"from_location_id": origin,
                                             "to_location_id": destination, "lines": lines})
    assert error_fields(assert_problem(response, 422, "validation_error")) == ["lines"]


@pytest.mark.parametrize("missing", ["from", "to", "sku"])
async def test_shipping_with_unknown_codes_is_404(client: httpx.AsyncClient,
                                                  missing: str) -> None:
    origin, destination, (x, y) = await route(client)
    unknown = random_code("UNKNOWN")
    body = {"from_location_id": unknown if missing == "from" else origin,
            "to_location_id": unknown if missing == "to" else destination,
            "lines": moves((x, 1), (unknown if missing == "sku" else y, 1))}
    before = await snapshot(client, [origin, destination], [x, y])
    problem = assert_problem(await client.post(SHIP, json=body), 404, "not_found")
    assert (problem["resource"], problem["key"]) == (
        "product" if missing == "sku" else "location", unknown)
    assert await snapshot(client, [origin, destination], [x, y]) == before


# -- receiving --------------------------------------------------------------------------

async def test_receiving_everything_with_an_empty_body_or_none(
        client: httpx.AsyncClient) -> None:
    origin, destination, (x, y) = await route(client)
    first = await ship_transfer(client, origin, destination, (x, 3))
    second = await ship_transfer(client, origin, destination, (x, 2), (y, 1))
    response = await client.post(f"{TRANSFERS}/{first['id']}/receive")  # no body at all
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "received"
    assert await counts(client, destination, x) == (3, 2)
    received = await receive_transfer(client, second["id"])  # {}
    assert received["status"] == "received"
    assert received["received_at"] == received["updated_at"]
    assert [(ln["received_quantity"], ln["in_transit"]) for ln in received["lines"]] == [
        (2, 0), (1, 0)]
    assert await counts(client, destination, x) == (5, 0)
    assert await counts(client, destination, y) == (1, 0)
    assert await counts(client, origin, x) == (5, 0)
    entries = await ledger(client, destination, x)
    assert [(e["delta"], e["balance_after"], e["type"], e["reason"], e["reference"])
            for e in entries] == [(3, 3, "transfer_in", "transfer_in", first["id"]),
                                  (2, 5, "transfer_in", "transfer_in", second["id"])]
    assert await get_transfer(client, second["id"]) == received


async def test_partial_receipts_until_everything_arrived(client: httpx.AsyncClient) -> None:
    origin, destination, (x, y) = await route(client)
    shipped = await ship_transfer(client, origin, destination, (x, 6), (y, 4))
    first = await receive_transfer(client, shipped["id"], (x, 2))
    assert first["status"] == "partially_received"
    assert [(ln["received_quantity"], ln["in_transit"]) for ln in first["lines"]] == [
        (2, 4), (0, 4)]
    assert await counts(client, destination, x) == (2, 4)
    assert await counts(client, destination, y) == (0, 4)
    second = await receive_transfer(client, shipped["id"], (y, 4), (x, 3))
    assert second["status"] == "partially_received"
    assert await counts(client, destination, x) == (5, 1)
    assert await counts(client, destination, y) == (4, 0)
    last = await receive_transfer(client, shipped["id"], (x, 1))
    assert last["status"] == "received"
    assert await counts(client, destination, x) == (6, 0)
    assert await counts(client, origin, x) == (4, 0)
    assert [e["delta"] for e in await ledger(client, destination, x)] == [2, 3, 1]


@pytest.mark.parametrize(("lines", "excess"), [
    ([("x", 7)], [("x", 7, 6)]),
    ([("x", 1), ("y", 3)], [("y", 3, 2)]),
    ([("x", 9), ("other", 1)], [("x", 9, 6), ("other", 1, 0)]),
])
async def test_over_receipt_is_409_quantity_exceeded_and_changes_nothing(
        client: httpx.AsyncClient, lines: list[tuple[str, int]],
        excess: list[tuple[str, int, int]]) -> None:
    origin, destination, (x, y) = await route(client)
    other = (await create_product(client))["sku"]
    names = {"x": x, "y": y, "other": other}
    shipped = await ship_transfer(client, origin, destination, (x, 6), (y, 2))
    before = await snapshot(client, [origin, destination], [x, y], shipped["id"])
    response = await post_receive(client, shipped["id"], {
        "lines": moves(*[(names[s], q) for s, q in lines])})
    problem = assert_problem(response, 409, "quantity_exceeded")
    assert (problem["resource"], problem["key"]) == ("transfer", shipped["id"])
    assert [(ln["sku"], ln["requested"], ln["allowed"]) for ln in problem["lines"]] == [
        (names[s], requested, allowed) for s, requested, allowed in excess]
    assert await snapshot(client, [origin, destination], [x, y], shipped["id"]) == before


async def test_after_a_partial_receipt_only_the_rest_may_arrive(
        client: httpx.AsyncClient) -> None:
    origin, destination, (x, _) = await route(client)
    shipped = await ship_transfer(client, origin, destination, (x, 5))
    await receive_transfer(client, shipped["id"], (x, 4))
    problem = assert_problem(await post_receive(client, shipped["id"],
                                                {"lines": moves((x, 2))}),
                             409, "quantity_exceeded")
    assert problem["lines"] == [{"sku": x, "requested": 2, "allowed": 1}]


@pytest.mark.parametrize(("body", "field"), [
    ({"lines": []}, "lines"),
    ({"lines": [{"sku": "{x}", "quantity": 0}]}, "lines.0.quantity"),
    ({"lines": [{"sku": "{x}", "quantity": 1}, {"sku": "{x}", "quantity": 1}]}, "lines"),
    ({"lines": [{"sku": "{x}"}]}, "lines.0.quantity"),
    ({"everything": True}, "everything"),
    ([], "body"),
])
async def test_bad_receipt_bodies_are_422_and_change_nothing(
        client: httpx.AsyncClient, body: Any, field: str) -> None:
    origin, destination, (x, y) = await route(client)
    shipped = await ship_transfer(client, origin, destination, (x, 3))
    if isinstance(body, dict) and isinstance(body.get("lines"), list):
        body = {"lines": [{k: (x if v == "{x}" else v) for k, v in ln.items()}
                          for ln in body["lines"]]}
    before = await snapshot(client, [origin, destination], [x, y], shipped["id"])
    problem = assert_problem(await post_receive(client, shipped["id"], body), 422,
                             "validation_error")
    assert field in error_fields(problem), problem
    assert await snapshot(client, [origin, destination], [x, y], shipped["id"]) == before


# -- cancelling -------------------------------------------------------------------------

async def test_cancel_returns_everything_to_the_origin(client: httpx.AsyncClient) -> None:
    origin, destination, (x, y) = await route(client)
    shipped = await ship_transfer(client, origin, destination, (x, 4), (y, 5))
    response = await post_cancel(client, shipped["id"], {"note": "truck broke down"})
    assert response.status_code == 200, response.text
    cancelled = response.json()
    assert cancelled["status"] == "cancelled"
    assert cancelled["cancelled_at"] == cancelled["updated_at"]
    assert cancelled["received_at"] is None
    assert [(ln["cancelled_quantity"], ln["in_transit"]) for ln in cancelled["lines"]] == [
        (4, 0), (5, 0)]
    assert await counts(client, origin, x) == (10, 0)
    assert await counts(client, origin, y) == (5, 0)
    assert await counts(client, destination, x) == (0, 0)
    assert await counts(client, destination, y) == (0, 0)
    entries = await ledger(client, origin, x)
    assert [(e["delta"], e["balance_after"], e["type"], e["reference"], e["note"])
            for e in entries] == [
        (10, 10, "receipt", None, None),
        (-4, 6, "transfer_out", shipped["id"], None),
        (4, 10, "transfer_cancel", shipped["id"], "truck broke down")]
    assert await ledger(client, destination, x) == []
    assert await get_transfer(client, shipped["id"]) == cancelled


async def test_cancel_without_a_body(client: httpx.AsyncClient) -> None:
    origin, destination, (x, _) = await route(client)
    shipped = await ship_transfer(client, origin, destination, (x, 4))
    response = await client.post(f"{TRANSFERS}/{shipped['id']}/cancel")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"


@pytest.mark.parametrize(("history", "action", "state"), [
    (["receive"], "receive", "received"),
    (["receive"], "cancel", "received"),
    (["receive-part", "receive"], "cancel", "received"),
    (["cancel"], "receive", "cancelled"),
    (["cancel"], "cancel", "cancelled"),
])
async def test_every_illegal_transition_is_409_invalid_state_and_changes_nothing(
        client: httpx.AsyncClient, history: list[str], action: str, state: str) -> None:
    origin, destination, (x, y) = await route(client)
    shipped = await ship_transfer(client, origin, destination, (x, 4))
    for step in history:
        if step == "cancel":
            await cancel_transfer(client, shipped["id"])
        else:
            await receive_transfer(client, shipped["id"],
                                   *([(x, 1)] if step == "receive-part" else []))
    before = await snapshot(client, [origin, destination], [x, y], shipped["id"])
    response = await (post_cancel(client, shipped["id"]) if action == "cancel"
                      else post_receive(client, shipped["id"], {}))
    problem = assert_problem(response, 409, "invalid_state")
    assert (problem["resource"], problem["key"], problem["state"]) == (
        "transfer", shipped["id"], state)
    assert await snapshot(client, [origin, destination], [x, y], shipped["id"]) == before


@pytest.mark.parametrize("how", ["get", "receive", "cancel"])
async def test_unknown_transfer_is_404(client: httpx.AsyncClient, how: str) -> None:
    unknown = f"trf_{random_code('X').replace('-', '')}"
    if how == "get":
        response = await client.get(f"{TRANSFERS}/{unknown}")
    else:
        response = await (post_receive(client, unknown, {}) if how == "receive"
                          else post_cancel(client, unknown))
    problem = assert_problem(response, 404, "not_found")
    assert (problem["resource"], problem["key"]) == ("transfer", unknown)


@pytest.mark.parametrize("bad", ["has-dash", "x" * 41, "semi;colon"])
async def test_malformed_transfer_ids_are_422(client: httpx.AsyncClient, bad: str) -> None:
    assert_problem(await client.get(f"{TRANSFERS}/{bad}"), 422, "validation_error")
    assert_problem(await post_receive(client, bad, {}), 422, "validation_error")


# -- lots -------------------------------------------------------------------------------

async def test_lots_travel_first_expiring_first_and_come_back_on_cancel(
        client: httpx.AsyncClient) -> None:
    origin = (await create_warehouse(client))["code"]
    destination = (await create_store(client))["code"]
    sku = random_sku()
    await create_product(client, sku)
    for lot, quantity, expires in (("LATE", 6, "2031-06-01"), ("SOON", 4, "2031-01-01")):
        response = await client.post("/v1/inventory/update", json={
            "location_id": origin, "sku": sku, "delta": quantity, "reason": "receipt",
            "lot": lot, "expires_on": expires})
        assert response.status_code == 200, response.text

    shipped = await ship_transfer(client, origin, destination, (sku, 7))
    assert shipped["lines"][0]["lots"] == [
        {"lot": "SOON", "expires_on": "2031-01-01", "quantity": 4, "received_quantity": 0,
         "returned_quantity": 0, "lost_quantity": 0, "in_transit": 4},
        {"lot": "LATE", "expires_on": "2031-06-01", "quantity": 3, "received_quantity": 0,
         "returned_quantity": 0, "lost_quantity": 0, "in_transit": 3}]
    assert [(x["lot"], x["on_hand"]) for x in await lots(client, origin, sku)] == [("LATE", 3)]
    partial = await receive_transfer(client, shipped["id"], (sku, 5))
    assert [(x["lot"], x["received_quantity"], x["in_transit"])
            for x in partial["lines"][0]["lots"]] == [("SOON", 4, 0), ("LATE", 1, 2)]
    assert [(x["lot"], x["on_hand"], x["expires_on"])
            for x in await lots(client, destination, sku)] == [
        ("SOON", 4, "2031-01-01"), ("LATE", 1, "2031-06-01")]
    arrived = await ledger(client, destination, sku)
    assert [(e["lot"], e["delta"], e["balance_after"], e["type"]) for e in arrived] == [
        ("SOON", 4, 4, "transfer_in"), ("LATE", 1, 5, "transfer_in")]
    assert await counts(client, destination, sku) == (5, 2)

    second = await ship_transfer(client, origin, destination, (sku, 3))
    assert [(x["lot"], x["quantity"]) for x in second["lines"][0]["lots"]] == [("LATE", 3)]
    await cancel_transfer(client, second["id"])
    assert [(x["lot"], x["on_hand"]) for x in await lots(client, origin, sku)] == [("LATE", 3)]
    back = (await ledger(client, origin, sku))[-1]
    assert (back["lot"], back["delta"], back["type"]) == ("LATE", 3, "transfer_cancel")
    assert await counts(client, origin, sku) == (3, 0)
    assert await counts(client, destination, sku) == (5, 2)


# -- idempotency ------------------------------------------------------------------------

async def test_a_replayed_ship_moves_stock_once(client: httpx.AsyncClient) -> None:
    origin, destination, (x, _) = await route(client)
    key = {"Idempotency-Key": random_code("TRF")}
    body = {"from_location_id": origin, "to_location_id": destination, "lines": moves((x, 3))}
    first = await client.post(SHIP, json=body, headers=key)
    again = await client.post(SHIP, json=body, headers=key)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert await counts(client, origin, x) == (7, 0)
    assert await counts(client, destination, x) == (0, 3)
    assert [t["id"] for t in await collect(client, TRANSFERS, {"sku": x})] == [
        first.json()["id"]]
    other = await client.post(SHIP, json={**body, "lines": moves((x, 4))}, headers=key)
    assert_problem(other, 422, "idempotency_key_reused")


async def test_a_replayed_receipt_and_cancel_apply_once(client: httpx.AsyncClient) -> None:
    origin, destination, (x, y) = await route(client)
    shipped = await ship_transfer(client, origin, destination, (x, 4))
    key = {"Idempotency-Key": random_code("RCV")}
    answers = [await post_receive(client, shipped["id"], {"lines": moves((x, 1))}, headers=key)
               for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a.headers.get("Idempotent-Replayed") for a in answers] == [None, "true", "true"]
    assert await counts(client, destination, x) == (1, 3)

    doomed = await ship_transfer(client, origin, destination, (y, 2))
    cancel_key = {"Idempotency-Key": random_code("CNL")}
    first = await post_cancel(client, doomed["id"], headers=cancel_key)
    again = await post_cancel(client, doomed["id"], headers=cancel_key)
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert await counts(client, origin, y) == (5, 0)
    # Without the key, a second cancel is the refusal it is.
    assert_problem(await post_cancel(client, doomed["id"]), 409, "invalid_state")


# -- lists ------------------------------------------------------------------------------

async def test_list_filters_and_pages_newest_first(client: httpx.AsyncClient) -> None:
    a, b, (x, y) = await route(client)
    c = (await create_store(client))["code"]
    await receive(client, b, y, 5)
    one = await ship_transfer(client, a, b, (x, 1))
    two = await ship_transfer(client, a, c, (x, 1), (y, 1))
    three = await ship_transfer(client, b, c, (y, 2))
    four = await ship_transfer(client, a, b, (y, 1))
    await receive_transfer(client, one["id"])
    await cancel_transfer(client, four["id"])
    await receive_transfer(client, three["id"], (y, 1))
    ids = {"one": one["id"], "two": two["id"], "three": three["id"], "four": four["id"]}

    async def listed(**params: str) -> list[str]:
        names = {v: k for k, v in ids.items()}
        found = await collect(client, TRANSFERS, params)
        return [names.get(t["id"], "?") for t in found]

    assert await listed(location_id=a) == ["four", "two", "one"]
    assert await listed(location_id=b) == ["four", "three", "one"]
    assert await listed(from_location_id=a) == ["four", "two", "one"]
    assert await listed(to_location_id=c) == ["three", "two"]
    assert await listed(from_location_id=a, to_location_id=b) == ["four", "one"]
    assert await listed(location_id=c, status="partially_received") == ["three"]
    assert await listed(location_id=a, status="cancelled") == ["four"]
    assert await listed(location_id=a, status="received") == ["one"]
    assert await listed(location_id=c, status="in_transit") == ["two"]
    assert await listed(sku=x) == ["two", "one"]
    assert await listed(sku=y, to_location_id=c) == ["three", "two"]

    everything = await collect(client, TRANSFERS, {"location_id": c})
    paged = await collect(client, TRANSFERS, {"location_id": c}, limit=1)
    assert paged == everything
    assert paged[0] == await get_transfer(client, three["id"])
    first_page = (await client.get(TRANSFERS, params={"location_id": a, "limit": 2})).json()
    assert len(first_page["items"]) == 2 and first_page["next_cursor"]


@pytest.mark.parametrize(("params", "field"), [
    ({"status": "lost"}, "status"),
    ({"location_id": "no spaces"}, "location_id"),
    ({"sku": "a/b"}, "sku"),
    ({"limit": 0}, "limit"),
    ({"limit": 501}, "limit"),
    ({"cursor": "not-a-cursor"}, "cursor"),
    ({"cursor": "WzEsMl0"}, "cursor"),  # [1, 2]: a cursor of another list
])
async def test_bad_list_queries_are_422(client: httpx.AsyncClient, params: dict[str, Any],
                                        field: str) -> None:
    problem = assert_problem(await client.get(TRANSFERS, params=params), 422,
                             "validation_error")
    assert field in error_fields(problem), problem


async def test_the_routes_are_in_the_openapi_document(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert set(paths[SHIP]) == {"post"}
    assert set(paths[TRANSFERS]) == {"get"}
    assert set(paths[TRANSFERS + "/{transfer_id}"]) == {"get"}
    for action in ("receive", "cancel"):
        operation = paths[f"{TRANSFERS}/{{transfer_id}}/{action}"]["post"]
        assert {"404", "409", "422"} <= set(operation["responses"]), action
        assert "Idempotency-Key" in {p["name"] for p in operation["parameters"]}
    assert {"201", "404", "409", "422"} <= set(paths[SHIP]["post"]["responses"])
