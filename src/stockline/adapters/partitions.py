"""Monthly partitions of the big, time-ordered tables, on PostgreSQL.

The ledger (``stock_movements``) and the event log (``events``) are RANGE-partitioned by
month on their time column, and ``sales`` on its id, whose leading 48 bits are the
milliseconds of the sale's creation (``domain/ids.py``), cut at the first id of each month
(migration 0020). Keyed by id, ``sales`` keeps ``id`` as its whole primary key: a lookup by
id reads one partition, and ``sale_lines`` and ``sale_returns`` keep real foreign keys to
it. One partition a month,
named ``<table>_yYYYYmMM``, and a default partition, ``<table>_default``, that takes any row
no month partition covers (a sale back-dated before the first month, say), so that an
insert never fails for want of a partition. Months are created ahead, by the server once a
day and by ``stockline maintain``; a month created while the default partition holds rows
of it takes them over. Retention drops whole months instead of deleting their rows.

SQLite keeps these tables as they are: every function here is PostgreSQL-only, and
``partitioned`` tells whether a database has them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

import structlog
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from stockline.domain.ids import first_id_at

log = structlog.get_logger("stockline.partitions")

# Each partitioned table and the column its months are cut on.
PARTITIONED: dict[str, str] = {
    "stock_movements": "occurred_at",
    "events": "logged_at",
    "sales": "id",
}
# The tables cut on their id, with their ids' prefix, and the time column that follows the
# id's time (what the migration reads to know the months its rows span).
BY_ID: dict[str, tuple[str, str]] = {"sales": ("sale", "created_at")}
MONTH_NAME = re.compile(r"^(?P<table>[a-z_]+)_y(?P<year>\d{4})m(?P<month>\d{2})$")
# Taken (for the transaction) by whatever creates or drops partitions, so that two servers
# doing their daily upkeep at once do not trip on each other's half-made tables.
LOCK_KEY = 0x5EC7_0020
# How long partition upkeep waits for a table lock before giving up until its next run
# (it needs a short exclusive lock; queueing behind a long report would stall writes).
LOCK_TIMEOUT = "2s"
LOCK_NOT_AVAILABLE = "55P03"


def month_of(moment: datetime | date) -> date:
    return date(moment.year, moment.month, 1)


def add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def partition_name(table: str, month: date) -> str:
    return f"{table}_y{month.year:04d}m{month.month:02d}"


def default_name(table: str) -> str:
    return f"{table}_default"


def _bound(table: str, month: date) -> str:
    """The literal a month of ``table`` starts at: a time, or the month's first id."""
    if table in BY_ID:
        return f"'{first_id_at(BY_ID[table][0], datetime.combine(month, time.min, UTC))}'"
    return f"'{month.isoformat()} 00:00:00+00'"


def time_column(table: str) -> str:
    """The column whose time tells the month of a row of ``table``."""
    return BY_ID[table][1] if table in BY_ID else PARTITIONED[table]


def is_partition_name(name: str) -> bool:
    """Whether ``name`` is one of the partitions this module makes (schema comparisons
    leave them out: the table definitions describe the parents)."""
    found = MONTH_NAME.match(name)
    table = found.group("table") if found else name.removesuffix("_default")
    return table in PARTITIONED and (found is not None or name.endswith("_default"))


@dataclass(frozen=True, slots=True, order=True)
class Month:
    table: str
    month: date

    @property
    def name(self) -> str:
        return partition_name(self.table, self.month)

    @property
    def end(self) -> date:
        return add_months(self.month, 1)

    @property
    def bounds(self) -> str:
        return (f"FROM ({_bound(self.table, self.month)}) "
                f"TO ({_bound(self.table, self.end)})")


@dataclass(frozen=True, slots=True)
class Upkeep:
    """What a run of the upkeep did: partitions made and dropped, events forgotten."""

    created: list[str]
    dropped: list[str]
    forgotten: int = 0


async def partitioned(conn: AsyncConnection, table: str) -> bool:
    """Whether ``table`` is a partitioned table here (never on SQLite)."""
    if conn.dialect.name != "postgresql":
        return False
    kind = (await conn.execute(text(
        "SELECT c.relkind::text FROM pg_class c WHERE c.oid = to_regclass(:t)"), {"t": table})
    ).scalar()
    return kind == "p"


async def months(conn: AsyncConnection, table: str) -> list[Month]:
    """The month partitions of ``table``, oldest first."""
    names = (await conn.execute(text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = to_regclass(:t)"), {"t": table})).scalars().all()
    found = [MONTH_NAME.match(n) for n in names]
    return sorted(Month(table, date(int(m["year"]), int(m["month"]), 1))
                  for m in found if m and m["table"] == table)


async def _guard(conn: AsyncConnection) -> None:
    await conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
    await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})


