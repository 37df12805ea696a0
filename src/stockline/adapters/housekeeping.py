"""Periodic upkeep run inside the server process: safe to run in several processes at once."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import delete
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from stockline.adapters.tables import idempotency_keys

log = structlog.get_logger("stockline.housekeeping")


async def purge_idempotency_keys(engine: AsyncEngine, *, now: datetime,
                                 retention: timedelta) -> int:
    """Forget keys older than the retention (never less than the 24 h the API promises)."""
    cutoff = now - max(retention, timedelta(hours=24))
    async with engine.begin() as conn:
        result = await conn.execute(delete(idempotency_keys)
                                    .where(idempotency_keys.c.created_at < cutoff))
    return int(result.rowcount or 0)


# The tables an erasure changes (services.customers.erase_customer).
ERASURE_TABLES = ("customers", "sales", "idempotency_keys")


async def reclaim_erased(engine: AsyncEngine) -> None:
    """After an erasure commits, have the database drop the old versions of the rows it
    changed, which it still keeps: PostgreSQL by a plain VACUUM of those tables (no lock
    that stops reads or writes; VACUUM runs outside a transaction), SQLite by a checkpoint
    that copies its WAL into the database file and empties the WAL. Best effort: a
    failure is logged, and the next (auto)vacuum or checkpoint does the same."""
    try:
        async with engine.connect() as conn:
            if engine.dialect.name == "postgresql":
                auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
                await auto.exec_driver_sql("VACUUM " + ", ".join(ERASURE_TABLES))
                log.info("erasure_reclaimed", how="vacuum")
                return
            # On the driver's connection: SQLAlchemy would begin a transaction first, and
            # a checkpoint cannot run inside one.
            driver: Any = (await conn.get_raw_connection()).driver_connection
            busy = await _checkpoint_without_waiting(driver)
            log.info("erasure_reclaimed", how="wal_checkpoint", complete=not busy)
    except (DBAPIError, sqlite3.Error, OSError) as exc:  # the driver's own, on SQLite
        log.warning("erasure_reclaim_failed", error=type(exc).__name__)


async def _checkpoint_without_waiting(driver: Any, *, attempts: int = 20,
                                      pause: float = 0.05) -> bool:
    """A TRUNCATE checkpoint that never waits on a lock: while it waits for readers it
    holds the write lock, so waiting out the busy timeout would stall every sale meanwhile.
    Each attempt does what it can at once (as a passive checkpoint would) and gives way;
    readers come and go (the relay and the streams read all the time), so it tries again a
    moment later, for about a second. True when the WAL could still not be emptied (a
    later checkpoint does it)."""
    async with driver.execute("PRAGMA busy_timeout") as cursor:
        timeout_ms = (await cursor.fetchone())[0]
    await driver.execute("PRAGMA busy_timeout=0")
    try:
        for attempt in range(attempts):
            async with driver.execute("PRAGMA wal_checkpoint(TRUNCATE)") as cursor:
                if not (await cursor.fetchone())[0]:
                    return False
            if attempt + 1 < attempts:
                await asyncio.sleep(pause)
        return True
    finally:
        await driver.execute(f"PRAGMA busy_timeout={int(timeout_ms)}")


class Periodic:
    """Runs a job every ``interval`` seconds until stopped; a failing run is logged, not fatal."""

    def __init__(self, name: str, job: Callable[[], Awaitable[object]], interval: float) -> None:
        self._name, self._job, self._interval = name, job, interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name=self._name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            try:
                result = await self._job()
                log.debug("job_done", job=self._name, result=result)
            except Exception:  # the next run may succeed; the server must go on
                log.exception("job_failed", job=self._name)
            await asyncio.sleep(self._interval)
