"""Once a customer is erased, nothing links its old reference to anything: not a retry of
an idempotency key, not a stored fingerprint, not a replayed erasure, not the files."""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from stockline.adapters.database import open_database
from stockline.adapters.tables import idempotency_keys
from stockline.config import Settings
from stockline.entrypoints.http.schemas.sales import SaleCreate
from tests.factories import assert_problem, line, random_code, sales_at, stocked


def _customer() -> tuple[str, str]:
    tag = uuid.uuid4().hex[:12]
    return f"LOYALTY-{tag}", f"jo.{tag}@example.com"


async def _records(settings: Settings, *keys: str) -> list[dict[str, Any]]:
    database = open_database(settings.database_url)
    try:
        async with database.write.connect() as conn:
            rows = (await conn.execute(select(idempotency_keys).where(
                idempotency_keys.c.key.in_(keys)).order_by(idempotency_keys.c.key))).all()
    finally:
        await database.dispose()
    return [dict(row._mapping) for row in rows]


def _sell_request(store: str, sku: str, ref: str, quantity: int = 1) -> dict[str, Any]:
    return {"location_id": store, "lines": [line(sku, quantity)],
            "customer": {"ref": ref, "contact": "jo@example.com"}}


async def _sell(client: httpx.AsyncClient, key: str, store: str, sku: str, ref: str,
                quantity: int = 1) -> httpx.Response:
    return await client.post("/v1/sales/record", headers={"Idempotency-Key": key},
                             json=_sell_request(store, sku, ref, quantity))


async def test_after_erasure_a_retry_cannot_tell_the_old_reference_from_a_guess(
        client: httpx.AsyncClient, settings: Settings) -> None:
    ref, guess = _customer()[0], _customer()[0]
    store, (sku,) = await stocked(client, 5)
    sold_key, refused_key = random_code("IK"), random_code("IK")
    sold = await _sell(client, sold_key, store, sku, ref)
    assert sold.status_code == 201, sold.text
    assert_problem(await _sell(client, refused_key, store, sku, ref, 50), 409,
                   "insufficient_stock")
    # Before the erasure a retry is matched as usual.
    assert (await _sell(client, sold_key, store, sku, ref)).content == sold.content
    assert (await _sell(client, sold_key, store, sku, guess)).status_code == 422
    body = SaleCreate.model_validate(_sell_request(store, sku, ref))
    plain = hashlib.sha256(b"POST /v1/sales/record\n" + body.model_dump_json().encode())
    for record in await _records(settings, sold_key, refused_key):
        # Keyed: a copy of the database cannot be searched for the reference offline.
        assert ref not in str(record) and record["fingerprint"] != plain.hexdigest()

    erased = await client.post(f"/v1/customers/{ref}/erase")
    assert erased.is_success, erased.text

    for key, quantity in ((sold_key, 1), (refused_key, 50)):
        right = await _sell(client, key, store, sku, ref, quantity)
        wrong = await _sell(client, key, store, sku, guess, quantity)
        assert_problem(right, 422, "idempotency_key_reused")
        assert (right.status_code, right.content) == (wrong.status_code, wrong.content)
    assert [s["id"] for s in await sales_at(client, store)] == [sold.json()["id"]]
    for record in await _records(settings, sold_key, refused_key):
        # Nothing of the request or its answer is kept: no fingerprint to test guesses on.
        assert (record["fingerprint"], record["subject"], bytes(record["response_body"])) == (
            "erased", None, b"")


async def test_an_erasure_answers_alike_known_unknown_and_replayed(
        client: httpx.AsyncClient, settings: Settings) -> None:
    ref, unknown = _customer()[0], _customer()[0]
    store, (sku,) = await stocked(client, 5)
    assert (await _sell(client, random_code("IK"), store, sku, ref)).status_code == 201
    key = random_code("IK")
    answers = [await client.post(f"/v1/customers/{r}/erase", headers=headers)
               for r, headers in ((ref, {"Idempotency-Key": key}),
                                  (ref, {"Idempotency-Key": key}), (ref, {}),
                                  (unknown, {"Idempotency-Key": key}), (unknown, {}))]
    assert {(a.status_code, a.content, a.headers.get("Idempotent-Replayed"))
            for a in answers} == {(204, b"", None)}
    assert all(a.headers["Cache-Control"] == "no-store" for a in answers)
    assert await _records(settings, key) == []  # nothing kept that names the reference
    assert_problem(await client.get(f"/v1/customers/{ref}"), 404, "not_found")


async def _last_vacuum(settings: Settings) -> datetime | None:
    database = open_database(settings.database_url)
    try:
        async with database.write.connect() as conn:
            return (await conn.execute(text(
                "SELECT last_vacuum FROM pg_stat_user_tables WHERE relname = 'customers'"
            ))).scalar_one()
    finally:
        await database.dispose()


async def test_erasure_leaves_no_old_row_versions_behind(
        client: httpx.AsyncClient, settings: Settings) -> None:
    ref, contact = _customer()
    store, (sku,) = await stocked(client, 5)
    before = datetime.now(UTC)
    await client.post("/v1/sales/record", json={
        "location_id": store, "lines": [line(sku)], "customer": {"ref": ref,
                                                                 "contact": contact}})
    assert (await client.post(f"/v1/customers/{ref}/erase")).is_success
    if settings.is_sqlite:
        # The WAL is checkpointed into the file and emptied; what the erasure removed is
        # overwritten, in neither file any more.
        path = Path(str(make_url(settings.database_url).database))
        wal = path.with_name(path.name + "-wal")
        for name in (path, wal):
            data = name.read_bytes() if name.exists() else b""
            assert ref.encode() not in data and contact.encode() not in data, name
        return
    deadline = time.monotonic() + 30  # statistics reach other sessions shortly after
    while (last := await _last_vacuum(settings)) is None or last < before:
        assert time.monotonic() < deadline, "customers was not vacuumed after the erasure"
        await asyncio.sleep(0.2)
