"""The event stream over WebSocket: client messages set or drop the subscription; a pump
task sends what the feed yields.

Every message the client sends is checked as a request is: its credential again (a key
revoked meanwhile closes the socket, 4401), then its rate limit (one token; over it, the
message gets a ``rate_limited`` error with ``retry_after`` and changes nothing; after
``MAX_REFUSALS`` refused messages in a row the socket closes, 1008). The credential is
also checked while the socket is quiet (``StreamGuard.lapsed``).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import orjson
import structlog
from fastapi import WebSocket
from opentelemetry.trace import SpanKind
from pydantic import ValidationError

from stockline.adapters.bus import EventFilter
from stockline.adapters.bus.base import EventRecord, json_encoder
from stockline.adapters.feed import Closed, EventFeed, Opened, Reset
from stockline.adapters.hub import EventHub
from stockline.adapters.queries.events import EventQueries
from stockline.adapters.tracing import Tracing
from stockline.domain.errors import Forbidden
from stockline.entrypoints.http.errors import ProblemError, problem_response
from stockline.entrypoints.http.schemas.events import ClientMessage, SubscribeMessage
from stockline.entrypoints.http.streams.guard import StreamGuard
from stockline.entrypoints.http.streams.scope import scoped

log = structlog.get_logger("stockline.events")

MAX_REFUSALS = 10  # messages refused in a row for the rate limit before the socket closes
# Close codes by the code of the reason: the credential lapsed (as HTTP's 401), the client
# went on sending over its limit (policy violation), or try again later. A subscription
# ended for a replay over the rate limit leaves the socket open.
CLOSE_CODES = {"credential_revoked": 4401, "credential_expired": 4401, "rate_limited": 1008}
TRY_AGAIN_LATER = 1013
INVALID = {"type": "error", "code": "invalid_message",
           "reason": 'invalid_message: send {"action": "subscribe", ...} or '
                     '{"action": "unsubscribe"}'}


class EventSocket:
    """One WebSocket. A client too slow for the feed gets an error and the socket closes;
    so does one whose credential lapses."""

    def __init__(self, websocket: WebSocket, hub: EventHub, log_reader: EventQueries,
                 heartbeat: float, guard: StreamGuard, tracing: Tracing | None = None) -> None:
        self._ws, self._hub, self._log, self._heartbeat = websocket, hub, log_reader, heartbeat
        self._guard, self._principal = guard, guard.principal
        self._encode = json_encoder(self._principal.event_shape())
        self._send_timeout = max(30.0, 2 * heartbeat)
        self._lock = asyncio.Lock()  # one write at a time
        self._control = asyncio.Lock()  # one change of subscription (or the end) at a time
        self._done = asyncio.Event()
        self._pump: asyncio.Task[None] | None = None
        self._refusals = 0
        self._last_id: int | None = None  # the position of the subscription, once it has one
        self._tracing = tracing  # a span per event sent, when on

    async def serve(self) -> None:
        tasks = [asyncio.create_task(self._read()), asyncio.create_task(self._watch())]
        try:
            await self._done.wait()
        finally:
            for task in tasks:
                task.cancel()
            await self._stop_pump()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _watch(self) -> None:
        await self._finish(await self._guard.lapsed())

    async def _read(self) -> None:
        try:
            while not self._done.is_set():
                message = await self._ws.receive()
                if message["type"] == "websocket.disconnect":
                    return
                if await self._admitted():
                    await self._handle(message.get("text") or message.get("bytes") or b"")
        except Exception as exc:  # a broken socket ends the session, nothing else
            log.debug("event_socket_read_failed", error=str(exc))
        finally:
            self._done.set()

    async def _admitted(self) -> bool:
        """Whether a message may be served: its credential is still accepted, and its
        caller has a token left (closing the socket when it has not, again and again)."""
        lapsed = await self._guard.recheck()
        if lapsed is not None:
            await self._finish(lapsed)
            return False
        decision = await self._guard.charge()
        if decision is None or decision.allowed:
            self._refusals = 0
            return True
        self._refusals += 1
        reason = (f"rate_limited: over this caller's rate limit of {decision.limit} requests "
                  f"at once; retry in {decision.retry_after} s")
        if self._refusals >= MAX_REFUSALS:
            await self._finish(reason, decision.retry_after)
        else:
            await self._send({"type": "error", "code": "rate_limited", "reason": reason,
                              "retry_after": decision.retry_after})
        return False

    async def _handle(self, raw: str | bytes) -> None:
        try:
            message = ClientMessage.validate_json(raw)
        except ValidationError as exc:
            await self._send({**INVALID, "errors": [
                {"field": ".".join(map(str, e["loc"])) or "message", "message": e["msg"]}
                for e in exc.errors()]})
            return
        async with self._control:
            if self._done.is_set():
                return
            await self._stop_pump()
            if not isinstance(message, SubscribeMessage):
                await self._send({"type": "unsubscribed"})
                return
            try:
                wanted = scoped(self._principal, _wanted(message))
            except Forbidden as refused:  # the old subscription is gone; the socket stays
                await self._send({"type": "error", "code": "forbidden", "reason": str(refused)})
                return
            self._pump = asyncio.create_task(self._run(message, wanted))

    async def _stop_pump(self) -> None:
        if self._pump is not None and self._pump is not asyncio.current_task():
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._pump
        self._pump = None

    async def _run(self, message: SubscribeMessage, wanted: EventFilter) -> None:
        asked = _wanted(message)
        filters = {"location_id": sorted(asked.location_ids or []) or None,
                   "sku": sorted(asked.skus or []) or None,
                   "types": sorted(asked.types or []) or None}
        feed = EventFeed(self._hub, self._log, wanted, pay=self._guard.charge)
        items = feed.items(message.after, idle=self._heartbeat)
        try:
            async with contextlib.aclosing(items):
                async for item in items:
                    match item:
                        case list():
                            for record in item:
                                await self._send_event(record)
                                self._last_id = record.id
                        case Opened(after=after):
                            self._last_id = after
                            await self._send({"type": "subscribed", **filters, "after": after})
                        case Reset():
                            await self._send({"type": "reset", **item.body()})
                        case Closed(code="rate_limited"):  # the replay stops; the socket stays
                            await self._send({"type": "error", **item.body()})
                            return
                        case Closed():
                            await self._finish(item.reason, item.retry_after)
                            return
        except Exception as exc:  # the socket broke or stopped taking data: end the session
            log.debug("event_socket_send_failed", error=repr(exc))
            self._done.set()

    async def _finish(self, reason: str, retry_after: int | None = None) -> None:
        """End the session: stop the subscription, say why (and where it got to), close
        the socket with the code for the reason."""
        async with self._control:
            if self._done.is_set():
                return
            await self._stop_pump()
            closed = Closed(reason, -1, retry_after)
            body = {"type": "error", **closed.body(), "last_id": self._last_id}
            if self._last_id is None:
                del body["last_id"]
            try:
                await self._send(body)
                async with asyncio.timeout(self._send_timeout):
                    await self._ws.close(CLOSE_CODES.get(closed.code, TRY_AGAIN_LATER),
                                         reason[:120])
            except Exception as exc:  # the socket is gone already
                log.debug("event_socket_close_failed", error=repr(exc))
            finally:
                self._done.set()

    async def _send_event(self, record: EventRecord) -> None:
        frame = b'{"type":"event","event":' + self._encode(record) + b"}"
        if self._tracing is None:
            await self._send_raw(frame)
            return
        with self._tracing.span("websocket send", kind=SpanKind.PRODUCER,
                                parent=record.traceparent,
                                attributes={"stockline.event.id": record.id}):
            await self._send_raw(frame)

    async def _send(self, message: dict[str, Any]) -> None:
        await self._send_raw(orjson.dumps(message))

    async def _send_raw(self, text: bytes) -> None:
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow the
        # cancellation of an unsubscribe that lands as the send completes.
        async with self._lock, asyncio.timeout(self._send_timeout):
            await self._ws.send_text(text.decode())


def _wanted(message: SubscribeMessage) -> EventFilter:
    """The filter a subscribe message asks for (empty lists: no filter)."""
    def values(given: list[str] | list[Any] | None) -> frozenset[str] | None:
        return frozenset(given) if given else None

    return EventFilter(location_ids=values(message.location_id), skus=values(message.sku),
                       types=values(message.types))


async def deny(websocket: WebSocket, refused: ProblemError) -> None:
    """Refuse a handshake: a problem where the server can answer a handshake with one,
    else a close (1013)."""
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(
            problem_response(refused.code, refused.detail, refused.headers))
    else:
        await websocket.close(TRY_AGAIN_LATER, f"{refused.code.code}: {refused.detail}"[:120])
