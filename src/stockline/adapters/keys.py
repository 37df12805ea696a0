"""API keys as authentication reads them: by prefix, cached for a few seconds.

The cache keeps a request from costing a database read; revoking a key forgets it at once
in the process that revoked it, and within ``ttl`` seconds everywhere else. A caller that
must know sooner (an open stream checking its key again) may ask for a record no older
than ``max_age``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from stockline.adapters.tables import api_keys

_TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class KeyRecord:
    id: str
    prefix: str
    secret_hash: str
    name: str
    role: str
    location_ids: tuple[str, ...] | None
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    rate_limit: float | None = None  # requests a second; None: the role's limit

    def usable(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class KeyStore:
    def __init__(self, read: AsyncEngine, write: AsyncEngine, *, ttl: float) -> None:
        self._read, self._write, self._ttl = read, write, ttl
        self._by_prefix: dict[str, tuple[float, KeyRecord | None]] = {}
        self._by_id: dict[str, tuple[float, KeyRecord | None]] = {}
        self._touched: dict[str, datetime] = {}
        self._limits: dict[str, float | None] = {}  # by key id, as last loaded

    async def by_prefix(self, prefix: str, *, max_age: float | None = None) -> KeyRecord | None:
        return await self._cached(self._by_prefix, prefix, api_keys.c.prefix == prefix,
                                  max_age)

    async def by_id(self, key_id: str, *, max_age: float | None = None) -> KeyRecord | None:
        return await self._cached(self._by_id, key_id, api_keys.c.id == key_id, max_age)

    def limit_of(self, key_id: str) -> float | None:
        """The key's own rate limit, as loaded when it last authenticated (no database
        read: the rate limiter asks on every request, always after authentication)."""
        return self._limits.get(key_id)

    def forget(self, key_id: str) -> None:
        """Drop a key from the cache (after revoking it)."""
        self._by_id.pop(key_id, None)
        self._limits.pop(key_id, None)
        for prefix, (_, record) in list(self._by_prefix.items()):
            if record is not None and record.id == key_id:
                del self._by_prefix[prefix]

    async def touch(self, record: KeyRecord, now: datetime) -> None:
        """Note the key's use, at most once a minute per key and process."""
        last = self._touched.get(record.id)
        if last is not None and now - last < _TOUCH_EVERY:
            return
        self._touched[record.id] = now
        async with self._write.begin() as conn:
            await conn.execute(update(api_keys).where(api_keys.c.id == record.id)
                               .values(last_used_at=now))

    async def _cached(self, cache: dict[str, tuple[float, KeyRecord | None]], key: str,
                      condition: ColumnElement[bool], max_age: float | None
                      ) -> KeyRecord | None:
        hit = cache.get(key)
        ttl = self._ttl if max_age is None else min(self._ttl, max_age)
        if hit is not None and time.monotonic() - hit[0] < ttl:
            return hit[1]
        async with self._read.connect() as conn:
            row = (await conn.execute(select(api_keys).where(condition))).first()
        record = None if row is None else KeyRecord(
            id=row.id, prefix=row.prefix, secret_hash=row.secret_hash, name=row.name,
            role=row.role, location_ids=tuple(row.location_ids) if row.location_ids else None,
            expires_at=row.expires_at, revoked_at=row.revoked_at, last_used_at=row.last_used_at,
            rate_limit=row.rate_limit)
        if len(cache) > 10_000:
            cache.clear()
        if record is not None:
            if len(self._limits) > 10_000:
                self._limits.clear()
            self._limits[record.id] = record.rate_limit
        cache[key] = (time.monotonic(), record)
        return record