def create_month_sql(part: Month, parent: str | None = None) -> str:
    """The statement that makes one month's partition, when the default partition holds
    none of its rows (idempotent); ``parent`` when the table is still being built under
    another name (migration 0020)."""
    return (f"CREATE TABLE IF NOT EXISTS {part.name} PARTITION OF {parent or part.table} "
            f"FOR VALUES {part.bounds}")


def create_default_sql(table: str, parent: str | None = None) -> str:
    return (f"CREATE TABLE IF NOT EXISTS {default_name(table)} "
            f"PARTITION OF {parent or table} DEFAULT")


async def create_month(conn: AsyncConnection, part: Month) -> None:
    """Make one month's partition; rows of that month already in the default partition
    move into it (PostgreSQL refuses the new partition while the default holds any)."""
    column = PARTITIONED[part.table]
    within = (f"{column} >= {_bound(part.table, part.month)} "
              f"AND {column} < {_bound(part.table, part.end)}")
    stray = (await conn.execute(text(
        f"SELECT EXISTS (SELECT 1 FROM {default_name(part.table)} WHERE {within})"))).scalar()
    if not stray:
        await conn.execute(text(create_month_sql(part)))
        return
    # The rows leave the table for a moment: the foreign keys to it would refuse that.
    references = await _references(conn, part.table)
    for child, name, _ in references:
        await conn.execute(text(f"ALTER TABLE {child} DROP CONSTRAINT {name}"))
    await conn.execute(text(f"CREATE TABLE {part.name} (LIKE {part.table} INCLUDING DEFAULTS)"))
    await conn.execute(text(
        f"WITH moved AS (DELETE FROM {default_name(part.table)} WHERE {within} RETURNING *) "
        f"INSERT INTO {part.name} SELECT * FROM moved"))
    await conn.execute(text(
        f"ALTER TABLE {part.table} ATTACH PARTITION {part.name} FOR VALUES {part.bounds}"))
    for child, name, definition in references:
        await conn.execute(text(f"ALTER TABLE {child} ADD CONSTRAINT {name} {definition}"))


async def _references(conn: AsyncConnection, table: str) -> list[tuple[str, str, str]]:
    """The foreign keys that point at ``table``: (table, name, definition) of each."""
    rows = (await conn.execute(text(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
        "FROM pg_constraint WHERE contype = 'f' AND confrelid = to_regclass(:t) "
        "AND conparentid = 0 ORDER BY conname"), {"t": table})).all()
    return [(str(child), str(name), str(definition)) for child, name, definition in rows]


async def create_ahead(engine: AsyncEngine, *, now: datetime, ahead: int) -> list[str]:
    """Make every month partition from the current month to ``ahead`` months on, for each
    partitioned table: the names made (none when all exist, or on SQLite)."""
    created: list[str] = []
    if engine.dialect.name != "postgresql":
        return created
    async with engine.begin() as conn:
        await _guard(conn)
        for table in PARTITIONED:
            if not await partitioned(conn, table):
                continue
            have = {m.month for m in await months(conn, table)}
            for step in range(ahead + 1):
                month = add_months(month_of(now.astimezone(UTC)), step)
                if month not in have:
                    await create_month(conn, Month(table, month))
                    created.append(partition_name(table, month))
    if created:
        log.info("partitions_created", names=created)
    return created


async def drop_months_through(conn: AsyncConnection, table: str, *, before: datetime,
                              last_id: int) -> list[str]:
    """Drop, oldest first, the month partitions of ``table`` that end by ``before`` and
    whose rows all have ids up to ``last_id`` (the rows retention would delete): the names
    dropped. Runs in the caller's transaction; a lock not had in time drops nothing (the
    caller's DELETE does the work, and a later run drops the months)."""
    if not await partitioned(conn, table):
        return []
    dropped: list[str] = []
    async with conn.begin_nested() as savepoint:
        try:
            await _guard(conn)
            for part in await months(conn, table):
                if datetime.combine(part.end, datetime.min.time(), UTC) > before:
                    break
                top = (await conn.execute(text(f"SELECT max(id) FROM {part.name}"))).scalar()
                if top is not None and int(top) > last_id:
                    break
                await conn.execute(text(f"DROP TABLE {part.name}"))
                dropped.append(part.name)
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) != LOCK_NOT_AVAILABLE:
                raise
            await savepoint.rollback()
            log.warning("partition_drop_postponed", table=table)
            return []
    if dropped:
        log.info("partitions_dropped", names=dropped)
    return dropped

