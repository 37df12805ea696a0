"""Suppliers and purchase orders over HTTP, on both backends: ordered stock shows as
``incoming`` until it is received through the ledger."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.factories import (
    assert_ledger_identity,
    assert_problem,
    collect,
    create_product,
    create_purchase_order,
    create_store,
    create_supplier,
    create_warehouse,
    error_fields,
    ledger,
    level,
    lots,
    price,
    random_code,
    receive,
)

PO = "/v1/purchase-orders"


async def _world(client: httpx.AsyncClient, skus: int = 2,
                 lead_time_days: int | None = 7) -> tuple[str, str, list[str]]:
    """A new store, ``skus`` new products and a supplier selling them at 4.00, 5.00, ..."""
    store = (await create_store(client))["code"]
    codes = [(await create_product(client))["sku"] for _ in range(skus)]
    supplier = await create_supplier(client, products={sku: f"{4 + n}.00"
                                                       for n, sku in enumerate(codes)},
                                     lead_time_days=lead_time_days)
    return store, supplier["code"], codes


async def _counts(client: httpx.AsyncClient, store: str, sku: str) -> tuple[int, int]:
    current = await level(client, store, sku)
    return current["on_hand"], current["incoming"]


async def _snapshot(client: httpx.AsyncClient, order_id: str, store: str,
                    skus: list[str]) -> list[Any]:
    """Everything a refused write must leave as it was."""
    order = (await client.get(f"{PO}/{order_id}")).json()
    return [order, *[await level(client, store, s) for s in skus],
            *[await ledger(client, store, s) for s in skus]]


async def _post(client: httpx.AsyncClient, order_id: str, action: str,
                body: dict[str, Any] | None = None, **kwargs: Any) -> httpx.Response:
    return await client.post(f"{PO}/{order_id}/{action}", json=body, **kwargs)


# -- suppliers ----------------------------------------------------------------------------

async def test_create_and_get_a_supplier(client: httpx.AsyncClient) -> None:
    sku_b, sku_a = (await create_product(client))["sku"], (await create_product(client))["sku"]
    code = random_code("SUP")
    response = await client.post("/v1/suppliers", json={
        "code": code, "name": "Acme Sports", "lead_time_days": 0,
        "contact": {"name": "Ann Buyer", "email": "ann@acme.test", "phone": "+1 555 0100"},
        "products": [{"sku": sku_b, "cost": price("12.5")},
                     {"sku": sku_a, "cost": price("3.0001")}]})
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["code"] == code
    assert created["lead_time_days"] == 0
    assert created["contact"] == {"name": "Ann Buyer", "email": "ann@acme.test",
                                  "phone": "+1 555 0100"}
    assert sorted(created["products"], key=lambda p: p["sku"]) == sorted([
        {"sku": sku_b, "cost": {"amount": "12.50", "currency": "USD"}},
        {"sku": sku_a, "cost": {"amount": "3.0001", "currency": "USD"}}],
        key=lambda p: p["sku"])
    fetched = await client.get(f"/v1/suppliers/{code}")
    assert fetched.status_code == 200
    assert fetched.json() == created


async def test_a_supplier_without_contact_or_lead_time(client: httpx.AsyncClient) -> None:
    created = await create_supplier(client, lead_time_days=None)
    assert (created["contact"], created["lead_time_days"], created["products"]) == (
        None, None, [])


async def test_list_suppliers_by_sku_and_page_by_page(client: httpx.AsyncClient) -> None:
    sku = (await create_product(client))["sku"]
    sellers = sorted([(await create_supplier(client, products={sku: "1.00"}))["code"]
                      for _ in range(3)])
    await create_supplier(client)  # sells nothing
    pages = []
    cursor = None
    while True:
        params: dict[str, Any] = {"sku": sku, "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/v1/suppliers", params=params)).json()
        pages.append([s["code"] for s in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == [sellers[:2], sellers[2:]]
    everyone = [s["code"] for s in await collect(client, "/v1/suppliers")]
    assert everyone == sorted(everyone)
    assert set(sellers) <= set(everyone)


async def test_a_supplier_code_is_taken_once(client: httpx.AsyncClient) -> None:
    first = await create_supplier(client, lead_time_days=3)
    again = await client.post("/v1/suppliers", json={"code": first["code"], "name": "Other"})
    assert assert_problem(again, 409, "already_exists")["key"] == first["code"]
    assert (await client.get(f"/v1/suppliers/{first['code']}")).json() == first


async def test_a_supplier_of_an_unknown_sku_is_404_and_not_created(
        client: httpx.AsyncClient) -> None:
    code = random_code("SUP")
    response = await client.post("/v1/suppliers", json={
        "code": code, "name": "X", "products": [{"sku": "NO-SUCH-SKU", "cost": price()}]})
    assert assert_problem(response, 404, "not_found")["key"] == "NO-SUCH-SKU"
    assert_problem(await client.get(f"/v1/suppliers/{code}"), 404, "not_found")


@pytest.mark.parametrize(("change", "field"), [
    ({"lead_time_days": -1}, "lead_time_days"),
    ({"lead_time_days": 1.5}, "lead_time_days"),
    ({"lead_time_days": "7"}, "lead_time_days"),
    ({"code": "has space"}, "code"),
    ({"name": ""}, "name"),
    ({"contact": {"email": "not-an-email"}}, "contact.email"),
    ({"contact": {"fax": "123"}}, "contact.fax"),
    ({"products": [{"sku": "A", "cost": {"amount": "-1", "currency": "USD"}}]},
     "products.0.cost.amount"),
    ({"products": [{"sku": "A", "cost": price()}, {"sku": "A", "cost": price()}]}, "products"),
    ({"id": "x"}, "id"),
])
async def test_bad_supplier_is_422_and_not_created(client: httpx.AsyncClient,
                                                    change: dict[str, Any], field: str) -> None:
    code = random_code("SUP")
    response = await client.post("/v1/suppliers", json={"code": code, "name": "X", **change})
    assert field in error_fields(assert_problem(response, 422, "validation_error"))
    if "code" not in change:
        assert_problem(await client.get(f"/v1/suppliers/{code}"), 404, "not_found")


# -- ordering -----------------------------------------------------------------------------

async def test_an_order_shows_as_incoming_on_its_levels(client: httpx.AsyncClient) -> None:
    store, supplier, (sku_a, sku_b) = await _world(client)
    await receive(client, store, sku_a, 3)
    response = await client.post(PO, json={
        "supplier_id": supplier, "location_id": store, "external_ref": "ERP-1", "note": "rush",
        "lines": [{"sku": sku_a, "quantity": 10},
                  {"sku": sku_b, "quantity": 4, "unit_cost": price("4.75")}]})
    assert response.status_code == 201, response.text
    order = response.json()
    assert order["id"].startswith("po_")
    assert (order["status"], order["supplier_id"], order["location_id"],
            order["external_ref"], order["note"]) == ("ordered", supplier, store, "ERP-1", "rush")
    assert [(ln["line_no"], ln["sku"], ln["quantity"], ln["received_quantity"],
             ln["outstanding"], ln["unit_cost"], ln["total"]) for ln in order["lines"]] == [
        (1, sku_a, 10, 0, 10, price("4.00"), price("40.00")),
        (2, sku_b, 4, 0, 4, price("4.75"), price("19.00"))]
    assert order["total"] == price("59.00")
    ordered_at = datetime.fromisoformat(order["ordered_at"])
    assert datetime.fromisoformat(order["expected_at"]) - ordered_at == timedelta(days=7)
    assert order["received_at"] is None
    assert (await _counts(client, store, sku_a), await _counts(client, store, sku_b)) == (
        (3, 10), (0, 4))
    assert (await client.get(f"{PO}/{order['id']}")).json() == order


async def test_an_order_without_a_known_cost_has_no_total(client: httpx.AsyncClient) -> None:
    store, supplier, (sku,) = await _world(client, skus=1)
    other = (await create_product(client))["sku"]
    order = await create_purchase_order(client, supplier, store, {sku: 1, other: 2})
    assert [ln["unit_cost"] for ln in order["lines"]] == [price("4.00"), None]
    assert order["total"] is None


async def test_a_draft_is_incoming_only_once_ordered(client: httpx.AsyncClient) -> None:
    store, supplier, (sku,) = await _world(client, skus=1, lead_time_days=None)
    draft = await create_purchase_order(client, supplier, store, {sku: 6}, draft=True)
    assert (draft["status"], draft["ordered_at"], draft["expected_at"]) == ("draft", None, None)
    assert await _counts(client, store, sku) == (0, 0)
    placed = await _post(client, draft["id"], "order")
    assert placed.status_code == 200, placed.text
    assert placed.json()["status"] == "ordered"
    assert placed.json()["ordered_at"] is not None
    assert placed.json()["expected_at"] is None  # no lead time known
    assert await _counts(client, store, sku) == (0, 6)


@pytest.mark.parametrize("missing", ["supplier", "location", "product"])
async def test_an_order_for_something_unknown_is_404_and_changes_nothing(
        client: httpx.AsyncClient, missing: str) -> None:
    store, supplier, (sku,) = await _world(client, skus=1)
    body = {"supplier_id": "NO-SUCH-SUP" if missing == "supplier" else supplier,
            "location_id": "NO-SUCH-LOC" if missing == "location" else store,
            "lines": [{"sku": sku, "quantity": 1},
                      {"sku": "NO-SUCH-SKU" if missing == "product" else sku, "quantity": 1}]}
    response = await client.post(PO, json=body)
    assert assert_problem(response, 404, "not_found")["resource"] == missing
    assert await _counts(client, store, sku) == (0, 0)
    assert await collect(client, PO, {"location_id": store}) == []


@pytest.mark.parametrize(("change", "field"), [
    ({"lines": []}, "lines"),
    ({"lines": [{"sku": "X", "quantity": 0}]}, "lines.0.quantity"),
    ({"lines": [{"sku": "X", "quantity": -3}]}, "lines.0.quantity"),
    ({"lines": [{"sku": "X", "quantity": "1"}]}, "lines.0.quantity"),
    ({"lines": [{"sku": "X", "quantity": 1, "received_quantity": 1}]},
     "lines.0.received_quantity"),
    ({"draft": "yes"}, "draft"),
    ({"status": "received"}, "status"),
    ({"supplier_id": None}, "supplier_id"),
])
async def test_bad_order_is_422_and_creates_nothing(client: httpx.AsyncClient,
                                                    change: dict[str, Any], field: str) -> None:
    store, supplier, (sku,) = await _world(client, skus=1)
    body = {"supplier_id": supplier, "location_id": store,
            "lines": [{"sku": sku, "quantity": 1}], **change}
    response = await client.post(PO, json=body)
    assert field in error_fields(assert_problem(response, 422, "validation_error"))
    assert await collect(client, PO, {"location_id": store}) == []


async def test_costs_in_two_currencies_are_422(client: httpx.AsyncClient) -> None:
    store, supplier, (sku_a, sku_b) = await _world(client)
    response = await client.post(PO, json={
        "supplier_id": supplier, "location_id": store,
        "lines": [{"sku": sku_a, "quantity": 1},
                  {"sku": sku_b, "quantity": 1, "unit_cost": price("1.00", "EUR")}]})
    assert_problem(response, 422, "validation_error")
    assert await _counts(client, store, sku_a) == (0, 0)


# -- receiving ----------------------------------------------------------------------------

async def test_receiving_everything_moves_incoming_to_on_hand_through_the_ledger(
        client: httpx.AsyncClient) -> None:
    store, supplier, (sku_a, sku_b) = await _world(client)
    await receive(client, store, sku_a, 2)
    order = await create_purchase_order(client, supplier, store, {sku_a: 10, sku_b: 4})
    response = await _post(client, order["id"], "receive", {})
    assert response.status_code == 200, response.text
    received = response.json()
    assert received["status"] == "received"
    assert received["received_at"] is not None
    assert [(ln["received_quantity"], ln["outstanding"]) for ln in received["lines"]] == [
        (10, 0), (4, 0)]
    assert (await _counts(client, store, sku_a), await _counts(client, store, sku_b)) == (
        (12, 0), (4, 0))
    entries = [e for e in await ledger(client, store, sku_a) if e["reference"] == order["id"]]
    assert [(e["delta"], e["balance_after"], e["type"], e["reason"]) for e in entries] == [
        (10, 12, "receipt", "receipt")]
    by_reference = await collect(client, "/v1/stock-movements",
                                 {"location_id": store, "type": "receipt"})
    assert {(e["sku"], e["delta"]) for e in by_reference if e["reference"] == order["id"]} == {
        (sku_a, 10), (sku_b, 4)}
    for sku in (sku_a, sku_b):
        await assert_ledger_identity(client, store, sku)


async def test_receiving_with_no_body_receives_everything(client: httpx.AsyncClient) -> None:
    store, supplier, (sku,) = await _world(client, skus=1)
    order = await create_purchase_order(client, supplier, store, {sku: 5})
    response = await client.post(f"{PO}/{order['id']}/receive")
    assert response.status_code == 200, response.text
    assert await _counts(client, store, sku) == (5, 0)


async def test_a_partial_receipt_then_the_rest(client: httpx.AsyncClient) -> None:
    store, supplier, (sku_a, sku_b) = await _world(client)
    order = await create_purchase_order(client, supplier, store, {sku_a: 10, sku_b: 4})
    partial = await _post(client, order["id"], "receive",
                          {"lines": [{"sku": sku_a, "quantity": 6}]})
    assert partial.status_code == 200, partial.text
    assert partial.json()["status"] == "partially_received"
    assert [ln["outstanding"] for ln in partial.json()["lines"]] == [4, 4]
    assert (await _counts(client, store, sku_a), await _counts(client, store, sku_b)) == (
        (6, 4), (0, 4))
    rest = await _post(client, order["id"], "receive", {
        "lines": [{"sku": sku_a, "quantity": 4}, {"sku": sku_b, "quantity": 4}]})
    assert rest.json()["status"] == "received"
    assert (await _counts(client, store, sku_a), await _counts(client, store, sku_b)) == (
        (10, 0), (4, 0))
    assert [e["delta"] for e in await ledger(client, store, sku_a)] == [6, 4]
    await assert_ledger_identity(client, store, sku_a)


@pytest.mark.parametrize("lines", [
    pytest.param(lambda a, b: [{"sku": a, "quantity": 5}], id="one-too-many"),
    pytest.param(lambda a, b: [{"sku": a, "quantity": 3}, {"sku": a, "quantity": 2, "lot": "L"}],
                 id="split-over-lots"),
    pytest.param(lambda a, b: [{"sku": b, "quantity": 4}, {"sku": a, "quantity": 9}],
                 id="one-good-line-one-bad"),
    pytest.param(lambda a, b: [{"sku": "NOT-ON-IT", "quantity": 1}], id="sku-not-on-order"),
])
async def test_receiving_more_than_outstanding_is_409_and_changes_nothing(
        client: httpx.AsyncClient, lines: Any) -> None:
    store, supplier, (sku_a, sku_b) = await _world(client)
    order = await create_purchase_order(client, supplier, store, {sku_a: 10, sku_b: 4})
    await _post(client, order["id"], "receive", {"lines": [{"sku": sku_a, "quantity": 6}]})
    before = await _snapshot(client, order["id"], store, [sku_a, sku_b])
    response = await _post(client, order["id"], "receive", {"lines": lines(sku_a, sku_b)})
    problem = assert_problem(response, 409, "quantity_exceeded")
    assert problem["key"] == order["id"]
    assert all(x["requested"] > x["allowed"] for x in problem["lines"])
    assert await _snapshot(client, order["id"], store, [sku_a, sku_b]) == before


async def test_a_receipt_into_a_lot_with_expiry_shows_in_the_levels_lots(
        client: httpx.AsyncClient) -> None:
    store, supplier, (sku,) = await _world(client, skus=1)
    await receive(client, store, sku, 2)
    order = await create_purchase_order(client, supplier, store, {sku: 10})
    response = await _post(client, order["id"], "receive", {"lines": [
        {"sku": sku, "quantity": 6, "lot": "LOT-A", "expires_on": "2031-03-31"},
        {"sku": sku, "quantity": 4, "lot": "LOT-B"}]})
    assert response.status_code == 200, response.text
    found = await lots(client, store, sku)
    assert found[0]["lot"] == "LOT-A"  # first expiring first
    assert {x["lot"]: (x["on_hand"], x["expires_on"]) for x in found} == {
        "LOT-A": (6, "2031-03-31"), "LOT-B": (4, None), None: (2, None)}
    assert await _counts(client, store, sku) == (12, 0)
    entries = [e for e in await ledger(client, store, sku) if e["reference"] == order["id"]]
    assert [(e["lot"], e["delta"]) for e in entries] == [("LOT-A", 6), ("LOT-B", 4)]
    await assert_ledger_identity(client, store, sku)


@pytest.mark.parametrize(("body", "field"), [
    ({"lines": None}, "lines"),
    ({"lines": []}, "lines"),
    ({"lines": [{"sku": "A", "quantity": 0}]}, "lines.0.quantity"),
    ({"lines": [{"sku": "A", "quantity": 1, "expires_on": "2031-02-30", "lot": "L"}]},
     "lines.0.expires_on"),
    ({"everything": True}, "everything"),
])
async def test_bad_receipt_is_422_and_changes_nothing(client: httpx.AsyncClient,
                                                      body: dict[str, Any], field: str) -> None:
    store, supplier, (sku,) = await _world(client, skus=1)
    order = await create_purchase_order(client, supplier, store, {sku: 3})
    before = await _snapshot(client, order["id"], store, [sku])
    response = await _post(client, order["id"], "receive", body)
    assert field in error_fields(assert_problem(response, 422, "validation_error"))
    assert await _snapshot(client, order["id"], store, [sku]) == before


async def test_an_expiry_without_a_lot_is_422(client: httpx.AsyncClient) -> None:
    store, supplier, (sku,) = await _world(client, skus=1)
    order = await create_purchase_order(client, supplier, store, {sku: 3})
    response = await _post(client, order["id"], "receive", {
        "lines": [{"sku": sku, "quantity": 1, "expires_on": "2031-01-01"}]})
    assert_problem(response, 422, "validation_error")
    assert await _counts(client, store, sku) == (0, 3)


# -- cancelling and the state machine -----------------------------------------------------

async def test_cancelling_takes_what_is_outstanding_out_of_incoming(
        client: httpx.AsyncClient) -> None:
    store, supplier, (sku_a, sku_b) = await _world(client)
    order = await create_purchase_order(client, supplier, store, {sku_a: 10, sku_b: 4})
    await _post(client, order["id"], "receive", {"lines": [{"sku": sku_a, "quantity": 6}]})
    response = await _post(client, order["id"], "cancel")
    assert response.status_code == 200, response.text
    cancelled = response.json()
    assert cancelled["status"] == "cancelled"
    assert cancelled["cancelled_at"] is not None
    assert [(ln["received_quantity"], ln["outstanding"]) for ln in cancelled["lines"]] == [
        (6, 0), (0, 0)]
    assert (await _counts(client, store, sku_a), await _counts(client, store, sku_b)) == (
        (6, 0), (0, 0))


async def test_cancelling_a_draft_moves_nothing(client: httpx.AsyncClient) -> None:
    store, supplier, (sku,) = await _world(client, skus=1)
    await receive(client, store, sku, 1)
    draft = await create_purchase_order(client, supplier, store, {sku: 5}, draft=True)
    before = await level(client, store, sku)
    assert (await client.post(f"{PO}/{draft['id']}/cancel", json={})).status_code == 200
    assert await level(client, store, sku) == before


async def test_every_illegal_transition_is_409_and_changes_nothing(
        client: httpx.AsyncClient) -> None:
    store, supplier, (sku,) = await _world(client, skus=1)

    async def order(**fields: Any) -> str:
        return str((await create_purchase_order(client, supplier, store, {sku: 4},
                                                **fields))["id"])

    draft, ordered, partial, received, cancelled = (
        await order(draft=True), await order(), await order(), await order(), await order())
    await _post(client, partial, "receive", {"lines": [{"sku": sku, "quantity": 1}]})
    await _post(client, received, "receive", {})
    await _post(client, cancelled, "cancel")
    refusals = [(draft, "receive", "draft"), (ordered, "order", "ordered"),
                (partial, "order", "partially_received"), (received, "order", "received"),
                (received, "receive", "received"), (received, "cancel", "received"),
                (cancelled, "order", "cancelled"), (cancelled, "receive", "cancelled"),
                (cancelled, "cancel", "cancelled")]
    ids = [draft, ordered, partial, received, cancelled]
    before = [await _snapshot(client, i, store, [sku]) for i in ids]
    assert await _counts(client, store, sku) == (5, 4 + 3)
    for order_id, action, state in refusals:
        response = await _post(client, order_id, action, {})
        problem = assert_problem(response, 409, "invalid_state")
        assert (problem["key"], problem["state"]) == (order_id, state), action
    assert [await _snapshot(client, i, store, [sku]) for i in ids] == before


@pytest.mark.parametrize("action", ["order", "receive", "cancel"])
async def test_an_unknown_order_is_404(client: httpx.AsyncClient, action: str) -> None:
    assert_problem(await _post(client, "po_NOPE", action, {}), 404, "not_found")
    assert_problem(await client.get(f"{PO}/po_NOPE"), 404, "not_found")


@pytest.mark.parametrize("action", ["order", "cancel"])
async def test_an_action_takes_no_fields(client: httpx.AsyncClient, action: str) -> None:
    store, supplier, (sku,) = await _world(client, skus=1)
    draft = await create_purchase_order(client, supplier, store, {sku: 2}, draft=True)
    response = await _post(client, draft["id"], action, {"force": True})
    assert "force" in error_fields(assert_problem(response, 422, "validation_error"))
    assert (await client.get(f"{PO}/{draft['id']}")).json()["status"] == "draft"


async def test_a_bad_order_id_in_the_path_is_422(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get(f"{PO}/po-with-dash!"), 422, "validation_error")


# -- idempotency --------------------------------------------------------------------------

async def test_a_replayed_order_is_placed_once(client: httpx.AsyncClient) -> None:
    store, supplier, (sku,) = await _world(client, skus=1)
    body = {"supplier_id": supplier, "location_id": store, "lines": [{"sku": sku, "quantity": 5}]}
    key = {"Idempotency-Key": random_code("key")}
    first = await client.post(PO, json=body, headers=key)
    again = await client.post(PO, json=body, headers=key)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert await _counts(client, store, sku) == (0, 5)
    assert len(await collect(client, PO, {"location_id": store})) == 1
    other = await client.post(PO, json={**body, "note": "changed"}, headers=key)
    assert_problem(other, 422, "idempotency_key_reused")


async def test_a_replayed_receipt_is_received_once(client: httpx.AsyncClient) -> None:
    store, supplier, (sku,) = await _world(client, skus=1)
    order = await create_purchase_order(client, supplier, store, {sku: 10})
    key = {"Idempotency-Key": random_code("key")}
    body = {"lines": [{"sku": sku, "quantity": 3}]}
    first = await _post(client, order["id"], "receive", body, headers=key)
    again = await _post(client, order["id"], "receive", body, headers=key)
    assert again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert await _counts(client, store, sku) == (3, 7)
    assert len(await ledger(client, store, sku)) == 1


async def test_a_replayed_cancel_answers_as_the_first_time(client: httpx.AsyncClient) -> None:
    store, supplier, (sku,) = await _world(client, skus=1)
    order = await create_purchase_order(client, supplier, store, {sku: 10})
    key = {"Idempotency-Key": random_code("key")}
    first = await client.post(f"{PO}/{order['id']}/cancel", headers=key)
    again = await client.post(f"{PO}/{order['id']}/cancel", json={}, headers=key)
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.headers.get("Idempotent-Replayed") == "true"
    unkeyed = await client.post(f"{PO}/{order['id']}/cancel")
    assert_problem(unkeyed, 409, "invalid_state")


# -- lists --------------------------------------------------------------------------------

async def test_list_orders_by_status_supplier_location_and_sku(client: httpx.AsyncClient) -> None:
    store, supplier, (sku_a, sku_b) = await _world(client)
    warehouse = (await create_warehouse(client))["code"]
    other = (await create_supplier(client, products={sku_a: "3.00"}))["code"]
    draft = await create_purchase_order(client, supplier, store, {sku_a: 1}, draft=True)
    ordered = await create_purchase_order(client, supplier, store, {sku_b: 2})
    elsewhere = await create_purchase_order(client, other, warehouse, {sku_a: 3})
    received = await create_purchase_order(client, other, store, {sku_a: 1, sku_b: 1})
    await _post(client, received["id"], "receive")

    async def ids(**params: Any) -> list[str]:
        return [o["id"] for o in await collect(client, PO, params)]

    assert await ids(location_id=store) == [received["id"], ordered["id"], draft["id"]]
    assert await ids(location_id=store, status="draft") == [draft["id"]]
    assert await ids(supplier_id=other) == [received["id"], elsewhere["id"]]
    assert await ids(location_id=warehouse) == [elsewhere["id"]]
    assert await ids(sku=sku_b) == [received["id"], ordered["id"]]
    assert await ids(supplier_id=other, status="received") == [received["id"]]
    assert_problem(await client.get(PO, params={"status": "lost"}), 422, "validation_error")


async def test_order_pages_return_every_order_exactly_once(client: httpx.AsyncClient) -> None:
    store, supplier, (sku,) = await _world(client, skus=1)
    made = [(await create_purchase_order(client, supplier, store, {sku: n}))["id"]
            for n in range(1, 6)]
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"location_id": store, "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get(PO, params=params)).json()
        assert len(page["items"]) <= 2
        seen.extend(o["id"] for o in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(made))
