"""The RabbitMQ bus on the machine's broker (127.0.0.1:5672): every listener hears every
event in id order, a listener cut off from the broker resumes after the last event it got,
and a publish the broker did not take is never counted as sent.

Each test uses a channel of its own and removes its stream afterwards. Under CI=true a
broker that cannot be reached fails the tests; elsewhere they are skipped with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

import pytest

from stockline.adapters.bus import BusUnavailable, EventRecord
from stockline.adapters.bus.rabbitmq import PREFETCH, RabbitBus
from tests.factories import BROKERS, forget_channel, require_broker

URL = BROKERS["rabbitmq"]


def record(n: int) -> EventRecord:
    return EventRecord(id=n, type="product.changed", occurred_at=datetime.now(UTC),
                       location_id=None, sku=f"SKU-{n}", data={"n": n})


@pytest.fixture
async def channel() -> AsyncIterator[str]:
    await require_broker(URL)
    name = f"t{uuid.uuid4().hex[:16]}"
    yield name
    await forget_channel(URL, name)


@contextlib.asynccontextmanager
async def started(url: str, channel: str) -> AsyncIterator[RabbitBus]:
    bus = RabbitBus(url, channel=channel)
    await bus.start()
    try:
        yield bus
    finally:
        await bus.close()


async def take(events: AsyncIterator[EventRecord], count: int,
               within: float = 20.0) -> list[int]:
    got: list[int] = []
    async with asyncio.timeout(within):
        while len(got) < count:
            got.append((await anext(events)).id)
    return got


class Cuttable:
    """A TCP relay to the broker whose connections can be cut, and new ones refused,
    until it is opened again: a network outage for one client only."""

    def __init__(self, target: tuple[str, int]) -> None:
        self._target = target
        self._open = True
        self._pipes: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> Cuttable:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *_: object) -> None:
        self.cut()
        assert self._server is not None
        self._server.close()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    def cut(self) -> None:
        self._open = False
        for writer in self._pipes:
            writer.transport.abort()
        self._pipes.clear()

    def reopen(self) -> None:
        self._open = True

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self._open:
            writer.transport.abort()
            return
        up_reader, up_writer = await asyncio.open_connection(*self._target)
        self._pipes |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.transport.abort()


async def becomes_connected(bus: RabbitBus, within: float = 30.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if bus.connected:
            return True
        await asyncio.sleep(0.05)
    return bus.connected


async def publishing_fails(bus: RabbitBus, within: float = 10.0) -> bool:
    """Whether publishing (an event that must never land) raises BusUnavailable in time."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            await bus.publish([record(0)])
        except BusUnavailable:
            return True
        await asyncio.sleep(0.1)
    return False


def through(url: str, port: int) -> str:
    parts = urlsplit(url)
    credentials = parts.netloc.rpartition("@")[0]
    return urlunsplit(parts._replace(netloc=f"{credentials}@127.0.0.1:{port}"))


async def test_every_listener_hears_every_event_once_in_id_order(channel: str) -> None:
    async with started(URL, channel) as relay, started(URL, channel) as node:
        heard = [await relay.listen(), await node.listen(), await node.listen()]
        for first in range(1, 1001, 100):  # the relay's rounds
            await relay.publish([record(n) for n in range(first, first + 100)])
        for events in heard:
            assert await take(events, 1000) == list(range(1, 1001))


async def test_a_listener_hears_only_what_is_published_after_it_listens(channel: str) -> None:
    async with started(URL, channel) as bus:
        await bus.publish([record(1), record(2)])
        events = await bus.listen()
        await bus.publish([record(3)])
        assert await take(events, 1) == [3]


