"""The registry of serving processes: a heartbeat row each, so that any of them can list
every live one.

Each process (``STOCKLINE_NODE_NAME``; by default host and process id, so one per worker)
writes its row when it starts and again every ``every`` seconds: its name, when it
started, when it was last seen. A row not seen for three beats is of a process that has
stopped (or cannot reach the database): it is no longer listed, and the next beat of any
process deletes it. A process that stops cleanly deletes its own row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from stockline.adapters.dialects import upsert
from stockline.adapters.tables import nodes

HEARTBEAT_SECONDS = 5.0
MISSED_BEATS = 3  # a row not seen for this many beats is of a stopped process


@dataclass(frozen=True, slots=True)
class NodeRecord:
    name: str
    started_at: datetime
    last_seen: datetime


class NodeRegistry:
    def __init__(self, read: AsyncEngine, write: AsyncEngine, *, name: str,
                 clock: Callable[[], datetime], every: float = HEARTBEAT_SECONDS) -> None:
        self._read, self._write, self._clock = read, write, clock
        self.name, self.every = name, every
        self.started_at = clock()
        self._stale = timedelta(seconds=every * MISSED_BEATS)
        self._joined = False

    async def beat(self) -> int:
        """Say this process is alive; delete the rows of those that stopped (how many)."""
        now = self._clock()
        async with self._write.begin() as conn:
            stmt = upsert(conn, nodes).values(name=self.name, started_at=self.started_at,
                                              last_seen=now)
            await conn.execute(stmt.on_conflict_do_update(
                index_elements=[nodes.c.name],
                set_={"started_at": stmt.excluded.started_at,
                      "last_seen": stmt.excluded.last_seen}))
            pruned = await conn.execute(delete(nodes)
                                        .where(nodes.c.last_seen < now - self._stale))
        self._joined = True
        return int(pruned.rowcount or 0)

    async def leave(self) -> None:
        """Delete this process's row (it stops)."""
        if not self._joined:
            return
        async with self._write.begin() as conn:
            await conn.execute(delete(nodes).where(nodes.c.name == self.name))
        self._joined = False

    async def live(self) -> list[NodeRecord]:
        """The processes seen within the last beats, by name."""
        since = self._clock() - self._stale
        async with self._read.connect() as conn:
            rows = await conn.execute(select(nodes).where(nodes.c.last_seen >= since)
                                      .order_by(nodes.c.name))
            return [NodeRecord(r.name, r.started_at, r.last_seen) for r in rows]
