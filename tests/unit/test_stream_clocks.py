"""The two clocks of a live stream: the subscription's idle interval (heartbeats) and the
SSE response's stalled-write watchdog (a client that stopped reading is dropped)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from starlette.types import Message

from stockline.adapters.bus.base import EVERYTHING, EventRecord
from stockline.adapters.hub import EventHub, SubscriptionClosed
from stockline.entrypoints.http.streams.sse import EventStreamResponse


class _NoLog:
    async def event_log_bounds(self) -> tuple[int, int]:
        return 0, 0

    async def events_after(self, after: int, wanted: object, limit: int) -> list[EventRecord]:
        return []


def _record(n: int) -> EventRecord:
    return EventRecord(id=n, type="product.changed", occurred_at=datetime.now(UTC),
                       location_id=None, sku="SKU-A", data={})


def _hub() -> EventHub:
    return EventHub(_NoLog(), bus=None, queue_size=100)  # type: ignore[arg-type]


async def test_idle_subscription_answers_none_after_the_interval_and_again_after_the_next() -> None:
    subscription = _hub().subscribe(EVERYTHING)
    started = time.monotonic()
    assert await subscription.next(0.2) is None
    first = time.monotonic() - started
    assert await subscription.next(0.2) is None
    second = time.monotonic() - started - first
    # Upper bounds far from the interval: a loaded machine runs the loop late, not wrong.
    assert 0.15 <= first < 5.0, first
    assert 0.15 <= second < 5.0, second


async def test_events_taken_push_the_idle_interval_back() -> None:
    subscription = _hub().subscribe(EVERYTHING)

    async def trickle() -> None:  # an event every 0.1 s for 0.6 s: never idle for 0.3 s
        for n in range(1, 7):
            await asyncio.sleep(0.1)
            subscription.put(_record(n))

    feeding = asyncio.create_task(trickle())
    got = [await subscription.next(0.3) for _ in range(6)]
    await feeding
    assert [r.id for r in got if r is not None] == [1, 2, 3, 4, 5, 6]
    started = time.monotonic()
    assert await subscription.next(0.3) is None  # now idle: a heartbeat is due
    assert 0.2 <= time.monotonic() - started < 5.0


async def test_an_event_arriving_while_waiting_wakes_at_once_and_close_ends_the_wait() -> None:
    subscription = _hub().subscribe(EVERYTHING)
    asyncio.get_running_loop().call_later(0.05, subscription.put, _record(1))
    started = time.monotonic()
    record = await subscription.next(30)
    assert record is not None and record.id == 1
    assert time.monotonic() - started < 10.0  # woken by the event, not the 30 s interval
    asyncio.get_running_loop().call_later(0.05, subscription.close, "bye")
    with pytest.raises(SubscriptionClosed, match="bye"):
        await subscription.next(30)


async def _frames() -> AsyncIterator[bytes]:
    n = 0
    while True:
        n += 1
        yield b"data: %d\n\n" % n
        await asyncio.sleep(0.01)


async def test_a_stream_whose_client_stopped_reading_is_dropped_and_frees_its_slot() -> None:
    hub = _hub()
    slot = hub.open_stream("key_a", limit=5)
    response = EventStreamResponse(_frames(), slot=slot, ping=0, sep="\n", send_timeout=0.2)
    written: list[Message] = []
    forever = asyncio.Event()

    async def send(message: Message) -> None:
        written.append(message)
        if len(written) >= 4:  # the client's window is full: this write never ends
            await forever.wait()

    async def receive() -> Message:
        await forever.wait()
        return {"type": "http.disconnect"}

    scope = {"type": "http", "method": "GET", "path": "/v1/events/stream", "headers": []}
    started = time.monotonic()
    await asyncio.wait_for(response(scope, receive, send), timeout=5)
    assert 0.2 <= time.monotonic() - started < 4.5  # within the wait_for's 5 s
    assert slot.released and hub.streams_of("key_a") == 0
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]


async def test_a_stream_that_keeps_writing_is_not_dropped() -> None:
    response = EventStreamResponse(_frames(), ping=0, sep="\n", send_timeout=0.1)
    written: list[Message] = []
    gone = asyncio.Event()

    async def send(message: Message) -> None:
        written.append(message)
        await asyncio.sleep(0.05)  # slow, but every write ends within the limit
        if len(written) >= 12:
            gone.set()

    async def receive() -> Message:
        await gone.wait()
        return {"type": "http.disconnect"}

    scope = {"type": "http", "method": "GET", "path": "/v1/events/stream", "headers": []}
    await asyncio.wait_for(response(scope, receive, send), timeout=5)
    assert len(written) >= 12  # it ran until the client left (0.6 s), past many limits
