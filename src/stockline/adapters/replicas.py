"""Where a read runs: the primary, or a streaming replica (STOCKLINE_DATABASE_REPLICA_URLS).

The one place that decides it. An entrypoint marks a read that may use a replica (the
lists, reports, the ledger and the event log: ``replica_reads``); every other read, and
every write, stock decision, credential or idempotency lookup, runs on the primary.
A marked read goes to a replica that is up, lags no more than the bound, and, when the
caller sent the position of its own last write, has replayed at least that far; else to
the primary. A read that fails on a replica because the replica is unreachable or busy
is tried again on the primary (the replica is marked down until the next poll finds it
answering): a replica's death is never the caller's error.

One task per process polls the replicas (``poll``): each one's replay position and lag.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from stockline.adapters.driver_errors import storage_down
from stockline.adapters.positions import parse_position, read_position

T = TypeVar("T")
log = structlog.get_logger("stockline.replicas")

_REPLICA_STATE = text(
    "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text, "
    "extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8")
PRIMARY, REPLICA = "primary", "replica"


@dataclass(frozen=True, slots=True)
class ReplicaRead:
    """A read that may run on a replica: ``after``, the position the caller must see
    (its last write's), if it sent one."""

    after: int | None = None


_MARKED: ContextVar[ReplicaRead | None] = ContextVar("stockline_replica_read", default=None)


def mark_replica_read(after: int | None) -> None:
    """What an entrypoint says of the request (or operation) under way: its reads from
    here on may run on a replica. The mark lives in the request's own context."""
    _MARKED.set(ReplicaRead(after))


def current_read() -> ReplicaRead | None:
    """The mark of the request under way (None: its reads are the primary's)."""
    return _MARKED.get()


@contextlib.contextmanager
def replica_reads(after: int | None) -> Iterator[None]:
    """The same mark for a block, taken off at its end."""
    token = _MARKED.set(ReplicaRead(after))
    try:
        yield
    finally:
        _MARKED.reset(token)


@dataclass(slots=True)
class Replica:
    """A replica as the last poll found it. ``lag``: seconds of commits it may be missing
    (0 while it has replayed all the primary had written; infinite while unknown)."""

    name: str
    engine: AsyncEngine
    up: bool = False
    replayed: int = -1
    lag: float = float("inf")
    caught_up_at: float | None = None  # monotonic time it was last known caught up
    # Reads without a transaction, as the primary's (each statement its own snapshot).
    reader: AsyncEngine = field(init=False)

    def __post_init__(self) -> None:
        self.reader = self.engine.execution_options(isolation_level="AUTOCOMMIT")


@dataclass(frozen=True, slots=True)
class Seen:
    """One poll's reading of a replica."""

    in_recovery: bool
    replayed: int | None
    last_commit_age: float | None  # since the newest commit it replayed


def lag_of(seen: Seen, replica: Replica, primary_at: int | None, polled_at: float) -> float:
    """A bound on how stale the replica is: 0 when it has replayed all the primary had
    written (an idle primary's replica is not lagging however old its last commit);
    else the least of the time since it was last caught up and the age of the newest
    commit it has replayed (WAL is replayed in order: it has every earlier one)."""
    if seen.replayed is not None and primary_at is not None and seen.replayed >= primary_at:
        replica.caught_up_at = polled_at
        return 0.0
    bounds = [b for b in (seen.last_commit_age,
                          None if replica.caught_up_at is None
                          else polled_at - replica.caught_up_at) if b is not None]
    return max(0.0, min(bounds)) if bounds else float("inf")


@dataclass(slots=True)
class ReadRouter:
    """Runs reads on the primary's read engine or on a replica (see the module's doc)."""

    primary: AsyncEngine
    replicas: Sequence[Replica] = ()
    max_lag: float = 5.0
    on_read: Callable[[str], None] | None = None  # the target of each marked read
    on_polled: Callable[[Replica], None] | None = None
    poll_timeout: float = 2.0  # a replica slower than this to answer a poll is down
    _turn: int = field(default=0)

    def choose(self, read: ReplicaRead | None) -> Replica | None:
        """The replica a read may use (taking turns between those that qualify), or None
        for the primary."""
        if read is None or not self.replicas:
            return None
        fit = [r for r in self.replicas if r.up and r.lag <= self.max_lag
               and (read.after is None or r.replayed >= read.after)]
        if not fit:
            return None
        self._turn += 1
        return fit[self._turn % len(fit)]

    async def run(self, work: Callable[[AsyncConnection], Awaitable[T]],
                  **options: Any) -> T:
        """``work`` on one connection (``options``: the engine's execution options, such
        as an isolation level) where the request's mark lets it run."""
        read = current_read()
        replica = self.choose(read)
        if replica is not None:
            try:
                result = await _on(replica.reader, work, options)
            except Exception as exc:
                if not storage_down(exc):
                    raise
                self._down(replica, exc)
            else:
                self._served(REPLICA)
                return result
        result = await _on(self.primary, work, options)
        if read is not None:
            self._served(PRIMARY)
        return result

    def _served(self, target: str) -> None:
        if self.on_read is not None:
            self.on_read(target)

    def _down(self, replica: Replica, error: BaseException) -> None:
        if replica.up:
            log.warning("replica_down", replica=replica.name, error=str(error)[:300])
        replica.up = False
        if self.on_polled is not None:
            self.on_polled(replica)

    async def dispose(self) -> None:
        for replica in self.replicas:
            await replica.engine.dispose()

    async def poll(self) -> int:
        """Read every replica's state (the primary's position first); how many are up."""
        polled_at = time.monotonic()
        try:
            async with asyncio.timeout(self.poll_timeout):
                primary_at: int | None = await read_position(self.primary)
        except Exception as exc:
            log.warning("replica_poll_primary_failed", error=str(exc)[:300])
            primary_at = None
        await asyncio.gather(*(self._poll_one(r, primary_at, polled_at)
                               for r in self.replicas))
        return sum(1 for r in self.replicas if r.up)

    async def _poll_one(self, replica: Replica, primary_at: int | None,
                        polled_at: float) -> None:
        try:
            async with asyncio.timeout(self.poll_timeout):
                seen = await _on(replica.reader, _state, {})
        except Exception as exc:
            self._down(replica, exc)
            return
        if not seen.in_recovery:
            self._down(replica, RuntimeError("not a replica: it is not in recovery"))
            return
        if not replica.up:
            log.info("replica_up", replica=replica.name)
        replica.up = True
        replica.replayed = seen.replayed if seen.replayed is not None else -1
        replica.lag = lag_of(seen, replica, primary_at, polled_at)
        if self.on_polled is not None:
            self.on_polled(replica)


async def _on(engine: AsyncEngine, work: Callable[[AsyncConnection], Awaitable[T]],
              options: dict[str, Any]) -> T:
    if options:
        engine = engine.execution_options(**options)
    async with engine.connect() as conn:
        return await work(conn)


async def _state(conn: AsyncConnection) -> Seen:
    in_recovery, replayed, age = (await conn.execute(_REPLICA_STATE)).one()
    return Seen(in_recovery=bool(in_recovery),
                replayed=parse_position(replayed) if replayed else None,
                last_commit_age=float(age) if age is not None else None)
