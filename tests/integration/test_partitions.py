"""Monthly partitions of the ledger, the event log and sales on PostgreSQL (migration 0021):
rows, ids and constraints survive the migration both ways, an insert never lacks a
partition, ``stockline maintain`` makes months ahead, and retention drops whole months."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from stockline.adapters.database import Database, open_database
from stockline.adapters.migrate import alembic_config, upgrade
from stockline.adapters.partitions import (
    Month,
    add_months,
    create_ahead,
    create_month,
    month_of,
    partition_name,
)
from stockline.adapters.relay import prune_events
from stockline.config import Settings
from stockline.domain.ids import id_at
from tests.conftest import Databases
from tests.factories import run_cli

NOW = datetime.now(UTC)
OLD = NOW - timedelta(days=800)  # a month no partition covers until one is made for it
def sale_id(at: datetime, n: int = 0) -> str:
    """A sale's id as the server makes it at ``at``."""
    return id_at("sale", int(at.timestamp() * 1000), n)


SALE_COLUMNS = ("id, location_id, status, channel, payment_status, fulfillment_status, "
                "currency, total_amount, units, actor, occurred_at, created_at")


@pytest.fixture
async def postgres(settings: Settings) -> AsyncIterator[str]:
    """A new, empty PostgreSQL database (these tests are of PostgreSQL's partitions)."""
    if settings.is_sqlite:
        pytest.skip("partitions are PostgreSQL's; SQLite keeps plain tables")
    server = make_url(settings.database_url)
    name = f"stockline_part_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(server.set(drivername="postgresql")
                                  .render_as_string(hide_password=False))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield server.set(database=name).render_as_string(hide_password=False)
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def head(postgres: str) -> AsyncIterator[Database]:
    database = open_database(postgres)
    await upgrade(database.write)
    try:
        yield database
    finally:
        await database.dispose()


async def _downgrade(engine: AsyncEngine, revision: str) -> None:
    def run(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, revision)

    async with engine.connect() as conn, conn.begin():
        await conn.run_sync(run)


async def _fill(engine: AsyncEngine) -> None:
    """Sales (with lines and a return), ledger rows and events over three years."""
    times = [OLD, NOW - timedelta(days=40), NOW, NOW + timedelta(days=400)]
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO locations (code, type, name, created_at) "
                                "VALUES ('L1', 'retail', 'L1', :at)"), {"at": NOW})
        for n, at in enumerate(times):
            await conn.execute(text(
                f"INSERT INTO sales ({SALE_COLUMNS}) VALUES (:id, 'L1', 'completed', 'pos', "
                "'paid', 'fulfilled', 'USD', 100, 1, 't', :at, :at)"),
                {"id": sale_id(at), "at": at})
            await conn.execute(text(
                "INSERT INTO sale_lines (sale_id, line_no, sku, quantity, unit_price_amount) "
                "VALUES (:id, 1, 'X', 1, 100)"), {"id": sale_id(at)})
            await conn.execute(text(
                "INSERT INTO stock_movements (location_id, sku, delta, balance_after, type, "
                "reason, actor, occurred_at, recorded_at) VALUES ('L1', 'X', -1, 0, 'sale', "
                "'sale', 't', :at, :at)"), {"at": at})
            await conn.execute(text(
                "INSERT INTO events (id, type, payload, occurred_at, logged_at) "
                "VALUES (:id, 'sale.recorded', '{}', :at, :at)"), {"id": n + 1, "at": at})
        await conn.execute(text(
            "INSERT INTO sale_returns (id, sale_id, location_id, restock, reason, actor, "
            "created_at) VALUES ('R1', :sale, 'L1', true, 'x', 't', :at)"),
            {"sale": sale_id(OLD), "at": NOW})


async def _snapshot(engine: AsyncEngine) -> dict[str, list[Any]]:
    async with engine.connect() as conn:
        return {table: [tuple(r) for r in (await conn.execute(text(
            f"SELECT {columns} FROM {table} ORDER BY {order}"))).all()]
            for table, columns, order in (
                ("sales", "id, occurred_at, total_amount", "id"),
                ("sale_lines", "sale_id, line_no", "sale_id"),
                ("stock_movements", "id, occurred_at, delta", "id"),
                ("events", "id, logged_at, type", "id"))}


async def _kinds(engine: AsyncEngine) -> dict[str, str]:
    async with engine.connect() as conn:
        rows = (await conn.execute(text(
            "SELECT relname, relkind::text AS relkind FROM pg_class WHERE relname IN "
            "('sales', 'events', 'stock_movements')"))).all()
    return {r.relname: r.relkind for r in rows}


async def _refused(engine: AsyncEngine, statement: str) -> bool:
    try:
        async with engine.begin() as conn:
            await conn.execute(text(statement))
    except IntegrityError:
        return True
    return False


