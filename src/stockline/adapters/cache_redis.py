"""The read cache's shared tier: Redis, between the processes and nodes of one deployment.

A record is ``<version>|<read at, Unix time>|<JSON>`` (no JSON: a tombstone, "this version
exists"), written only through one Lua script that keeps a record unless the new one is
newer (a value at the same version replaces a tombstone), so that no process, however
late, puts an older version back. Records expire after the TTL. A reader keeps a record
only when its version is at least the newest its own process has heard of.

Redis failing (refused, slower than the timeout) costs one short timeout: the tier is
then left alone for ``retry_seconds`` and reads go to the database. Nothing is pickled:
values are JSON and rebuilt field by field.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from types import SimpleNamespace
from typing import Any, cast

import orjson
import structlog
from redis import asyncio as aioredis
from redis.exceptions import RedisError

from stockline.adapters import rows
from stockline.adapters.cache import Key
from stockline.domain.model import Level, Product

log = structlog.get_logger("stockline.cache")

# KEYS[1]: the record; ARGV: version, record, TTL in ms, '1' for a tombstone.
SET_IF_NEWER = """
local new = tonumber(ARGV[1])
local held = tonumber(string.match(redis.call('GET', KEYS[1]) or '', '^(%d+)|'))
if held ~= nil and (held > new or (held == new and ARGV[4] == '1')) then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
"""


class Shared:
    """A record read back: its value (None: a tombstone), version, and age in seconds."""

    __slots__ = ("age", "value", "version")

    def __init__(self, value: Any, version: int, age: float) -> None:
        self.value, self.version, self.age = value, version, age


class RedisTier:
    def __init__(self, url: str, *, ttl: float, prefix: str, timeout_seconds: float,
                 retry_seconds: float = 1.0) -> None:
        self._url, self._ttl_ms, self._prefix = url, max(1, int(ttl * 1000)), f"{prefix}:cache:"
        self._timeout, self._retry = timeout_seconds, retry_seconds
        self._redis: aioredis.Redis | None = None
        self._script: Any = None
        self._down_until = 0.0
        self._writes: set[asyncio.Task[None]] = set()
        self.on_error: Callable[[], None] = lambda: None  # counted (metrics)

    def start(self) -> None:
        """Make the client (it connects on first use; nothing fails here)."""
        if self._redis is None:
            self._redis = aioredis.from_url(self._url, socket_timeout=self._timeout,
                                            socket_connect_timeout=self._timeout)
            self._script = self._redis.register_script(SET_IF_NEWER)

    async def flush(self) -> None:
        """Wait for the writes under way (each is bounded by the timeout)."""
        if self._writes:
            await asyncio.wait(set(self._writes), timeout=self._timeout * 4)

    async def close(self) -> None:
        await self.flush()
        if self._redis is not None:
            redis, self._redis = self._redis, None
            await redis.aclose()

    @property
    def up(self) -> bool:
        return self._redis is not None and time.monotonic() >= self._down_until

    async def get(self, key: Key) -> Shared | None:
        """The record of ``key``, or None (none, or Redis failing)."""
        if not self.up:
            return None
        assert self._redis is not None
        try:
            raw = await self._redis.get(self.name(key))
        except (RedisError, OSError, TimeoutError) as exc:
            self._failed(exc)
            return None
        return None if raw is None else _parse(key, raw.encode() if isinstance(raw, str) else raw)

    def put(self, key: Key, value: Any, version: int, read_at: float) -> None:
        """Write a value read from the database at ``read_at`` (Unix time), in the
        background: the request does not wait on it."""
        self._spawn(key, version, b"%d|%r|%s" % (version, read_at, _encode(value)), False)

    def changed(self, key: Key, version: int) -> None:
        """A tombstone at ``version`` (a change this process committed), in the background."""
        self._spawn(key, version, b"%d|%r|" % (version, time.time()), True)

    def _spawn(self, key: Key, version: int, record: bytes, tombstone: bool) -> None:
        if not self.up:
            return
        task = asyncio.ensure_future(self._write(key, version, record, tombstone))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _write(self, key: Key, version: int, record: bytes, tombstone: bool) -> None:
        try:
            await self._script(keys=[self.name(key)],
                               args=[version, record, self._ttl_ms, "1" if tombstone else "0"])
        except (RedisError, OSError, TimeoutError) as exc:
            self._failed(exc)

    def name(self, key: Key) -> str:
        return self._prefix + "\x1f".join(key)

    def _failed(self, exc: BaseException) -> None:
        self.on_error()
        if time.monotonic() >= self._down_until:
            log.warning("cache_redis_unavailable", error=str(exc) or type(exc).__name__,
                        retry_seconds=self._retry)
        self._down_until = time.monotonic() + self._retry


def _parse(key: Key, raw: bytes) -> Shared | None:
    try:
        version, read_at, body = raw.split(b"|", 2)
        value = _decode(key[0], body) if body else None
        return Shared(value, int(version), max(0.0, time.time() - float(read_at)))
    except (ValueError, KeyError, TypeError) as exc:  # not a record this code wrote
        log.warning("cache_redis_record_unreadable", error=str(exc))
        return None


def _encode(value: Any) -> bytes:
    if isinstance(value, Level):
        return orjson.dumps(asdict(value))
    assert isinstance(value, Product)
    return orjson.dumps(rows.product_values(value))


def _decode(kind: str, body: bytes) -> Level | Product:
    fields = orjson.loads(body)
    for name in ("updated_at", "created_at"):
        if isinstance(fields.get(name), str):
            fields[name] = datetime.fromisoformat(fields[name])
    row = cast(Any, SimpleNamespace(**fields))  # read as the database's row would be
    return rows.level_from_row(row) if kind == "level" else rows.product_from_row(row)
