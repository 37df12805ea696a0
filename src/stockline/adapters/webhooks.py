"""Webhook deliveries: queued with their events by the relay, sent by one dispatcher.

Queuing: a relay hook runs in the transaction that logs events and inserts one
``webhook_deliveries`` row per matching subscription (active or paused), so an event is
logged if and only if its deliveries are queued, and deliveries survive any restart.

Sending: the dispatcher runs in every server process but sends only while its process
holds the relay lease, so one process sends at a time. Per subscription it sends the
pending delivery of the lowest event id, and nothing later until that one is delivered:
deliveries of a subscription arrive in event order (after a crash between a send and its
record, the same event may arrive twice; receivers drop repeats by event id). Each
attempt is a ``webhook_attempts`` row. A failure schedules the next attempt by the retry
policy; once a delivery has been failing for the give-up span, the subscription is
paused with a reason and its pending deliveries wait (due at no time) until it is
resumed. Subscriptions are served concurrently, up to a bound, one delivery at a time
each, so a slow or failing one does not hold up the others.

Where: every connection goes to an address vetted by ``Destinations`` (public ones only,
unless the operator allows others), and redirects are not followed. What is logged: the
status code of an answer, or a short fixed reason; never the answer's body, nor which
way a connection failed (that would map the network behind the server).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import orjson
import structlog
from opentelemetry.trace import SpanKind
from sqlalchemy import ColumnElement, Select, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from stockline import __version__
from stockline.adapters.bus.base import EventRecord
from stockline.adapters.database import Database
from stockline.adapters.destinations import Destinations
from stockline.adapters.idle import IdleWait
from stockline.adapters.tables import events, webhook_attempts, webhook_deliveries, webhooks
from stockline.adapters.tracing import Tracing
from stockline.domain.destinations import (
    CONNECTION_FAILED,
    COULD_NOT_CONNECT,
    NOT_ALLOWED,
    DestinationRefused,
    Unresolvable,
)
from stockline.domain.webhooks import (
    DELIVERY_ID_HEADER,
    EVENT_ID_HEADER,
    EVENT_TYPE_HEADER,
    SIGNATURE_HEADER,
    DeliveryStatus,
    RetryPolicy,
    WebhookStatus,
    pause_reason,
    signature,
    succeeded,
)

log = structlog.get_logger("stockline.webhooks")

W, D, A, E = webhooks.c, webhook_deliveries.c, webhook_attempts.c, events.c
PENDING, DELIVERED = DeliveryStatus.PENDING.value, DeliveryStatus.DELIVERED.value
ACTIVE, PAUSED = WebhookStatus.ACTIVE.value, WebhookStatus.PAUSED.value
USER_AGENT = f"Stockline-Webhooks/{__version__}"
_READ_AT_MOST = 64 * 1024  # of an answer's body: enough to reuse the connection, no more
# After a wake-up from the relay hook, give the relay's transaction a moment to commit.
_SETTLE_SECONDS = 0.01


@dataclass(frozen=True, slots=True)
class Due:
    """A subscription's oldest pending delivery, due now, with what sending it needs."""

    delivery_id: int
    webhook_id: str
    event_id: int
    url: str
    secret: str
    record: EventRecord | None  # None if the event has left the log (never expected)


@dataclass(frozen=True, slots=True)
class Outcome:
    at: datetime
    done: datetime
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        return succeeded(self.status_code, self.error)


def _heads(now: datetime, *conditions: ColumnElement[bool]) -> Select[Any]:
    """Due head deliveries of active subscriptions: the pending one of the lowest event id
    of each subscription that ``conditions`` pick, when its time has come."""
    head = (select(D.webhook_id.label("webhook_id"), func.min(D.event_id).label("event_id"))
            .where(D.status == PENDING, *conditions).group_by(D.webhook_id).subquery())
    return (select(D.id, D.webhook_id, D.event_id, W.url, W.secret,
                   E.id.label("logged_id"), E.type, E.location_id, E.sku, E.payload,
                   E.occurred_at, E.traceparent)
            .select_from(webhook_deliveries
                         .join(head, (head.c.webhook_id == D.webhook_id)
                               & (head.c.event_id == D.event_id))
                         .join(webhooks, W.id == D.webhook_id)
                         .outerjoin(events, E.id == D.event_id))
            .where(W.status == ACTIVE, D.next_attempt_at <= now)
            .order_by(D.next_attempt_at, D.id))


