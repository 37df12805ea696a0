"""Events: the log as a list, and live streams (Server-Sent Events, WebSocket) with resume.

The feed itself (replay, then live, no gap, no duplicate) is ``adapters.feed``; this
module frames it as SSE or WebSocket messages and parses filters.

Every stream and page is limited to what its caller may hear (``scoped``): the locations
of its ``events:read`` scope (plus events of no location, such as ``product.changed``),
and the event types whose objects its role may read (a partner: availability and the
catalog). A filter asking for more is a 403. Each caller may have at most
``max_streams_per_principal`` streams (SSE or WebSocket) open on one node at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import re
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from functools import partial
from typing import Annotated, Any

import anyio
import orjson
import structlog
from fastapi import APIRouter, Depends, Header, Query, WebSocket
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError, WithJsonSchema
from pydantic.json_schema import SkipJsonSchema
from sse_starlette import EventSourceResponse
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from stockline.adapters.bus import EventFilter
from stockline.adapters.feed import (
    Closed,
    EventFeed,
    FeedItem,
    Idle,
    Opened,
    Reset,
    reset_for,
)
from stockline.adapters.hub import SHUTDOWN, EventHub, StreamSlot, TooManyStreams
from stockline.adapters.queries.events import EventQueries
from stockline.domain.errors import Forbidden
from stockline.domain.security import Permission, Principal
from stockline.domain.values import CODE_PATTERN
from stockline.entrypoints.http.auth import PrincipalDep, SocketPrincipalDep
from stockline.entrypoints.http.deps import ContainerDep, Cursor, Limit
from stockline.entrypoints.http.errors import RATE_LIMITED, ProblemError, problem_response
from stockline.entrypoints.http.schemas.common import problems
from stockline.entrypoints.http.schemas.events import (
    ClientMessage,
    EventPage,
    EventType,
    SubscribeMessage,
)

router = APIRouter(prefix="/v1/events", tags=["events"])
log = structlog.get_logger("stockline.events")

MAX_FILTER_VALUES = 100
MAX_ID = 2**63 - 1
STREAM_RETRY_AFTER = "10"  # seconds: streams last long, a slot frees when one ends
SHUTDOWN_GRACE_SECONDS = 2.0  # for a stream to send its close event when the server stops
_CODE = re.compile(CODE_PATTERN)
_TYPES = frozenset(t.value for t in EventType)


def _listed(one: str) -> str:
    """A pattern for what _split takes: comma-separated values of ``one``, blanks allowed,
    at most MAX_FILTER_VALUES of them."""
    return rf"^\s*({one})?\s*(,\s*({one})?\s*){{0,{MAX_FILTER_VALUES - 1}}}$"


# What the filters take, declared item by item (the checks themselves are below).
CodeList = Annotated[str, WithJsonSchema({"type": "string", "pattern": _listed(
    CODE_PATTERN.strip("^$"))})]
TypeList = Annotated[str, WithJsonSchema({"type": "string", "pattern": _listed(
    "|".join(re.escape(t) for t in sorted(_TYPES)))})]

# Who may hear an event: whoever may read the object it is about.
EVENT_READS: Mapping[EventType, Permission] = {
    EventType.INVENTORY_CHANGED: Permission.INVENTORY_READ,
    EventType.INVENTORY_LOW_STOCK: Permission.INVENTORY_READ,
    EventType.SALE_RECORDED: Permission.SALES_READ,
    EventType.SALE_RETURNED: Permission.SALES_READ,
    EventType.TRANSFER_SHIPPED: Permission.TRANSFERS_READ,
    EventType.TRANSFER_RECEIVED: Permission.TRANSFERS_READ,
    EventType.TRANSFER_CANCELLED: Permission.TRANSFERS_READ,
    EventType.RESERVATION_CREATED: Permission.RESERVATIONS_READ,
    EventType.RESERVATION_COMMITTED: Permission.RESERVATIONS_READ,
    EventType.RESERVATION_RELEASED: Permission.RESERVATIONS_READ,
    EventType.RESERVATION_EXPIRED: Permission.RESERVATIONS_READ,
    EventType.PRODUCT_CHANGED: Permission.CATALOG_READ,
}


def _split(given: list[str] | None) -> list[str]:
    """Repeated and/or comma-separated values."""
    return [v.strip() for item in given or [] for v in item.split(",") if v.strip()]


def _refuse(name: str, message: str) -> RequestValidationError:
    return RequestValidationError([{"loc": ("query", name), "msg": message,
                                    "type": "value_error"}])


def _codes(name: str, given: list[str] | None) -> frozenset[str] | None:
    values = _split(given)
    if wrong := [v for v in values if not _CODE.fullmatch(v)]:
        raise _refuse(name, f"not a code (1-64 of A-Z a-z 0-9 - _ .): {', '.join(wrong[:5])}")
    if len(given or ()) > MAX_FILTER_VALUES or any(
            len(_split([item])) > MAX_FILTER_VALUES for item in given or ()):
        raise _refuse(name, f"at most {MAX_FILTER_VALUES} values in one parameter, and the "
                            f"parameter at most {MAX_FILTER_VALUES} times")
    return frozenset(values) or None


def _types(given: list[str] | None) -> frozenset[str] | None:
    values = frozenset(_split(given))
    if wrong := values - _TYPES:
        raise _refuse("types", f"unknown event types: {', '.join(sorted(wrong)[:5])} "
                               f"(known: {', '.join(sorted(_TYPES))})")
    return values or None


async def event_filter(
    location_id: Annotated[list[CodeList] | None, Query(
        max_length=MAX_FILTER_VALUES,
        description="Only events of these locations (repeat, or separate with commas)")] = None,
    sku: Annotated[list[CodeList] | None, Query(
        max_length=MAX_FILTER_VALUES,
        description="Only events of these SKUs (repeat, or separate with commas)")] = None,
    types: Annotated[list[TypeList] | None, Query(
        description="Only these event types (repeat, or separate with commas), e.g. "
                    "`types=sale.recorded,inventory.low_stock`")] = None,
) -> EventFilter:
    return EventFilter(location_ids=_codes("location_id", location_id),
                       skus=_codes("sku", sku), types=_types(types))


def audible_types(principal: Principal) -> frozenset[str]:
    """The event types whose objects the caller's role may read."""
    return frozenset(t.value for t, needed in EVENT_READS.items() if principal.may(needed))


