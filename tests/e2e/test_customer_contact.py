"""A sale attaches a customer; only a caller that may write customers changes a contact."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from stockline.config import Settings
from tests.factories import assert_problem, insert_api_key, line, send_as, stocked


def _ref() -> str:
    return f"LOYALTY-{uuid.uuid4().hex[:10]}"


async def _customer(client: httpx.AsyncClient, ref: str) -> dict[str, Any]:
    found = await client.get(f"/v1/customers/{ref}")
    assert found.status_code == 200, found.text
    return dict(found.json())


def _sale(store: str, sku: str, customer: dict[str, str]) -> dict[str, Any]:
    return {"location_id": store, "lines": [line(sku)], "customer": customer}


async def test_a_foreign_stores_key_cannot_change_a_customers_contact(
        client: httpx.AsyncClient, settings: Settings) -> None:
    ref, unknown = _ref(), _ref()
    store_a, (sku_a,) = await stocked(client, 5)
    store_b, (sku_b,) = await stocked(client, 5)
    first = await client.post("/v1/sales/record", json=_sale(
        store_a, sku_a, {"ref": ref, "contact": "jo@example.com"}))
    assert first.status_code == 201, first.text
    staff_b = (await insert_api_key(settings.database_url, "store_staff",
                                    location_ids=[store_b])).key
    path = "/v1/sales/record"
    known = await send_as(client, staff_b, "POST", path, json=_sale(
        store_b, sku_b, {"ref": ref, "contact": "attacker@example.com"}))
    new = await send_as(client, staff_b, "POST", path, json=_sale(
        store_b, sku_b, {"ref": unknown, "contact": "new@example.com"}))
    assert (known.status_code, new.status_code) == (201, 201), (known.text, new.text)
    # The answers are alike whether or not the reference was known: nothing about it.
    assert set(known.json()) == set(new.json())
    assert "customer" not in known.json()

    customer = await _customer(client, ref)
    assert (customer["contact"], customer["sales"]) == ("jo@example.com", 2)
    assert (await _customer(client, unknown))["contact"] == "new@example.com"
    assert_problem(await send_as(client, staff_b, "GET", f"/v1/customers/{ref}"), 403,
                   "forbidden")


async def test_a_caller_that_may_write_customers_updates_the_contact(
        client: httpx.AsyncClient, settings: Settings) -> None:
    ref = _ref()
    store, (sku,) = await stocked(client, 5)
    manager = (await insert_api_key(settings.database_url, "manager")).key
    for contact in ("old@example.com", "new@example.com"):
        answer = await send_as(client, manager, "POST", "/v1/sales/record",
                               json=_sale(store, sku, {"ref": ref, "contact": contact}))
        assert answer.status_code == 201, answer.text
    assert (await _customer(client, ref))["contact"] == "new@example.com"
