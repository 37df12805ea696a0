"""Events: the log as a list, and live streams (Server-Sent Events, WebSocket) with resume.

The feed itself (replay, then live, no gap, no duplicate) is ``adapters.feed``; the
streams package frames it as SSE (``streams.sse``) or WebSocket messages
(``streams.socket``), limits it to what the caller may hear (``streams.scope``), and
ends it when the caller's credential lapses or its replay goes over the caller's rate
limit (``streams.guard``).
"""

from __future__ import annotations

import functools
from typing import Annotated

import orjson
from fastapi import APIRouter, Header, Query, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from pydantic.json_schema import SkipJsonSchema
from starlette.responses import Response
from starlette.types import Scope

from stockline.adapters.bus.base import json_encoder
from stockline.adapters.feed import EventFeed, log_page
from stockline.bootstrap import Container
from stockline.domain.security import Principal
from stockline.entrypoints.http.auth import PrincipalDep, SocketPrincipalDep, stream_credential
from stockline.entrypoints.http.consistency import REPLICA_READ
from stockline.entrypoints.http.deps import ContainerDep, Cursor, Limit
from stockline.entrypoints.http.errors import ProblemError
from stockline.entrypoints.http.schemas.common import problems
from stockline.entrypoints.http.schemas.events import EventPage, TicketOut
from stockline.entrypoints.http.session import session_of
from stockline.entrypoints.http.streams.guard import StreamGuard
from stockline.entrypoints.http.streams.scope import (
    LAST_EVENT_ID_PATTERN,
    After,
    FilterDep,
    event_id,
    open_stream,
    scoped,
)
from stockline.entrypoints.http.streams.socket import EventSocket, deny
from stockline.entrypoints.http.streams.sse import SSE_EVENT, EventStreamResponse, sse_frames

router = APIRouter(prefix="/v1/events", tags=["events"])


# -- the list -------------------------------------------------------------------------------