def scoped(principal: Principal, wanted: EventFilter) -> EventFilter:
    """``wanted`` limited to what the caller may hear; Forbidden when it asks for more.

    Without a location filter, a caller limited to some locations hears theirs and the
    events of no location; without a type filter, the types its role may read.
    """
    location_ids, unlocated = wanted.location_ids, wanted.include_unlocated
    visible = principal.visible(Permission.EVENTS_READ)
    if visible is not None:
        if location_ids is None:
            location_ids, unlocated = visible, True
        elif outside := sorted(location_ids - visible):
            raise Forbidden(f"events are limited to this key's locations; "
                            f"{', '.join(outside[:5])} is not one of them")
    types, audible = wanted.types, audible_types(principal)
    if types is None:
        types = None if audible == _TYPES else audible
    elif unheard := sorted(types - audible):
        raise Forbidden(f"the {principal.role.value} role may not hear {', '.join(unheard)}")
    return dataclasses.replace(wanted, location_ids=location_ids, types=types,
                               include_unlocated=unlocated)


def open_stream(hub: EventHub, principal: Principal, limit: int) -> StreamSlot:
    """A slot for one more stream of the caller on this node (429 beyond ``limit``)."""
    try:
        return hub.open_stream(principal.id, limit)
    except TooManyStreams as exc:
        raise ProblemError(RATE_LIMITED, f"{exc}; close one or retry later",
                           {"Retry-After": STREAM_RETRY_AFTER}) from exc


