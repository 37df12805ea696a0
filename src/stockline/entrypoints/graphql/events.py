"""Events: the log as a connection, and the live subscription (graphql-transport-ws).

Both follow the rules of ``GET /v1/events`` and the SSE stream, through the same code:
the filters are checked by ``event_filter`` and limited to what the caller may hear by
``scoped``; the page is ``log_page``; the subscription is an ``EventFeed`` (replay after
``after``, then live, no gap and no duplicate), paid for with the caller's rate limit and
ended when its credential lapses (``StreamGuard``), in one of the caller's stream slots.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Annotated, Any, NewType

import strawberry
from strawberry.scalars import JSON

from stockline.adapters.bus import EventFilter, EventRecord
from stockline.adapters.feed import Closed, EventFeed, Opened, Reset, log_page
from stockline.domain.security import EventShape, Permission
from stockline.entrypoints.graphql.context import Context, Info
from stockline.entrypoints.graphql.errors import StreamClosed
from stockline.entrypoints.graphql.paging import cursor_of, page_size
from stockline.entrypoints.http.routers.events import guard_of
from stockline.entrypoints.http.streams.scope import (
    MAX_ID,
    event_filter,
    event_id,
    open_stream,
    scoped,
)

EventId = NewType("EventId", int)  # GraphQL's Int has 32 bits; event ids have 64


def _event_id(value: Any) -> int:
    if type(value) is not int or not 0 <= value <= MAX_ID:
        raise ValueError(f"an event id is an integer from 0 to {MAX_ID}")
    return value


EVENT_ID_SCALAR = strawberry.scalar(
    name="EventId", description="An event's id: a non-negative integer (64 bits)",
    serialize=int, parse_value=_event_id)


@strawberry.type(description="A logged change, as the event stream sends it")
class Event:
    id: EventId
    type: str = strawberry.field(description="e.g. `sale.recorded`, `inventory.changed`")
    occurred_at: datetime
    location_id: str | None
    sku: str | None
    data: JSON

    @classmethod
    def of(cls, record: EventRecord, shape: EventShape) -> Event:
        return cls(id=EventId(record.id), type=record.type, occurred_at=record.occurred_at,
                   location_id=record.location_id, sku=record.sku,
                   data=shape.apply(record.type, record.data))  # type: ignore[arg-type]


@strawberry.type(description="The point asked for could not be resumed exactly (pruned, or "
                             "ahead of the log): the events go on after `resumesAfter`")
class EventReset:
    reason: str
    detail: str
    requested_after: EventId
    resumes_after: EventId

    @classmethod
    def of(cls, reset: Reset) -> EventReset:
        return cls(reason=reset.reason, detail=reset.detail,
                   requested_after=EventId(reset.requested_after),
                   resumes_after=EventId(reset.resumes_after))


@strawberry.type(description="Subscribed: every event after `after` follows")
class Subscribed:
    after: EventId


EventNotice = Annotated[Event | EventReset | Subscribed, strawberry.union("EventNotice")]


@strawberry.type(description="A page of the event log (as GET /v1/events)")
class EventEdge:
    node: Event
    cursor: str


@strawberry.type(description="A page of the event log, oldest first")
class EventConnection:
    edges: list[EventEdge]
    has_next_page: bool
    end_cursor: str | None = strawberry.field(description="Pass as `after` for the next page")
    reset: EventReset | None = strawberry.field(
        description="When `after` is older than the retention: what was skipped")


async def wanted_of(context: Context, types: list[str] | None, location_ids: list[str] | None,
                    skus: list[str] | None) -> EventFilter:
    """The filters as the REST stream checks them, limited to what the caller may hear."""
    context.principal.require(Permission.EVENTS_READ)
    wanted = await event_filter(location_id=location_ids, sku=skus, types=types)
    return scoped(context.principal, wanted)


async def event_page(info: Info, first: int | None, after: str | None, types: list[str] | None,
                     location_ids: list[str] | None, skus: list[str] | None
                     ) -> EventConnection:
    wanted = await wanted_of(info.context, types, location_ids, skus)
    start = event_id("query", "after", cursor_of(after))
    page = await log_page(info.context.container.queries, wanted, start, page_size(first))
    shape = info.context.principal.event_shape()
    edges = [EventEdge(node=Event.of(r, shape), cursor=str(r.id)) for r in page.records]
    return EventConnection(edges=edges, has_next_page=page.more,
                           end_cursor=edges[-1].cursor if page.more else None,
                           reset=EventReset.of(page.reset) if page.reset else None)


async def event_notices(info: Info, types: list[str] | None, location_ids: list[str] | None,
                        skus: list[str] | None, after: int | None
                        ) -> AsyncGenerator[EventNotice, None]:
    """The live events: first ``Subscribed``, then (after ``after``, if given, replayed from
    the log) every event; ends with an error whose code says why the server ended it."""
    context = info.context
    wanted = await wanted_of(context, types, location_ids, skus)
    container, principal = context.container, context.principal
    assert context.request is not None
    guard = guard_of(container, context.request.scope, principal)
    slot = open_stream(container.hub, principal, container.settings.max_streams_per_principal,
                       "graphql")
    feed = EventFeed(container.hub, container.queries, wanted, pay=guard.charge)
    watch = asyncio.create_task(_end_when_lapsed(feed, guard.lapsed))
    shape = principal.event_shape()
    items = feed.items(after, idle=container.settings.stream_heartbeat_seconds)
    try:
        async with contextlib.aclosing(items):
            async for item in items:
                match item:
                    case list():
                        for record in item:
                            yield Event.of(record, shape)
                    case Opened(after=start):
                        yield Subscribed(after=EventId(start))
                    case Reset():
                        yield EventReset.of(item)
                    case Closed():
                        raise StreamClosed(item.reason, item.code, item.last_id,
                                           item.retry_after)
    finally:
        watch.cancel()
        slot.release()


async def _end_when_lapsed(feed: EventFeed, lapsed: Any) -> None:
    feed.end(await lapsed())
