"""A server stopping in the middle of the relay's work keeps its audit records (a fresh
database each test, on SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from stockline.adapters.audit import AuditRecord
from stockline.adapters.bus import EventRecord
from stockline.adapters.tables import audit_log, events
from stockline.bootstrap import bootstrap
from stockline.config import Settings
from stockline.domain.commands import CreateLocation, CreateProduct, ReceiveStock
from stockline.domain.values import LocationType
from stockline.services import catalog, inventory, locations
from stockline.services.executor import Caller
from tests.conftest import Databases

CALLER = Caller(principal="shutdown-test", actor="shutdown-test")
# A statement that runs for a second or so: PostgreSQL sleeps (a wall-clock second however
# loaded the machine), SQLite has no sleep and counts (about half a second on an idle machine;
# the close waits 15 s for the round, so a loaded machine has room).
SLOW = {"postgres": text("SELECT pg_sleep(1)"),
        "sqlite": text("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                       "WHERE i < 3000000) SELECT count(*) FROM n")}


async def test_closing_while_the_relay_is_in_a_statement_keeps_the_audit_records(
        backend: str, databases: Databases, tmp_path_factory: pytest.TempPathFactory) -> None:
    """A relay round cut off in the middle of a statement once kept SQLite's write lock
    on a connection nobody closed (until the garbage collector did), so the audit trail's
    last flush at close failed with 'database is locked' and its records were lost."""
    url = await databases.new(backend)
    container = bootstrap(Settings(database_url=url, env="test", log_level="warning",
                                   var_dir=tmp_path_factory.mktemp("var"),
                                   sqlite_busy_timeout_ms=1000))
    in_statement = asyncio.Event()
    moving: list[int] = []

    async def slow_hook(conn: AsyncConnection, records: list[EventRecord]) -> None:
        moving.extend(record.id for record in records)
        in_statement.set()
        await conn.execute(SLOW[backend])  # in the move's transaction

    container.relay.add_hook(slow_hook)
    await container.start(jobs=False)
    try:
        await container.executor.run(locations.create_location, CreateLocation(
            code="STORE", type=LocationType.RETAIL, name="Store"), CALLER)
        await container.executor.run(catalog.create_product, CreateProduct(
            sku="SKU-1", name="SKU-1", category="c", attributes={}, price=None), CALLER)
        await container.executor.run(inventory.receive_stock, ReceiveStock(
            location_id="STORE", quantities={"SKU-1": 1}), CALLER)
        await asyncio.wait_for(in_statement.wait(), timeout=30)
        await asyncio.sleep(0.1)  # the statement has begun
        container.audit.record(AuditRecord(
            at=datetime.now(UTC), principal_id=None, principal_name=None, role=None,
            method="GET", path="/shutdown-test", route=None, status=200, outcome="success",
            request_id=None, ip=None))
    finally:
        await container.close()  # raised OperationalError on SQLite before

    check = bootstrap(Settings(database_url=url, env="test", log_level="warning",
                               var_dir=tmp_path_factory.mktemp("var")))
    try:
        async with check.database.read.connect() as conn:
            audited = (await conn.execute(select(func.count()).select_from(audit_log).where(
                audit_log.c.path == "/shutdown-test"))).scalar_one()
            logged = (await conn.execute(select(events.c.id).where(
                events.c.id.in_(moving)).order_by(events.c.id))).scalars().all()
    finally:
        await check.close()
    assert audited == 1
    assert moving and logged == moving  # the round under way was finished, not cut off