FilterDep = Annotated[EventFilter, Depends(event_filter)]
After = Annotated[int | None, Query(ge=0, le=MAX_ID, description=(
    "Start after this event id (replays every stored matching event after it)"))]


def _event_id(location: str, name: str, value: str | None) -> int | None:
    if value is None or not value.strip():  # an empty Last-Event-ID: no point given
        return None
    value = value.strip()
    if not value.isascii() or not value.isdigit() or int(value) > MAX_ID:
        raise RequestValidationError([{"loc": (location, name), "type": "int_parsing",
                                       "msg": "must be an event id (a non-negative integer)"}])
    return int(value)


# -- the list -------------------------------------------------------------------------------

@router.get("", response_model=EventPage, responses=problems(),
            summary="The event log, oldest first",
            description="Pages of the log the streams serve: `?after=<id>` (or the previous "
                        "page's `next_cursor` as `?cursor=`), filters as the stream. When "
                        "`after` is older than the retention, the page starts at the oldest "
                        "event kept and `reset` says what was skipped (as the stream's "
                        "`reset` event does); it is null otherwise. A key limited to some "
                        "locations gets their events and those of no location; filters "
                        "asking for other locations, or for types its role may not read, "
                        "are a 403.")
async def list_events(container: ContainerDep, principal: PrincipalDep, wanted: FilterDep,
                      after: After = None, cursor: Cursor = None,
                      limit: Limit = 50) -> Response:
    wanted = scoped(principal, wanted)
    from_cursor = _event_id("query", "cursor", cursor)
    if after is not None and from_cursor is not None and after != from_cursor:
        raise RequestValidationError([{"loc": ("query", "cursor"), "type": "value_error",
                                       "msg": "give after or cursor, not two different points"}])
    start = after if after is not None else from_cursor
    reset = None
    if start is not None:
        reset = reset_for(start, *await container.queries.event_log_bounds())
    position = (start or 0) if reset is None else reset.resumes_after
    records = await container.queries.events_after(position, wanted, limit + 1)
    more = len(records) > limit
    records = records[:limit]
    body = b"".join((b'{"items":[', b",".join(r.to_json() for r in records),
                     b'],"next_cursor":',
                     orjson.dumps(str(records[-1].id) if more else None),
                     b',"reset":', orjson.dumps(reset.body() if reset else None), b"}"))
    return Response(body, media_type="application/json")


# -- Server-Sent Events ---------------------------------------------------------------------

class EventStreamResponse(EventSourceResponse):
    """sse-starlette's response: a client that has stopped reading is dropped once one
    write has waited longer than ``send_timeout`` (the stream ends; nothing more is
    buffered). The caller's stream slot is given back when the stream ends (or, should the
    response never be sent, when it is collected). When the server stops (SIGTERM),
    ``on_shutdown`` runs: the feed ends with a ``close`` event (``server_shutdown``) within
    the grace period.

    The stalled write is found by one watchdog per stream that looks every ``send_timeout``
    seconds, not by sse-starlette's cancel scope around every write: with a thousand
    streams written to for every round of events, those scopes cost a tenth of the work.
    A write is dropped after between one and two ``send_timeout``s.
    """

    media_type = "text/event-stream"

    def __init__(self, content: AsyncIterator[bytes], *, slot: StreamSlot | None = None,
                 on_shutdown: Callable[[], None] | None = None,
                 send_timeout: float | None = None, **kwargs: Any) -> None:
        self._stopping = anyio.Event()
        super().__init__(content, shutdown_event=self._stopping,
                         shutdown_grace_period=SHUTDOWN_GRACE_SECONDS, **kwargs)
        self._slot, self._on_shutdown = slot, on_shutdown
        self._stall_limit = send_timeout
        self._writes_begun, self._writing, self._stalled = 0, False, False
        if slot is not None:
            weakref.finalize(self, slot.release)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        task = asyncio.current_task()
        watchers = []
        if self._on_shutdown is not None:
            watchers.append(asyncio.create_task(self._end_on_shutdown()))
        if self._stall_limit is not None and task is not None:
            watchers.append(asyncio.create_task(self._drop_when_stalled(task,
                                                                        self._stall_limit)))
        try:
            await super().__call__(scope, receive, send)
        except asyncio.CancelledError:
            if not self._stalled or task is None:
                raise
            task.uncancel()
            log.info("event_stream_dropped", reason="the client stopped reading")
        finally:
            for watcher in watchers:
                watcher.cancel()
            if self._slot is not None:
                self._slot.release()

    async def _send_with_timeout(self, send: Send, message: Message) -> None:
        """Every write of the stream (overrides sse-starlette's, which wraps each in a
        cancel scope): ``_drop_when_stalled`` watches them instead."""
        self._writes_begun += 1
        self._writing = True
        try:
            await send(message)
        finally:
            self._writing = False

    async def _drop_when_stalled(self, task: asyncio.Task[Any], limit: float) -> None:
        while True:
            begun, busy = self._writes_begun, self._writing
            await asyncio.sleep(limit)
            if busy and self._writing and self._writes_begun == begun:  # the same write
                self._stalled = True
                task.cancel()
                return

    async def _end_on_shutdown(self) -> None:
        await self._stopping.wait()
        if self._on_shutdown is not None:
            self._on_shutdown()


