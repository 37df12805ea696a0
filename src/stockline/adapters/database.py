"""Engines for SQLite (embedded default) and PostgreSQL, configured for safe concurrent writes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


@dataclass(slots=True)
class Database:
    """A writer engine and a reader engine (on PostgreSQL, one pool: reads autocommit)."""

    write: AsyncEngine
    read: AsyncEngine

    @property
    def dialect(self) -> str:
        return self.write.dialect.name

    async def dispose(self) -> None:
        await self.write.dispose()
        if self.read.pool is not self.write.pool:
            await self.read.dispose()


def open_database(url: str, *, pool_size: int = 10, busy_timeout_ms: int = 10_000) -> Database:
    """Nothing connects here; connections open on first use. Statement parameters (a
    customer, a key's hash) never appear in an error's message, so never in a log."""
    if url.startswith("sqlite"):
        return _open_sqlite(url, pool_size=pool_size, busy_timeout_ms=busy_timeout_ms)
    # No pre-ping (a round trip per checkout): a connection found broken is invalidated
    # with the whole pool by SQLAlchemy, the request gets a 503, and the next ones reconnect.
    # A few overflow connections for bursts; a pool too small for the load would open and
    # close overflow connections all the time (each a new PostgreSQL backend).
    engine = create_async_engine(url, pool_size=pool_size, max_overflow=max(2, pool_size // 4),
                                 pool_timeout=30, pool_recycle=1800, hide_parameters=True)
    # Reads share the pool without a transaction: under READ COMMITTED each statement has
    # its own snapshot either way, and BEGIN and ROLLBACK were two round trips per read.
    return Database(write=engine, read=engine.execution_options(isolation_level="AUTOCOMMIT"))


def open_replica(url: str, *, pool_size: int, connect_timeout: float = 2.0) -> AsyncEngine:
    """A streaming replica's engine (its reads run in autocommit, as the primary's: see
    ``adapters.replicas``); a connection refused or timed out within ``connect_timeout``
    sends the read to the primary."""
    return create_async_engine(url, pool_size=pool_size, max_overflow=max(2, pool_size // 4),
                               pool_timeout=5, pool_recycle=1800, hide_parameters=True,
                               connect_args={"timeout": connect_timeout})


def replica_name(url: str) -> str:
    """How logs and metrics name a replica: its host and port (never its credentials)."""
    parsed = make_url(url)
    return f"{parsed.host or 'localhost'}:{parsed.port or 5432}"


def _open_sqlite(url: str, *, pool_size: int, busy_timeout_ms: int) -> Database:
    database = make_url(url).database
    if not database or database == ":memory:" or "mode=memory" in url:
        raise ValueError("an in-memory SQLite database cannot be shared by the writer and "
                         "reader connections; give a file path, e.g. sqlite:///./var/stockline.db")
    Path(database).parent.mkdir(parents=True, exist_ok=True)
    # One writer connection per process: SQLite has one writer at a time anyway, and
    # queueing in the pool costs less than spinning on SQLITE_BUSY. busy_timeout covers
    # writers in other processes.
    write = create_async_engine(url, pool_size=1, max_overflow=0, pool_timeout=120,
                                hide_parameters=True)
    read = create_async_engine(url, pool_size=pool_size, max_overflow=pool_size,
                               hide_parameters=True)
    _configure_sqlite(write, busy_timeout_ms, begin="BEGIN IMMEDIATE")
    _configure_sqlite(read, busy_timeout_ms, begin="BEGIN")
    return Database(write=write, read=read)


def _configure_sqlite(engine: AsyncEngine, busy_timeout_ms: int, *, begin: str) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the sqlite3 module, which would begin lazily.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # secure_delete: what a change removes (an erased customer's reference) is
        # overwritten in the file, not left in free space (many builds default to it).
        for pragma in ("journal_mode=WAL", f"busy_timeout={busy_timeout_ms}",
                       "foreign_keys=ON", "synchronous=NORMAL", "secure_delete=ON"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # IMMEDIATE takes the write lock before the first read, so no read-then-write
        # transaction can interleave with another writer.
        conn.exec_driver_sql(begin)
