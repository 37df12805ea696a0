"""The hub reads the event log for what the bus did not bring only while someone listens;
a stream opened after polls were skipped still starts from the newest event."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from stockline.adapters.bus.base import EVERYTHING, EventFilter, EventRecord
from stockline.adapters.bus.memory import MemoryBus
from stockline.adapters.feed import EventFeed, FeedItem, Opened
from stockline.adapters.hub import EventHub


class _Log:
    """An event log written behind the hub's back (another process's events)."""

    def __init__(self) -> None:
        self.records: list[EventRecord] = []
        self.reads = 0

    def log(self, count: int) -> None:
        self.records.extend(EventRecord(
            id=len(self.records) + 1, type="product.changed", occurred_at=datetime.now(UTC),
            location_id=None, sku="S", data={}) for _ in range(count))

    async def event_log_bounds(self) -> tuple[int, int]:
        return (1 if self.records else 0), len(self.records)

    async def events_after(self, after: int, wanted: EventFilter,
                           limit: int) -> list[EventRecord]:
        self.reads += 1
        return [r for r in self.records if r.id > after][:limit]


async def _ids(items: AsyncIterator[FeedItem], count: int) -> list[int]:
    got: list[int] = []
    async for item in items:
        if isinstance(item, list):
            got.extend(r.id for r in item)
        if len(got) >= count:
            break
    return got


async def test_nobody_subscribed_no_reads_then_a_stream_starts_from_the_newest() -> None:
    log = _Log()
    hub = EventHub(log, MemoryBus(), poll_seconds=0.01)  # type: ignore[arg-type]
    await hub.start()
    try:
        log.log(5)
        await asyncio.sleep(0.1)  # ten polls' time
        assert log.reads == 0 and hub.last_id == 0
        items = EventFeed(hub, log, EVERYTHING).items(None, idle=5)  # type: ignore[arg-type]
        async with contextlib.aclosing(items):
            opened = await anext(items)
            assert opened == Opened(5)  # from now on: not the five logged before
            log.log(2)  # and what comes next arrives through the poll
            assert await asyncio.wait_for(_ids(items, 2), 5) == [6, 7]
    finally:
        await hub.close()
