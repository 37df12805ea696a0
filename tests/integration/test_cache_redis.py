"""The read cache's Redis tier against the machine's Redis: a record is replaced only by a
newer version, values come back as they went in, and a Redis that cannot be reached
costs a short timeout, never an error."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from redis import asyncio as aioredis

from stockline.adapters.cache import level_key, product_key
from stockline.adapters.cache_redis import RedisTier
from stockline.domain.model import Level, Product
from stockline.domain.values import Money, ProductStatus
from tests.conftest import free_port
from tests.factories import BROKERS, require_broker

REDIS = BROKERS["redis"]
NOW = datetime(2026, 12, 4, 12, 30, tzinfo=UTC)


@pytest.fixture
async def shared() -> AsyncIterator[RedisTier]:
    await require_broker(REDIS)
    redis = RedisTier(REDIS, ttl=30, prefix=f"t{uuid.uuid4().hex[:12]}", timeout_seconds=1)
    redis.start()
    try:
        yield redis
    finally:
        await redis.close()


def level(on_hand: int, version: int) -> Level:
    return Level(location_id="S1", sku="P1", on_hand=on_hand, reserved=1, in_transit=2,
                 incoming=3, lotted=True, reorder_point=4, reorder_quantity=5,
                 safety_stock=6, version=version, updated_at=NOW)


async def test_a_record_is_replaced_only_by_a_newer_version(shared: RedisTier) -> None:
    key = level_key("S1", "P1")
    shared.put(key, level(5, 2), 2, time.time())
    await shared.flush()
    shared.put(key, level(9, 1), 1, time.time())  # a fill that began before the change
    await shared.flush()
    got = await shared.get(key)
    assert got is not None and got.version == 2 and got.value == level(5, 2)
    shared.changed(key, 3)  # a tombstone: version 3 exists
    shared.put(key, level(5, 2), 2, time.time())
    await shared.flush()
    got = await shared.get(key)
    assert got is not None and got.version == 3 and got.value is None
    shared.put(key, level(4, 3), 3, time.time())  # the value of that version
    await shared.flush()
    shared.changed(key, 3)  # the same version again: the value stays
    await shared.flush()
    got = await shared.get(key)
    assert got is not None and got.value == level(4, 3) and got.age < 5


async def test_a_product_comes_back_as_it_went_in(shared: RedisTier) -> None:
    product = Product(sku="P1", name="Runner", category="shoes",
                      attributes={"size": 42, "color": "black", "waterproof": True},
                      price=Money(Decimal("89.99"), "USD"), status=ProductStatus.DISCONTINUED,
                      version=7, created_at=NOW, updated_at=NOW)
    shared.put(product_key("P1"), product, 7, time.time())
    await shared.flush()
    got = await shared.get(product_key("P1"))
    assert got is not None and got.value == product


async def test_a_redis_that_cannot_be_reached_answers_nothing_quickly() -> None:
    errors: list[int] = []
    down = RedisTier(f"redis://127.0.0.1:{free_port()}/0", ttl=30, prefix="t",
                     timeout_seconds=0.05)
    down.on_error = lambda: errors.append(1)
    down.start()
    try:
        started = time.monotonic()
        assert await down.get(level_key("S1", "P1")) is None
        down.put(level_key("S1", "P1"), level(1, 1), 1, time.time())  # left alone a while
        await down.flush()
        assert await down.get(level_key("S1", "P1")) is None
        assert time.monotonic() - started < 2
        assert errors == [1]
    finally:
        await down.close()


async def test_a_record_not_written_by_the_cache_is_ignored(shared: RedisTier) -> None:
    client = aioredis.from_url(REDIS)
    try:
        await client.set(shared.name(level_key("S1", "P1")), b"not a record", px=30_000)
    finally:
        await client.aclose()
    assert await shared.get(level_key("S1", "P1")) is None
