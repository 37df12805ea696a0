"""What an idempotency record keeps: never a secret shown once, never a refusal's long lists."""

from __future__ import annotations

import json
from typing import Any

import httpx
from sqlalchemy import select

from stockline.adapters.database import open_database
from stockline.adapters.tables import idempotency_keys
from stockline.config import Settings
from tests.factories import (
    assert_problem,
    line,
    random_code,
    sales_at,
    stocked,
)

REPLAYED = "Idempotent-Replayed"
HOOKS = "/v1/webhooks"


async def stored(settings: Settings, key: str) -> dict[str, Any]:
    """The idempotency record of ``key`` as the database holds it."""
    database = open_database(settings.database_url)
    try:
        async with database.write.connect() as conn:
            row = (await conn.execute(select(idempotency_keys)
                                      .where(idempotency_keys.c.key == key))).one()
    finally:
        await database.dispose()
    return dict(row._mapping)


async def test_a_webhooks_secret_is_answered_once_and_never_stored_for_replays(
        client: httpx.AsyncClient, settings: Settings) -> None:
    given = "whsec_" + random_code("S") * 2
    for secret in (given, None):
        key = random_code("IK")
        body = {"url": "https://example.com/once", "event_types": ["product.changed"],
                **({"secret": secret} if secret else {})}
        first = await client.post(HOOKS, json=body, headers={"Idempotency-Key": key})
        assert first.status_code == 201, first.text
        shown = first.json()["secret"]
        assert shown == (secret or shown) and len(shown) >= 16
        again = await client.post(HOOKS, json=body, headers={"Idempotency-Key": key})
        assert (again.status_code, again.headers[REPLAYED]) == (201, "true")
        assert again.json() == {**first.json(), "secret": None}
        record = await stored(settings, key)
        assert shown.encode() not in bytes(record["response_body"])
        assert shown not in str(record)
        await client.delete(f"{HOOKS}/{first.json()['id']}")


async def test_a_refused_500_line_sale_keeps_a_short_answer(
        client: httpx.AsyncClient, settings: Settings) -> None:
    store, skus = await stocked(client, 1, skus=500)
    key = random_code("IK")
    sale = {"location_id": store, "lines": [line(sku, 2) for sku in skus]}
    refused = await client.post("/v1/sales/record", json=sale, headers={"Idempotency-Key": key})
    # The first answer names every line; what is kept for replays is bounded.
    first = assert_problem(refused, 409, "insufficient_stock")
    assert len(first["lines"]) == 500
    assert len(refused.content) > 2048
    record = await stored(settings, key)
    assert record["outcome"] == "insufficient_stock"  # the answer in no protocol's terms
    assert len(bytes(record["response_body"])) <= 2048
    replay = await client.post("/v1/sales/record", json=sale, headers={"Idempotency-Key": key})
    kept = assert_problem(replay, refused.status_code, first["code"])
    assert replay.headers[REPLAYED] == "true"
    assert kept["abridged"] is True and kept["detail"] == first["detail"][:len(kept["detail"])]
    assert await sales_at(client, store) == []


async def test_a_short_refusal_is_kept_whole(client: httpx.AsyncClient,
                                             settings: Settings) -> None:
    store, (sku,) = await stocked(client, 1)
    key = random_code("IK")
    sale = {"location_id": store, "lines": [line(sku, 3)]}
    refused = await client.post("/v1/sales/record", json=sale, headers={"Idempotency-Key": key})
    assert_problem(refused, 409, "insufficient_stock")
    record = await stored(settings, key)
    problem = {k: v for k, v in refused.json().items() if k not in ("type", "title", "status")}
    assert (record["outcome"], json.loads(record["response_body"])) == (
        "insufficient_stock", problem)  # kept whole, without what only REST adds
    replay = await client.post("/v1/sales/record", json=sale, headers={"Idempotency-Key": key})
    assert (replay.content, replay.headers[REPLAYED]) == (refused.content, "true")
