"""The in-process bus: one process hears what its own relay publishes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from stockline.adapters.bus.base import EventRecord


class MemoryBus:
    name = "memory"

    def __init__(self) -> None:
        self._listeners: set[asyncio.Queue[EventRecord | None]] = set()

    @property
    def connected(self) -> bool:
        return True  # in this process: nothing to lose

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        for queue in self._listeners:
            queue.put_nowait(None)

    async def publish(self, records: list[EventRecord]) -> None:
        for queue in self._listeners:
            for record in records:
                queue.put_nowait(record)

    async def listen(self) -> AsyncIterator[EventRecord]:
        queue: asyncio.Queue[EventRecord | None] = asyncio.Queue()
        self._listeners.add(queue)
        return self._drain(queue)

    async def _drain(self, queue: asyncio.Queue[EventRecord | None]) -> AsyncIterator[EventRecord]:
        try:
            while (record := await queue.get()) is not None:
                yield record
        finally:
            self._listeners.discard(queue)
