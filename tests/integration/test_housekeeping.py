"""Idempotency keys are kept at least 24 hours, then purged."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select

from stockline.adapters.housekeeping import purge_idempotency_keys
from stockline.adapters.tables import idempotency_keys
from stockline.bootstrap import Container


async def _key(container: Container, age: timedelta, now: datetime) -> str:
    key = uuid.uuid4().hex
    async with container.database.write.begin() as conn:
        await conn.execute(insert(idempotency_keys).values(
            principal="housekeeping-test", key=key, fingerprint="f" * 64, outcome="ok",
            response_body=b"{}", created_at=now - age))
    return key


async def _exists(container: Container, key: str) -> bool:
    async with container.database.read.connect() as conn:
        row = (await conn.execute(select(idempotency_keys.c.key)
                                  .where(idempotency_keys.c.key == key))).first()
    return row is not None


async def test_purge_forgets_old_keys_and_keeps_the_last_24_hours(container: Container) -> None:
    now = datetime.now(UTC)
    old = await _key(container, timedelta(hours=49), now)
    recent = await _key(container, timedelta(hours=23), now)
    # Even a retention shorter than the promised 24 h keeps a 23-hour-old key.
    purged = await purge_idempotency_keys(container.database.write, now=now,
                                          retention=timedelta(hours=1))
    assert purged >= 1
    assert not await _exists(container, old)
    assert await _exists(container, recent)
