"""The longest text the API accepts is stored and read back, on SQLite and PostgreSQL.

PostgreSQL refuses a value longer than its column (SQLite keeps it): a limit in a request
schema above a column's length is a 500 on one backend only. A key's name is written as
the actor of each of its writes, so it is held to the actor columns' 100 characters.
tests/unit/test_column_limits.py compares the two definitions; these send the values.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.factories import (
    assert_problem,
    collect,
    create_api_key,
    error_fields,
    insert_api_key,
    ledger,
    line,
    price,
    without_credentials,
)

# Characters of one, two, three and four bytes in UTF-8: a limit counts characters.
MIXED = "aé€𝄞"


def text(length: int) -> str:
    return (MIXED * length)[:length]


def code(length: int = 64) -> str:
    """A unique code of ``length`` characters (codes are 1-64 of A-Z a-z 0-9 . _ -)."""
    return (f"C{uuid.uuid4().hex}" + "_" * length)[:length]


def ok(response: httpx.Response, status: int = 201) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


class Writer:
    """Every kind of write, sent with one key."""

    def __init__(self, client: httpx.AsyncClient, key: str) -> None:
        self.client, self.key = client, key

    async def send(self, method: str, url: str, status: int = 201, *,
                   headers: dict[str, str] | None = None, **kwargs: Any) -> dict[str, Any]:
        return ok(await without_credentials(self.client, method, url,
                                            {"X-API-Key": self.key, **(headers or {})},
                                            **kwargs), status)

    async def each_kind(self) -> dict[str, dict[str, Any]]:
        """A product, two stores, a receipt, a sale (retried), a return, a transfer and its
        cancelling, a hold and its commit, a supplier, an order and its receipt, a webhook."""
        sku = (await self.send("POST", "/v1/products", json={
            "sku": code(), "name": "n", "category": "c", "price": price()}))["sku"]
        store, other = [(await self.send("POST", "/v1/retail-locations", json={
            "code": code(), "name": "s"}))["code"] for _ in range(2)]
        await self.send("POST", "/v1/inventory/update", 200, json={
            "location_id": store, "sku": sku, "delta": 20, "reason": "receipt"})
        sale_body = {"location_id": store, "lines": [line(sku, 2)]}
        retried = {"Idempotency-Key": code()}
        sale = await self.send("POST", "/v1/sales/record", json=sale_body, headers=retried)
        again = await self.send("POST", "/v1/sales/record", json=sale_body, headers=retried)
        assert again["id"] == sale["id"]
        returned = await self.send("POST", f"/v1/sales/{sale['id']}/returns", json={
            "lines": [{"sku": sku, "quantity": 1}], "restock": True, "reason": "wrong_size"})
        transfer = await self.send("POST", "/v1/stock-movements/transfer", json={
            "from_location_id": store, "to_location_id": other,
            "lines": [{"sku": sku, "quantity": 1}]})
        await self.send("POST", f"/v1/stock-movements/transfers/{transfer['id']}/cancel", 200,
                        json={})
        hold = await self.send("POST", "/v1/reservations", json={
            "location_id": store, "lines": [{"sku": sku, "quantity": 1}]})
        committed = await self.send("POST", f"/v1/reservations/{hold['id']}/commit", json={})
        supplier = await self.send("POST", "/v1/suppliers", json={
            "code": code(), "name": "s", "products": [{"sku": sku, "cost": price("4.00")}]})
        order = await self.send("POST", "/v1/purchase-orders", json={
            "supplier_id": supplier["code"], "location_id": store,
            "lines": [{"sku": sku, "quantity": 3}]})
        await self.send("POST", f"/v1/purchase-orders/{order['id']}/receive", 200, json={})
        webhook = await self.send("POST", "/v1/webhooks", json={
            "url": "https://hooks.example.test/in", "event_types": ["sale.recorded"]})
        return {"sale": sale, "return": returned, "transfer": transfer, "hold": hold,
                "committed": committed, "order": order, "webhook": webhook,
                "level": {"location_id": store, "sku": sku}}


async def actors_of(client: httpx.AsyncClient, made: dict[str, dict[str, Any]]) -> set[str]:
    """The actor every record made by ``Writer.each_kind`` carries, read back."""
    where = made["level"]
    actors = {entry["actor"] for entry in await ledger(client, where["location_id"],
                                                       where["sku"])}
    actors |= {entry["actor"] for entry in await collect(
        client, "/v1/stock-movements", {"location_id": made["transfer"]["to_location_id"]})}
    for name, url in (("sale", "/v1/sales/{}"), ("committed", "/v1/sales/{}"),
                      ("transfer", "/v1/stock-movements/transfers/{}"),
                      ("hold", "/v1/reservations/{}"), ("order", "/v1/purchase-orders/{}"),
                      ("webhook", "/v1/webhooks/{}")):
        actors.add(ok(await client.get(url.format(made[name]["id"])), 200)["actor"])
    actors.add(made["return"]["actor"])
    return actors


async def test_a_key_named_with_100_characters_makes_every_kind_of_write(
        client: httpx.AsyncClient) -> None:
    name = text(100)
    key = await create_api_key(client, "admin", name=name)
    assert key["name"] == name
    made = await Writer(client, key["key"]).each_kind()
    assert await actors_of(client, made) == {name}


@pytest.mark.parametrize("length", [101, 200])
async def test_a_key_name_over_100_characters_is_422_and_makes_no_key(
        client: httpx.AsyncClient, length: int) -> None:
    name = text(length)
    response = await client.post("/v1/api-keys", json={"name": name, "role": "admin"})
    assert "name" in error_fields(assert_problem(response, 422, "validation_error"))
    assert name not in {k["name"] for k in await collect(client, "/v1/api-keys")}


async def test_a_key_named_before_the_limit_writes_as_its_first_100_characters(
        client: httpx.AsyncClient, database_url: str) -> None:
    """A key stored with a longer name (the limit was 200 characters) still writes."""
    name = text(200)
    key = await insert_api_key(database_url, "admin", name=name)
    made = await Writer(client, key.key).each_kind()
    assert await actors_of(client, made) == {name[:100]}


async def test_the_longest_value_of_each_text_field_is_stored_and_read_back(
        client: httpx.AsyncClient) -> None:
    product = {"sku": code(), "name": text(200), "category": text(100), "price": price()}
    assert_same(ok(await client.post("/v1/products", json=product)), product, "price")
    renamed = {"name": text(199) + "!", "category": text(99) + "!"}
    assert_same(ok(await client.patch(f"/v1/products/{product['sku']}", json=renamed), 200),
                renamed)
    assert_same(ok(await client.get(f"/v1/products/{product['sku']}"), 200), renamed)
    place = {"code": code(), "name": text(200), "address": text(500)}
    store = {**place, "code": code(), "region": text(100)}
    ok(await client.post("/v1/warehouses", json=place))
    ok(await client.post("/v1/retail-locations", json=store))
    assert_same(ok(await client.get(f"/v1/warehouses/{place['code']}"), 200), place)
    assert_same(ok(await client.get(f"/v1/retail-locations/{store['code']}"), 200), store)
    await longest_stock_texts(client, store["code"], product["sku"], place["code"])
    await longest_order_texts(client, place["code"], product["sku"])
    webhook = {"url": "https://hooks.example.test/" + "p" * 1973, "event_types": ["*"],
               "secret": "s" * 200}
    assert len(webhook["url"]) == 2000
    made = ok(await client.post("/v1/webhooks", json=webhook))
    assert made["secret"] == webhook["secret"]
    assert ok(await client.get(f"/v1/webhooks/{made['id']}"), 200)["url"] == webhook["url"]


async def longest_stock_texts(client: httpx.AsyncClient, store: str, sku: str,
                              warehouse: str) -> None:
    lot = code()
    receipt = {"location_id": store, "sku": sku, "delta": 30, "reason": "receipt",
               "note": text(500), "lot": lot}
    ok(await client.post("/v1/inventory/update", json=receipt), 200)
    entry = (await ledger(client, store, sku))[-1]
    assert (entry["note"], entry["lot"]) == (receipt["note"], lot)
    customer = {"ref": ("R" + uuid.uuid4().hex + "x" * 100)[:100], "contact": text(500)}
    sale_body = {"location_id": store, "lines": [line(sku, 3)], "external_ref": text(100),
                 "customer": customer}
    retried = {"Idempotency-Key": ("K" + uuid.uuid4().hex + "~" * 255)[:255]}
    sale = ok(await client.post("/v1/sales/record", json=sale_body, headers=retried))
    replayed = await client.post("/v1/sales/record", json=sale_body, headers=retried)
    assert (replayed.status_code, replayed.json()["id"]) == (201, sale["id"])
    assert ok(await client.get(f"/v1/sales/{sale['id']}"), 200)["external_ref"] == text(100)
    assert ok(await client.get(f"/v1/customers/{customer['ref']}"), 200)["contact"] == (
        customer["contact"])
    returned = ok(await client.post(f"/v1/sales/{sale['id']}/returns", json={
        "lines": [{"sku": sku, "quantity": 1}], "restock": False, "reason": "defective",
        "note": text(500)}))
    assert returned["note"] == text(500)
    shipped = {"from_location_id": store, "to_location_id": warehouse,
               "lines": [{"sku": sku, "quantity": 1}], "note": text(500),
               "external_ref": text(100)}
    transfer = ok(await client.post("/v1/stock-movements/transfer", json=shipped))
    cancel = f"/v1/stock-movements/transfers/{transfer['id']}/cancel"
    ok(await client.post(cancel, json={"note": text(499) + "!"}), 200)
    read = ok(await client.get(f"/v1/stock-movements/transfers/{transfer['id']}"), 200)
    assert_same(read, shipped, "lines")
    assert (await ledger(client, store, sku))[-1]["note"] == text(499) + "!"
    hold = ok(await client.post("/v1/reservations", json={
        "location_id": store, "lines": [{"sku": sku, "quantity": 1}],
        "external_ref": text(100)}))
    assert ok(await client.get(f"/v1/reservations/{hold['id']}"), 200)["external_ref"] == (
        text(100))
    committed = ok(await client.post(f"/v1/reservations/{hold['id']}/commit",
                                     json={"external_ref": text(99) + "!"}))
    assert committed["external_ref"] == text(99) + "!"


async def longest_order_texts(client: httpx.AsyncClient, warehouse: str, sku: str) -> None:
    supplier = {"code": code(), "name": text(200),
                "contact": {"name": text(200), "email": "a" * 241 + "@example.test",
                            "phone": text(50)},
                "products": [{"sku": sku, "cost": price("2.00")}]}
    assert len(supplier["contact"]["email"]) == 254
    ok(await client.post("/v1/suppliers", json=supplier))
    read = ok(await client.get(f"/v1/suppliers/{supplier['code']}"), 200)
    assert_same(read, supplier, "products")
    order = {"supplier_id": supplier["code"], "location_id": warehouse,
             "lines": [{"sku": sku, "quantity": 2}], "note": text(500),
             "external_ref": text(100)}
    made = ok(await client.post("/v1/purchase-orders", json=order))
    assert_same(ok(await client.get(f"/v1/purchase-orders/{made['id']}"), 200), order,
                "lines", "supplier_id")


def assert_same(read: dict[str, Any], sent: dict[str, Any], *besides: str) -> None:
    """Each field sent (but ``besides``) is read back as it was sent."""
    for name, value in sent.items():
        if name not in besides:
            assert read[name] == value, name