def _due(row: Any) -> Due:
    record = None
    if row.logged_id is not None:
        record = EventRecord(id=row.logged_id, type=row.type, occurred_at=row.occurred_at,
                             location_id=row.location_id, sku=row.sku,
                             data=orjson.loads(row.payload), traceparent=row.traceparent)
    return Due(delivery_id=row.id, webhook_id=row.webhook_id, event_id=row.event_id,
               url=row.url, secret=row.secret, record=record)


class WebhookDispatcher:
    def __init__(self, database: Database, *, leading: Callable[[], bool],
                 policy: RetryPolicy, timeout_seconds: float, concurrency: int,
                 poll_seconds: float, clock: Callable[[], datetime],
                 destinations: Destinations, idle_poll_seconds: float = 1.0,
                 rand: Callable[[], float] = random.random) -> None:
        self._db, self._leading, self._policy = database, leading, policy
        self._timeout, self._concurrency = timeout_seconds, concurrency
        self._idle_wait = IdleWait(poll_seconds, idle_poll_seconds)
        self._clock, self._rand, self._destinations = clock, rand, destinations
        self._wake = asyncio.Event()
        self.tracing: Tracing | None = None  # a span per attempt, its context sent, when on
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._client: httpx.AsyncClient | None = None
        self._stopping = False

    def wake(self) -> None:
        """A hint that deliveries were queued: look now rather than at the next poll."""
        self._wake.set()

    def stop(self) -> None:
        """Have ``run`` return once each worker has recorded the attempt it is making: an
        attempt cancelled in the middle of its transaction could leave SQLite's write
        lock with a connection that is only closed later (and the attempt unrecorded)."""
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        """Send due deliveries until stopped (or cancelled); a failing round is logged and
        retried."""
        transport = self._destinations.transport(
            httpx.Limits(max_connections=self._concurrency * 2))
        # follow_redirects=False: a redirect is an answer (a failure), never a second
        # request to wherever it points
        async with httpx.AsyncClient(timeout=self._timeout, follow_redirects=False,
                                     transport=transport,
                                     headers={"User-Agent": USER_AGENT}) as client:
            self._client = client
            try:
                while not self._stopping:
                    try:
                        if await self.dispatch_due():
                            self._idle_wait.busy()
                    except Exception:
                        log.exception("webhook_round_failed")
                        await asyncio.sleep(1.0)
                    await self._idle()
                # Stopped: the workers end after their current attempt.
                await asyncio.gather(*self._workers.values(), return_exceptions=True)
            finally:
                workers = list(self._workers.values())
                for task in workers:
                    task.cancel()
                await asyncio.gather(*workers, return_exceptions=True)
                self._client = None

    async def _idle(self) -> None:
        if await self._idle_wait.wait(self._wake):
            await asyncio.sleep(_SETTLE_SECONDS)
        self._wake.clear()

    async def dispatch_due(self) -> int:
        """Start a worker for each subscription with a due delivery (up to the bound)."""
        free = self._concurrency - len(self._workers)
        if free <= 0 or not self._leading():
            return 0
        started = 0
        for due in await self._due_heads(self._clock(), set(self._workers), free):
            self._workers[due.webhook_id] = asyncio.create_task(
                self._drain(due), name=f"webhook-{due.webhook_id}")
            started += 1
        return started

    async def _due_heads(self, now: datetime, busy: Collection[str], limit: int) -> list[Due]:
        candidates = select(D.webhook_id).where(D.status == PENDING, D.next_attempt_at <= now)
        if busy:
            candidates = candidates.where(D.webhook_id.not_in(sorted(busy)))
        stmt = _heads(now, D.webhook_id.in_(candidates)).limit(limit)
        async with self._db.read.connect() as conn:
            return [_due(r) for r in (await conn.execute(stmt)).all()]

    async def _head(self, webhook_id: str, now: datetime) -> Due | None:
        async with self._db.read.connect() as conn:
            row = (await conn.execute(_heads(now, D.webhook_id == webhook_id))).first()
        return _due(row) if row else None

    async def _drain(self, due: Due) -> None:
        """Send one subscription's due deliveries in order, until one fails or none is due."""
        current: Due | None = due
        try:
            while current is not None and self._leading() and not self._stopping:
                if not await self.attempt(current):
                    return
                current = await self._head(due.webhook_id, self._clock())
        except Exception:
            log.exception("webhook_worker_failed", webhook_id=due.webhook_id)
        finally:
            self._workers.pop(due.webhook_id, None)
            self._wake.set()

    # -- one attempt ------------------------------------------------------------------------
    async def attempt(self, due: Due) -> bool:
        """POST the event, record the attempt and its consequences; True when delivered."""
        outcome = await self._send(due)
        await self._record(due, outcome)
        return outcome.ok

    async def _send(self, due: Due) -> Outcome:
        at, started = self._clock(), time.monotonic()
        status: int | None = None
        if due.record is None:
            log.error("webhook_event_missing", webhook_id=due.webhook_id, event_id=due.event_id)
            error: str | None = f"event {due.event_id} is no longer in the event log"
        elif self.tracing is None:
            status, error = await self._post(due, due.record, at)
        else:  # a child of the write's context; the receiver gets this span's traceparent
            with self.tracing.span("webhook deliver", kind=SpanKind.CLIENT,
                                   parent=due.record.traceparent,
                                   attributes={"stockline.webhook.id": due.webhook_id,
                                               "stockline.event.id": due.event_id}) as span:
                status, error = await self._post(due, due.record, at, self.tracing.headers())
                if status is not None:
                    span.set_attribute("http.status_code", status)
        duration = int((time.monotonic() - started) * 1000)
        return Outcome(at=at, done=self._clock(), status_code=status, error=error,
                       duration_ms=duration)

    async def _post(self, due: Due, record: EventRecord, at: datetime,
                    traced: dict[str, str] | None = None) -> tuple[int | None, str | None]:
        """``traced``: the trace context headers (``traceparent``), when tracing is on."""
        assert self._client is not None, "the dispatcher sends only while it runs"
        body = record.to_json()
        headers = {"Content-Type": "application/json", EVENT_ID_HEADER: str(record.id),
                   EVENT_TYPE_HEADER: record.type, DELIVERY_ID_HEADER: str(due.delivery_id),
                   SIGNATURE_HEADER: signature(due.secret, int(at.timestamp()), body),
                   **(traced or {})}
        try:
            async with self._client.stream("POST", due.url, content=body,
                                           headers=headers) as response:
                await _read_some(response)  # read, so the connection can serve again
        except Exception as exc:  # any failure to deliver is the receiver's, and retried
            log.info("webhook_attempt_failed", webhook_id=due.webhook_id,
                     event_id=record.id, error=repr(exc)[:500])
            return None, self._reason(exc)
        if 200 <= response.status_code < 300:
            return response.status_code, None
        return response.status_code, f"answered HTTP {response.status_code}"

    def _reason(self, exc: Exception) -> str:
        """What the delivery log says of a failure: a fixed text for each kind of them.

        Refused, unreachable, unresolvable and timed-out connections read the same, so
        the log does not tell an open port from a closed or filtered one.
        """
        if isinstance(exc, DestinationRefused):
            return NOT_ALLOWED
        if isinstance(exc, Unresolvable | httpx.ConnectError | httpx.ConnectTimeout):
            return COULD_NOT_CONNECT
        if isinstance(exc, httpx.TimeoutException):
            return f"no answer within {self._timeout:g} s"
        return CONNECTION_FAILED

    async def _record(self, due: Due, outcome: Outcome) -> None:
        async with self._db.write.begin() as conn:
            if outcome.ok:
                await self._delivered(conn, due, outcome)
            else:
                await self._failed(conn, due, outcome)

    async def _delivered(self, conn: AsyncConnection, due: Due, outcome: Outcome) -> None:
        attempt = await self._step(conn, due, outcome, status=DELIVERED, next_attempt_at=None,
                                   delivered_at=outcome.done)
        if attempt is not None:
            log.debug("webhook_delivered", webhook_id=due.webhook_id, event_id=due.event_id,
                      attempt=attempt)

    async def _failed(self, conn: AsyncConnection, due: Due, outcome: Outcome) -> None:
        # The subscription first (the lock order of every writer of both): it may have been
        # paused, resumed or deleted while the request was out.
        sub = (await conn.execute(select(W.status, W.updated_at).where(W.id == due.webhook_id)
                                  .with_for_update(key_share=True))).first()
        if sub is None:
            return
        failures, since = await _streak(conn, due.delivery_id, sub.updated_at, outcome.at)
        next_at = self._policy.next_attempt(now=outcome.done, streak_started=since,
                                            failures=failures, rand=self._rand())
        active = sub.status == ACTIVE
        attempt = await self._step(conn, due, outcome, status=PENDING,
                                   next_attempt_at=next_at if active else None,
                                   delivered_at=None)
        if attempt is None or not active or next_at is not None:
            return
        reason = pause_reason(failures=failures, since=since, now=outcome.done,
                              event_id=due.event_id, last_error=outcome.error or "")
        await conn.execute(update(webhooks).where(W.id == due.webhook_id, W.status == ACTIVE)
                           .values(status=PAUSED, paused_reason=reason,
                                   updated_at=outcome.done))
        await conn.execute(update(webhook_deliveries)
                           .where(D.webhook_id == due.webhook_id, D.status == PENDING)
                           .values(next_attempt_at=None))
        log.warning("webhook_paused", webhook_id=due.webhook_id, reason=reason)

    async def _step(self, conn: AsyncConnection, due: Due, outcome: Outcome, *, status: str,
                    next_attempt_at: datetime | None,
                    delivered_at: datetime | None) -> int | None:
        """Count the attempt on the delivery and log it; None when the delivery is no longer
        pending (delivered meanwhile, or discarded with its deleted subscription)."""
        row = (await conn.execute(
            update(webhook_deliveries).where(D.id == due.delivery_id, D.status == PENDING)
            .values(status=status, attempts=D.attempts + 1, last_attempt_at=outcome.at,
                    last_status_code=outcome.status_code, last_error=outcome.error,
                    next_attempt_at=next_attempt_at, delivered_at=delivered_at)
            .returning(D.attempts))).first()
        if row is None:
            return None
        await conn.execute(insert(webhook_attempts).values(
            delivery_id=due.delivery_id, attempt=row.attempts, at=outcome.at,
            status_code=outcome.status_code, error=outcome.error,
            duration_ms=outcome.duration_ms))
        return int(row.attempts)


async def _streak(conn: AsyncConnection, delivery_id: int, since: datetime,
                  now: datetime) -> tuple[int, datetime]:
    """Failures in a row of a delivery, this one included, and when the first of them was.

    The streak starts afresh after a success (a redelivered delivery) and when the
    subscription last changed status (a resume gives it the whole give-up span again).
    """
    rows = (await conn.execute(select(A.at, A.status_code, A.error)
                               .where(A.delivery_id == delivery_id, A.at >= since)
                               .order_by(A.attempt.desc()).limit(10_000))).all()
    failures, first = 1, now
    for row in rows:
        if succeeded(row.status_code, row.error):
            break
        failures, first = failures + 1, row.at
    return failures, first


async def _read_some(response: httpx.Response) -> None:
    """Read the start of an answer's body and drop it: the status is what counts, and the
    body is the receiver's business (it is never logged)."""
    read = 0
    async for chunk in response.aiter_bytes():
        read += len(chunk)
        if read >= _READ_AT_MOST:
            break
