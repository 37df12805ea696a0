"""The composition root: settings in, wired services out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from stockline.adapters.database import Database, open_database
from stockline.adapters.housekeeping import Periodic, purge_idempotency_keys
from stockline.adapters.queries import Queries
from stockline.adapters.uow import SqlUnitOfWorkFactory
from stockline.config import Settings
from stockline.services import reservations
from stockline.services.executor import Executor, utcnow
from stockline.services.ports import UnitOfWorkFactory


@dataclass(slots=True)
class Container:
    settings: Settings
    database: Database
    executor: Executor
    queries: Queries
    background: list[Periodic] = field(default_factory=list)

    def start(self) -> None:
        """Start the background jobs (called by the server process, not by tools)."""
        for job in self.background:
            job.start()

    async def close(self) -> None:
        for job in self.background:
            await job.stop()
        await self.database.dispose()


def bootstrap(settings: Settings, *, uow_factory: UnitOfWorkFactory | None = None) -> Container:
    """Wire the service; tests pass their own unit of work factory to run without a database."""
    database = open_database(settings.database_url, pool_size=settings.db_pool_size,
                             busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    executor = Executor(uow_factory or SqlUnitOfWorkFactory(database.write))
    retention = timedelta(hours=settings.idempotency_retention_hours)

    async def purge() -> int:
        return await purge_idempotency_keys(database.write, now=utcnow(), retention=retention)

    async def expire_reservations() -> int:
        return await reservations.sweep_expired(executor)

    return Container(settings=settings, database=database, executor=executor,
                     queries=Queries(database.read),
                     background=[Periodic("purge-idempotency-keys", purge, interval=900),
                                 Periodic("expire-reservations", expire_reservations,
                                          interval=settings.reservation_sweep_interval_seconds)])
