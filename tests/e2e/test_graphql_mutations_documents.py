"""GraphQL writes on documents (a sale's states and returns, a transfer's close, purchase
orders, feedback and count tasks) against the real app, on both backends: each is its
REST route, with the REST codes in ``userErrors``, one effect per idempotency key, and the
route's location scope."""

from __future__ import annotations

from typing import Any

import httpx

from tests.factories import (
    assert_ledger_identity,
    create_api_key,
    create_product,
    create_purchase_order,
    create_store,
    create_supplier,
    create_warehouse,
    level,
    line,
    random_code,
    random_sku,
    receive_transfer,
    record_sale,
    ship_transfer,
    stocked,
)
from tests.graphql_support import PAYLOAD_ERRORS, codes, gql

UPDATE_SALE = f"""mutation ($id: String!, $input: UpdateSaleInput!, $key: String) {{
  updateSale(id: $id, input: $input, idempotencyKey: $key) {{
    sale {{ id paymentStatus fulfillmentStatus }} {PAYLOAD_ERRORS} }} }}"""
RETURN_SALE = f"""mutation ($id: String!, $input: ReturnSaleInput!, $key: String) {{
  returnSale(id: $id, input: $input, idempotencyKey: $key) {{
    saleReturn {{ saleId locationId restock saleStatus lines {{ sku quantity }}
                  location {{ code }} }} {PAYLOAD_ERRORS} }} }}"""
CLOSE = f"""mutation ($id: String!, $input: CloseTransferInput!) {{
  closeTransfer(id: $id, input: $input) {{
    transfer {{ status remainder lines {{ lostQuantity inTransit }} }} {PAYLOAD_ERRORS} }} }}"""
ORDER_FIELDS = "purchaseOrder { id status lines { sku quantity receivedQuantity outstanding } }"
CREATE_ORDER = f"""mutation ($input: CreatePurchaseOrderInput!, $key: String) {{
  createPurchaseOrder(input: $input, idempotencyKey: $key) {{ {ORDER_FIELDS} {PAYLOAD_ERRORS} }}
}}"""
ORDER_STEP = """mutation ($id: String!) {{ {step}(id: $id) {{ {fields} {errors} }} }}"""
RECEIVE_ORDER = f"""mutation ($id: String!, $input: ReceivePurchaseOrderInput) {{
  receivePurchaseOrder(id: $id, input: $input) {{ {ORDER_FIELDS} {PAYLOAD_ERRORS} }} }}"""
FEEDBACK = f"""mutation ($input: ReportFeedbackInput!) {{ reportFeedback(input: $input) {{
  feedback {{ kind locationId sku countTaskId }} {PAYLOAD_ERRORS} }} }}"""
COMPLETE = f"""mutation ($id: String!, $input: CompleteCountTaskInput!, $key: String) {{
  completeCountTask(id: $id, input: $input, idempotencyKey: $key) {{
    countTask {{ id status systemQuantity countedQuantity difference product {{ sku }} }}
    {PAYLOAD_ERRORS} }} }}"""


async def order_step(client: httpx.AsyncClient, step: str, order_id: str) -> dict[str, Any]:
    document = ORDER_STEP.format(step=step, fields=ORDER_FIELDS, errors=PAYLOAD_ERRORS)
    payload: dict[str, Any] = (await gql(client, document, {"id": order_id}))[step]
    return payload


async def test_update_sale_moves_its_states_along_their_tables(
        client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=3)
    sale = await record_sale(client, store, [line(sku)], channel="ecommerce",
                             payment_status="pending")
    key = random_code("KEY")
    variables = {"id": sale["id"], "input": {"paymentStatus": "PAID",
                                             "fulfillmentStatus": "FULFILLED"}, "key": key}
    moved = (await gql(client, UPDATE_SALE, variables))["updateSale"]
    assert moved == {"sale": {"id": sale["id"], "paymentStatus": "PAID",
                              "fulfillmentStatus": "FULFILLED"}, "userErrors": []}
    assert (await gql(client, UPDATE_SALE, variables))["updateSale"] == moved  # replayed
    rest = (await client.get(f"/v1/sales/{sale['id']}")).json()
    assert (rest["payment_status"], rest["fulfillment_status"]) == ("paid", "fulfilled")
    cases = [
        ({"id": sale["id"], "input": {"paymentStatus": "PENDING"}}, [("invalid_state", None)]),
        ({"id": sale["id"], "input": {}}, [("validation_error", "input")]),
        ({"id": "no-such-sale", "input": {"paymentStatus": "PAID"}},
         [("validation_error", "id")]),
        ({"id": "S" + random_code("X")[1:].replace("-", "_"),
          "input": {"paymentStatus": "PAID"}}, [("not_found", None)]),
    ]
    for given, expected in cases:
        payload = (await gql(client, UPDATE_SALE, given))["updateSale"]
        assert payload["sale"] is None and codes(payload) == expected, (given, payload)