@router.get("", dependencies=[REPLICA_READ],
            response_model=EventPage, responses=problems(),
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
    from_cursor = event_id("query", "cursor", cursor)
    if after is not None and from_cursor is not None and after != from_cursor:
        raise RequestValidationError([{"loc": ("query", "cursor"), "type": "value_error",
                                       "msg": "give after or cursor, not two different points"}])
    start = after if after is not None else from_cursor
    page = await log_page(container.queries, wanted, start, limit)
    records, more, reset = page.records, page.more, page.reset
    encode = json_encoder(principal.event_shape())
    body = b"".join((b'{"items":[', b",".join(encode(r) for r in records),
                     b'],"next_cursor":',
                     orjson.dumps(str(records[-1].id) if more else None),
                     b',"reset":', orjson.dumps(reset.body() if reset else None), b"}"))
    return Response(body, media_type="application/json")




def guard_of(container: Container, scope: Scope, principal: Principal) -> StreamGuard:
    session = session_of(scope)
    return StreamGuard(container.authenticator, container.limiter, stream_credential(scope),
                       principal, key_cache_seconds=container.settings.key_cache_seconds,
                       session_alive=None if session is None
                       else functools.partial(container.sessions.store.alive, session))


# -- tickets --------------------------------------------------------------------------------

# Read by the authentication middleware; declared here for the document (and the clients).
Ticket = Annotated[str | SkipJsonSchema[None], Query(
    max_length=100, description="A ticket from `POST /v1/events/tickets`, in place of a "
    "key or token (single-use: for a browser's EventSource, which cannot send headers)")]


@router.post("/tickets", status_code=201, response_model=TicketOut, responses=problems(403),
             summary="A single-use ticket to open an event stream from a browser",
             description="A ticket that opens one stream (`GET /v1/events/stream?ticket=` or "
                         "`/v1/events/ws?ticket=`) in place of this request's key or token, "
                         "so that no long-lived credential goes in a URL. It carries the "
                         "caller's role and locations, is spent by the first request that "
                         "presents it (whatever the answer), and expires after `expires_in` "
                         "seconds. Its stream ends when the caller's key is revoked or "
                         "expires, as a stream opened with the key would. Any node sharing "
                         "the database accepts it.")
async def create_stream_ticket(container: ContainerDep, principal: PrincipalDep) -> TicketOut:
    issued = await container.tickets.issue(principal)
    return TicketOut(ticket=issued.ticket, expires_in=issued.expires_in)


# -- Server-Sent Events ---------------------------------------------------------------------

STREAM_DESCRIPTION = """\
Server-Sent Events of every logged change. Each change is an SSE event named by its type
(`event: sale.recorded`: listen with `addEventListener('sale.recorded', ...)`) whose `id:`
is the event id and whose `data:` is the event as JSON (`{"id", "type", "occurred_at",
"location_id", "sku", "data"}`).

From a browser: `EventSource` cannot send a key, so get a ticket first (`POST
/v1/events/tickets` with the key) and open `/v1/events/stream?ticket=<ticket>`. A ticket
opens one stream: to reconnect, get a new one and open the stream again with
`?after=<last id received>` (a new EventSource sends no `Last-Event-ID`).

Resume: reconnect with `Last-Event-ID` (browsers send it by themselves) or `?after=<id>`;
`Last-Event-ID` wins when both are sent, since a browser repeats the first URL. Every
stored matching event after that id is replayed first, then the stream goes on live, with
no gap and no duplicate. Without either, the stream starts with the next change. A replay
costs what reading it from `GET /v1/events` would: the request pays for the first 500
events, each further 500 take one more token of the key's rate limit.

Control events: `reset` (`{reason, detail, requested_after, resumes_after}`, its `id:` is
`resumes_after`) when the point was pruned by retention (`pruned`) or is beyond the newest
event (`ahead_of_log`): the stream goes on after `resumes_after`. `close`
(`{code, reason, last_id}`) just before the server ends the stream, with `code`:
`slow_consumer` (the client fell too far behind), `server_shutdown`, `unavailable`:
reconnect with `Last-Event-ID` to resume; `rate_limited` (a replay over the key's rate
limit; `retry_after` seconds, also sent as the SSE `retry:`): resume later;
`credential_revoked` or `credential_expired` (the key or token is no longer accepted,
checked again at least every `STOCKLINE_KEY_CACHE_SECONDS` and at its expiry): reconnect
with a valid one. (Not named `error`: that name is EventSource's own connection-failure
event.)

A comment (`: heartbeat`) is sent after every idle interval (15 s by default).

A key limited to some locations hears their events and those of no location (e.g.
`product.changed`); a partner hears availability and catalog events only, and of
`inventory.changed` the level, not the movement (`delta`, `cause`, `reference`), which
takes `ledger:read`. A filter asking for another location, or a type the key's role may
not read, is a 403. At most `max_streams_per_principal` streams (SSE and WebSocket
together, 20 by default) may be open per key on one server: one more is a 429
`rate_limited` with `Retry-After`.

The same stream over WebSocket is `GET /v1/events/ws` (OpenAPI cannot describe it): send
`{"action": "subscribe", "location_id": [...], "sku": [...], "types": [...], "after": N}`
(every field optional) to start or replace the subscription, `{"action": "unsubscribe"}`
to stop it; the server sends `{"type": "subscribed", ...}`, `{"type": "event", "event":
{...}}`, `{"type": "reset", ...}`, `{"type": "unsubscribed"}` and `{"type": "error", "code",
"reason"}`. Every message takes a token of the key's rate limit and checks its credential
again. The key may also come as `?api_key=` there, or a ticket as `?ticket=`, since
browsers cannot set headers on a WebSocket."""


@router.get("/stream", status_code=200, response_model=None,
            response_class=EventStreamResponse,
            summary="Live events (Server-Sent Events)", description=STREAM_DESCRIPTION,
            responses={200: {"content": {"text/event-stream": {"schema": SSE_EVENT}},
                             "description": "An endless event stream"}, **problems()})
async def stream_events(
    request: Request, container: ContainerDep, principal: PrincipalDep, wanted: FilterDep,
    after: After = None, ticket: Ticket = None,
    last_event_id: Annotated[str | SkipJsonSchema[None], Header(
        alias="Last-Event-ID", description="The last id received; wins over ?after=",
        json_schema_extra={"pattern": LAST_EVENT_ID_PATTERN})] = None,
) -> EventStreamResponse:
    resume = event_id("header", "Last-Event-ID", last_event_id)
    start = resume if resume is not None else after
    wanted = scoped(principal, wanted)
    guard = guard_of(container, request.scope, principal)
    heartbeat = container.settings.stream_heartbeat_seconds
    slot = open_stream(container.hub, principal, container.settings.max_streams_per_principal)
    feed = EventFeed(container.hub, container.queries, wanted, pay=guard.charge)
    return EventStreamResponse(sse_frames(feed.items(start, idle=heartbeat),
                                          principal.event_shape()),
                               ping=0, sep="\n", send_timeout=max(30.0, 2 * heartbeat),
                               slot=slot, end=feed.end, lapsed=guard.lapsed)


# -- WebSocket ------------------------------------------------------------------------------

@router.websocket("/ws", name="event_socket")
async def event_socket(websocket: WebSocket, principal: SocketPrincipalDep,
                       ticket: Ticket = None) -> None:
    """The stream over WebSocket. Send ``{"action": "subscribe", "location_id": [...],
    "sku": [...], "types": [...], "after": N}`` (every field optional) to start or replace
    the subscription, ``{"action": "unsubscribe"}`` to stop it. The server sends
    ``{"type": "subscribed", ..., "after"}``, ``{"type": "event", "event": {...}}``,
    ``{"type": "reset", ...}``, ``{"type": "unsubscribed"}`` and ``{"type": "error",
    "code", "reason", ...}``.

    Errors that end the socket: ``slow_consumer`` (closed 1013: subscribe again with
    ``after`` set to the last id received), ``credential_revoked`` and
    ``credential_expired`` (4401: the key or token is no longer accepted), and
    ``rate_limited`` after ten messages in a row over the key's rate limit (1008). Errors
    that leave it open: ``rate_limited`` for one message (it changed nothing; retry after
    ``retry_after`` s) or for a replay (it stopped at ``last_id``), ``forbidden`` (a
    subscription asking for more than the key may hear), ``invalid_message``. A key with
    ``max_streams_per_principal`` streams open is refused at the handshake: a 429 problem
    where the server can answer a handshake with one, else a close (1013)."""
    container: Container = websocket.app.state.container
    try:
        guard = guard_of(container, websocket.scope, principal)
        slot = open_stream(container.hub, principal,
                           container.settings.max_streams_per_principal, "websocket")
    except ProblemError as refused:
        await deny(websocket, refused)
        return
    try:
        await websocket.accept()
        await EventSocket(websocket, container.hub, container.queries,
                          container.settings.stream_heartbeat_seconds, guard).serve()
    finally:
        slot.release()
