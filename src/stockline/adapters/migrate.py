"""Running the Alembic migrations from code (CLI, tests), on either backend."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import ForeignKeyConstraint
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

import stockline
from stockline.adapters.partitions import is_partition_name
from stockline.adapters.queries.search import outside_tables

SCRIPT_LOCATION = Path(stockline.__file__).parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def comparison_options(dialect: str) -> dict[str, Any]:
    """What Alembic's comparison of the schema with the table definitions leaves out: the
    search objects, and on PostgreSQL the partitions (the definitions describe their
    parents) and the foreign keys PostgreSQL keeps to each partition of a partitioned table
    that a foreign key points at."""
    postgres = dialect == "postgresql"

    def include_name(name: str | None, type_: str, parents: Any) -> bool:
        return outside_tables(name, type_, parents) and not (
            postgres and type_ == "table" and name is not None and is_partition_name(name))

    def include_object(obj: Any, name: str | None, type_: str, reflected: bool,
                       compare_to: Any) -> bool:
        return not (postgres and reflected and isinstance(obj, ForeignKeyConstraint)
                    and is_partition_name(obj.referred_table.name))

    return {"include_name": include_name, "include_object": include_object}


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` over one of the engine's connections."""

    def run(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            await _foreign_keys(conn, "OFF")
        try:
            async with conn.begin():
                await conn.run_sync(run)
        finally:
            if sqlite:
                await _foreign_keys(conn, "ON")


async def _foreign_keys(conn: AsyncConnection, state: str) -> None:
    """SQLite changes a table by copying it and dropping the old one, which a row of another
    table referencing it forbids while foreign keys are on; the pragma only takes effect
    outside a transaction, so it is sent on the driver's connection before one begins (the
    migration checks every reference before it commits: migrations/env.py)."""
    driver = (await conn.get_raw_connection()).driver_connection
    assert driver is not None
    await driver.execute(f"PRAGMA foreign_keys={state}")