async def test_return_sale_restocks_once_and_never_more_than_was_sold(
        client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=5)
    sale = await record_sale(client, store, [line(sku, 3)])
    key = random_code("KEY")
    given = {"id": sale["id"], "key": key, "input": {
        "lines": [{"sku": sku, "quantity": 1}], "restock": True, "reason": "WRONG_SIZE"}}
    made = (await gql(client, RETURN_SALE, given))["returnSale"]
    assert made["userErrors"] == []
    assert made["saleReturn"] == {"saleId": sale["id"], "locationId": store, "restock": True,
                                  "saleStatus": "PARTIALLY_RETURNED",
                                  "lines": [{"sku": sku, "quantity": 1}],
                                  "location": {"code": store}}
    assert (await gql(client, RETURN_SALE, given))["returnSale"] == made
    assert (await level(client, store, sku))["on_hand"] == 3
    over = (await gql(client, RETURN_SALE, {"id": sale["id"], "input": {
        "lines": [{"sku": sku, "quantity": 3}], "restock": True, "reason": "WRONG_SIZE"}}))
    assert codes(over["returnSale"]) == [("quantity_exceeded", None)]
    bad = (await gql(client, RETURN_SALE, {"id": sale["id"], "input": {
        "lines": [{"sku": sku, "quantity": 0}], "restock": True, "reason": "WRONG_SIZE"}}))
    assert codes(bad["returnSale"]) == [("validation_error", "lines.0.quantity")]
    many = [{"sku": random_sku(), "quantity": 1} for _ in range(501)]
    too_many = (await gql(client, RETURN_SALE, {"id": sale["id"], "input": {
        "lines": many, "restock": False, "reason": "WRONG_SIZE"}}))["returnSale"]
    assert too_many["userErrors"] == [{"code": "validation_error", "field": "lines",
                                       "message": "at most 500 lines per return"}]
    assert (await level(client, store, sku))["on_hand"] == 3
    await assert_ledger_identity(client, store, sku)


async def test_close_transfer_writes_the_remainder_off(client: httpx.AsyncClient) -> None:
    origin, (sku,) = await stocked(client, quantity=6)
    destination = (await create_store(client))["code"]
    shipped = await ship_transfer(client, origin, destination, (sku, 4))
    await receive_transfer(client, shipped["id"], (sku, 1))
    closed = (await gql(client, CLOSE, {"id": shipped["id"],
                                        "input": {"remainder": "LOST"}}))["closeTransfer"]
    assert closed == {"transfer": {"status": "CLOSED", "remainder": "LOST",
                                   "lines": [{"lostQuantity": 3, "inTransit": 0}]},
                      "userErrors": []}
    again = (await gql(client, CLOSE, {"id": shipped["id"], "input": {"remainder": "LOST"}}))
    assert codes(again["closeTransfer"]) == [("invalid_state", None)]
    found = await level(client, destination, sku)
    assert (found["on_hand"], found["in_transit"]) == (1, 0)


async def test_purchase_orders_are_drafted_placed_received_and_cancelled(
        client: httpx.AsyncClient) -> None:
    store = (await create_store(client))["code"]
    sku = (await create_product(client))["sku"]
    supplier = (await create_supplier(client, products={sku: "2.00"}))["code"]
    key = random_code("KEY")
    given = {"key": key, "input": {"supplierId": supplier, "locationId": store,
                                   "draft": True, "lines": [{"sku": sku, "quantity": 5}]}}
    drafted = (await gql(client, CREATE_ORDER, given))["createPurchaseOrder"]
    assert drafted["userErrors"] == [] and drafted["purchaseOrder"]["status"] == "DRAFT"
    assert (await gql(client, CREATE_ORDER, given))["createPurchaseOrder"] == drafted
    order_id = drafted["purchaseOrder"]["id"]
    assert (await order_step(client, "placePurchaseOrder", order_id))["purchaseOrder"][
        "status"] == "ORDERED"
    part = (await gql(client, RECEIVE_ORDER, {"id": order_id, "input": {
        "lines": [{"sku": sku, "quantity": 2, "lot": "L1", "expiresOn": "2031-01-31"}]}}))
    assert part["receivePurchaseOrder"]["purchaseOrder"]["status"] == "PARTIALLY_RECEIVED"
    over = (await gql(client, RECEIVE_ORDER, {"id": order_id, "input": {
        "lines": [{"sku": sku, "quantity": 9}]}}))
    assert codes(over["receivePurchaseOrder"]) == [("quantity_exceeded", None)]
    rest = (await gql(client, RECEIVE_ORDER, {"id": order_id}))["receivePurchaseOrder"]
    assert rest["purchaseOrder"]["status"] == "RECEIVED"
    assert rest["purchaseOrder"]["lines"] == [{"sku": sku, "quantity": 5,
                                               "receivedQuantity": 5, "outstanding": 0}]
    assert (await level(client, store, sku))["on_hand"] == 5
    late = await order_step(client, "cancelPurchaseOrder", order_id)
    assert late["purchaseOrder"] is None and codes(late) == [("invalid_state", None)]
    await assert_ledger_identity(client, store, sku)


