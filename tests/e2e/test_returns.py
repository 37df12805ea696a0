"""Returns against a sale through the API, on both backends."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.factories import (
    assert_ledger_identity,
    assert_problem,
    collect,
    error_fields,
    hold_line,
    ledger,
    level,
    line,
    moves,
    random_code,
    record_sale,
    reserve,
    return_items,
    stocked,
)


async def sold(client: httpx.AsyncClient) -> tuple[str, str, str, dict[str, Any]]:
    """A store, SKUs a and b (10 each on hand), and a sale of a x2, b x2, a x1."""
    store, (a, b) = await stocked(client, quantity=10, skus=2)
    sale = await record_sale(client, store, [line(a, 2, "30.00"), line(b, 2), line(a, 1)])
    return store, a, b, sale


async def sale_of(client: httpx.AsyncClient, sale_id: str) -> dict[str, Any]:
    response = await client.get(f"/v1/sales/{sale_id}")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def state(client: httpx.AsyncClient, store: str, sale_id: str,
                skus: list[str]) -> dict[str, Any]:
    """Everything a refused return must leave as it was."""
    return {"sale": await sale_of(client, sale_id),
            "levels": [await level(client, store, sku) for sku in skus],
            "ledger": [await ledger(client, store, sku) for sku in skus]}


def returned(sale: dict[str, Any]) -> list[tuple[str, int, int]]:
    return [(ln["sku"], ln["quantity"], ln["returned_quantity"]) for ln in sale["lines"]]


async def test_restocked_return_is_201_and_puts_units_back_through_the_ledger(
        client: httpx.AsyncClient) -> None:
    store, a, b, sale = await sold(client)
    response = await client.post(f"/v1/sales/{sale['id']}/returns", json={
        "lines": moves((b, 1), (a, 2)), "restock": True, "reason": "defective",
        "note": "seam split"})
    assert response.status_code == 201, response.text
    made = response.json()
    assert made["id"].startswith("ret_")
    assert {k: v for k, v in made.items() if k not in ("id", "created_at")} == {
        "sale_id": sale["id"], "location_id": store, "lines": moves((b, 1), (a, 2)),
        "restock": True, "reason": "defective", "note": "seam split", "actor": "admin",
        "sale_status": "partially_returned"}

    assert (await assert_ledger_identity(client, store, a))["on_hand"] == 9
    assert (await assert_ledger_identity(client, store, b))["on_hand"] == 9
    entries = [e for e in await ledger(client, store, a) if e["type"] == "return"]
    assert [(e["delta"], e["reason"], e["reference"], e["actor"]) for e in entries] == [
        (2, "defective", sale["id"], "admin")]

    after = await sale_of(client, sale["id"])
    assert after["status"] == "partially_returned"
    assert returned(after) == [(a, 2, 2), (b, 2, 1), (a, 1, 0)]
    made_in_sale = {k: v for k, v in made.items() if k != "sale_status"}
    assert after["returns"] == [made_in_sale]
    assert {k: v for k, v in after.items() if k not in ("status", "lines", "returns")} == {
        k: v for k, v in sale.items() if k not in ("status", "lines", "returns")}
    listed = await collect(client, "/v1/sales", {"location_id": store})
    assert listed == [after]


async def test_written_off_return_is_recorded_and_stock_stays(
        client: httpx.AsyncClient) -> None:
    store, a, b, sale = await sold(client)
    levels_before = [await level(client, store, sku) for sku in (a, b)]
    made = await return_items(client, sale["id"], moves((a, 3), (b, 2)), restock=False,
                              reason="damaged")
    assert (made["restock"], made["reason"], made["sale_status"]) == (False, "damaged",
                                                                      "returned")
    assert [await level(client, store, sku) for sku in (a, b)] == levels_before
    for sku in (a, b):
        entries = await ledger(client, store, sku)
        assert [e["type"] for e in entries] == ["receipt", "sale"]
    after = await sale_of(client, sale["id"])
    assert (after["status"], returned(after)) == ("returned", [(a, 2, 2), (b, 2, 2), (a, 1, 1)])
    assert [r["id"] for r in after["returns"]] == [made["id"]]


async def test_returns_add_up_to_the_sale_and_never_past_it(client: httpx.AsyncClient) -> None:
    store, a, b, sale = await sold(client)
    first = await return_items(client, sale["id"], moves((a, 1)))
    second = await return_items(client, sale["id"], moves((a, 2), (b, 1)), restock=False)
    assert (first["sale_status"], second["sale_status"]) == ("partially_returned",
                                                             "partially_returned")
    before = await state(client, store, sale["id"], [a, b])
    response = await client.post(f"/v1/sales/{sale['id']}/returns", json={
        "lines": moves((b, 1), (a, 1), (b, 1)), "restock": True, "reason": "changed_mind"})
    problem = assert_problem(response, 409, "quantity_exceeded")
    assert (problem["resource"], problem["key"]) == ("sale", sale["id"])
    assert sorted((x["sku"], x["requested"], x["allowed"]) for x in problem["lines"]) == sorted(
        [(a, 1, 0), (b, 2, 1)])
    assert await state(client, store, sale["id"], [a, b]) == before

    last = await return_items(client, sale["id"], moves((b, 1)))
    assert last["sale_status"] == "returned"
    after = await sale_of(client, sale["id"])
    assert [r["id"] for r in after["returns"]] == [first["id"], second["id"], last["id"]]
    assert (await assert_ledger_identity(client, store, a))["on_hand"] == 8
    assert (await assert_ledger_identity(client, store, b))["on_hand"] == 9
    before = await state(client, store, sale["id"], [a, b])
    assert_problem(await client.post(f"/v1/sales/{sale['id']}/returns", json={
        "lines": moves((a, 1)), "restock": False, "reason": "other"}), 409,
        "quantity_exceeded")
    assert await state(client, store, sale["id"], [a, b]) == before


async def test_concurrent_returns_of_one_sale_never_exceed_it(
        client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=10)
    sale = await record_sale(client, store, [line(sku, 5)])
    responses = await asyncio.gather(*(client.post(
        f"/v1/sales/{sale['id']}/returns",
        json={"lines": moves((sku, 1)), "restock": True, "reason": "other"})
        for _ in range(12)))
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] * 5 + [409] * 7, [r.text for r in responses if r.status_code > 409]
    after = await sale_of(client, sale["id"])
    assert (after["status"], len(after["returns"]), returned(after)) == (
        "returned", 5, [(sku, 5, 5)])
    assert (await assert_ledger_identity(client, store, sku))["on_hand"] == 10


@pytest.mark.parametrize(("change", "field"), [
    ({"reason": None}, "reason"),
    ({"reason": "bored"}, "reason"),
    ({"restock": None}, "restock"),
    ({"restock": "yes"}, "restock"),
    ({"lines": []}, "lines"),
    ({"lines": [{"sku": "{a}", "quantity": 0}]}, "lines.0.quantity"),
    ({"lines": [{"sku": "{a}", "quantity": 1}, {"sku": "{other}", "quantity": 1}]}, "lines"),
    ({"sale_status": "returned"}, "sale_status"),
    ({"id": "ret_MINE"}, "id"),
])
async def test_bad_return_is_422_and_changes_nothing(client: httpx.AsyncClient,
                                                     change: dict[str, Any],
                                                     field: str) -> None:
    store, a, b, sale = await sold(client)
    other = (await stocked(client))[1][0]  # a real SKU, but not on this sale
    body: dict[str, Any] = {"lines": moves((a, 1)), "restock": True, "reason": "other",
                            **change}
    body = {k: v for k, v in body.items() if v is not None}
    body["lines"] = [{**ln, "sku": ln["sku"].format(a=a, other=other)} for ln in body["lines"]]
    before = await state(client, store, sale["id"], [a, b])
    problem = assert_problem(await client.post(f"/v1/sales/{sale['id']}/returns", json=body),
                             422, "validation_error")
    assert field in error_fields(problem)
    assert await state(client, store, sale["id"], [a, b]) == before


async def test_return_against_an_unknown_sale_is_404(client: httpx.AsyncClient) -> None:
    _, a, _, _ = await sold(client)
    body = {"lines": moves((a, 1)), "restock": True, "reason": "other"}
    problem = assert_problem(await client.post("/v1/sales/sale_NOPE/returns", json=body), 404,
                             "not_found")
    assert (problem["resource"], problem["key"]) == ("sale", "sale_NOPE")
    assert_problem(await client.post("/v1/sales/not-an-id!/returns", json=body), 422,
                   "validation_error")


async def test_replayed_return_applies_once(client: httpx.AsyncClient) -> None:
    store, a, b, sale = await sold(client)
    body = {"lines": moves((a, 1)), "restock": True, "reason": "wrong_item"}
    key = {"Idempotency-Key": random_code("RETURN")}
    first, again = [await client.post(f"/v1/sales/{sale['id']}/returns", json=body, headers=key)
                    for _ in range(2)]
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json()
    assert len((await sale_of(client, sale["id"]))["returns"]) == 1
    assert (await assert_ledger_identity(client, store, a))["on_hand"] == 8
    assert_problem(await client.post(f"/v1/sales/{sale['id']}/returns",
                                     json={**body, "restock": False}, headers=key),
                   422, "idempotency_key_reused")


async def test_sale_of_a_committed_hold_takes_returns(client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=6)
    held = await reserve(client, store, [hold_line(sku, 4)])
    sale = (await client.post(f"/v1/reservations/{held['id']}/commit")).json()
    made = await return_items(client, sale["id"], moves((sku, 4)))
    assert made["sale_status"] == "returned"
    current = await assert_ledger_identity(client, store, sku)
    assert (current["on_hand"], current["reserved"]) == (6, 0)
