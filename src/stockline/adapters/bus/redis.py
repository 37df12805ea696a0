"""Redis Streams: the event id is the stream entry id, so a republished event is refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import structlog
from redis import asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from stockline.adapters.bus.base import EventRecord
from stockline.adapters.bus.nats import BusUnavailable

log = structlog.get_logger("stockline.bus")


class RedisBus:
    name = "redis"

    def __init__(self, url: str, *, channel: str = "stockline", max_length: int = 100_000) -> None:
        self._url = url
        self.key = f"{channel}:events"
        self._max_length = max_length
        self._redis: aioredis.Redis | None = None

    async def start(self) -> None:
        self._redis = aioredis.from_url(self._url, socket_timeout=10, socket_connect_timeout=2,
                                        health_check_interval=15)
        await self._redis.ping()

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None

    async def publish(self, records: list[EventRecord]) -> None:
        if self._redis is None:
            raise BusUnavailable("not started")
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for record in records:
                    pipe.xadd(self.key, {"e": record.to_bus()}, id=f"{record.id}-1",
                              maxlen=self._max_length, approximate=True)
                results = await pipe.execute(raise_on_error=False)
        except RedisError as exc:
            raise BusUnavailable(str(exc)) from exc
        for result in results:
            # "equal or smaller than the target stream top item": published already.
            if isinstance(result, ResponseError) and "equal or smaller" not in str(result):
                raise BusUnavailable(str(result))

    async def listen(self) -> AsyncIterator[EventRecord]:
        if self._redis is None:
            raise BusUnavailable("not started")
        newest: Any = await self._redis.xrevrange(self.key, count=1)
        after = newest[0][0].decode() if newest else "0-0"
        return self._entries(self._redis, after)

    async def _entries(self, client: aioredis.Redis, after: str) -> AsyncIterator[EventRecord]:
        while True:
            batches: Any = await client.xread({self.key: after}, block=1000, count=500)
            for _key, entries in batches or []:
                for entry_id, fields in entries:
                    after = entry_id.decode()
                    try:
                        yield EventRecord.from_json(fields[b"e"])
                    except (ValueError, KeyError, TypeError):
                        log.warning("bus_message_unreadable", bus=self.name)