async def test_purchase_order_refusals_are_the_rest_codes(client: httpx.AsyncClient) -> None:
    store = (await create_store(client))["code"]
    sku = (await create_product(client))["sku"]
    supplier = (await create_supplier(client, products={sku: "2.00"}))["code"]
    open_order = await create_purchase_order(client, supplier, store, {sku: 2})
    cancelled = await order_step(client, "cancelPurchaseOrder", open_order["id"])
    assert cancelled["purchaseOrder"]["status"] == "CANCELLED"
    placed = await order_step(client, "placePurchaseOrder", open_order["id"])
    assert codes(placed) == [("invalid_state", None)]
    await client.patch(f"/v1/products/{sku}", json={"status": "discontinued"})
    base = {"supplierId": supplier, "locationId": store}
    cases = [
        ({**base, "lines": [{"sku": sku, "quantity": 1}]}, [("product_discontinued", None)]),
        ({**base, "lines": []}, [("validation_error", "lines")]),
        ({**base, "lines": [{"sku": random_sku(), "quantity": 1,
                             "unitCost": {"amount": "1", "currency": "usd"}}]},
         [("validation_error", "lines.0.unitCost.currency")]),
        ({**base, "lines": [{"sku": random_sku(), "quantity": 1} for _ in range(501)]},
         [("validation_error", "lines")]),
    ]
    for given, expected in cases:
        payload = (await gql(client, CREATE_ORDER, {"input": given}))["createPurchaseOrder"]
        assert payload["purchaseOrder"] is None and codes(payload) == expected, payload
    assert (await level(client, store, sku))["incoming"] == 0


async def test_a_discrepancy_opens_a_count_task_that_the_count_completes(
        client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=7)
    reported = (await gql(client, FEEDBACK, {"input": {
        "kind": "DISCREPANCY", "locationId": store, "sku": sku,
        "observedQuantity": 5}}))["reportFeedback"]
    assert reported["userErrors"] == [] and reported["feedback"]["countTaskId"]
    task_id = reported["feedback"]["countTaskId"]
    key = random_code("KEY")
    given = {"id": task_id, "input": {"quantity": 5}, "key": key}
    done = (await gql(client, COMPLETE, given))["completeCountTask"]
    assert done == {"countTask": {"id": task_id, "status": "DONE", "systemQuantity": 7,
                                  "countedQuantity": 5, "difference": -2,
                                  "product": {"sku": sku}}, "userErrors": []}
    assert (await gql(client, COMPLETE, given))["completeCountTask"] == done
    again = (await gql(client, COMPLETE, {"id": task_id, "input": {"quantity": 5}}))
    assert codes(again["completeCountTask"]) == [("invalid_state", None)]
    assert (await level(client, store, sku))["on_hand"] == 5
    await assert_ledger_identity(client, store, sku)
    nameless = (await gql(client, FEEDBACK, {"input": {"kind": "DISCREPANCY",
                                                       "locationId": store}}))
    assert codes(nameless["reportFeedback"]) == [("validation_error", "sku")]
    negative = (await gql(client, COMPLETE, {"id": task_id, "input": {"quantity": -1}}))
    assert codes(negative["completeCountTask"]) == [("validation_error", "quantity")]