async def _sse_frames(items: AsyncGenerator[FeedItem, None]) -> AsyncIterator[bytes]:
    async with contextlib.aclosing(items):
        async for item in items:
            match item:
                case list():
                    yield (item[0].to_sse() if len(item) == 1
                           else b"".join([r.to_sse() for r in item]))
                case Idle():
                    yield b": heartbeat\n\n"
                case Opened(after=after):
                    yield b": subscribed after %d\n\n" % after
                case Reset():
                    yield b"id: %d\nevent: reset\ndata: %s\n\n" % (item.resumes_after,
                                                                  orjson.dumps(item.body()))
                case Closed():
                    yield b"event: close\ndata: %s\n\n" % orjson.dumps(item.body())
                    return


STREAM_DESCRIPTION = """\
Server-Sent Events of every logged change. Each change is an unnamed SSE event (type
`message`) whose `id:` is the event id and whose `data:` is the event as JSON
(`{"id", "type", "occurred_at", "location_id", "sku", "data"}`).

Resume: reconnect with `Last-Event-ID` (browsers send it by themselves) or `?after=<id>`;
`Last-Event-ID` wins when both are sent, since a browser repeats the first URL. Every
stored matching event after that id is replayed first, then the stream goes on live, with
no gap and no duplicate. Without either, the stream starts with the next change.

Control events: `reset` (`{reason, detail, requested_after, resumes_after}`, its `id:` is
`resumes_after`) when the point was pruned by retention (`pruned`) or is beyond the newest
event (`ahead_of_log`): the stream goes on after `resumes_after`. `close`
(`{code, reason, last_id}`) just before the server ends the stream, e.g. `slow_consumer`
when the client fell too far behind: reconnect with `Last-Event-ID` to resume. (Not named
`error`: that name is EventSource's own connection-failure event.)

A comment (`: heartbeat`) is sent after every idle interval (15 s by default).

A key limited to some locations hears their events and those of no location (e.g.
`product.changed`); a partner hears availability and catalog events only. A filter asking
for another location, or a type the key's role may not read, is a 403. At most
`max_streams_per_principal` streams (SSE and WebSocket together, 20 by default) may be
open per key on one server: one more is a 429 `rate_limited` with `Retry-After`.

The same stream over WebSocket is `GET /v1/events/ws` (OpenAPI cannot describe it): send
`{"action": "subscribe", "location_id": [...], "sku": [...], "types": [...], "after": N}`
(every field optional) to start or replace the subscription, `{"action": "unsubscribe"}`
to stop it; the server sends `{"type": "subscribed", ...}`, `{"type": "event", "event":
{...}}`, `{"type": "reset", ...}`, `{"type": "unsubscribed"}` and `{"type": "error", "code",
"reason"}`. The key may also come as `?api_key=` there, since browsers cannot set headers on
a WebSocket."""


