"""GraphQL mutations against the real app, on both backends: the REST route's operation
through the one write service, validation and permission, idempotency keys, refusals in
``userErrors`` with the REST problem codes, and nothing changed by a refusal."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.factories import (
    assert_ledger_identity,
    create_api_key,
    create_store,
    level,
    random_sku,
    stocked,
)
from tests.graphql_support import gql

UPDATE = """mutation ($input: UpdateInventoryInput!) { updateInventory(input: $input) {
  level { locationId sku onHand available version } userErrors { code field message } } }"""
TRANSFER = """mutation ($input: TransferInput!) { transfer(input: $input) {
  transfer { id status lines { sku quantity } toLocation { code } }
  userErrors { code field message } } }"""
RESERVE = """mutation ($input: ReserveInput!) { reserve(input: $input) {
  hold { id status expiresAt lines { sku quantity } } userErrors { code field message } } }"""


async def test_update_inventory_is_the_rest_write(client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=5)
    data = await gql(client, UPDATE, {"input": {"locationId": store, "sku": sku, "delta": -2,
                                                "reason": "DAMAGE"}})
    payload = data["updateInventory"]
    assert payload["userErrors"] == []
    assert payload["level"] == {**payload["level"], "onHand": 3, "available": 3}
    assert (await level(client, store, sku))["on_hand"] == 3
    await assert_ledger_identity(client, store, sku)


async def test_refusals_come_back_as_user_errors_and_change_nothing(
        client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=2)
    before = await level(client, store, sku)
    cases = [
        ({"locationId": store, "sku": sku, "delta": -3, "reason": "DAMAGE"},
         "insufficient_stock", "lines"),
        ({"locationId": store, "sku": sku, "delta": 1, "reason": "RECEIPT",
          "expectedVersion": before["version"] + 5}, "version_conflict", None),
        ({"locationId": "not a code", "sku": sku, "delta": 1, "reason": "RECEIPT"},
         "validation_error", "locationId"),
        ({"locationId": store, "sku": random_sku(), "delta": 1, "reason": "RECEIPT"},
         "not_found", None),
    ]
    for given, code, field in cases:
        payload = (await gql(client, UPDATE, {"input": given}))["updateInventory"]
        assert payload["level"] is None, payload
        assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [(code, field)], (
            given, payload)
        assert payload["userErrors"][0]["message"]
    short = (await gql(client, UPDATE, {"input": cases[0][0]}))["updateInventory"]
    assert short["userErrors"][0]["message"] == f"{sku}: requested 3, available 2"
    assert await level(client, store, sku) == before


async def test_transfer_and_receive_and_a_hold_and_its_release(
        client: httpx.AsyncClient) -> None:
    origin, (sku,) = await stocked(client, quantity=6)
    destination = (await create_store(client))["code"]
    shipped = (await gql(client, TRANSFER, {"input": {
        "fromLocationId": origin, "toLocationId": destination,
        "lines": [{"sku": sku, "quantity": 4}]}}))["transfer"]
    assert shipped["userErrors"] == [] and shipped["transfer"]["status"] == "IN_TRANSIT"
    assert shipped["transfer"]["toLocation"] == {"code": destination}
    received = (await gql(client, """mutation ($id: String!) { receiveTransfer(id: $id) {
        transfer { status } userErrors { code } } }""", {"id": shipped["transfer"]["id"]}))
    assert received["receiveTransfer"] == {"transfer": {"status": "RECEIVED"},
                                           "userErrors": []}
    again = (await gql(client, """mutation ($id: String!) { receiveTransfer(id: $id) {
        transfer { status } userErrors { code } } }""", {"id": shipped["transfer"]["id"]}))
    assert again["receiveTransfer"] == {"transfer": None,
                                        "userErrors": [{"code": "invalid_state"}]}
    assert (await level(client, destination, sku))["on_hand"] == 4

    held = (await gql(client, RESERVE, {"input": {
        "locationId": origin, "lines": [{"sku": sku, "quantity": 2}]}}))["reserve"]
    assert held["userErrors"] == [] and held["hold"]["status"] == "ACTIVE"
    assert (await level(client, origin, sku))["available"] == 0
    too_much = (await gql(client, RESERVE, {"input": {
        "locationId": origin, "lines": [{"sku": sku, "quantity": 1}]}}))["reserve"]
    assert [e["code"] for e in too_much["userErrors"]] == ["insufficient_stock"]
    released = (await gql(client, """mutation ($id: String!) { releaseReservation(id: $id) {
        hold { status } userErrors { code } } }""", {"id": held["hold"]["id"]}))
    assert released["releaseReservation"]["hold"] == {"status": "RELEASED"}
    assert (await level(client, origin, sku))["available"] == 2


async def test_a_mutation_takes_the_rest_routes_permission_and_scope(
        client: httpx.AsyncClient) -> None:
    home, (sku,) = await stocked(client, quantity=3)
    away = (await create_store(client))["code"]
    partner = (await create_api_key(client, "partner"))["key"]
    payload = (await gql(client, UPDATE, {"input": {"locationId": home, "sku": sku,
                                                    "delta": 1, "reason": "RECEIPT"}},
                         key=partner))["updateInventory"]
    assert [e["code"] for e in payload["userErrors"]] == ["forbidden"]
    staff = (await create_api_key(client, "store_staff", location_ids=[home]))["key"]
    payload = (await gql(client, UPDATE, {"input": {"locationId": away, "sku": sku,
                                                    "quantity": 9, "reason": "COUNT"}},
                         key=staff))["updateInventory"]
    assert [e["code"] for e in payload["userErrors"]] == ["forbidden"]
    created = (await gql(client, """mutation ($input: CreateProductInput!) {
        createProduct(input: $input) { product { sku attributes } userErrors { code } } }""",
                         {"input": {"sku": random_sku(), "name": "n", "category": "c",
                                    "attributes": {"size": "42"}}}))["createProduct"]
    assert created["userErrors"] == [] and created["product"]["attributes"] == {"size": "42"}


async def test_more_lines_than_the_server_takes_are_refused_as_over_rest(
        client: httpx.AsyncClient) -> None:
    origin, (sku,) = await stocked(client, quantity=1)
    destination = (await create_store(client))["code"]
    lines = [{"sku": random_sku(), "quantity": 1} for _ in range(501)]
    body = {"from_location_id": origin, "to_location_id": destination, "lines": lines}
    rest = await client.post("/v1/stock-movements/transfer", json=body)
    assert rest.status_code == 422 and "at most 500 lines" in rest.text, rest.text
    payload = (await gql(client, TRANSFER, {"input": {
        "fromLocationId": origin, "toLocationId": destination, "lines": lines}}))["transfer"]
    assert payload == {"transfer": None, "userErrors": [
        {"code": "validation_error", "field": "lines",
         "message": "at most 500 lines per transfer"}]}
    held = (await gql(client, RESERVE, {"input": {"locationId": origin, "lines": lines}}))
    assert [e["message"] for e in held["reserve"]["userErrors"]] == [
        "at most 500 lines per reservation"]
    assert (await level(client, origin, sku))["available"] == 1


SALE = """mutation ($input: RecordSaleInput!, $key: String) {
  recordSale(input: $input, idempotencyKey: $key) {
    sale { id locationId units total { amount } lines { sku quantity product { sku } } }
    userErrors { code field message } } }"""
COMMIT = """mutation ($id: String!, $key: String) {
  commitReservation(id: $id, idempotencyKey: $key) {
  sale { id units } userErrors { code field message } } }"""


def sale_input(store: str, sku: str, quantity: int) -> dict[str, Any]:
    return {"locationId": store, "lines": [{"sku": sku, "quantity": quantity,
                                            "unitPrice": {"amount": "4.00",
                                                          "currency": "USD"}}]}


async def units_sold(client: httpx.AsyncClient) -> float:
    text = (await client.get("/metrics")).text
    found = re.search(r"^stockline_units_sold_total (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


async def test_record_sale_sells_and_names_each_short_line(client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=3)
    before = await units_sold(client)
    sold = (await gql(client, SALE, {"input": sale_input(store, sku, 2)}))["recordSale"]
    assert await units_sold(client) == before + 2  # counted as REST counts a sale
    assert sold["userErrors"] == []
    assert sold["sale"]["units"] == 2 and sold["sale"]["total"]["amount"] == "8.00"
    assert sold["sale"]["lines"][0]["product"]["sku"] == sku
    assert (await client.get(f"/v1/sales/{sold['sale']['id']}")).json()["units"] == 2
    short = (await gql(client, SALE, {"input": sale_input(store, sku, 5)}))["recordSale"]
    assert short == {"sale": None, "userErrors": [{
        "code": "insufficient_stock", "field": "lines",
        "message": f"{sku}: requested 5, available 1"}]}
    assert (await level(client, store, sku))["on_hand"] == 1
    await assert_ledger_identity(client, store, sku)


async def test_an_idempotency_key_sells_once_and_replays_the_first_answer(
        client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=3)
    key = random_sku()
    first = await gql(client, SALE, {"input": sale_input(store, sku, 2), "key": key})
    again = await gql(client, SALE, {"input": sale_input(store, sku, 2), "key": key})
    assert first == again and first["recordSale"]["sale"]["units"] == 2
    assert (await level(client, store, sku))["on_hand"] == 1
    short_key = random_sku()
    refused = await gql(client, SALE, {"input": sale_input(store, sku, 2), "key": short_key})
    await client.post("/v1/inventory/update", json={"location_id": store, "sku": sku,
                                                    "delta": 5, "reason": "receipt"})
    replayed = await gql(client, SALE, {"input": sale_input(store, sku, 2), "key": short_key})
    assert replayed == refused and refused["recordSale"]["userErrors"][0]["code"] == (
        "insufficient_stock")
    other = await gql(client, SALE, {"input": sale_input(store, sku, 1), "key": key})
    assert other["recordSale"]["userErrors"][0]["code"] == "idempotency_key_reused"
    bad = await gql(client, SALE, {"input": sale_input(store, sku, 1), "key": "a key"})
    assert [(e["code"], e["field"]) for e in bad["recordSale"]["userErrors"]] == [
        ("validation_error", "idempotencyKey")]
    assert (await level(client, store, sku))["on_hand"] == 6


async def test_commit_reservation_records_the_held_sale_once(client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=4)
    held = (await gql(client, RESERVE, {"input": {"locationId": store, "lines": [
        {"sku": sku, "quantity": 3, "unitPrice": {"amount": "2.00", "currency": "USD"}}]}}
                      ))["reserve"]["hold"]
    key = random_sku()
    first = (await gql(client, COMMIT, {"id": held["id"], "key": key}))["commitReservation"]
    assert first["userErrors"] == [] and first["sale"]["units"] == 3
    again = (await gql(client, COMMIT, {"id": held["id"], "key": key}))["commitReservation"]
    assert again == first
    unkeyed = (await gql(client, COMMIT, {"id": held["id"]}))["commitReservation"]
    assert unkeyed["userErrors"][0]["code"] == "invalid_state"
    found = await level(client, store, sku)
    assert (found["on_hand"], found["reserved"]) == (1, 0)
