"""The feed of a stream, whatever carries it (SSE, WebSocket): replay, then live.

Every stream follows one algorithm (HARD-PARTS §5): subscribe to this node's hub first,
so that it buffers whatever is delivered meanwhile; replay from the event log, in pages,
every matching event after the client's point up to the newest; then drain the
subscription, dropping the ids already sent. Ids only grow, so "id <= last sent" is the
whole duplicate test, and nothing between the replay and the live feed can fall through.

A subscription is bounded: a client that does not keep up is cut off with a reason and
resumes from the log like any reconnecting client, instead of the server buffering for it
without bound.

A replay is paid for as reading the log page by page would be: the request (or message)
that opened the feed pays for its first page, and every further page of ``REPLAY_PAGE``
events takes one token of the caller's rate limit (``pay``). Over the limit, the feed ends
with ``rate_limited`` and the last id sent, from where the client resumes later.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog

from stockline.adapters.bus import EventFilter, EventRecord
from stockline.adapters.hub import EventHub, Subscription, SubscriptionClosed
from stockline.adapters.queries.events import EventQueries
from stockline.adapters.ratelimit import Decision

log = structlog.get_logger("stockline.events")

REPLAY_PAGE = 500  # events per replay query (and per chunk written): GET /v1/events' most
LIVE_BATCH = 200  # live events already queued are written together, up to this many


# -- what a stream carries ------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Opened:
    """Subscribed: the stream goes on after ``after``."""

    after: int


@dataclass(frozen=True, slots=True)
class Reset:
    """The point asked for cannot be resumed exactly; the stream goes on after ``resumes_after``."""

    reason: str
    detail: str
    requested_after: int
    resumes_after: int

    def body(self) -> dict[str, Any]:
        return {"reason": self.reason, "detail": self.detail,
                "requested_after": self.requested_after, "resumes_after": self.resumes_after}


@dataclass(frozen=True, slots=True)
class Closed:
    """The server ends the stream; a client resumes after ``last_id`` (not before
    ``retry_after`` seconds, when given)."""

    reason: str
    last_id: int
    retry_after: int | None = None

    @property
    def code(self) -> str:
        return self.reason.split(":", 1)[0]

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "reason": self.reason,
                                "last_id": self.last_id}
        if self.retry_after is not None:
            body["retry_after"] = self.retry_after
        return body


@dataclass(frozen=True, slots=True)
class Idle:
    """Nothing to send for a heartbeat interval."""


IDLE = Idle()
UNAVAILABLE = "unavailable: the event log cannot be read now; reconnect to resume"
Pay = Callable[[], Awaitable[Decision | None]]  # one token of the caller's bucket
FeedItem = Opened | Reset | Closed | Idle | list[EventRecord]


def reset_for(after: int, pruned_through: int, last_id: int) -> Reset | None:
    """A reset when ``after`` cannot be resumed exactly: pruned, or beyond the log's end."""
    if after < pruned_through:
        return Reset("pruned", f"events {after + 1} to {pruned_through} are past the retention "
                               f"and were dropped; rebuild state from the API, then follow on",
                     after, pruned_through)
    if after > last_id:
        return Reset("ahead_of_log", f"this log has no event {after} (its newest is {last_id}); "
                                     "was the position taken from another deployment?",
                     after, last_id)
    return None


@dataclass(frozen=True, slots=True)
class LogPage:
    """A page of the event log: ``more`` when events follow it, ``reset`` when its start
    could not be resumed exactly (the page starts after ``reset.resumes_after``)."""

    records: list[EventRecord]
    more: bool
    reset: Reset | None


async def log_page(log_reader: EventQueries, wanted: EventFilter, start: int | None,
                   limit: int) -> LogPage:
    """The events after ``start`` (None: from the oldest kept) that ``wanted`` matches,
    resuming as a stream does when ``start`` was pruned or is ahead of the log."""
    reset = None
    if start is not None:
        reset = reset_for(start, *await log_reader.event_log_bounds())
    position = (start or 0) if reset is None else reset.resumes_after
    records = await log_reader.events_after(position, wanted, limit + 1)
    return LogPage(records[:limit], len(records) > limit, reset)


