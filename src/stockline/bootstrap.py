"""The composition root: settings in, wired services out."""

from __future__ import annotations

from dataclasses import dataclass

from stockline.adapters.database import Database, open_database
from stockline.adapters.queries import Queries
from stockline.adapters.uow import SqlUnitOfWorkFactory
from stockline.config import Settings
from stockline.services.executor import Executor
from stockline.services.ports import UnitOfWorkFactory


@dataclass(slots=True)
class Container:
    settings: Settings
    database: Database
    executor: Executor
    queries: Queries

    async def close(self) -> None:
        await self.database.dispose()


def bootstrap(settings: Settings, *, uow_factory: UnitOfWorkFactory | None = None) -> Container:
    """Wire the service; tests pass their own unit of work factory to run without a database."""
    database = open_database(settings.database_url, pool_size=settings.db_pool_size,
                             busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    executor = Executor(uow_factory or SqlUnitOfWorkFactory(database.write))
    return Container(settings=settings, database=database, executor=executor,
                     queries=Queries(database.read))
