"""The one read every POS makes every second, through the driver alone.

Looking a level up through SQLAlchemy (checkout, statement, result, return) took twice the
time of the query itself. Here the lookup goes straight to the driver: an asyncpg pool of
its own on PostgreSQL (prepared statement, one round trip), and on SQLite a read-only
sqlite3 connection used on the event loop's thread (a primary-key read is a few
microseconds, less than the thread hop aiosqlite makes; in WAL mode a reader never waits
for a writer). ``level`` answers None whenever it cannot answer at once (no such row, a
busy or failing database): the caller then asks the full query path, which knows how to
say 404 or 503.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import asyncpg
import structlog
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from stockline.adapters.positions import POSITION_SQL, parse_position
from stockline.domain.model import Level

log = structlog.get_logger("stockline.hot_reads")

_COLUMNS = ("on_hand, reserved, in_transit, incoming, lotted, reorder_point, reorder_quantity, "
            "safety_stock, version, updated_at")


class HotReads(Protocol):
    async def level(self, location_id: str, sku: str) -> Level | None: ...

    async def close(self) -> None: ...


def hot_reads_for(engine: AsyncEngine, *, pool_size: int) -> HotReads:
    if engine.dialect.name == "sqlite":
        database = make_url(str(engine.url)).database
        assert database is not None
        return SqliteHotReads(database)
    return PostgresHotReads(engine, pool_size=pool_size)


def _level(location_id: str, sku: str, row: Any, updated_at: datetime | None) -> Level:
    return Level(location_id=location_id, sku=sku, on_hand=row[0], reserved=row[1],
                 in_transit=row[2], incoming=row[3], lotted=bool(row[4]),
                 reorder_point=row[5], reorder_quantity=row[6], safety_stock=row[7],
                 version=row[8], updated_at=updated_at)


class PostgresHotReads:
    """A small asyncpg pool beside SQLAlchemy's, opened on first use."""

    _SQL = (f"SELECT {_COLUMNS} FROM inventory_levels "  # noqa: S608 (constant columns)
            "WHERE location_id = $1 AND sku = $2")

    def __init__(self, engine: AsyncEngine, *, pool_size: int) -> None:
        self._engine, self._size = engine, pool_size
        self._pool: asyncpg.Pool | None = None
        self._opening: asyncio.Lock | None = None

    async def level(self, location_id: str, sku: str) -> Level | None:
        try:
            pool = self._pool or await self._open()
            row = await pool.fetchrow(self._SQL, location_id, sku)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.info("hot_read_failed", error=type(exc).__name__)
            return None
        if row is None:
            return None
        updated_at = row[9].astimezone(UTC) if row[9] is not None else None
        return _level(location_id, sku, row, updated_at)

    async def wal_position(self) -> int:
        """The primary's WAL insert position now (``adapters.positions``), one round trip."""
        pool = self._pool or await self._open()
        return parse_position(str(await pool.fetchval(POSITION_SQL)))

    async def _open(self) -> asyncpg.Pool:
        self._opening = self._opening or asyncio.Lock()
        async with self._opening:
            if self._pool is None:
                # The arguments SQLAlchemy itself gives asyncpg (host, port, user,
                # password, database, ssl and the like from the URL).
                _, params = self._engine.dialect.create_connect_args(self._engine.url)
                params.pop("async_creator_fn", None)
                params.pop("prepared_statement_cache_size", None)
                self._pool = await asyncpg.create_pool(
                    **params, min_size=1, max_size=self._size, timeout=5,
                    max_inactive_connection_lifetime=300)
            return self._pool

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            with contextlib.suppress(Exception):
                await asyncio.wait_for(pool.close(), 10)


class SqliteHotReads:
    """One read-only connection, never waiting: a busy database answers None."""

    _SQL = (f"SELECT {_COLUMNS} FROM inventory_levels "  # noqa: S608 (constant columns)
            "WHERE location_id = ? AND sku = ?")

    def __init__(self, path: str) -> None:
        self._path = path
        self._conn: sqlite3.Connection | None = None

    async def level(self, location_id: str, sku: str) -> Level | None:
        try:
            conn = self._conn or self._open()
            row = conn.execute(self._SQL, (location_id, sku)).fetchone()
        except sqlite3.Error as exc:
            log.info("hot_read_failed", error=type(exc).__name__)
            return None
        if row is None:
            return None
        stamp = row[9]
        updated_at = (datetime.fromisoformat(stamp).replace(tzinfo=UTC)
                      if isinstance(stamp, str) else None)
        return _level(location_id, sku, row, updated_at)

    def _open(self) -> sqlite3.Connection:
        uri = f"{Path(self._path).resolve().as_uri()}?mode=ro"
        conn = sqlite3.connect(uri, uri=True, timeout=0, isolation_level=None,
                               check_same_thread=False)
        conn.execute("PRAGMA query_only = ON")
        self._conn = conn
        return conn

    async def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.close()
