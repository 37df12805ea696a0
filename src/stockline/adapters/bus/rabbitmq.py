"""RabbitMQ: one stream queue that every node reads from its own offset, confirmed publishes.

The relay publishes each event to the stream through the default exchange on a channel with
publisher confirms, so a publish counts only once the broker has stored it. Every node
consumes the same stream (a stream is read, not drained): from the next offset when it
starts listening, and after the connection or its channel comes back (``connect_robust``
restores both) from the offset after the last message it got, so what was published while
it was away still arrives, in order. AMQP 0-9-1 has no deduplication for streams: an event
republished after a relay restart arrives twice, and the hubs drop the repeat (ids only
grow).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aio_pika
import structlog
from aio_pika.abc import (
    AbstractIncomingMessage,
    AbstractRobustChannel,
    AbstractRobustConnection,
    AbstractRobustQueue,
)
from aio_pika.exceptions import (
    CONNECTION_EXCEPTIONS,
    AMQPError,
    ChannelInvalidStateError,
    PublishError,
)

from stockline.adapters.bus.base import EventRecord
from stockline.adapters.bus.nats import BusUnavailable

log = structlog.get_logger("stockline.bus")

# What a publish round or a reader's setup may take before the bus counts as unavailable.
TIMEOUT_SECONDS = 5.0
# Messages a reader may hold unacknowledged (a stream consumer needs a bound; it sends
# whole chunks, so a few more may come).
PREFETCH = 1_000


class RabbitBus:
    name = "rabbitmq"

    def __init__(self, url: str, *, channel: str = "stockline", max_age: str = "1h",
                 max_bytes: int = 1_000_000_000) -> None:
        self._url = url
        self.queue = f"{channel}.events"
        # Retention drops whole segments: small ones keep the stream near its bounds.
        self._arguments: dict[str, Any] = {
            "x-queue-type": "stream", "x-max-age": max_age, "x-max-length-bytes": max_bytes,
            "x-stream-max-segment-size-bytes": 8_000_000}
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractRobustChannel | None = None
        self._retry: asyncio.Task[None] | None = None
        self._readers: set[_StreamReader] = set()
        self._down = False

    async def start(self) -> None:
        """Connect within a few seconds, or keep trying in the background.

        The server must start whether or not the broker answers: until it does, publishing
        raises BusUnavailable (events wait in the log) and listening is retried.
        """
        try:
            await asyncio.wait_for(self._connect(), timeout=TIMEOUT_SECONDS)
        except (TimeoutError, *CONNECTION_EXCEPTIONS) as exc:
            log.warning("rabbitmq_unavailable", error=str(exc) or type(exc).__name__)
            self._retry = asyncio.create_task(self._connect_until_up(), name="rabbitmq-connect")

    async def _connect(self) -> None:
        # Once connected, the robust connection reconnects by itself (every second) and
        # restores its channels, their settings and the queue they declared.
        connection = await aio_pika.connect_robust(
            self._url, timeout=2, reconnect_interval=1,
            client_properties={"connection_name": f"stockline {self.queue}"})
        try:
            channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
            await channel.declare_queue(self.queue, durable=True, arguments=self._arguments)
        except BaseException:
            await connection.close()
            raise
        connection.close_callbacks.add(self._on_close)
        connection.reconnect_callbacks.add(self._on_reconnect)
        self._connection, self._channel = connection, channel

    @property
    def connected(self) -> bool:
        """Connected to the broker now (while it reconnects: False)."""
        return (self._connection is not None and self._channel is not None
                and self._connection.connected.is_set() and not self._channel.is_closed)

    def _on_close(self, _connection: object, error: BaseException | None) -> None:
        # Called again for each failed attempt to reconnect: said once per outage.
        if self._connection is not None and not self._down:
            self._down = True
            log.warning("rabbitmq_disconnected", error=str(error) or type(error).__name__)

    def _on_reconnect(self, _connection: object) -> None:
        self._down = False
        log.info("rabbitmq_reconnected")

    async def _connect_until_up(self) -> None:
        while self._channel is None:
            await asyncio.sleep(2.0)
            with contextlib.suppress(TimeoutError, *CONNECTION_EXCEPTIONS):
                await asyncio.wait_for(self._connect(), timeout=TIMEOUT_SECONDS)
        log.info("rabbitmq_available")

    async def close(self) -> None:
        if self._retry is not None:
            self._retry.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retry
            self._retry = None
        for reader in list(self._readers):
            reader.end()
        if self._connection is not None:
            connection, self._connection, self._channel = self._connection, None, None
            with contextlib.suppress(*CONNECTION_EXCEPTIONS):
                await connection.close()

    def _ready(self) -> tuple[AbstractRobustConnection, AbstractRobustChannel]:
        if self._connection is None or self._channel is None:
            raise BusUnavailable("not started")
        if not self._connection.connected.is_set() or self._channel.is_closed:
            # While reconnecting a publish would fail on the closed channel anyway, or wait
            # for a confirmation that never comes: say so at once, the events wait in the log.
            raise BusUnavailable("disconnected, reconnecting")
        return self._connection, self._channel

    async def publish(self, records: list[EventRecord]) -> None:
        _, channel = self._ready()
        exchange = channel.default_exchange
        messages = [aio_pika.Message(record.to_bus(), message_id=str(record.id),
                                     content_type="application/json",
                                     delivery_mode=aio_pika.DeliveryMode.PERSISTENT)
                    for record in records]
        try:
            async with asyncio.timeout(TIMEOUT_SECONDS):
                # All in flight at once, each confirmed: the channel's lock sends them in
                # the order they were started, which is id order.
                await asyncio.gather(*(exchange.publish(message, routing_key=self.queue)
                                       for message in messages))
        except PublishError as exc:  # returned unroutable: the stream was deleted
            with contextlib.suppress(TimeoutError, *CONNECTION_EXCEPTIONS):
                await asyncio.wait_for(channel.declare_queue(
                    self.queue, durable=True, arguments=self._arguments), TIMEOUT_SECONDS)
            raise BusUnavailable(f"the stream {self.queue} was gone: {exc}") from exc
        except (TimeoutError, *CONNECTION_EXCEPTIONS) as exc:
            raise BusUnavailable(str(exc) or type(exc).__name__) from exc

    async def listen(self) -> AsyncIterator[EventRecord]:
        connection, _ = self._ready()
        reader = _StreamReader(connection, self.queue, self._arguments)
        try:
            async with asyncio.timeout(TIMEOUT_SECONDS):
                await reader.attach()
        except (TimeoutError, *CONNECTION_EXCEPTIONS) as exc:
            await reader.detach()
            raise BusUnavailable(str(exc) or type(exc).__name__) from exc
        self._readers.add(reader)
        return self._records(reader)

    async def _records(self, reader: _StreamReader) -> AsyncIterator[EventRecord]:
        try:
            while (record := await reader.next()) is not None:
                yield record
        finally:
            self._readers.discard(reader)
            await reader.detach()


class _StreamReader:
    """One node's consumer of the stream, on a channel of its own, that resumes where it
    stopped when the channel is restored."""

    def __init__(self, connection: AbstractRobustConnection, queue: str,
                 arguments: dict[str, Any]) -> None:
        self._connection, self._name, self._arguments = connection, queue, arguments
        self._inbox: asyncio.Queue[AbstractIncomingMessage | BusUnavailable | None] = (
            asyncio.Queue())
        self._channel: AbstractRobustChannel | None = None
        self._queue: AbstractRobustQueue | None = None
        # Where to resume: the offset after the last message, or before any arrived, the
        # moment listening began (a few older events may come again: they are dropped).
        self._next: int | None = None
        self._since = datetime.now(UTC)

    async def attach(self) -> None:
        self._channel = channel = await self._connection.channel(publisher_confirms=False)
        await channel.set_qos(prefetch_count=PREFETCH)
        self._queue = await channel.declare_queue(self._name, durable=True,
                                                  arguments=self._arguments)
        channel.reopen_callbacks.add(self._reopened)
        await self._consume("next")

    async def _consume(self, offset: int | str | datetime) -> None:
        assert self._queue is not None and self._channel is not None
        # Not robust: on a restored channel, _reopened consumes again from where it stopped
        # (aio-pika would repeat "next" and skip what was published meanwhile).
        await self._queue.consume(self._on_message, arguments={"x-stream-offset": offset},
                                  robust=False)
        underlay = await self._channel.get_underlay_channel()
        underlay.on_consumer_cancel_callbacks.add(self._cancelled)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        # Queued as delivered (nothing awaited first): deliveries keep their order.
        offset = (message.headers or {}).get("x-stream-offset")
        if isinstance(offset, int):
            self._next = offset + 1
        self._inbox.put_nowait(message)

    async def _reopened(self, _channel: object) -> None:
        try:
            await self._consume(self._next if self._next is not None else self._since)
        except CONNECTION_EXCEPTIONS as exc:  # listen again from the start
            self._inbox.put_nowait(BusUnavailable(f"could not resume: {exc}"))

    def _cancelled(self, _frame: object) -> None:
        # The broker ended the consumer (the stream was deleted): listen again from the start.
        self._inbox.put_nowait(BusUnavailable("the broker cancelled the consumer"))

    async def next(self) -> EventRecord | None:
        while (item := await self._inbox.get()) is not None:
            if isinstance(item, BusUnavailable):
                raise item
            # Acknowledged as taken: the broker sends about PREFETCH ahead of the hub. A
            # message of a channel since closed needs (and takes) no acknowledgement.
            with contextlib.suppress(AMQPError, ChannelInvalidStateError):
                await item.ack()
            try:
                return EventRecord.from_json(item.body)
            except (ValueError, KeyError, TypeError):
                log.warning("bus_message_unreadable", bus=RabbitBus.name)
        return None

    def end(self) -> None:
        self._inbox.put_nowait(None)

    async def detach(self) -> None:
        if self._channel is not None:
            self._channel.reopen_callbacks.discard(self._reopened)
            with contextlib.suppress(TimeoutError, *CONNECTION_EXCEPTIONS):
                await asyncio.wait_for(self._channel.close(), TIMEOUT_SECONDS)
            self._channel = None
