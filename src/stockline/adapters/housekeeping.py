"""Periodic upkeep run inside the server process: safe to run in several processes at once."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import structlog
from sqlalchemy import delete
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
