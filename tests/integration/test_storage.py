"""The SQL adapters on real SQLite and PostgreSQL: constraints, guards, locks, migrations."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text, update
from sqlalchemy.exc import IntegrityError

from stockline.adapters.migrate import comparison_options
from stockline.adapters.tables import inventory_levels, metadata
from stockline.adapters.uow import SqlUnitOfWork
from stockline.bootstrap import Container
from stockline.domain.commands import (
    CreateLocation,
    CreateProduct,
    ReceiveStock,
    UpdateInventory,
)
from stockline.domain.values import LocationType, Reason
from stockline.services import catalog, inventory, locations
from stockline.services.executor import Caller
from stockline.services.ports import StoredAnswer
from tests.factories import random_location, random_sku

CALLER = Caller(principal="storage-test", actor="storage-test")
NOW = datetime(2026, 1, 1, tzinfo=UTC)


async def _level(container: Container, on_hand: int) -> tuple[str, str]:
    sku, loc = random_sku(), random_location()
    await container.executor.run(catalog.create_product, CreateProduct(
        sku=sku, name="n", category="c", attributes={}, price=None), CALLER)
    await container.executor.run(locations.create_location, CreateLocation(
        code=loc, type=LocationType.RETAIL, name="n"), CALLER)
    async with SqlUnitOfWork(container.database.write) as uow:
        assert await uow.levels.create(loc, sku, on_hand, now=NOW) is not None
        await uow.commit()
    return loc, sku


async def test_database_refuses_available_below_zero_whatever_the_caller(
        container: Container) -> None:
    loc, sku = await _level(container, 3)
    L = inventory_levels.c
    with pytest.raises(IntegrityError):
        async with container.database.write.begin() as conn:
            await conn.execute(update(inventory_levels)
                               .where(L.location_id == loc, L.sku == sku)
                               .values(reserved=5))
    with pytest.raises(IntegrityError):
        async with container.database.write.begin() as conn:
            await conn.execute(update(inventory_levels)
                               .where(L.location_id == loc, L.sku == sku)
                               .values(on_hand=-1, reserved=0))


async def test_guarded_take_refuses_more_than_available_and_changes_nothing(
        container: Container) -> None:
    loc, sku = await _level(container, 3)
    async with SqlUnitOfWork(container.database.write) as uow:
        assert await uow.levels.change(loc, sku, on_hand=-4, now=NOW) is None
        taken = await uow.levels.change(loc, sku, on_hand=-3, now=NOW)
        assert taken is not None and taken.on_hand == 0 and taken.version == 2
        assert await uow.levels.change(loc, sku, on_hand=-1, now=NOW) is None
        await uow.rollback()
    async with SqlUnitOfWork(container.database.write) as uow:
        level = await uow.levels.get(loc, sku)
    assert level is not None and level.on_hand == 3 and level.version == 1


async def test_savepoint_rolls_back_only_its_own_block(container: Container) -> None:
    loc, sku = await _level(container, 10)
    async with SqlUnitOfWork(container.database.write) as uow:
        await uow.levels.change(loc, sku, on_hand=-1, now=NOW)

        async def failing_block() -> None:
            async with uow.savepoint():
                await uow.levels.change(loc, sku, on_hand=-5, now=NOW)
                raise RuntimeError("undo this block")

        with pytest.raises(RuntimeError):
            await failing_block()
        await uow.commit()
    async with SqlUnitOfWork(container.database.write) as uow:
        level = await uow.levels.get(loc, sku)
    assert level is not None and level.on_hand == 9


async def test_second_claim_of_a_key_waits_for_the_first_transaction(
        container: Container) -> None:
    """The first claimant holds the key until it ends; the second then sees its answer.

    PostgreSQL makes the second wait on the unique index; SQLite makes it wait for the
    write lock (BEGIN IMMEDIATE on the one writer connection).
    """
    key = random_sku()
    first = SqlUnitOfWork(container.database.write)
    await first.__aenter__()
    try:
        assert await first.idempotency.claim("p", key, "fp", NOW)

        async def second_claim() -> bool:
            async with SqlUnitOfWork(container.database.write) as uow:
                return await uow.idempotency.claim("p", key, "fp", NOW)

        waiting = asyncio.create_task(second_claim())
        await asyncio.sleep(0.3)
        assert not waiting.done(), "the second claim must wait for the first transaction"
        await first.idempotency.complete("p", key, StoredAnswer("ok", b"{}"))
        await first.commit()
    finally:
        await first.__aexit__(None, None, None)
    assert await asyncio.wait_for(waiting, 5) is False


async def test_migrations_create_exactly_the_schema_of_the_table_definitions(
        container: Container) -> None:
    def diff(sync_conn: object) -> list[object]:
        context = MigrationContext.configure(  # type: ignore[arg-type]
            sync_conn, opts=comparison_options(sync_conn.dialect.name))  # type: ignore[attr-defined]
        return list(compare_metadata(context, metadata))

    async with container.database.read.connect() as conn:
        differences = await conn.run_sync(diff)
        version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
    assert differences == []
    assert version is not None


async def test_concurrent_bulk_receipts_of_new_levels_all_land(container: Container) -> None:
    """Receipts racing to create the same levels: none fails, none is lost or doubled."""
    loc, skus = random_location(), [random_sku() for _ in range(4)]
    await container.executor.run(locations.create_location, CreateLocation(
        code=loc, type=LocationType.WAREHOUSE, name="n"), CALLER)
    for sku in skus:
        await container.executor.run(catalog.create_product, CreateProduct(
            sku=sku, name="n", category="c", attributes={}, price=None), CALLER)
    # One level exists already; the others are created by whichever receipt comes first.
    await container.executor.run(inventory.receive_stock, ReceiveStock(
        location_id=loc, quantities={skus[0]: 1}), CALLER)
    receipt = ReceiveStock(location_id=loc, quantities=dict.fromkeys(skus, 2))
    await asyncio.gather(*(container.executor.run(inventory.receive_stock, receipt, CALLER)
                           for _ in range(10)))
    found = await container.queries.levels(sku=None, location_id=loc, location_type=None,
                                           below_reorder_point=None, limit=10, cursor=None)
    on_hand = {lv.sku: lv.on_hand for lv in found.items}
    assert on_hand == {sku: 20 + (1 if sku == skus[0] else 0) for sku in skus}
    ledger = await container.queries.movements(location_id=loc, sku=None, type=None, start=None,
                                               end=None, limit=500, cursor=None)
    for sku in skus:
        assert sum(e.delta for e in ledger.items if e.sku == sku) == on_hand[sku]


async def test_concurrent_first_receipts_of_a_new_level_all_add_up(container: Container) -> None:
    """Receipts racing to create one level: the losers add to the winner's, none is refused."""
    loc, sku = random_location(), random_sku()
    await container.executor.run(locations.create_location, CreateLocation(
        code=loc, type=LocationType.RETAIL, name="n"), CALLER)
    await container.executor.run(catalog.create_product, CreateProduct(
        sku=sku, name="n", category="c", attributes={}, price=None), CALLER)
    receipt = UpdateInventory(location_id=loc, sku=sku, delta=1, reason=Reason.RECEIPT)
    await asyncio.gather(*(container.executor.run(inventory.update_inventory, receipt, CALLER)
                           for _ in range(12)))
    level = await container.queries.level(loc, sku)
    assert level is not None and level.on_hand == 12
