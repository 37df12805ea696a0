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

    async def start(self) -> None:
        self._nc = await nats.connect(self._url, max_reconnect_attempts=-1,
                                      reconnect_time_wait=0.5, connect_timeout=2,
                                      allow_reconnect=True)
        self._js = self._nc.jetstream(timeout=5)
        config = StreamConfig(name=self.stream, subjects=[self.subject],
                              duplicate_window=self._duplicate_window, max_age=self._max_age,
                              storage=StorageType.FILE)
        try:
            await self._js.add_stream(config)
        except BadRequestError:  # exists with other settings: bring them in line
            await self._js.update_stream(config)

    async def close(self) -> None:
        if self._nc is not None:
            with contextlib.suppress(NatsError, asyncio.TimeoutError):
                await self._nc.drain()
            self._nc = None

    async def publish(self, records: list[EventRecord]) -> None:
        if self._js is None:
            raise BusUnavailable("not started")
        try:
            for record in records:
                # The message id makes a republished event (after a relay restart) a no-op.
                await self._js.publish(self.subject, record.to_json(),
                                       headers={"Nats-Msg-Id": str(record.id)})
        except (TimeoutError, NatsError, OSError) as exc:
            raise BusUnavailable(str(exc)) from exc

    async def listen(self) -> AsyncIterator[EventRecord]:
        if self._js is None:
            raise BusUnavailable("not started")
        subscription = await self._js.subscribe(self.subject, ordered_consumer=True,
                                                deliver_policy=DeliverPolicy.NEW,
                                                idle_heartbeat=5.0)
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
