"""Alembic environment: runs on a given connection, or opens one from the configured URL."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from stockline.adapters.migrate import comparison_options
from stockline.adapters.tables import metadata
from stockline.config import Settings, normalize_database_url

config = context.config


def _configure(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    context.configure(connection=connection, target_metadata=metadata, compare_type=True,
                      render_as_batch=sqlite,
                      **comparison_options(connection.dialect.name))
    if not sqlite:
        with context.begin_transaction():
            context.run_migrations()
        return
    # Foreign keys are off while SQLite copies and drops tables (adapters/migrate.py):
    # every reference is checked before the migration commits.
    with context.begin_transaction():
        context.run_migrations()
        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"the migration left broken references: {broken[:5]}")


async def _run_online() -> None:
    url = config.get_main_option("sqlalchemy.url") or Settings().database_url
    engine = create_async_engine(normalize_database_url(url), poolclass=pool.NullPool,
                                 hide_parameters=True)
    async with engine.connect() as connection:
        await connection.run_sync(_configure)
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=metadata,
                      literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
elif (given := config.attributes.get("connection")) is not None:
    _configure(given)
else:
    asyncio.run(_run_online())
