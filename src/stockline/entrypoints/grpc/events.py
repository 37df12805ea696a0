"""``stockline.v1.Events``: the event feed of the SSE stream, as protocol buffers.

The same feed (``adapters.feed``: replay after ``after``, then live, each id once), the
same scope and filters (``streams.scope.scoped``: a filter asking for more than the
caller may hear is PERMISSION_DENIED), the same limits (streams per caller, replay pages
paid from the rate limit) and the same ends (``closed``: slow consumer, shutdown, a
credential revoked or expired, checked again by ``StreamGuard`` while the stream lasts).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any

import orjson
import structlog
from google.protobuf import json_format

from stockline.adapters.bus import EventFilter, EventRecord
from stockline.adapters.feed import Closed, EventFeed, FeedItem, Idle, Opened, Reset
from stockline.adapters.hub import SHUTDOWN, TooManyStreams
from stockline.bootstrap import Container
from stockline.domain.security import EventShape
from stockline.entrypoints.grpc.calls import Call, Service, rpc
from stockline.entrypoints.grpc.convert import code
from stockline.entrypoints.grpc.status import S, invalid, retry_later
from stockline.entrypoints.grpc.v1 import events_pb2 as pb
from stockline.entrypoints.grpc.v1 import events_pb2_grpc
from stockline.entrypoints.http.metrics import Metrics
from stockline.entrypoints.http.permissions import ROUTES
from stockline.entrypoints.http.schemas.events import EventType
from stockline.entrypoints.http.streams.guard import StreamGuard
from stockline.entrypoints.http.streams.scope import (
    MAX_FILTER_VALUES,
    MAX_ID,
    STREAM_RETRY_AFTER,
    scoped,
)

log = structlog.get_logger("stockline.grpc")
TYPES = frozenset(t.value for t in EventType)
HEARTBEAT = pb.WatchEventsResponse(heartbeat=pb.Heartbeat())


class WriteStalled(Exception):
    """The client stopped reading: one message waited longer than the stream allows."""


def wanted_of(request: pb.WatchEventsRequest) -> EventFilter:
    """The filters asked for, checked as the SSE stream's query string is."""
    for name in ("location_ids", "skus", "types"):
        if len(getattr(request, name)) > MAX_FILTER_VALUES:
            raise invalid(name, f"at most {MAX_FILTER_VALUES} values")
    locations = frozenset(code(v, "location_ids") for v in request.location_ids)
    skus = frozenset(code(v, "skus") for v in request.skus)
    if unknown := sorted(set(request.types) - TYPES):
        raise invalid("types", f"unknown event types: {', '.join(unknown[:5])} "
                               f"(known: {', '.join(sorted(TYPES))})")
    return EventFilter(location_ids=locations or None, skus=skus or None,
                       types=frozenset(request.types) or None)


def event_message(record: EventRecord, shape: EventShape) -> pb.WatchEventsResponse:
    """The event as the caller may hear it (the shape REST and SSE give it)."""
    body = orjson.loads(record.shaped(shape)[0])
    shown = {k: v for k, v in body.items() if v is not None}
    return pb.WatchEventsResponse(event=json_format.ParseDict(shown, pb.Event()))


def messages_of(item: FeedItem, shape: EventShape) -> Iterable[pb.WatchEventsResponse]:
    match item:
        case list():
            return [event_message(record, shape) for record in item]
        case Idle():
            return [HEARTBEAT]
        case Opened(after=after):
            return [pb.WatchEventsResponse(subscribed=pb.Subscribed(after=after))]
        case Reset():
            return [pb.WatchEventsResponse(reset=pb.Reset(**item.body()))]
        case Closed():
            return [pb.WatchEventsResponse(closed=pb.Closed(
                code=item.code, reason=item.reason, last_id=item.last_id,
                retry_after=item.retry_after))]
    raise AssertionError(f"not a feed item: {item!r}")


class EventsService(Service, events_pb2_grpc.EventsServicer):
    NAME = pb.DESCRIPTOR.services_by_name["Events"].full_name

    def __init__(self, container: Container, metrics: Metrics | None = None) -> None:
        super().__init__(container, metrics)
        self._open: set[EventFeed] = set()

    def shut_down(self) -> None:
        """End every open stream with ``closed`` (server_shutdown): resume elsewhere."""
        for feed in list(self._open):
            feed.end(SHUTDOWN)

    @rpc(ROUTES[("GET", "/v1/events/stream")])
    async def WatchEvents(self, request: pb.WatchEventsRequest, call: Call) -> None:
        after = request.after if request.HasField("after") else None
        if after is not None and after > MAX_ID:
            raise invalid("after", f"must be an event id (up to {MAX_ID})")
        wanted = scoped(call.principal, wanted_of(request))
        container, settings = self.container, self.container.settings
        try:
            slot = container.hub.open_stream(call.principal.id,
                                             settings.max_streams_per_principal, "grpc")
        except TooManyStreams as exc:
            raise retry_later(S.RESOURCE_EXHAUSTED, f"{exc}; close one or retry later",
                              "rate_limited", int(STREAM_RETRY_AFTER)) from None
        guard = StreamGuard(container.authenticator, container.limiter, call.credential,
                            call.principal, key_cache_seconds=settings.key_cache_seconds)
        feed = EventFeed(container.hub, container.queries, wanted, pay=guard.charge)
        self._open.add(feed)
        lapse = asyncio.create_task(self._end_when_lapsed(feed, guard))
        try:
            await self._send(feed, after, call)
        except WriteStalled:
            log.info("event_stream_dropped", reason="the client stopped reading")
        finally:
            self._open.discard(feed)
            lapse.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await lapse
            slot.release()

    async def _send(self, feed: EventFeed, after: int | None, call: Call) -> None:
        heartbeat = self.container.settings.stream_heartbeat_seconds
        stall = max(30.0, 2 * heartbeat)  # as the SSE stream drops a stalled client
        shape = call.principal.event_shape()
        items = feed.items(after, idle=heartbeat)
        async with contextlib.aclosing(items):
            async for item in items:
                for message in messages_of(item, shape):
                    await _write(call.context, message, stall)

    @staticmethod
    async def _end_when_lapsed(feed: EventFeed, guard: StreamGuard) -> None:
        feed.end(await guard.lapsed())


async def _write(context: Any, message: pb.WatchEventsResponse, within: float) -> None:
    try:
        await asyncio.wait_for(context.write(message), within)
    except TimeoutError:
        raise WriteStalled from None