async def _constraints_hold(engine: AsyncEngine) -> None:
    assert await _refused(engine, "INSERT INTO sale_lines (sale_id, line_no, sku, quantity, "
                                  "unit_price_amount) VALUES ('NONE', 1, 'X', 1, 1)")
    assert await _refused(engine, f"DELETE FROM sales WHERE id = '{sale_id(OLD)}'")
    assert await _refused(engine, "INSERT INTO sales (" + SALE_COLUMNS + ") VALUES ('S9', "
                                  "'NOWHERE', 's', 'pos', 'paid', 'f', 'USD', 1, 1, 't', "
                                  "now(), now())")


async def test_0021_partitions_the_tables_and_its_downgrade_undoes_it_rows_intact(
        postgres: str) -> None:
    database = open_database(postgres)
    engine = database.write
    try:
        await upgrade(engine, "0020")
        await _fill(engine)
        before = await _snapshot(engine)
        await upgrade(engine)
        assert set((await _kinds(engine)).values()) == {"p"}
        assert await _snapshot(engine) == before  # every row, same ids, same order
        await _constraints_hold(engine)
        async with engine.begin() as conn:  # the ledger's sequence goes on where it was
            new_id = (await conn.execute(text(
                "INSERT INTO stock_movements (location_id, sku, delta, balance_after, type, "
                "reason, actor, occurred_at, recorded_at) VALUES ('L1', 'X', 1, 1, 'receipt', "
                "'receipt', 't', now(), now()) RETURNING id"))).scalar_one()
        assert new_id == len(before["stock_movements"]) + 1
        after = await _snapshot(engine)
        await _downgrade(engine, "0020")
        assert set((await _kinds(engine)).values()) == {"r"}
        assert await _snapshot(engine) == after
        await _constraints_hold(engine)
        async with engine.connect() as conn:
            owner = (await conn.execute(text(
                "SELECT pg_get_serial_sequence('stock_movements', 'id')"))).scalar()
        assert owner is not None
    finally:
        await database.dispose()


async def _partition_of(engine: AsyncEngine, table: str, key: str) -> str:
    async with engine.connect() as conn:
        return str((await conn.execute(text(
            f"SELECT tableoid::regclass::text FROM {table} WHERE id = :k"), {"k": key})
        ).scalar_one())


async def test_a_sale_outside_every_month_made_lands_in_the_default_partition_and_moves_into_its_month_once_made(  # noqa: E501
        head: Database) -> None:
    engine = head.write
    far = NOW + timedelta(days=3 * 365)
    old, far_id, now_id = sale_id(OLD), sale_id(far), sale_id(NOW)
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO locations (code, type, name, created_at) "
                                "VALUES ('L1', 'retail', 'L1', :at)"), {"at": NOW})
        for key, at in ((old, OLD), (far_id, far), (now_id, NOW)):
            await conn.execute(text(
                f"INSERT INTO sales ({SALE_COLUMNS}) VALUES (:id, 'L1', 'completed', 'pos', "
                "'paid', 'fulfilled', 'USD', 100, 1, 't', :at, :at)"), {"id": key, "at": at})
            await conn.execute(text(
                "INSERT INTO sale_lines (sale_id, line_no, sku, quantity, unit_price_amount) "
                "VALUES (:id, 1, 'X', 1, 100)"), {"id": key})
    assert await _partition_of(engine, "sales", far_id) == "sales_default"
    assert await _partition_of(engine, "sales", now_id) == partition_name("sales", month_of(NOW))
    made = await create_ahead(engine, now=far, ahead=0)
    assert partition_name("sales", month_of(far)) in made
    assert await _partition_of(engine, "sales", far_id) == partition_name("sales", month_of(far))
    assert await _partition_of(engine, "sales", old) == "sales_default"
    assert await create_ahead(engine, now=far, ahead=0) == []  # made once
    # The sale's lines still hold it: the foreign keys came back with the month.
    assert await _refused(engine, f"DELETE FROM sales WHERE id = '{far_id}'")
    assert await _refused(engine, "INSERT INTO sale_lines (sale_id, line_no, sku, quantity, "
                                  "unit_price_amount) VALUES ('NONE', 1, 'X', 1, 1)")