async def test_a_listener_cut_off_from_the_broker_resumes_after_its_last_event(
        channel: str) -> None:
    """Proves: events published while a node's connection is down reach it, in order and
    none twice, once aio-pika's robust connection is back: its reader consumes again from
    the offset after the last event it got (not from the stream's end)."""
    broker = urlsplit(URL)
    async with Cuttable((broker.hostname or "127.0.0.1", broker.port or 5672)) as network, \
            started(URL, channel) as relay, \
            started(through(URL, network.port), channel) as node:
        events = await node.listen()
        await relay.publish([record(n) for n in range(1, 11)])
        assert await take(events, 10) == list(range(1, 11))
        assert node.connected
        network.cut()
        assert await publishing_fails(node)  # the node knows it cannot publish meanwhile
        assert not node.connected  # what /metrics reports as stockline_bus_connected
        await relay.publish([record(n) for n in range(11, 31)])
        network.reopen()
        assert await take(events, 20) == list(range(11, 31))
        # The publishing channel reopens after the consumer's (its confirm mode is set
        # again first): /metrics says connected once both are back.
        assert await becomes_connected(node)
        await relay.publish([record(31)])
        assert await take(events, 1) == [31]


async def test_a_listener_cut_off_before_its_first_event_gets_those_published_meanwhile(
        channel: str) -> None:
    """Proves: with no offset to resume from yet, the reader resumes from the moment it
    began listening (older events it may get again are dropped by the hubs)."""
    broker = urlsplit(URL)
    async with Cuttable((broker.hostname or "127.0.0.1", broker.port or 5672)) as network, \
            started(URL, channel) as relay, \
            started(through(URL, network.port), channel) as node:
        events = await node.listen()
        network.cut()
        await asyncio.sleep(0.5)  # the node notices the connection is gone
        await relay.publish([record(n) for n in range(1, 6)])
        network.reopen()
        assert await take(events, 5) == list(range(1, 6))


async def test_a_publish_the_broker_cannot_store_raises_bus_unavailable(channel: str) -> None:
    """Proves: the relay counts an event as sent only once the broker took it: with the
    stream gone (deleted behind the bus's back), publishing raises BusUnavailable and the
    listener's iterator ends with it (the hub then listens again); the stream is declared
    again, so the relay's next round and a new listener work."""
    async with started(URL, channel) as bus:
        events = await bus.listen()
        await bus.publish([record(1)])
        assert await take(events, 1) == [1]
        await forget_channel(URL, channel)
        with pytest.raises(BusUnavailable):
            await anext(events)
        with pytest.raises(BusUnavailable):
            await bus.publish([record(2)])
        again = await bus.listen()
        await bus.publish([record(2)])
        assert await take(again, 1) == [2]


async def test_a_listener_holds_about_the_prefetch_beyond_what_it_took(
        channel: str) -> None:
    """Proves: a listener that stops taking events holds about PREFETCH of them (the
    broker waits for acknowledgements; a stream sends whole chunks, so a few more), not
    all, and gets the rest, in order, once it goes on."""
    async with started(URL, channel) as bus:
        events = await bus.listen()
        total = 3 * PREFETCH
        for first in range(1, total + 1, 500):
            await bus.publish([record(n) for n in range(first, min(first + 500, total + 1))])
        assert await take(events, 1) == [1]
        await asyncio.sleep(1.0)
        reader = next(iter(bus._readers))
        assert reader._inbox.qsize() < 2 * PREFETCH
        assert await take(events, total - 1) == list(range(2, total + 1))


async def test_closing_the_bus_ends_its_listeners(channel: str) -> None:
    bus = RabbitBus(URL, channel=channel)
    await bus.start()
    events = await bus.listen()
    await bus.close()
    async with asyncio.timeout(10):
        assert [record async for record in events] == []


async def test_a_bus_started_while_the_broker_is_away_connects_once_it_answers(
        channel: str) -> None:
    """Proves: a server starts whether or not the broker answers; until it does, publishing
    and listening raise BusUnavailable (events wait in the log), then both work."""
    broker = urlsplit(URL)
    async with Cuttable((broker.hostname or "127.0.0.1", broker.port or 5672)) as network:
        network.cut()
        async with started(through(URL, network.port), channel) as bus:
            assert not bus.connected
            with pytest.raises(BusUnavailable):
                await bus.publish([record(1)])
            with pytest.raises(BusUnavailable):
                await bus.listen()
            network.reopen()
            async with asyncio.timeout(20):
                while True:
                    with contextlib.suppress(BusUnavailable):
                        events = await bus.listen()
                        break
                    await asyncio.sleep(0.2)
            await bus.publish([record(1)])
            assert await take(events, 1) == [1]
