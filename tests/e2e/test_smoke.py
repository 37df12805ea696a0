"""The README walk-through, on each backend."""

from __future__ import annotations

import httpx

from tests.factories import assert_ledger_identity, line, stocked


async def test_sale_lowers_on_hand_and_writes_the_ledger(client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=5)
    response = await client.post("/v1/sales/record",
                                 json={"location_id": store, "lines": [line(sku, 2, "129.99")]})
    assert response.status_code == 201, response.text
    sale = response.json()
    assert sale["total"] == {"amount": "259.98", "currency": "USD"}
    level = await assert_ledger_identity(client, store, sku)
    assert (level["on_hand"], level["available"]) == (3, 3)
    fetched = await client.get(f"/v1/sales/{sale['id']}")
    assert fetched.json() == sale
