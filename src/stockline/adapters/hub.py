"""Each API node's hub: hears the bus, fills gaps from the event log, feeds its subscribers.

The hub delivers every logged event to its subscribers exactly once and in id order: a
repeat from the bus is dropped (ids only grow), an id that skips ahead makes the hub read
the missing ones from the event log first, and a slow poll of the log catches up whatever
the bus never brought (a bus outage, or the in-process bus of a node that is not the relay).
A subscriber that cannot keep up is cut off with a reason instead of buffering without
bound; it resumes from the log like any reconnecting client.

The hub also counts the streams each principal has open on this node, so that one
caller cannot hold an unbounded number of them (``open_stream``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable

import structlog
from opentelemetry.trace import SpanKind

from stockline.adapters.bus.base import EVERYTHING, EventBus, EventFilter, EventRecord
from stockline.adapters.queries.events import EventQueries
from stockline.adapters.tracing import Tracing

log = structlog.get_logger("stockline.hub")
SHUTDOWN = "server_shutdown: reconnect with Last-Event-ID to resume"


class SubscriptionClosed(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TooManyStreams(Exception):
    """The owner has ``limit`` streams open on this node already."""

    def __init__(self, owner: str, limit: int) -> None:
        super().__init__(f"at most {limit} event streams may be open at once per caller")
        self.owner, self.limit = owner, limit


class StreamSlot:
    """One open stream of an owner; ``release`` (idempotent) when the stream ends."""

    def __init__(self, hub: EventHub, owner: str, protocol: str) -> None:
        self._hub, self.owner, self.protocol = hub, owner, protocol
        self.released = False

    def release(self) -> None:
        if not self.released:
            self.released = True
            self._hub._release(self.owner)
            self._hub.on_streams(self.protocol, -1)


class Subscription:
    """A bounded queue of the events one client wants, in id order."""

    def __init__(self, hub: EventHub, wanted: EventFilter, size: int) -> None:
        self._hub, self.wanted, self._size = hub, wanted, size
        self._queue: deque[EventRecord] = deque()
        # set while the queue holds events, once closed, or once idle (``next``)
        self._ready = asyncio.Event()
        self.closed_reason: str | None = None
        # The idle clock of ``next``: one timer per idle interval, not one per wait.
        self._active_at: float | None = None  # loop time of the last event (or None) taken
        self._within: float | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._idle = False

    def offer(self, record: EventRecord) -> None:
        if self.wanted.matches(record):
            self.put(record)

    def put(self, record: EventRecord) -> None:
        """Queue an event known to match."""
        if self.closed_reason is not None:
            return
        if len(self._queue) >= self._size:
            self.close(f"slow_consumer: more than {self._size} events unread; "
                       "reconnect with Last-Event-ID to resume")
            return
        self._queue.append(record)
        self._ready.set()

    def close(self, reason: str) -> None:
        if self.closed_reason is None:
            self.closed_reason = reason
            self._ready.set()
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._hub.unsubscribe(self)

    def pending(self) -> int:
        return len(self._queue)

    def drain(self, limit: int) -> list[EventRecord]:
        """Up to ``limit`` queued events at once, without waiting."""
        taken = [self._queue.popleft() for _ in range(min(limit, len(self._queue)))]
        if not self._queue and self.closed_reason is None:
            self._ready.clear()
        return taken

    async def next(self, within: float) -> EventRecord | None:
        """The next event, or None once nothing was taken for ``within`` seconds (a
        heartbeat is due); SubscriptionClosed once closed.

        The idle clock is one timer per interval, re-armed only when it fires early (events
        were taken meanwhile), instead of a timeout around every wait: with a thousand
        streams woken for every round of events, those timers were a tenth of the work.
        """
        loop = asyncio.get_running_loop()
        if self._active_at is None:
            self._active_at = loop.time()
        if not self._queue and self.closed_reason is None and not self._idle:
            if self._timer is None or self._within != within:
                self._arm(loop, within)
            await self._ready.wait()
        if self.closed_reason is not None:
            raise SubscriptionClosed(self.closed_reason)
        self._active_at, self._idle = loop.time(), False
        if not self._queue:  # idle: the caller sends a heartbeat, and the clock restarts
            self._ready.clear()
            return None
        record = self._queue.popleft()
        if not self._queue:
            self._ready.clear()
        return record

    def _arm(self, loop: asyncio.AbstractEventLoop, within: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._within = within
        assert self._active_at is not None
        self._timer = loop.call_at(self._active_at + within, self._idle_check, loop)

    def _idle_check(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = None
        if self.closed_reason is not None or self._within is None or self._active_at is None:
            return
        if loop.time() >= self._active_at + self._within - 0.001:  # timers run to the ms
            self._idle = True
            self._ready.set()
        else:  # events were taken since it was armed: wait out the rest of the interval
            self._timer = loop.call_at(self._active_at + self._within, self._idle_check, loop)


class EventHub:
    def __init__(self, reader: EventQueries, bus: EventBus, *, poll_seconds: float = 0.25,
                 queue_size: int = 10_000) -> None:
        self._reader, self._bus = reader, bus
        self._poll, self._queue_size = poll_seconds, queue_size
        self._subscribers: set[Subscription] = set()
        # by filter: an event is matched once per distinct filter, not once per subscriber
        self._by_filter: dict[EventFilter, set[Subscription]] = {}
        self._lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self._streams: dict[str, int] = {}  # owner -> streams open on this node
        self.last_id = 0
        self._stale = False  # polls skipped while nobody was subscribed
        # Told every event as it is delivered, in id order (the read cache); while any
        # listens, the log is polled as if someone were subscribed.
        self._listeners: list[Callable[[EventRecord], None]] = []
        # Loop time when the hub last knew it had every event of the log (None: never).
        self.synced_at: float | None = None
        # Told (protocol, +1 or -1) as streams open and end (metrics).
        self.on_streams: Callable[[str, int], None] = lambda protocol, change: None
        self.tracing: Tracing | None = None  # a span per event heard on the bus, when on

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def add_listener(self, listener: Callable[[EventRecord], None]) -> None:
        self._listeners.append(listener)

    def behind(self, within: float) -> bool:
        """Whether the hub has not known itself caught up with the log for ``within``
        seconds (not started, the bus and the log unreachable, polls failing)."""
        return (self.synced_at is None
                or asyncio.get_running_loop().time() - self.synced_at > within)

    async def start(self) -> None:
        _, self.last_id = await self._reader.event_log_bounds()
        self._synced()
        self._tasks = [asyncio.create_task(self._listen(), name="hub-listen"),
                       asyncio.create_task(self._poll_log(), name="hub-poll")]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks, self.synced_at = [], None
        for subscription in list(self._subscribers):
            subscription.close(SHUTDOWN)

    def open_stream(self, owner: str, limit: int, protocol: str = "sse") -> StreamSlot:
        """A slot for one more stream of ``owner``; TooManyStreams when it has ``limit``.

        Counted apart from subscriptions: a stream keeps its slot while it replays, and
        across the fresh subscriptions it takes after an overflow or a resubscribe.
        ``protocol`` (sse, websocket, graphql, grpc) names the stream for ``on_streams``.
        """
        open_now = self._streams.get(owner, 0)
        if open_now >= limit:
            raise TooManyStreams(owner, limit)
        self._streams[owner] = open_now + 1
        self.on_streams(protocol, 1)
        return StreamSlot(self, owner, protocol)

    def streams_of(self, owner: str) -> int:
        return self._streams.get(owner, 0)

    def _release(self, owner: str) -> None:
        left = self._streams.get(owner, 0) - 1
        if left > 0:
            self._streams[owner] = left
        else:
            self._streams.pop(owner, None)

    def subscribe(self, wanted: EventFilter) -> Subscription:
        """Events from now on (anything after ``last_id`` at this moment) matching ``wanted``."""
        subscription = Subscription(self, wanted, self._queue_size)
        self._subscribers.add(subscription)
        self._by_filter.setdefault(wanted, set()).add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscribers.discard(subscription)
        group = self._by_filter.get(subscription.wanted)
        if group is not None:
            group.discard(subscription)
            if not group:
                del self._by_filter[subscription.wanted]

    async def receive(self, record: EventRecord) -> None:
        """An event heard on the bus: delivered once, after any it skipped."""
        if record.id <= self.last_id:
            return
        async with self._lock:
            if record.id > self.last_id + 1:
                await self._catch_up_locked()
            if record.id == self.last_id + 1:
                self._deliver(record)

    async def catch_up(self) -> None:
        """Deliver whatever the event log holds beyond ``last_id``."""
        async with self._lock:
            await self._catch_up_locked()

    async def _catch_up_locked(self) -> None:
        while True:
            records = await self._reader.events_after(self.last_id, EVERYTHING, 1000)
            for n, record in enumerate(records, start=1):
                self._deliver(record)
                if n % 100 == 0:
                    await asyncio.sleep(0)  # let readers drain between parts of a burst
            if len(records) < 1000:
                self._synced()
                return

    def _synced(self) -> None:
        self.synced_at = asyncio.get_running_loop().time()

    def _deliver(self, record: EventRecord) -> None:
        self.last_id = record.id
        for listener in self._listeners:
            listener(record)
        for wanted, group in list(self._by_filter.items()):
            if wanted.matches(record):
                for subscription in list(group):
                    subscription.put(record)

    async def _listen(self) -> None:
        while True:
            try:
                async for record in await self._bus.listen():
                    if self.tracing is None:
                        await self.receive(record)
                        continue
                    with self.tracing.span(f"{self._bus.name} receive", kind=SpanKind.CONSUMER,
                                           parent=record.traceparent,
                                           attributes={"messaging.system": self._bus.name,
                                                       "stockline.event.id": record.id}):
                        await self.receive(record)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the log poll covers the gap; try the bus again soon
                log.warning("hub_bus_lost", bus=self._bus.name, error=str(exc))
            await asyncio.sleep(1.0)

    async def fresh(self) -> None:
        """Bring ``last_id`` up to the log's newest event when polls were skipped (nobody
        was subscribed), so that a stream opened now starts from now. Never raises: a
        stream that starts from an older point still gets every event after it."""
        if not self._stale:
            return
        try:
            async with self._lock:
                _, newest = await self._reader.event_log_bounds()
                self.last_id, self._stale = max(self.last_id, newest), False
        except Exception as exc:
            log.warning("hub_poll_failed", error=str(exc))

    async def _poll_log(self) -> None:
        """Read the log for what the bus did not bring (the node's other processes'
        events on the in-process bus, a message the bus lost), while anyone listens (a
        subscriber, or a listener such as the read cache, which also learns from each
        poll that the hub has caught up): with nobody there is nobody to deliver to
        (``fresh`` catches up then)."""
        while True:
            await asyncio.sleep(self._poll)
            if not self._subscribers and not self._listeners:
                self._stale = True
                continue
            try:
                await self.catch_up()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("hub_poll_failed", error=str(exc))