# Before OpenAPI 3.2, the schema of text/event-stream describes each event, as parsed.
SSE_EVENT = {"type": "object", "properties": {
    "id": {"type": "string", "pattern": "^[0-9]+$"}, "event": {"type": "string"},
    "data": {"type": "string"}, "retry": {"type": "integer", "minimum": 0}}}
# What _event_id takes: blank (no point given) or an id up to MAX_ID (19 digits may pass it).
LAST_EVENT_ID_PATTERN = r"^\s*([0-9]{1,18})?\s*$"


@router.get("/stream", status_code=200, response_model=None,
            response_class=EventStreamResponse,
            summary="Live events (Server-Sent Events)", description=STREAM_DESCRIPTION,
            responses={200: {"content": {"text/event-stream": {"schema": SSE_EVENT}},
                             "description": "An endless event stream"}, **problems()})
async def stream_events(
    container: ContainerDep, principal: PrincipalDep, wanted: FilterDep, after: After = None,
    last_event_id: Annotated[str | SkipJsonSchema[None], Header(
        alias="Last-Event-ID", description="The last id received; wins over ?after=",
        json_schema_extra={"pattern": LAST_EVENT_ID_PATTERN})] = None,
) -> EventSourceResponse:
    resume = _event_id("header", "Last-Event-ID", last_event_id)
    start = resume if resume is not None else after
    wanted = scoped(principal, wanted)
    heartbeat = container.settings.stream_heartbeat_seconds
    slot = open_stream(container.hub, principal, container.settings.max_streams_per_principal)
    feed = EventFeed(container.hub, container.queries, wanted)
    return EventStreamResponse(_sse_frames(feed.items(start, idle=heartbeat)), ping=0,
                               sep="\n", send_timeout=max(30.0, 2 * heartbeat), slot=slot,
                               on_shutdown=partial(feed.end, SHUTDOWN))


# -- WebSocket ------------------------------------------------------------------------------

