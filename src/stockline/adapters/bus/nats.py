"""NATS JetStream: a stream with a duplicate window on the event id; every node reads it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import nats
import structlog
from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError

from stockline.adapters.bus.base import EventRecord

log = structlog.get_logger("stockline.bus")


class BusUnavailable(Exception):
    """The broker cannot take events now: they stay in the event log for later."""


class NatsBus:
    name = "nats"

    def __init__(self, url: str, *, channel: str = "stockline",
                 duplicate_window: float = 120.0, max_age: float = 3600.0) -> None:
        self._url = url
        self.subject = f"{channel}.events"
        self.stream = f"{channel.upper().replace('.', '_').replace('-', '_')}_EVENTS"
        self._duplicate_window, self._max_age = duplicate_window, max_age
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._retry: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Connect within a few seconds, or keep trying in the background.

        The server must start whether or not the broker answers: until it does, publishing
        raises BusUnavailable (events wait in the log) and listening is retried.
        """
        try:
            await asyncio.wait_for(self._connect(), timeout=5)
        except (TimeoutError, NatsError, OSError) as exc:
            log.warning("nats_unavailable", url=self._url, error=str(exc) or type(exc).__name__)
            self._retry = asyncio.create_task(self._connect_until_up(), name="nats-connect")

    async def _connect(self) -> None:
        nc = await nats.connect(self._url, max_reconnect_attempts=-1, reconnect_time_wait=0.5,
                                connect_timeout=2, allow_reconnect=True,
                                error_cb=self._on_error, disconnected_cb=self._on_disconnect,
                                reconnected_cb=self._on_reconnect)
        js = nc.jetstream(timeout=5)
        config = StreamConfig(name=self.stream, subjects=[self.subject],
                              duplicate_window=self._duplicate_window, max_age=self._max_age,
                              storage=StorageType.FILE)
        try:
            await js.add_stream(config)
        except BadRequestError:  # exists with other settings: bring them in line
            await js.update_stream(config)
        self._nc, self._js = nc, js

    @property
    def connected(self) -> bool:
        """Connected to the broker now (while it reconnects: False)."""
        return self._js is not None and self._nc is not None and self._nc.is_connected

    async def _on_error(self, error: Exception) -> None:
        log.debug("nats_error", url=self._url, error=str(error) or type(error).__name__)

    async def _on_disconnect(self) -> None:
        log.warning("nats_disconnected", url=self._url)

    async def _on_reconnect(self) -> None:
        log.info("nats_reconnected", url=self._url)

    async def _connect_until_up(self) -> None:
        while self._js is None:
            await asyncio.sleep(2.0)
            with contextlib.suppress(TimeoutError, NatsError, OSError):
                await asyncio.wait_for(self._connect(), timeout=5)
        log.info("nats_available", url=self._url)

    async def close(self) -> None:
        if self._retry is not None:
            self._retry.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retry
            self._retry = None
        if self._nc is not None:
            with contextlib.suppress(NatsError, TimeoutError):
                await self._nc.drain()
            self._nc, self._js = None, None

    async def publish(self, records: list[EventRecord]) -> None:
        if self._js is None:
            raise BusUnavailable("not started")
        if self._nc is not None and not self._nc.is_connected:
            # While reconnecting, the client would buffer the message and wait out the ack
            # timeout (5 s a round), holding up the relay's moves into the log.
            raise BusUnavailable("disconnected, reconnecting")
        try:
            for record in records:
                # The message id makes a republished event (after a relay restart) a no-op.
                await self._js.publish(self.subject, record.to_bus(),
                                       headers={"Nats-Msg-Id": str(record.id)})
        except (TimeoutError, NatsError, OSError) as exc:
            raise BusUnavailable(str(exc)) from exc

    async def listen(self) -> AsyncIterator[EventRecord]:
        if self._js is None:
            raise BusUnavailable("not started")
        subscription = await self._js.subscribe(self.subject, ordered_consumer=True,
                                                deliver_policy=DeliverPolicy.NEW,
                                                # Two missed heartbeats make the client
                                                # recreate the consumer (after a broker
                                                # restart): with 5 s, events stalled ~15 s.
                                                idle_heartbeat=1.0)
        return self._messages(subscription)

    async def _messages(self, subscription: JetStreamContext.PushSubscription
                        ) -> AsyncIterator[EventRecord]:
        try:
            async for message in subscription.messages:
                try:
                    yield EventRecord.from_json(message.data)
                except (ValueError, KeyError, TypeError):
                    log.warning("bus_message_unreadable", bus=self.name)
        finally:
            with contextlib.suppress(NatsError, asyncio.TimeoutError):
                await subscription.unsubscribe()
