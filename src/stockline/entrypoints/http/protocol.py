"""The HTTP/1.1 connection: uvicorn's httptools protocol, with each request's head bounded.

httptools buffers a request line and headers for as long as they last, and uvicorn's
keep-alive timer stops at the first byte of a request: one client could make a server
hold a 128 MB header, or a connection trickling a header forever. Here a request's line
and headers together get ``max_bytes`` (more is a 431 problem) and must be whole within
``timeout_seconds`` of the connection opening or of the request's first byte (later is a
408 problem); either way the connection closes. Idle time between requests is left to
the keep-alive timeout.

Bytes are counted as they are handed to the parser, a read at a time, so no more than
``max_bytes`` of a head is ever buffered (a pipelined request that begins inside an
earlier read may take up to one read more). A read that would pass the bound is fed only
up to it: whatever is left is parsed only if the head ended within the bound.
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass
from typing import Any, cast

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from stockline.entrypoints.http.errors import (
    HEADERS_TOO_LARGE,
    PROBLEM_JSON,
    REQUEST_TIMEOUT,
    Code,
    problem_body,
)

LINGER_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class HeadLimits:
    max_bytes: int
    timeout_seconds: float


def bounded_http(limits: HeadLimits) -> type[asyncio.Protocol]:
    """What ``uvicorn.run(http=...)`` takes: uvicorn calls it as a protocol class, once
    per connection. A partial, not a class made here, so that it pickles by reference for
    the worker processes."""
    return cast(type[asyncio.Protocol], functools.partial(BoundedHttpProtocol, limits=limits))


class BoundedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with each request's line and headers bounded in size
    and in time (see the module's docstring)."""

    def __init__(self, config: Config, server_state: ServerState, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None, *,
                 limits: HeadLimits) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._limits = limits
        self._in_head = True  # the next bytes belong to a request's line and headers
        self._room = limits.max_bytes  # what the current head may still take
        self._head_timer: asyncio.TimerHandle | None = None
        self._upgraded = False
        self._refused = False  # answered, or to be once the requests before are

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_timer = self.loop.call_later(self._limits.timeout_seconds,
                                                self._head_timed_out)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:  # answered already: what still comes is read and dropped
            return
        while self._in_head and len(data) > self._room:
            room, self._room = self._room, 0
            if room:
                super().data_received(data[:room])
                if self._upgraded or self.transport.is_closing():
                    return
                data = data[room:]
            if self._in_head and self._room == 0:  # the bound reached, the head not done
                self._refuse(HEADERS_TOO_LARGE, "the request line and headers are over "
                                                f"{self._limits.max_bytes} bytes")
                return
        if self._in_head:
            self._room -= len(data)
        super().data_received(data)
        # Armed only for a head split over reads: most arrive whole, at no timer's cost.
        if self._in_head and self._head_timer is None and self._room < self._limits.max_bytes:
            self._head_timer = self.loop.call_later(self._limits.timeout_seconds,
                                                    self._head_timed_out)

    def on_headers_complete(self) -> None:
        self._in_head = False
        if self._head_timer is not None:
            self._disarm()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head, self._room = True, self._limits.max_bytes

    def handle_websocket_upgrade(self) -> None:
        self._upgraded = True
        super().handle_websocket_upgrade()

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if not self._in_head or self.transport.is_closing():
            return
        if self._room < self._limits.max_bytes:  # some of a head came
            self._refuse(REQUEST_TIMEOUT, "the request line and headers did not arrive within "
                                          f"{self._limits.timeout_seconds:g} s")
        else:  # a connection that never sent a request: nothing to answer
            self.transport.close()

    def _refuse(self, code: Code, detail: str) -> None:
        """Answer ``code`` and close; nothing more of this connection is parsed."""
        self._disarm()
        if self._refused or self.transport.is_closing():
            return
        self._refused = True
        last = self.pipeline[0][0] if self.pipeline else self.cycle
        if last is not None and not last.response_complete:
            # Requests before this one are still being answered: this answer goes once
            # the last of them is, and nothing more is read meanwhile.
            then = last.on_response

            def answer_after() -> None:
                then()
                self._answer(code, detail)

            last.on_response = answer_after
            self.flow.pause_reading()
            return
        self._answer(code, detail)

    def _answer(self, code: Code, detail: str) -> None:
        if self.transport.is_closing():
            return
        body = problem_body(code, detail)
        head = [STATUS_LINE[code.status],
                *(name + b": " + value + b"\r\n"
                  for name, value in self.server_state.default_headers),
                b"content-type: " + PROBLEM_JSON.encode() + b"\r\n",
                b"content-length: %d\r\n" % len(body), b"connection: close\r\n\r\n"]
        self.transport.write(b"".join(head) + body)
        if not self.transport.can_write_eof():  # TLS
            self.transport.close()
            return
        # Closed with unread bytes, a socket sends a reset that can reach the client before
        # the answer does. So the answer is followed by a FIN, and what the client still
        # sends is dropped until it stops, or for a few seconds at most.
        self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
