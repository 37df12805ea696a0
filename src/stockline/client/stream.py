"""Following the event stream (GET /v1/events/stream), without I/O: where to resume, what
each Server-Sent Event means, and how long to wait before connecting again. ``Client``
and ``AsyncClient`` open the connections; this decides everything else.

Resuming: every event's id is kept; a new connection sends it as ``Last-Event-ID`` and the
server replays everything after it, so a drop or a server restart loses nothing, and an
event at or below the kept id is dropped, so nothing comes twice. A stream started "from
now" first asks the log for its newest id, so that a drop before the first event loses
nothing either."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from httpx_sse import ServerSentEvent

from stockline.client.calls import Call, Params, Retry, page_of, parse, query, read
from stockline.client.errors import (
    ConnectionFailed,
    Reset,
    StreamReset,
    closed_stream_error,
    problem_of,
)
from stockline.client.models import Event, Page

STREAM_PATH = "/v1/events/stream"
MAX_EVENT_ID = 2**63 - 1
# A ``close`` with these codes ends one connection, not the stream: connect again (after
# ``retry_after`` when given) and resume.
RESUMABLE = frozenset({"slow_consumer", "server_shutdown", "unavailable", "rate_limited"})


def newest_call() -> Call[Page[Event]]:
    """Where "from now" is: the log answers a point past its end with a ``reset`` whose
    ``resumes_after`` is its newest id."""
    return read("/v1/events", page_of(Event), query(after=MAX_EVENT_ID, limit=1))


def newest_id(page: Page[Event]) -> int:
    if page.reset is not None:
        return parse(Reset, page.reset).resumes_after
    return page.items[-1].id if page.items else 0


@dataclass(slots=True)
class Follower:
    """The state of one ``events()`` iteration across its connections."""

    filters: Params
    position: int | None
    retry: Retry
    reconnects: int | None = None  # failed connections in a row allowed; None: no end
    on_reset: Callable[[Reset], None] | None = None
    failures: int = 0
    wait: float = 0.0  # before the next connection
    closed: bool = False  # the server ended this connection with a ``close``

    def headers(self) -> dict[str, str]:
        return {} if self.position is None else {"Last-Event-ID": str(self.position)}

    def connected(self) -> None:
        self.failures, self.wait, self.closed = 0, 0.0, False

    def refused(self, response: httpx.Response) -> None:
        """A connection answered with a problem (its body read): wait and try again when
        it passes (429: too many streams open, 503), else raise it."""
        wait = self.retry.after_response(0, response)
        if wait is None:
            raise problem_of(response)
        self._failed(ConnectionFailed(httpx.RemoteProtocolError(
            f"{response.status_code} {response.reason_phrase}")))
        self.wait = max(self.wait, wait)

    def dropped(self, error: httpx.TransportError) -> None:
        """The connection failed or broke: wait a while, then resume."""
        self.retry.after_error(0, error)  # raises for an error that a retry cannot cure
        self._failed(ConnectionFailed(error))

    def ended(self) -> None:
        """The server ended the stream without saying why."""
        self._failed(ConnectionFailed(httpx.RemoteProtocolError("the stream ended")))

    def _failed(self, error: ConnectionFailed) -> None:
        self.failures += 1
        if self.reconnects is not None and self.failures > self.reconnects:
            raise error
        self.wait = self.retry.pause(min(self.failures - 1, 8))

    def take(self, message: ServerSentEvent) -> Event | None:
        """The event a message carries (None: a control message, or one already seen)."""
        self.closed = False
        data = _json(message.data)
        if message.event == "reset":
            self._reset(data)
            return None
        if message.event == "close":
            self._close(data)
            return None
        if message.event not in ("message", "") and "type" not in data:
            data["type"] = message.event  # an event named by its type
        if "id" not in data or "type" not in data:
            return None  # nothing this client knows
        event = parse(Event, data)
        if self.position is not None and event.id <= self.position:
            return None
        self.position = event.id
        return event

    def _reset(self, data: dict[str, Any]) -> None:
        notice = parse(Reset, data)
        if self.on_reset is None:
            raise StreamReset(notice)
        self.on_reset(notice)
        self.position = notice.resumes_after

    def _close(self, data: dict[str, Any]) -> None:
        code = str(data.get("code", ""))
        if code not in RESUMABLE:
            raise closed_stream_error(code, str(data.get("reason", code)), data)
        last_id = data.get("last_id")
        if isinstance(last_id, int) and (self.position is None or last_id > self.position):
            self.position = last_id
        wait = data.get("retry_after")
        self.wait = float(wait) if isinstance(wait, int | float) else 0.0
        self.closed = True


def _json(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
