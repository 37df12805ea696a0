"""The outbox relay: committed outbox rows become the public event log, then go on the bus.

Writes append outbox rows in their own transactions; their sequence values are assigned at
insert time, not commit time, so on PostgreSQL a reader could see outbox row 11 committed
before row 10. The relay therefore assigns the public ids itself, in the order it moves
committed rows, inside one transaction that also deletes them from the outbox: readers of
the event log never see id N+1 before N, and ids have no gaps. Exactly one relay moves at a
time (a lease in ``relay_state``, re-checked under a row lock in every move).

Publishing comes after the move has committed and is at least once: the bus may see an id
twice (its consumers drop repeats), and while the bus is down the events wait in the log.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

import orjson
import structlog
from opentelemetry.trace import SpanKind
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from stockline.adapters.bus.base import EVERYTHING, EventBus, EventRecord
from stockline.adapters.bus.nats import BusUnavailable
from stockline.adapters.database import Database
from stockline.adapters.idle import IdleWait
from stockline.adapters.partitions import Upkeep, drop_months_through
from stockline.adapters.queries.events import EventQueries
from stockline.adapters.tables import events, outbox, relay_state, webhook_deliveries
from stockline.adapters.tracing import Tracing

log = structlog.get_logger("stockline.relay")

# Called in the move's transaction with the events it logged (e.g. to queue webhook deliveries).
LoggedHook = Callable[[AsyncConnection, list[EventRecord]], Awaitable[None]]
RELAY = relay_state.c.name == "relay"


class Relay:
    def __init__(self, database: Database, bus: EventBus, *, node: str, batch: int = 500,
                 lease_seconds: float = 10.0, poll_seconds: float = 0.02,
                 idle_poll_seconds: float = 0.2, linger_seconds: float = 0.005,
                 retention: timedelta = timedelta(days=7),
                 clock: Callable[[], datetime], on_logged: Sequence[LoggedHook] = ()) -> None:
        self._db, self._bus, self.node = database, bus, node
        self._batch, self._lease = batch, lease_seconds
        self._idle_wait = IdleWait(poll_seconds, idle_poll_seconds)
        self._linger, self._last_moved = linger_seconds, 0
        self._retention, self._clock, self._on_logged = retention, clock, list(on_logged)
        self._reader = EventQueries(database.read)
        self._wake = asyncio.Event()
        self._lease_until: datetime | None = None
        self._retry_at: datetime | None = None  # a follower's next try for the lease
        self._next_prune: datetime | None = None
        self._bus_down_logged = False
        self._stopping = False
        # Told after each round that ran to its end whether this relay leads (metrics).
        self.on_round: Callable[[bool], None] = lambda leading: None
        self.tracing: Tracing | None = None  # spans of the rounds that move events, when on

    def add_hook(self, hook: LoggedHook) -> None:
        self._on_logged.append(hook)

    def wake(self) -> None:
        """A hint that something was committed: move now instead of at the next poll."""
        self._wake.set()

    def stop(self) -> None:
        """Have ``run`` return once its current round is over: a round cancelled in the
        middle of its transaction could leave SQLite's write lock with a connection
        that is only closed later, and every other writer waiting on it."""
        self._stopping = True
        self._wake.set()

    @property
    def leading(self) -> bool:
        return self._lease_until is not None and self._clock() < self._lease_until

    async def run(self) -> None:
        """Move and publish until stopped (or cancelled); a failing round is logged, and
        retried.

        After a round that moved less than a full batch, the relay lingers a moment
        before the next: under load, commits then arrive in fewer, larger rounds (each
        round costs the same few statements and wakes every stream once)."""
        while not self._stopping:
            try:
                busy = await self.step()
            except Exception:
                log.exception("relay_round_failed", node=self.node)
                busy = False
                await asyncio.sleep(1.0)
            else:
                self.on_round(self.leading)
            if not busy:
                await self._idle()
                continue
            self._idle_wait.busy()
            if self._last_moved < self._batch and self._linger > 0:
                await asyncio.sleep(self._linger)

    async def step(self) -> bool:
        """One round: hold the lease, move a batch, publish, prune. True when it did work."""
        if not await self._hold_lease():
            return False
        moved, logged = await self._move()
        self._last_moved = moved
        # What this round logged goes to the bus as it is, when nothing older is waiting;
        # otherwise the log is published from where the bus last got to.
        published = await (self._publish_logged(logged) if logged else self._publish())
        await self._prune_when_due()
        return moved > 0 or published > 0

    async def _idle(self) -> None:
        """Wait for a wake-up (a commit in this process) or the next poll (commits of the
        node's other processes)."""
        await self._idle_wait.wait(self._wake)
        self._wake.clear()

    # -- the lease ------------------------------------------------------------------------
    async def _hold_lease(self) -> bool:
        now = self._clock()
        if self._lease_until is not None and now < self._lease_until - timedelta(
                seconds=self._lease / 3):
            return True
        if self._lease_until is None and self._retry_at is not None and now < self._retry_at:
            return False  # another node leads: ask again a third of a lease later, not per poll
        until = now + timedelta(seconds=self._lease)
        async with self._db.write.begin() as conn:
            result = await conn.execute(
                update(relay_state)
                .where(RELAY, (relay_state.c.holder == self.node)
                       | relay_state.c.holder.is_(None)
                       | (relay_state.c.lease_expires_at < now))
                .values(holder=self.node, lease_expires_at=until))
        held = result.rowcount == 1
        if held and self._lease_until is None:
            log.info("relay_leading", node=self.node)
        self._lease_until = until if held else None
        self._retry_at = None if held else now + timedelta(seconds=self._lease / 3)
        return held

    # -- moving ---------------------------------------------------------------------------
    async def _move(self) -> tuple[int, list[EventRecord]]:
        """Move a batch from the outbox to the log: how many, and the records logged when
        every event before them has been published already (else none)."""
        async with self._db.read.connect() as conn:  # cheap look before taking a write lock
            if (await conn.execute(select(outbox.c.id).limit(1))).first() is None:
                return 0, []
        if self.tracing is None:
            records, caught_up = await self._move_batch()
        else:  # a span linked to the writes whose events it moved
            with self.tracing.span("outbox relay") as span:
                records, caught_up = await self._move_batch()
                span.set_attribute("stockline.events.moved", len(records))
                for link in self.tracing.links(r.traceparent for r in records):
                    span.add_link(link.context)
        return len(records), records if caught_up else []

    async def _move_batch(self) -> tuple[list[EventRecord], bool]:
        """The records moved, and whether every event before them was published."""
        now = self._clock()
        async with self._db.write.begin() as conn:
            state = (await conn.execute(select(relay_state).where(RELAY)
                                        .with_for_update())).one()
            if state.holder != self.node or state.lease_expires_at < now:
                self._lease_until = None  # another relay took over: stand down
                return [], False
            rows = (await conn.execute(select(outbox).order_by(outbox.c.id)
                                       .limit(self._batch))).all()
            if not rows:
                return [], False
            first = int(state.last_event_id) + 1
            logged = [{"id": first + n, "type": r.type, "location_id": r.location_id,
                       "sku": r.sku, "payload": r.payload, "occurred_at": r.occurred_at,
                       "logged_at": now, "traceparent": r.traceparent}
                      for n, r in enumerate(rows)]
            await conn.execute(events.insert(), logged)
            await conn.execute(delete(outbox).where(outbox.c.id.in_([r.id for r in rows])))
            await conn.execute(update(relay_state).where(RELAY)
                               .values(last_event_id=first + len(rows) - 1))
            records = [EventRecord(id=v["id"], type=v["type"], occurred_at=v["occurred_at"],
                                   location_id=v["location_id"], sku=v["sku"],
                                   data=orjson.loads(v["payload"]),
                                   traceparent=v["traceparent"]) for v in logged]
            for hook in self._on_logged:
                await hook(conn, records)
        return records, int(state.published_through) == first - 1

    # -- publishing -----------------------------------------------------------------------
    async def _publish_logged(self, records: list[EventRecord]) -> int:
        """Publish the records just logged, without reading them back."""
        if not await self._send(records):
            return 0
        await self._published(records[-1].id)
        return len(records)

    async def _send(self, records: list[EventRecord]) -> bool:
        try:
            if self.tracing is None:
                await self._bus.publish(records)
            else:
                with self.tracing.span(f"{self._bus.name} publish", kind=SpanKind.PRODUCER,
                                       links=(r.traceparent for r in records),
                                       attributes={"messaging.system": self._bus.name,
                                                   "messaging.batch.message_count":
                                                   len(records)}):
                    await self._bus.publish(records)
        except BusUnavailable as exc:
            if not self._bus_down_logged:
                log.warning("bus_unavailable", bus=self._bus.name, error=str(exc))
                self._bus_down_logged = True
            return False
        if self._bus_down_logged:
            log.info("bus_available", bus=self._bus.name)
            self._bus_down_logged = False
        return True

    async def _published(self, last: int) -> None:
        async with self._db.write.begin() as conn:
            await conn.execute(update(relay_state)
                               .where(RELAY, relay_state.c.published_through < last)
                               .values(published_through=last))

    async def _publish(self) -> int:
        async with self._db.read.connect() as conn:
            state = (await conn.execute(select(relay_state.c.published_through,
                                               relay_state.c.last_event_id).where(RELAY))).one()
        if state.published_through >= state.last_event_id:
            return 0
        records = await self._reader.events_after(int(state.published_through), EVERYTHING,
                                                  self._batch)
        if not records or not await self._send(records):
            return 0
        await self._published(records[-1].id)
        return len(records)

    # -- retention ------------------------------------------------------------------------
    async def _prune_when_due(self) -> None:
        now = self._clock()
        if self._next_prune is not None and now < self._next_prune:
            return
        self._next_prune = now + timedelta(minutes=1)
        await self.prune(now)

    async def prune(self, now: datetime) -> int:
        """Forget events older than the retention, once published and delivered to webhooks."""
        pruned = await prune_events(self._db.write, now=now, retention=self._retention)
        return pruned.forgotten


async def prune_events(engine: AsyncEngine, *, now: datetime, retention: timedelta
                       ) -> Upkeep:
    """Forget the events logged before ``now - retention`` that the bus and every webhook
    have had: how many, and the partitions dropped. Where the log is partitioned by month
    (PostgreSQL), the months wholly past go by dropping their partitions; only the rest is
    deleted row by row."""
    before = now - retention
    async with engine.begin() as conn:
        state = (await conn.execute(select(relay_state).where(RELAY)
                                    .with_for_update())).one()
        cut = (await conn.execute(select(func.max(events.c.id))
                                  .where(events.c.logged_at < before))).scalar()
        pending = (await conn.execute(
            select(func.min(webhook_deliveries.c.event_id))
            .where(webhook_deliveries.c.status != "delivered"))).scalar()
        limits = [int(state.published_through)] + ([int(pending) - 1] if pending else [])
        if cut is None or min([int(cut), *limits]) <= state.pruned_through:
            return Upkeep(created=[], dropped=[])
        cut = min([int(cut), *limits])
        dropped = await drop_months_through(conn, "events", before=before, last_id=cut)
        await conn.execute(delete(events).where(events.c.id <= cut))
        await conn.execute(update(relay_state).where(RELAY).values(pruned_through=cut))
    # Ids are gap-free and every id up to pruned_through is gone: these are the ones forgotten.
    forgotten = cut - int(state.pruned_through)
    log.info("events_pruned", through=cut, count=forgotten, partitions_dropped=dropped)
    return Upkeep(created=[], dropped=dropped, forgotten=forgotten)