class EventFeed:
    """One client's events: replay after its point, then live; each id once, in order."""

    def __init__(self, hub: EventHub, log_reader: EventQueries, wanted: EventFilter, *,
                 pay: Pay | None = None) -> None:
        self._hub, self._log, self._wanted, self._pay = hub, log_reader, wanted, pay
        self._subscription: Subscription | None = None
        self._ended: str | None = None

    def end(self, reason: str) -> None:
        """End the feed from outside (the server is stopping): it yields a Closed with
        ``reason`` after what it holds, and stops."""
        self._ended = reason
        if self._subscription is not None:
            self._subscription.close(reason)

    def _subscribe(self) -> Subscription:
        self._subscription = self._hub.subscribe(self._wanted)
        if self._ended is not None:
            self._subscription.close(self._ended)
        return self._subscription

    async def items(self, after: int | None, *, idle: float) -> AsyncGenerator[FeedItem, None]:
        """From ``after`` (None: from now on); ends with a Closed when cut off."""
        await self._hub.fresh()
        subscription = self._subscribe()  # first: it buffers during the replay
        sent = self._hub.last_id  # the subscription brings every id above this one
        try:
            reset = None
            if after is not None:
                try:
                    reset = reset_for(after, *await self._log.event_log_bounds())
                except Exception:
                    log.exception("event_log_unreadable")
                    yield Closed(UNAVAILABLE, after)
                    return
                sent = after if reset is None else reset.resumes_after
            yield Opened(sent)
            if reset is not None:
                yield reset
            pages = 0
            while after is not None:  # the replay, up to the newest logged event
                if pages and (over := await self._over_limit(sent)) is not None:
                    yield over
                    return
                pages += 1
                try:
                    page = await self._log.events_after(sent, self._wanted, REPLAY_PAGE)
                except Exception:
                    log.exception("event_log_unreadable")
                    yield Closed(UNAVAILABLE, sent)
                    return
                if page:
                    sent = page[-1].id
                    yield page
                if len(page) == REPLAY_PAGE and self._ended is None:
                    continue
                if subscription.closed_reason is None or self._ended is not None:
                    break
                # It overflowed while the replay was behind; the log stays the source and a
                # fresh subscription buffers from here on.
                subscription = self._subscribe()
            while True:
                batch, reason = await self._take(subscription, sent, idle)
                if batch:
                    sent = batch[-1].id
                    yield batch
                if reason is not None:
                    yield Closed(reason, sent)
                    return
                if batch is None:
                    yield IDLE
        finally:
            subscription.close("stream ended")

    async def _over_limit(self, sent: int) -> Closed | None:
        """A Closed when the caller cannot pay for one more page of the replay."""
        decision = None if self._pay is None else await self._pay()
        if decision is None or decision.allowed:
            return None
        return Closed(f"rate_limited: a replay takes one token of this caller's rate limit "
                      f"for every {REPLAY_PAGE} events after the first {REPLAY_PAGE}, and "
                      f"there are none left; resume after last_id in {decision.retry_after} s",
                      sent, decision.retry_after)

    async def _take(self, subscription: Subscription, sent: int, idle: float
                    ) -> tuple[list[EventRecord] | None, str | None]:
        """What the subscription holds (waiting up to ``idle`` for the first), ids above
        ``sent`` only: (None, None) when idle; a reason once it is closed."""
        try:
            first = await subscription.next(within=idle)
        except SubscriptionClosed as closed:
            return [], closed.reason
        if first is None:
            return None, None
        batch: list[EventRecord] = []
        for record in (first, *subscription.drain(LIVE_BATCH - 1)):  # the rest, no waiting
            if record.id > sent:
                batch.append(record)
                sent = record.id
        return batch, None


# -- filters from the query string --------------------------------------------------------
