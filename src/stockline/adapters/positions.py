"""Commit positions: where in PostgreSQL's write-ahead log a write's commit lies.

A write's answer carries the primary's WAL position read after its commit (the
``Stockline-Position`` header); a read that sends it back (``Stockline-Read-After``) is
served by a replica only once the replica has replayed that far (``adapters.replicas``).
The token is the LSN as PostgreSQL spells it (``16/B374D848``): clients treat it as
opaque, and compare nothing.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

# Two hexadecimal halves of a 64-bit position, as pg_lsn's text form has them.
_LSN = re.compile(r"^([0-9A-Fa-f]{1,8})/([0-9A-Fa-f]{1,8})$")
# The insert position is at or after the end of every record inserted so far, a commit
# record included, whatever synchronous_commit says of its flush.
POSITION_SQL = "SELECT pg_current_wal_insert_lsn()::text"


class BadPosition(ValueError):
    """A token that is not a position this server gives out."""


def parse_position(token: str) -> int:
    """The WAL position a token names, as a number that orders positions."""
    match = _LSN.fullmatch(token.strip())
    if match is None:
        raise BadPosition("is not a position this server gave out (such as 0/16B3748)")
    return int(match.group(1), 16) << 32 | int(match.group(2), 16)


def format_position(lsn: int) -> str:
    """A position as a token (pg_lsn's own spelling)."""
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


class CommitPositions:
    """Reads the primary's current WAL position for the answers of writes, one query for
    every write that finished meanwhile: callers that arrive while a read is under way
    (which may have been sent before their commit) share the next one, so under load the
    cost is one round trip per wave of answers (a group-committed batch of sales shares
    one), never one per write. ``read``: the query itself (``PostgresHotReads``' driver
    pool, ``read_position`` over an engine)."""

    def __init__(self, read: Callable[[], Awaitable[int]]) -> None:
        self._read = read
        self._next: asyncio.Future[int] | None = None
        self._running: asyncio.Task[None] | None = None

    async def now(self) -> int:
        """A position at or after the commit of every transaction that committed before
        this call."""
        if self._next is None:
            self._next = asyncio.get_running_loop().create_future()
        waiting = self._next
        if self._running is None:
            self._running = asyncio.create_task(self._rounds(), name="commit-positions")
        return await asyncio.shield(waiting)

    async def _rounds(self) -> None:
        try:
            while self._next is not None:
                waiting, self._next = self._next, None
                try:
                    waiting.set_result(await self._read())
                except Exception as exc:  # each caller decides what a failed read means
                    waiting.set_exception(exc)
                    waiting.exception()  # retrieved: a caller that gave up logs nothing
        finally:
            self._running = None


async def read_position(engine: AsyncEngine) -> int:
    """The primary's WAL insert position now, through ``engine``."""
    async with engine.connect() as conn:
        return parse_position(str((await conn.execute(text(POSITION_SQL))).scalar_one()))
