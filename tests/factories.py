"""Random codes instead of cleanup, and helpers that set up state through the API."""

from __future__ import annotations

import uuid
from typing import Any

import httpx


def random_code(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10].upper()}"


def random_sku() -> str:
    return random_code("SKU")


def random_location() -> str:
    return random_code("LOC")


def price(amount: str = "10.00", currency: str = "USD") -> dict[str, str]:
    return {"amount": amount, "currency": currency}


def line(sku: str, quantity: int = 1, amount: str = "10.00") -> dict[str, Any]:
    return {"sku": sku, "quantity": quantity, "unit_price": price(amount)}


def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code < 300, response.text
    body: dict[str, Any] = response.json()
    return body


async def create_product(client: httpx.AsyncClient, sku: str | None = None,
                         **fields: Any) -> dict[str, Any]:
    body = {"sku": sku or random_sku(), "name": "Test product", "category": "test",
            "price": price(), **fields}
    return _ok(await client.post("/v1/products", json=body))


async def create_store(client: httpx.AsyncClient, code: str | None = None,
                       **fields: Any) -> dict[str, Any]:
    body = {"code": code or random_location(), "name": "Test store", "region": "test",
            **fields}
    return _ok(await client.post("/v1/retail-locations", json=body))


async def create_warehouse(client: httpx.AsyncClient, code: str | None = None,
                           **fields: Any) -> dict[str, Any]:
    body = {"code": code or random_code("WH"), "name": "Test warehouse", **fields}
    return _ok(await client.post("/v1/warehouses", json=body))


async def receive(client: httpx.AsyncClient, location_id: str, sku: str,
                  quantity: int) -> dict[str, Any]:
    return _ok(await client.post("/v1/inventory/update", json={
        "location_id": location_id, "sku": sku, "delta": quantity, "reason": "receipt"}))


async def stocked(client: httpx.AsyncClient, quantity: int = 10,
                  skus: int = 1) -> tuple[str, list[str]]:
    """A new store holding ``quantity`` units of each of ``skus`` new products."""
    store = (await create_store(client))["code"]
    codes = []
    for _ in range(skus):
        sku = (await create_product(client))["sku"]
        await receive(client, store, sku, quantity)
        codes.append(sku)
    return store, codes


async def level(client: httpx.AsyncClient, location_id: str, sku: str) -> dict[str, Any]:
    return _ok(await client.get(f"/v1/inventory/{location_id}/{sku}"))


async def ledger(client: httpx.AsyncClient, location_id: str, sku: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"location_id": location_id, "sku": sku, "limit": 500}
        if cursor:
            params["cursor"] = cursor
        page = _ok(await client.get("/v1/stock-movements", params=params))
        entries.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return entries


async def assert_ledger_identity(client: httpx.AsyncClient, location_id: str,
                                 sku: str) -> dict[str, Any]:
    """on_hand equals the sum of the ledger's deltas, and each balance_after adds up."""
    current = await level(client, location_id, sku)
    entries = await ledger(client, location_id, sku)
    running = 0
    for entry in entries:
        running += entry["delta"]
        assert entry["balance_after"] == running, entry
    assert current["on_hand"] == running, (current, running)
    assert current["available"] >= 0
    return current