async def _partitions(engine: AsyncEngine, table: str) -> set[str]:
    async with engine.connect() as conn:
        return set((await conn.execute(text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass(:t)"), {"t": table})).scalars())


async def _log_events(engine: AsyncEngine, times: list[datetime]) -> None:
    """Events 1..n logged at ``times``, published, as the relay leaves them."""
    async with engine.begin() as conn:
        for n, at in enumerate(times, start=1):
            await conn.execute(text(
                "INSERT INTO events (id, type, payload, occurred_at, logged_at) "
                "VALUES (:id, 'x', '{}', :at, :at)"), {"id": n, "at": at})
        await conn.execute(text("UPDATE relay_state SET last_event_id = :n, "
                                "published_through = :n"), {"n": len(times)})


async def test_retention_drops_the_months_wholly_past_and_deletes_the_rest_row_by_row(
        head: Database) -> None:
    engine = head.write
    old = [add_months(month_of(NOW), step) for step in (-6, -5, -4)]
    for month in old:
        async with engine.begin() as conn:
            await create_month(conn, Month("events", month))
    edge = NOW - timedelta(days=30)
    times = [datetime.combine(m, datetime.min.time(), UTC) + timedelta(days=3) for m in old]
    await _log_events(engine, [*times, edge - timedelta(hours=1), edge + timedelta(hours=1),
                               NOW])
    pruned = await prune_events(engine, now=NOW, retention=timedelta(days=30))
    assert pruned.dropped == [partition_name("events", m) for m in old]
    assert pruned.forgotten == 4
    remaining = await _partitions(engine, "events")
    assert not remaining & set(pruned.dropped)
    async with engine.connect() as conn:
        kept = (await conn.execute(text("SELECT id FROM events ORDER BY id"))).scalars().all()
        through = (await conn.execute(text("SELECT pruned_through FROM relay_state"))).scalar()
    assert (list(kept), through) == ([5, 6], 4)


async def test_maintain_makes_the_months_ahead_and_applies_the_retention(
        head: Database, postgres: str) -> None:
    engine = head.write
    old = month_of(NOW - timedelta(days=120))
    async with engine.begin() as conn:
        await create_month(conn, Month("events", old))
    at = datetime.combine(old, datetime.min.time(), UTC) + timedelta(days=1)
    await _log_events(engine, [at, NOW])
    code, _, said = await asyncio.to_thread(run_cli, postgres, "maintain",
                                            "--months-ahead", "6")
    assert code == 0, said
    last = add_months(month_of(NOW), 6)
    for table in ("sales", "events", "stock_movements"):
        assert partition_name(table, last) in await _partitions(engine, table)
        assert f"created {partition_name(table, last)}" in said
    assert f"dropped {partition_name('events', old)}" in said
    assert partition_name("events", old) not in await _partitions(engine, "events")
    async with engine.connect() as conn:
        kept = (await conn.execute(text("SELECT id FROM events"))).scalars().all()
    assert list(kept) == [2]  # within the retention (7 days by default)
    _, _, again = await asyncio.to_thread(run_cli, postgres, "maintain", "--months-ahead", "6")
    assert "0 partitions created, 0 dropped" in again


async def test_a_sale_by_id_and_the_check_of_its_lines_read_one_month(
        head: Database) -> None:
    """Sales are cut on their id, whose time is their creation's: a lookup by id, and the
    foreign key of a line to its sale, read the one month the id falls in."""
    engine = head.write
    times = [NOW - timedelta(minutes=20 * g) for g in range(1, 5200)]  # two years, about
    async with engine.begin() as conn:  # 200 sales a month
        for step in range(-24, 0):
            await create_month(conn, Month("sales", add_months(month_of(NOW), step)))
        await conn.execute(text("INSERT INTO locations (code, type, name, created_at) "
                                "VALUES ('L1', 'retail', 'L1', now())"))
        await conn.execute(text(
            f"INSERT INTO sales ({SALE_COLUMNS}) VALUES (:id, 'L1', 'completed', 'pos', "
            "'paid', 'fulfilled', 'USD', 100, 1, 't', :at, :at)"),
            [{"id": sale_id(at, n), "at": at} for n, at in enumerate(times)])
        await conn.execute(text("ANALYZE sales"))
        wanted = sale_id(times[3000], 3000)
        plan = "\n".join((await conn.execute(text(
            f"EXPLAIN SELECT * FROM sales WHERE id = '{wanted}'"))).scalars())
        triggers = (await conn.execute(text(
            "SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal AND tgrelid IN "
            "(to_regclass('sales'), to_regclass('sale_lines'), to_regclass('sale_returns'))"))
        ).scalar()
    assert len(await _partitions(engine, "sales")) >= 28
    assert plan.count("Scan using") == 1, plan
    assert partition_name("sales", month_of(times[3000])) in plan
    assert triggers == 0  # the references are foreign keys
    assert await _partition_of(engine, "sales", wanted) == partition_name(
        "sales", month_of(times[3000]))


async def test_sqlite_keeps_plain_tables_and_maintain_has_nothing_to_do(
        databases: Databases) -> None:
    url = await databases.new("sqlite")
    database = open_database(url)
    try:
        assert await create_ahead(database.write, now=NOW, ahead=3) == []
    finally:
        await database.dispose()
    code, _, said = await asyncio.to_thread(run_cli, url, "maintain")
    assert code == 0, said
    assert "0 partitions created, 0 dropped" in said