async def test_a_return_at_another_store_restocks_there_against_the_sale(
        client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=5)
    other = (await create_store(client))["code"]
    sale = await record_sale(client, store, [line(sku, 2)])
    given = {"id": sale["id"], "input": {"lines": [{"sku": sku, "quantity": 1}],
                                         "restock": True, "reason": "WRONG_SIZE",
                                         "locationId": other}}
    made = (await gql(client, RETURN_SALE, given))["returnSale"]
    assert made["userErrors"] == []
    assert (made["saleReturn"]["locationId"], made["saleReturn"]["location"]) == (
        other, {"code": other})
    assert ((await level(client, store, sku))["on_hand"],
            (await assert_ledger_identity(client, other, sku))["on_hand"]) == (3, 1)
    entries = (await client.get("/v1/stock-movements", params={
        "location_id": other, "sku": sku})).json()["items"]
    assert [(e["type"], e["delta"], e["reference"]) for e in entries] == [
        ("return", 1, sale["id"])]
    nowhere = {**given, "input": {**given["input"], "locationId": random_code("LOC")}}
    assert codes((await gql(client, RETURN_SALE, nowhere))["returnSale"]) == [
        ("not_found", None)]
    staff = (await create_api_key(client, "store_staff", location_ids=[store]))["key"]
    elsewhere = (await gql(client, RETURN_SALE, given, key=staff))["returnSale"]
    assert codes(elsewhere) == [("forbidden", None)]
    assert (await level(client, other, sku))["on_hand"] == 1


async def test_a_store_scoped_key_writes_at_its_store_only(client: httpx.AsyncClient) -> None:
    home, (sku,) = await stocked(client, quantity=4)
    away = (await create_store(client))["code"]
    await client.post("/v1/inventory/update", json={"location_id": away, "sku": sku,
                                                    "delta": 4, "reason": "receipt"})
    staff = (await create_api_key(client, "store_staff", location_ids=[home]))["key"]
    sales = {place: await record_sale(client, place, [line(sku, 2)]) for place in (home, away)}
    tasks = {}
    for place in (home, away):
        reported = (await gql(client, FEEDBACK, {"input": {
            "kind": "DISCREPANCY", "locationId": place, "sku": sku}}))["reportFeedback"]
        tasks[place] = reported["feedback"]["countTaskId"]
    for place, expected in ((away, [("forbidden", None)]), (home, [])):
        returned = (await gql(client, RETURN_SALE, {"id": sales[place]["id"], "input": {
            "lines": [{"sku": sku, "quantity": 1}], "restock": True,
            "reason": "WRONG_SIZE"}}, key=staff))["returnSale"]
        assert codes(returned) == expected, place
        moved = (await gql(client, UPDATE_SALE, {"id": sales[place]["id"], "input": {
            "paymentStatus": "REFUNDED"}}, key=staff))["updateSale"]
        assert codes(moved) == expected, place
        reported = (await gql(client, FEEDBACK, {"input": {
            "kind": "SYNC_DELAY", "locationId": place}}, key=staff))["reportFeedback"]
        assert codes(reported) == expected, place
        counted = (await gql(client, COMPLETE, {"id": tasks[place], "input": {
            "quantity": 2}}, key=staff))["completeCountTask"]
        assert codes(counted) == expected, place
    # a role without the permission is refused whatever the location
    ordered = (await gql(client, CREATE_ORDER, {"input": {
        "supplierId": random_code("SUP"), "locationId": home,
        "lines": [{"sku": sku, "quantity": 1}]}}, key=staff))["createPurchaseOrder"]
    assert codes(ordered) == [("forbidden", None)]
    assert (await level(client, away, sku))["on_hand"] == 2


async def test_a_warehouse_scoped_key_receives_and_closes_at_its_warehouse_only(
        client: httpx.AsyncClient) -> None:
    home, away = [(await create_warehouse(client))["code"] for _ in range(2)]
    destination = (await create_store(client))["code"]
    sku = (await create_product(client))["sku"]
    supplier = (await create_supplier(client, products={sku: "2.00"}))["code"]
    staff = (await create_api_key(client, "warehouse_staff", location_ids=[home]))["key"]
    for place, expected in ((away, [("forbidden", None)]), (home, [])):
        order = await create_purchase_order(client, supplier, place, {sku: 3})
        received = (await gql(client, RECEIVE_ORDER, {"id": order["id"]},
                              key=staff))["receivePurchaseOrder"]
        assert codes(received) == expected, place
        if not expected:
            assert received["purchaseOrder"]["status"] == "RECEIVED"
            continue
        await client.post(f"/v1/purchase-orders/{order['id']}/receive", json={})
    for place, expected in ((away, [("forbidden", None)]), (home, [])):
        shipped = await ship_transfer(client, place, destination, (sku, 2))
        closed = (await gql(client, CLOSE, {"id": shipped["id"], "input": {
            "remainder": "RETURN"}}, key=staff))["closeTransfer"]
        assert codes(closed) == expected, place
    assert (await level(client, home, sku))["on_hand"] == 3  # shipped 2, returned 2
    assert (await level(client, away, sku))["on_hand"] == 1
