"""Server-Sent Events: the feed framed as an SSE message stream, and the response that
writes it (dropping a client that stopped reading, ending at shutdown, and when its
credential lapses)."""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import orjson
import structlog
from opentelemetry.trace import SpanKind
from sse_starlette import EventSourceResponse
from starlette.types import Message, Receive, Scope, Send

from stockline.adapters.bus.base import sse_encoder
from stockline.adapters.feed import Closed, FeedItem, Idle, Opened, Reset
from stockline.adapters.hub import SHUTDOWN, StreamSlot
from stockline.adapters.tracing import Tracing
from stockline.domain.security import WHOLE, EventShape

log = structlog.get_logger("stockline.events")

SHUTDOWN_GRACE_SECONDS = 2.0  # for a stream to send its close event when the server stops

# Before OpenAPI 3.2, the schema of text/event-stream describes each event, as parsed.
# The body of the stream: text, SSE events one after the other (``id:``, ``event:``,
# ``data:`` lines), without end. OpenAPI 3.1 has no way to say more of a stream's items.
SSE_EVENT = {"type": "string", "description": "Server-Sent Events (text/event-stream)"}


class EventStreamResponse(EventSourceResponse):
    """sse-starlette's response: a client that has stopped reading is dropped once one
    write has waited longer than ``send_timeout`` (the stream ends; nothing more is
    buffered). The caller's stream slot is given back when the stream ends (or, should the
    response never be sent, when it is collected). ``end(reason)`` ends the feed with a
    ``close`` event: when the server stops (SIGTERM, ``server_shutdown``, within the grace
    period), and when ``lapsed`` returns (the caller's credential is no longer accepted).

    The stalled write is found by one watchdog per stream that looks every ``send_timeout``
    seconds, not by sse-starlette's cancel scope around every write: with a thousand
    streams written to for every round of events, those scopes cost a tenth of the work.
    A write is dropped after between one and two ``send_timeout``s.
    """

    media_type = "text/event-stream"

    def __init__(self, content: AsyncIterator[bytes], *, slot: StreamSlot | None = None,
                 end: Callable[[str], None] | None = None,
                 lapsed: Callable[[], Awaitable[str]] | None = None,
                 send_timeout: float | None = None, **kwargs: Any) -> None:
        self._stopping = anyio.Event()
        super().__init__(content, shutdown_event=self._stopping,
                         shutdown_grace_period=SHUTDOWN_GRACE_SECONDS, **kwargs)
        self._slot, self._end, self._lapsed = slot, end, lapsed
        self._stall_limit = send_timeout
        self._writes_begun, self._writing, self._stalled = 0, False, False
        if slot is not None:
            weakref.finalize(self, slot.release)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        task = asyncio.current_task()
        watchers = []
        if self._end is not None:
            watchers.append(asyncio.create_task(self._end_on_shutdown(self._end)))
            if self._lapsed is not None:
                watchers.append(asyncio.create_task(self._end_when_lapsed(self._end,
                                                                          self._lapsed)))
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

    async def _end_on_shutdown(self, end: Callable[[str], None]) -> None:
        await self._stopping.wait()
        end(SHUTDOWN)

    @staticmethod
    async def _end_when_lapsed(end: Callable[[str], None],
                               lapsed: Callable[[], Awaitable[str]]) -> None:
        end(await lapsed())


async def sse_frames(items: AsyncGenerator[FeedItem, None], shape: EventShape = WHOLE,
                     tracing: Tracing | None = None) -> AsyncIterator[bytes]:
    """The feed as SSE messages, each event as ``shape`` lets the caller hear it; with
    ``tracing``, a span for each write of events (until the stream asks for more)."""
    encode = sse_encoder(shape)
    async with contextlib.aclosing(items):
        async for item in items:
            match item:
                case list() if tracing is not None:
                    span = tracing.start("sse send", [r.traceparent for r in item],
                                         kind=SpanKind.PRODUCER,
                                         attributes={"stockline.events.sent": len(item)})
                    try:
                        yield b"".join([encode(r) for r in item])
                    finally:
                        span.end()
                case list():
                    yield (encode(item[0]) if len(item) == 1
                           else b"".join([encode(r) for r in item]))
                case Idle():
                    yield b": heartbeat\n\n"
                case Opened(after=after):
                    yield b": subscribed after %d\n\n" % after
                case Reset():
                    yield b"id: %d\nevent: reset\ndata: %s\n\n" % (item.resumes_after,
                                                                  orjson.dumps(item.body()))
                case Closed(retry_after=int(wait)):  # EventSource waits that long to reconnect
                    yield b"retry: %d\nevent: close\ndata: %s\n\n" % (
                        wait * 1000, orjson.dumps(item.body()))
                    return
                case Closed():
                    yield b"event: close\ndata: %s\n\n" % orjson.dumps(item.body())
                    return