class EventSocket:
    """One WebSocket: client messages set or drop the subscription; a pump task sends what
    the feed yields. A client too slow for the feed gets an error and the socket closes."""

    def __init__(self, websocket: WebSocket, hub: EventHub, log_reader: EventQueries,
                 heartbeat: float, principal: Principal) -> None:
        self._ws, self._hub, self._log, self._heartbeat = websocket, hub, log_reader, heartbeat
        self._principal = principal
        self._send_timeout = max(30.0, 2 * heartbeat)
        self._lock = asyncio.Lock()
        self._done = asyncio.Event()
        self._pump: asyncio.Task[None] | None = None

    async def serve(self) -> None:
        reader = asyncio.create_task(self._read())
        try:
            await self._done.wait()
        finally:
            reader.cancel()
            await self._stop_pump()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader

    async def _read(self) -> None:
        try:
            while True:
                message = await self._ws.receive()
                if message["type"] == "websocket.disconnect":
                    return
                await self._handle(message.get("text") or message.get("bytes") or b"")
        except Exception as exc:  # a broken socket ends the session, nothing else
            log.debug("event_socket_read_failed", error=str(exc))
        finally:
            self._done.set()

    async def _handle(self, raw: str | bytes) -> None:
        try:
            message = ClientMessage.validate_json(raw)
        except ValidationError as exc:
            await self._send({"type": "error", "code": "invalid_message",
                              "reason": "invalid_message: send {\"action\": \"subscribe\", ...}"
                                        " or {\"action\": \"unsubscribe\"}",
                              "errors": [{"field": ".".join(map(str, e["loc"])) or "message",
                                          "message": e["msg"]} for e in exc.errors()]})
            return
        await self._stop_pump()
        if not isinstance(message, SubscribeMessage):
            await self._send({"type": "unsubscribed"})
            return
        try:
            wanted = scoped(self._principal, _wanted(message))
        except Forbidden as refused:  # the old subscription is gone; the socket stays open
            await self._send({"type": "error", "code": "forbidden", "reason": str(refused)})
            return
        self._pump = asyncio.create_task(self._run(message, wanted))

    async def _stop_pump(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._pump
            self._pump = None

    async def _run(self, message: SubscribeMessage, wanted: EventFilter) -> None:
        asked = _wanted(message)
        filters = {"location_id": sorted(asked.location_ids or []) or None,
                   "sku": sorted(asked.skus or []) or None,
                   "types": sorted(asked.types or []) or None}
        items = EventFeed(self._hub, self._log, wanted).items(message.after,
                                                              idle=self._heartbeat)
        try:
            async with contextlib.aclosing(items):
                async for item in items:
                    match item:
                        case list():
                            for record in item:
                                await self._send_raw(
                                    b'{"type":"event","event":' + record.to_json() + b"}")
                        case Opened(after=after):
                            await self._send({"type": "subscribed", **filters, "after": after})
                        case Reset():
                            await self._send({"type": "reset", **item.body()})
                        case Closed():
                            await self._send({"type": "error", **item.body()})
                            async with asyncio.timeout(self._send_timeout):
                                await self._ws.close(1013, item.reason[:120])
                            self._done.set()
                            return
        except Exception as exc:  # the socket broke or stopped taking data: end the session
            log.debug("event_socket_send_failed", error=repr(exc))
            self._done.set()

    async def _send(self, message: dict[str, Any]) -> None:
        await self._send_raw(orjson.dumps(message))

    async def _send_raw(self, text: bytes) -> None:
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow the
        # cancellation of an unsubscribe that lands as the send completes.
        async with self._lock, asyncio.timeout(self._send_timeout):
            await self._ws.send_text(text.decode())


def _wanted(message: SubscribeMessage) -> EventFilter:
    """The filter a subscribe message asks for (empty lists: no filter)."""
    def values(given: list[str] | list[EventType] | None) -> frozenset[str] | None:
        return frozenset(given) if given else None

    return EventFilter(location_ids=values(message.location_id), skus=values(message.sku),
                       types=values(message.types))


@router.websocket("/ws", name="event_socket")
async def event_socket(websocket: WebSocket, principal: SocketPrincipalDep) -> None:
    """The stream over WebSocket. Send ``{"action": "subscribe", "location_id": [...],
    "sku": [...], "types": [...], "after": N}`` (every field optional) to start or replace
    the subscription, ``{"action": "unsubscribe"}`` to stop it. The server sends
    ``{"type": "subscribed", ..., "after"}``, ``{"type": "event", "event": {...}}``,
    ``{"type": "reset", ...}``, ``{"type": "unsubscribed"}`` and ``{"type": "error",
    "code", "reason", ...}``; after an error with code ``slow_consumer`` the socket closes
    (1013): subscribe again with ``after`` set to the last id received. A subscription
    asking for more than the key may hear gets ``{"type": "error", "code": "forbidden"}``.
    A key with ``max_streams_per_principal`` streams open is refused at the handshake: a
    429 problem where the server can answer a handshake with one, else a close (1013)."""
    container = websocket.app.state.container
    try:
        slot = open_stream(container.hub, principal,
                           container.settings.max_streams_per_principal)
    except ProblemError as refused:
        await _deny(websocket, refused)
        return
    try:
        await websocket.accept()
        await EventSocket(websocket, container.hub, container.queries,
                          container.settings.stream_heartbeat_seconds, principal).serve()
    finally:
        slot.release()


async def _deny(websocket: WebSocket, refused: ProblemError) -> None:
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(
            problem_response(refused.code, refused.detail, refused.headers))
    else:
        await websocket.close(1013, f"{refused.code.code}: too many streams")
