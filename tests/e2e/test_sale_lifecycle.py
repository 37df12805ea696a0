"""A sale's life after the till: PATCH /v1/sales/{id} moves its payment and fulfillment
along their tables (domain.states), on both backends."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from stockline.domain.states import SALE_FULFILLMENTS, SALE_PAYMENTS
from tests.factories import (
    as_key,
    assert_ledger_identity,
    assert_problem,
    collect,
    create_api_key,
    create_store,
    level,
    line,
    random_code,
    record_sale,
    stocked,
    wait_for_log,
)

PAYMENT_STEPS = sorted((a, b) for a, to in SALE_PAYMENTS.steps().items() for b in to)
FULFILLMENT_STEPS = sorted((a, b) for a, to in SALE_FULFILLMENTS.steps().items() for b in to)
# Paths through each table from a sale's opening state to every state it can reach.
PAYMENT_PATHS = {"pending": [], "authorized": ["authorized"], "paid": ["paid"],
                 "failed": ["failed"], "refunded": ["paid", "refunded"]}
FULFILLMENT_PATHS = {"unfulfilled": [], "fulfilled": ["fulfilled"],
                     "shipped": ["fulfilled", "shipped"],
                     "delivered": ["fulfilled", "shipped", "delivered"],
                     "cancelled": ["cancelled"]}


async def an_order(client: httpx.AsyncClient, **fields: Any) -> tuple[str, str, dict[str, Any]]:
    """A store, a SKU with 10 on hand, and an online order of 2 (pending, unfulfilled)."""
    store, (sku,) = await stocked(client, quantity=10)
    sale = await record_sale(client, store, [line(sku, 2)], channel="ecommerce",
                             payment_status="pending", **fields)
    return store, sku, sale


async def patch(client: httpx.AsyncClient, sale_id: str, **body: str) -> httpx.Response:
    return await client.patch(f"/v1/sales/{sale_id}", json=body)


async def moved_to(client: httpx.AsyncClient, sale_id: str, field: str, path: list[str]) -> None:
    for state in path:
        response = await patch(client, sale_id, **{field: state})
        assert response.status_code == 200, response.text


async def updates(client: httpx.AsyncClient, store: str, count: int) -> list[dict[str, Any]]:
    found = await wait_for_log(client, count, types="sale.updated", location_id=store)
    assert len(found) == count, found
    return found


async def test_a_sale_opens_delivered_at_the_till_and_unfulfilled_online(
        client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=10)
    at_till = await record_sale(client, store, [line(sku)])
    online = await record_sale(client, store, [line(sku)], channel="marketplace",
                               payment_status="authorized")
    assert (at_till["payment_status"], at_till["fulfillment_status"]) == ("paid", "delivered")
    assert (online["payment_status"], online["fulfillment_status"]) == (
        "authorized", "unfulfilled")
    got = (await client.get(f"/v1/sales/{online['id']}")).json()
    assert got["fulfillment_status"] == "unfulfilled"


@pytest.mark.parametrize("payment", ["refunded", "failed"])
async def test_a_sale_cannot_be_recorded_refunded_or_failed(client: httpx.AsyncClient,
                                                            payment: str) -> None:
    store, (sku,) = await stocked(client, quantity=10)
    response = await client.post("/v1/sales/record", json={
        "location_id": store, "lines": [line(sku)], "payment_status": payment})
    assert_problem(response, 422, "validation_error")
    assert (await level(client, store, sku))["on_hand"] == 10


@pytest.mark.parametrize(("before", "after"), PAYMENT_STEPS)
async def test_every_payment_step_of_the_table_is_taken_and_logged(
        client: httpx.AsyncClient, before: str, after: str) -> None:
    store, sku, sale = await an_order(client)
    await moved_to(client, sale["id"], "payment_status", PAYMENT_PATHS[before])
    response = await patch(client, sale["id"], payment_status=after)
    assert response.status_code == 200, response.text
    assert (response.json()["payment_status"], response.json()["fulfillment_status"]) == (
        after, "unfulfilled")
    logged = (await updates(client, store, len(PAYMENT_PATHS[before]) + 1))[-1]
    assert logged["data"] == {
        "sale_id": sale["id"], "external_ref": None,
        "before": {"payment_status": before, "fulfillment_status": "unfulfilled"},
        "after": {"payment_status": after, "fulfillment_status": "unfulfilled"}}
    assert (await assert_ledger_identity(client, store, sku))["on_hand"] == 8


@pytest.mark.parametrize(("before", "after"), FULFILLMENT_STEPS)
async def test_every_fulfillment_step_of_the_table_is_taken_and_moves_no_stock(
        client: httpx.AsyncClient, before: str, after: str) -> None:
    store, sku, sale = await an_order(client)
    await moved_to(client, sale["id"], "fulfillment_status", FULFILLMENT_PATHS[before])
    response = await patch(client, sale["id"], fulfillment_status=after)
    assert response.status_code == 200, response.text
    assert response.json()["fulfillment_status"] == after
    logged = (await updates(client, store, len(FULFILLMENT_PATHS[before]) + 1))[-1]
    assert (logged["data"]["before"]["fulfillment_status"],
            logged["data"]["after"]["fulfillment_status"]) == (before, after)
    # Cancelling (or any step) leaves the units sold: a return brings them back.
    assert (await assert_ledger_identity(client, store, sku))["on_hand"] == 8
    assert (await client.get("/v1/admin/reconcile", params={"location_id": store})
            ).json()["drift"] == []


@pytest.mark.parametrize(("field", "before", "after"), [
    ("payment_status", "pending", "refunded"), ("payment_status", "authorized", "pending"),
    ("payment_status", "paid", "failed"), ("payment_status", "paid", "pending"),
    ("payment_status", "refunded", "paid"), ("payment_status", "failed", "paid"),
    ("fulfillment_status", "unfulfilled", "shipped"),
    ("fulfillment_status", "unfulfilled", "delivered"),
    ("fulfillment_status", "shipped", "cancelled"),
    ("fulfillment_status", "delivered", "cancelled"),
    ("fulfillment_status", "cancelled", "fulfilled"),
])
async def test_a_step_the_table_does_not_allow_is_409_and_changes_nothing(
        client: httpx.AsyncClient, field: str, before: str, after: str) -> None:
    store, _, sale = await an_order(client)
    paths = PAYMENT_PATHS if field == "payment_status" else FULFILLMENT_PATHS
    await moved_to(client, sale["id"], field, paths[before])
    was = (await client.get(f"/v1/sales/{sale['id']}")).json()
    problem = assert_problem(await patch(client, sale["id"], **{field: after}), 409,
                             "invalid_state")
    assert (problem["key"], problem["state"]) == (sale["id"], before)
    assert (await client.get(f"/v1/sales/{sale['id']}")).json() == was
    await updates(client, store, len(paths[before]))


async def test_both_fields_move_together_or_not_at_all(client: httpx.AsyncClient) -> None:
    store, _, sale = await an_order(client)
    refused = await patch(client, sale["id"], payment_status="paid",
                          fulfillment_status="shipped")
    assert_problem(refused, 409, "invalid_state")
    got = (await client.get(f"/v1/sales/{sale['id']}")).json()
    assert (got["payment_status"], got["fulfillment_status"]) == ("pending", "unfulfilled")
    both = await patch(client, sale["id"], payment_status="paid",
                       fulfillment_status="fulfilled")
    assert (both.json()["payment_status"], both.json()["fulfillment_status"]) == (
        "paid", "fulfilled")
    (logged,) = await updates(client, store, 1)
    assert logged["data"]["after"] == {"payment_status": "paid",
                                       "fulfillment_status": "fulfilled"}


async def test_naming_the_present_state_is_200_without_an_event(
        client: httpx.AsyncClient) -> None:
    store, _, sale = await an_order(client)
    same = await patch(client, sale["id"], payment_status="pending",
                       fulfillment_status="unfulfilled")
    assert same.status_code == 200, same.text
    assert same.json() == (await client.get(f"/v1/sales/{sale['id']}")).json()
    await moved_to(client, sale["id"], "payment_status", ["paid"])
    assert (await patch(client, sale["id"], payment_status="paid")).status_code == 200
    await moved_to(client, sale["id"], "fulfillment_status", ["fulfilled"])
    logged = await updates(client, store, 2)  # the two real steps, nothing for the others
    assert [e["data"]["after"] for e in logged] == [
        {"payment_status": "paid", "fulfillment_status": "unfulfilled"},
        {"payment_status": "paid", "fulfillment_status": "fulfilled"}]


@pytest.mark.parametrize("body", [{}, {"payment_status": None}, {"payment_status": "lost"},
                                  {"fulfillment_status": "packed"},
                                  {"payment_status": "paid", "status": "completed"}])
async def test_a_malformed_body_is_422(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    _, _, sale = await an_order(client)
    response = await client.patch(f"/v1/sales/{sale['id']}", json=body)
    assert_problem(response, 422, "validation_error")


async def test_an_unknown_sale_is_404(client: httpx.AsyncClient) -> None:
    assert_problem(await patch(client, "sale_nope", payment_status="paid"), 404, "not_found")


async def test_concurrent_steps_from_one_state_let_exactly_one_win(
        client: httpx.AsyncClient) -> None:
    store, _, sale = await an_order(client)
    targets = ["paid", "failed"] * 4
    answers = await asyncio.gather(*(patch(client, sale["id"], payment_status=t)
                                     for t in targets))
    final = (await client.get(f"/v1/sales/{sale['id']}")).json()["payment_status"]
    assert final in ("paid", "failed")
    for target, answer in zip(targets, answers, strict=True):
        # The winner's step, repeated, finds it done (200); the other is no longer allowed.
        if target == final:
            assert answer.status_code == 200, answer.text
        else:
            assert_problem(answer, 409, "invalid_state")
    (logged,) = await updates(client, store, 1)
    assert logged["data"]["after"]["payment_status"] == final


async def test_an_idempotent_patch_is_replayed_and_applied_once(
        client: httpx.AsyncClient) -> None:
    store, _, sale = await an_order(client)
    key = {"Idempotency-Key": random_code("idem")}
    url, body = f"/v1/sales/{sale['id']}", {"payment_status": "paid"}
    first = await client.patch(url, json=body, headers=key)
    await moved_to(client, sale["id"], "payment_status", ["refunded"])
    again = await client.patch(url, json=body, headers=key)
    assert first.status_code == again.status_code == 200
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json()
    assert (await client.get(url)).json()["payment_status"] == "refunded"
    assert len(await updates(client, store, 2)) == 2
    reused = await client.patch(url, json={"payment_status": "failed"}, headers=key)
    assert_problem(reused, 422, "idempotency_key_reused")


async def test_a_key_may_change_the_sales_of_its_own_locations_only(
        client: httpx.AsyncClient) -> None:
    store, _, sale = await an_order(client)
    home = (await create_store(client))["code"]
    clerk = (await create_api_key(client, "store_staff", location_ids=[home]))["key"]
    owner = (await create_api_key(client, "store_staff", location_ids=[store]))["key"]
    partner = (await create_api_key(client, "partner"))["key"]
    url, body = f"/v1/sales/{sale['id']}", {"fulfillment_status": "fulfilled"}
    assert_problem(await as_key(client, clerk, "PATCH", url, json=body), 403, "forbidden")
    assert_problem(await as_key(client, partner, "PATCH", url, json=body), 403, "forbidden")
    assert (await client.get(url)).json()["fulfillment_status"] == "unfulfilled"
    taken = await as_key(client, owner, "PATCH", url, json=body)
    assert taken.status_code == 200, taken.text
    assert taken.json()["fulfillment_status"] == "fulfilled"


async def test_lists_filter_by_payment_and_fulfillment(client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=10)
    ids = [(await record_sale(client, store, [line(sku)], channel="ecommerce",
                              payment_status="pending"))["id"] for _ in range(3)]
    till = (await record_sale(client, store, [line(sku)]))["id"]
    await moved_to(client, ids[0], "payment_status", ["paid"])
    await moved_to(client, ids[1], "payment_status", ["paid"])
    await moved_to(client, ids[1], "fulfillment_status", ["fulfilled", "shipped"])

    async def listed(**filters: str) -> set[str]:
        return {s["id"] for s in await collect(client, "/v1/sales",
                                               {"location_id": store, **filters})}

    assert await listed(payment_status="paid") == {ids[0], ids[1], till}
    assert await listed(payment_status="pending") == {ids[2]}
    assert await listed(fulfillment_status="unfulfilled") == {ids[0], ids[2]}
    assert await listed(payment_status="paid", fulfillment_status="unfulfilled") == {ids[0]}
    assert await listed(fulfillment_status="delivered") == {till}
    assert await listed(payment_status="refunded") == set()
    csv = await client.get("/v1/sales", params={"location_id": store,
                                                "fulfillment_status": "shipped"},
                           headers={"Accept": "text/csv"})
    assert csv.status_code == 200, csv.text
    header, *rows = csv.text.strip().splitlines()
    assert "fulfillment_status" in header.split(",")
    assert len(rows) == 1 and ids[1] in rows[0] and ",shipped," in rows[0]
    bad = await client.get("/v1/sales", params={"payment_status": "lost"})
    assert_problem(bad, 422, "validation_error")
