"""Reservations through the API, on both backends: holds, commits, releases, expiry."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from stockline.bootstrap import Container
from stockline.services import reservations
from tests.conftest import LiveServer
from tests.factories import (
    assert_ledger_identity,
    assert_problem,
    collect,
    create_product,
    error_fields,
    hold_line,
    ledger,
    level,
    random_code,
    receive,
    reserve,
    sales_at,
    stocked,
)


def when(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def state(client: httpx.AsyncClient, store: str, skus: list[str],
                *reservation_ids: str) -> dict[str, Any]:
    """Everything a refused request must leave as it was."""
    return {
        "levels": [await level(client, store, sku) for sku in skus],
        "ledger": [len(await ledger(client, store, sku)) for sku in skus],
        "sales": await sales_at(client, store),
        "holds": [(await client.get(f"/v1/reservations/{r}")).json() for r in reservation_ids],
        "listed": await collect(client, "/v1/reservations", {"location_id": store}),
    }


async def figures(client: httpx.AsyncClient, store: str, sku: str) -> tuple[int, int, int]:
    current = await assert_ledger_identity(client, store, sku)
    return current["on_hand"], current["reserved"], current["available"]


# -- holding ------------------------------------------------------------------------------

async def test_hold_answers_201_active_and_reserves_every_line(
        client: httpx.AsyncClient) -> None:
    store, (a, b) = await stocked(client, quantity=10, skus=2)
    response = await client.post("/v1/reservations", json={
        "location_id": store, "ttl_seconds": 600, "channel": "pos", "external_ref": "cart-1",
        "lines": [hold_line(b, 2, "4.5"), hold_line(a, 3), hold_line(b, 1)]})
    assert response.status_code == 201, response.text
    held = response.json()
    assert held["id"].startswith("res_")
    assert (held["status"], held["location_id"], held["channel"], held["external_ref"],
            held["sale_id"], held["actor"]) == ("active", store, "pos", "cart-1", None, "admin")
    assert held["lines"] == [
        {"line_no": 1, "sku": b, "quantity": 2, "unit_price": {"amount": "4.50",
                                                               "currency": "USD"}},
        {"line_no": 2, "sku": a, "quantity": 3, "unit_price": None},
        {"line_no": 3, "sku": b, "quantity": 1, "unit_price": None}]
    assert when(held["expires_at"]) - when(held["created_at"]) == timedelta(seconds=600)
    assert held["updated_at"] == held["created_at"]
    assert await figures(client, store, a) == (10, 3, 7)
    assert await figures(client, store, b) == (10, 3, 7)
    assert len(await ledger(client, store, a)) == 1, "a hold writes no ledger entry"
    assert (await client.get(f"/v1/reservations/{held['id']}")).json() == held


async def test_hold_lasts_the_configured_default_when_no_ttl_is_given(
        client: httpx.AsyncClient, container: Container) -> None:
    store, (sku,) = await stocked(client)
    held = await reserve(client, store, [hold_line(sku)])
    assert (held["channel"], held["status"]) == ("ecommerce", "active")
    assert when(held["expires_at"]) - when(held["created_at"]) == timedelta(
        seconds=container.settings.reservation_default_ttl_seconds)


@pytest.mark.parametrize(("change", "field"), [
    ({"ttl_seconds": 7 * 24 * 3600 + 1}, "ttl_seconds"),
    ({"ttl_seconds": 0}, "ttl_seconds"),
    ({"ttl_seconds": "60"}, "ttl_seconds"),
    ({"lines": []}, "lines"),
    ({"lines": [{"sku": "{sku}", "quantity": 0}]}, "lines.0.quantity"),
    ({"lines": [{"sku": "{sku}", "quantity": 1, "unit_price": {"amount": "1", "currency": "USD"}},
                {"sku": "{sku}", "quantity": 1, "unit_price": {"amount": "1",
                                                               "currency": "EUR"}}]}, "lines"),
    ({"status": "committed"}, "status"),
    ({"expires_at": "2030-01-01T00:00:00Z"}, "expires_at"),
    ({"location_id": "not a code"}, "location_id"),
])
async def test_hold_with_bad_input_is_422_and_changes_nothing(
        client: httpx.AsyncClient, change: dict[str, Any], field: str) -> None:
    store, (sku,) = await stocked(client)
    body: dict[str, Any] = {"location_id": store, "lines": [hold_line(sku)], **change}
    body["lines"] = [{**ln, "sku": sku} for ln in body["lines"]]
    before = await state(client, store, [sku])
    problem = assert_problem(await client.post("/v1/reservations", json=body), 422,
                             "validation_error")
    assert field in error_fields(problem)
    assert await state(client, store, [sku]) == before


async def test_hold_with_short_lines_is_409_naming_every_short_line_and_changes_nothing(
        client: httpx.AsyncClient) -> None:
    store, (a, b, c) = await stocked(client, quantity=5, skus=3)
    before = await state(client, store, [a, b, c])
    response = await client.post("/v1/reservations", json={"location_id": store, "lines": [
        hold_line(a, 5), hold_line(c, 4), hold_line(b, 6), hold_line(c, 2)]})
    problem = assert_problem(response, 409, "insufficient_stock")
    assert problem["location_id"] == store
    assert sorted((x["sku"], x["requested"], x["available"]) for x in problem["lines"]) == sorted(
        [(b, 6, 5), (c, 6, 5)])
    assert await state(client, store, [a, b, c]) == before


async def test_held_units_cannot_be_sold_or_held_again(client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=5)
    await reserve(client, store, [hold_line(sku, 4)])
    assert_problem(await client.post("/v1/sales/record", json={
        "location_id": store, "lines": [{"sku": sku, "quantity": 2,
                                         "unit_price": {"amount": "1", "currency": "USD"}}]}),
                   409, "insufficient_stock")
    problem = assert_problem(await client.post("/v1/reservations", json={
        "location_id": store, "lines": [hold_line(sku, 2)]}), 409, "insufficient_stock")
    assert problem["lines"] == [{"sku": sku, "requested": 2, "available": 1}]
    assert await figures(client, store, sku) == (5, 4, 1)


@pytest.mark.parametrize("unknown", ["location", "product"])
async def test_hold_of_something_unknown_is_404(client: httpx.AsyncClient,
                                                unknown: str) -> None:
    store, (sku,) = await stocked(client)
    missing = random_code("NOPE")
    location, other = (missing, sku) if unknown == "location" else (store, missing)
    problem = assert_problem(await client.post("/v1/reservations", json={
        "location_id": location, "lines": [hold_line(sku), hold_line(other)]}), 404,
        "not_found")
    assert (problem["resource"], problem["key"]) == (unknown, missing)
    assert await figures(client, store, sku) == (10, 0, 10)


# -- committing ---------------------------------------------------------------------------

async def test_commit_answers_201_with_the_sale_as_sales_record_does(
        client: httpx.AsyncClient) -> None:
    store, (a,) = await stocked(client, quantity=10)
    b = (await create_product(client, price={"amount": "7.25", "currency": "USD"}))["sku"]
    await receive(client, store, b, 4)
    held = await reserve(client, store, [hold_line(a, 2, "19.99"), hold_line(b, 3)],
                         external_ref="order-7")
    response = await client.post(f"/v1/reservations/{held['id']}/commit",
                                 json={"payment_status": "authorized"})
    assert response.status_code == 201, response.text
    sale = response.json()
    recorded = await client.post("/v1/sales/record", json={"location_id": store, "lines": [
        {"sku": a, "quantity": 1, "unit_price": {"amount": "1", "currency": "USD"}}]})
    assert set(sale) == set(recorded.json()), "the same shape as /sales/record"
    assert sale["id"].startswith("sale_")
    assert (sale["location_id"], sale["status"], sale["channel"], sale["payment_status"],
            sale["external_ref"], sale["units"], sale["returns"]) == (
        store, "completed", "ecommerce", "authorized", "order-7", 5, [])
    assert [(ln["sku"], ln["quantity"], ln["unit_price"]["amount"]) for ln in sale["lines"]] == [
        (a, 2, "19.99"), (b, 3, "7.25")]
    assert sale["total"] == {"amount": "61.73", "currency": "USD"}
    assert (await client.get(f"/v1/sales/{sale['id']}")).json() == sale
    assert sale["id"] in {s["id"] for s in await sales_at(client, store)}

    assert await figures(client, store, a) == (7, 0, 7)
    assert await figures(client, store, b) == (1, 0, 1)
    entries = [e for e in await ledger(client, store, a) if e["type"] == "sale"]
    assert [(e["delta"], e["reference"]) for e in entries] == [
        (-2, sale["id"]), (-1, recorded.json()["id"])]
    done = (await client.get(f"/v1/reservations/{held['id']}")).json()
    assert (done["status"], done["sale_id"]) == ("committed", sale["id"])
    assert when(done["updated_at"]) >= when(done["created_at"])


async def test_commit_without_a_body_sells_paid_with_the_holds_ref(
        client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client)
    held = await reserve(client, store, [hold_line(sku, 2)], external_ref="cart-9",
                         channel="marketplace")
    response = await client.post(f"/v1/reservations/{held['id']}/commit")
    assert response.status_code == 201, response.text
    sale = response.json()
    assert (sale["payment_status"], sale["external_ref"], sale["channel"]) == (
        "paid", "cart-9", "marketplace")
    assert sale["total"] == {"amount": "20.00", "currency": "USD"}  # the product's price


async def test_commit_with_no_price_anywhere_is_422_and_the_hold_stays(
        client: httpx.AsyncClient) -> None:
    store = (await stocked(client))[0]
    sku = (await create_product(client, price=None))["sku"]
    await receive(client, store, sku, 3)
    held = await reserve(client, store, [hold_line(sku, 1)])
    before = await state(client, store, [sku], held["id"])
    problem = assert_problem(await client.post(f"/v1/reservations/{held['id']}/commit"), 422,
                             "validation_error")
    assert sku in problem["detail"]
    assert await state(client, store, [sku], held["id"]) == before
    assert before["holds"][0]["status"] == "active"


# -- illegal transitions -------------------------------------------------------------------

async def _commit(client: httpx.AsyncClient, held: dict[str, Any]) -> httpx.Response:
    return await client.post(f"/v1/reservations/{held['id']}/commit", json={})


async def _release(client: httpx.AsyncClient, held: dict[str, Any]) -> httpx.Response:
    return await client.post(f"/v1/reservations/{held['id']}/release")


async def _expire(container: Container, held: dict[str, Any]) -> None:
    await asyncio.sleep(max(0.0, (when(held["expires_at"]) - when(
        held["created_at"])).total_seconds()) + 0.05)
    await reservations.sweep_expired(container.executor)


@pytest.mark.parametrize("ending", ["committed", "released", "expired"])
async def test_an_ended_hold_refuses_commit_and_release_with_409_and_nothing_changes(
        client: httpx.AsyncClient, container: Container, ending: str) -> None:
    store, (sku,) = await stocked(client, quantity=10)
    held = await reserve(client, store, [hold_line(sku, 3)],
                         ttl_seconds=1 if ending == "expired" else 300)
    if ending == "committed":
        assert (await _commit(client, held)).status_code == 201
    elif ending == "released":
        assert (await _release(client, held)).status_code == 200
    else:
        await _expire(container, held)
    before = await state(client, store, [sku], held["id"])
    assert before["holds"][0]["status"] == ending
    for act in (_commit, _release):
        problem = assert_problem(await act(client, held), 409, "invalid_state")
        assert (problem["resource"], problem["key"], problem["state"]) == (
            "reservation", held["id"], ending)
    assert await state(client, store, [sku], held["id"]) == before
    on_hand = 7 if ending == "committed" else 10
    assert await figures(client, store, sku) == (on_hand, 0, on_hand)


async def test_release_gives_the_units_back(client: httpx.AsyncClient) -> None:
    store, (a, b) = await stocked(client, quantity=6, skus=2)
    held = await reserve(client, store, [hold_line(a, 6), hold_line(b, 2)])
    response = await _release(client, held)
    assert response.status_code == 200, response.text
    released = response.json()
    assert (released["status"], released["sale_id"], released["lines"]) == (
        "released", None, held["lines"])
    assert (await client.get(f"/v1/reservations/{held['id']}")).json() == released
    assert await figures(client, store, a) == (6, 0, 6)
    assert await figures(client, store, b) == (6, 0, 6)


async def test_commit_past_expiry_is_409_before_the_sweeper_comes_and_expired_after(
        client: httpx.AsyncClient, container: Container) -> None:
    store, (sku,) = await stocked(client, quantity=10)
    held = await reserve(client, store, [hold_line(sku, 4)], ttl_seconds=1)
    await asyncio.sleep(1.05)
    before = await state(client, store, [sku], held["id"])
    for act in (_commit, _release):
        problem = assert_problem(await act(client, held), 409, "invalid_state")
        assert problem["state"] == "expired"
    assert await state(client, store, [sku], held["id"]) == before
    assert await figures(client, store, sku) == (10, 4, 6), "held until the sweeper runs"

    await reservations.sweep_expired(container.executor)
    expired = (await client.get(f"/v1/reservations/{held['id']}")).json()
    assert expired["status"] == "expired"
    assert await figures(client, store, sku) == (10, 0, 10)
    assert await sales_at(client, store) == []


async def test_the_server_expires_holds_by_itself(live_server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=live_server.base_url,
                                 headers={"X-API-Key": live_server.admin_key}) as live:
        store, (sku,) = await stocked(live, quantity=5)
        held = await reserve(live, store, [hold_line(sku, 5)], ttl_seconds=1)
        for _ in range(100):  # the default sweep interval is 1 s: 10 s is plenty
            status = (await live.get(f"/v1/reservations/{held['id']}")).json()["status"]
            if status != "active":
                break
            await asyncio.sleep(0.1)
        assert status == "expired"
        assert await figures(live, store, sku) == (5, 0, 5)
        assert_problem(await _commit(live, held), 409, "invalid_state")


@pytest.mark.parametrize("action", ["commit", "release"])
async def test_unknown_or_malformed_hold_is_404_or_422(client: httpx.AsyncClient,
                                                       action: str) -> None:
    problem = assert_problem(await client.post(f"/v1/reservations/res_NOPE/{action}"), 404,
                             "not_found")
    assert (problem["resource"], problem["key"]) == ("reservation", "res_NOPE")
    assert_problem(await client.post(f"/v1/reservations/bad-id!/{action}"), 422,
                   "validation_error")
    assert_problem(await client.get("/v1/reservations/res_NOPE"), 404, "not_found")


# -- idempotency ---------------------------------------------------------------------------

async def test_replayed_hold_commit_and_release_apply_once(client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=10)
    body = {"location_id": store, "lines": [hold_line(sku, 3)], "ttl_seconds": 300}
    key = {"Idempotency-Key": random_code("HOLD")}
    first, again = [await client.post("/v1/reservations", json=body, headers=key)
                    for _ in range(2)]
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json()
    assert len(await collect(client, "/v1/reservations", {"location_id": store})) == 1
    assert await figures(client, store, sku) == (10, 3, 7)
    reused = await client.post("/v1/reservations", json={**body, "ttl_seconds": 301},
                               headers=key)
    assert_problem(reused, 422, "idempotency_key_reused")

    held = first.json()
    commit_key = {"Idempotency-Key": random_code("COMMIT")}
    sold, resold = [await client.post(f"/v1/reservations/{held['id']}/commit", json={},
                                      headers=commit_key) for _ in range(2)]
    assert (sold.status_code, resold.status_code) == (201, 201)
    assert resold.headers.get("Idempotent-Replayed") == "true"
    assert resold.json() == sold.json()
    no_body = await client.post(f"/v1/reservations/{held['id']}/commit", headers=commit_key)
    assert no_body.json() == sold.json(), "no body and {} are one request"
    assert [s["id"] for s in await sales_at(client, store)] == [sold.json()["id"]]
    assert await figures(client, store, sku) == (7, 0, 7)

    other = await reserve(client, store, [hold_line(sku, 2)])
    release_key = {"Idempotency-Key": random_code("RELEASE")}
    freed, refreed = [await client.post(f"/v1/reservations/{other['id']}/release",
                                        headers=release_key) for _ in range(2)]
    assert (freed.status_code, refreed.status_code, refreed.json()) == (200, 200, freed.json())
    assert refreed.headers.get("Idempotent-Replayed") == "true"
    assert_problem(await _release(client, other), 409, "invalid_state")
    assert await figures(client, store, sku) == (7, 0, 7)


# -- lists ---------------------------------------------------------------------------------

async def test_list_filters_by_location_and_status_newest_first(
        client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=20)
    elsewhere, (other,) = await stocked(client, quantity=5)
    made = [await reserve(client, store, [hold_line(sku)]) for _ in range(4)]
    await reserve(client, elsewhere, [hold_line(other)])
    await _release(client, made[1])
    assert (await _commit(client, made[2])).status_code == 201
    listed = await collect(client, "/v1/reservations", {"location_id": store}, limit=1)
    assert [r["id"] for r in listed] == [r["id"] for r in reversed(made)]
    active = await collect(client, "/v1/reservations", {"location_id": store,
                                                        "status": "active"})
    assert [r["id"] for r in active] == [made[3]["id"], made[0]["id"]]
    committed = await collect(client, "/v1/reservations", {"location_id": store,
                                                           "status": "committed"})
    assert [(r["id"], r["status"]) for r in committed] == [(made[2]["id"], "committed")]
    assert_problem(await client.get("/v1/reservations", params={"status": "gone"}), 422,
                   "validation_error")
    assert_problem(await client.get("/v1/reservations", params={"cursor": "garbage"}), 422,
                   "validation_error")
