"""The fakes keep the semantics of the SQL adapters that the services rely on."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from stockline.domain.model import Level, Location, Product
from stockline.domain.values import LocationType
from stockline.services.ports import StoredAnswer, UnitOfWork
from tests.fakes import FakeUnitOfWorkFactory, IntegrityError

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def seeded(on_hand: int = 10, reserved: int = 0) -> FakeUnitOfWorkFactory:
    return FakeUnitOfWorkFactory(
        products=[Product(sku="SKU-A", name="a", category="c", created_at=NOW, updated_at=NOW),
                  Product(sku="SKU-B", name="b", category="c", created_at=NOW, updated_at=NOW)],
        locations=[Location(code="LOC", type=LocationType.RETAIL, name="l", created_at=NOW)],
        levels=[Level(location_id="LOC", sku="SKU-A", on_hand=on_hand, reserved=reserved,
                      version=1, updated_at=NOW)])


def as_port(uow: UnitOfWork) -> UnitOfWork:
    return uow  # the fake satisfies the protocol (checked by mypy where this is typed)


async def test_changes_are_visible_only_after_commit() -> None:
    uows = seeded()
    async with uows() as uow:
        assert await as_port(uow).levels.change("LOC", "SKU-A", on_hand=-4, now=NOW) is not None
        assert uows.level("LOC", "SKU-A") == Level(location_id="LOC", sku="SKU-A", on_hand=10,
                                                   version=1, updated_at=NOW)
    level = uows.level("LOC", "SKU-A")
    assert level is not None
    assert level.on_hand == 10  # left without commit
    async with uows() as uow:
        await uow.levels.change("LOC", "SKU-A", on_hand=-4, now=NOW)
        await uow.commit()
    level = uows.level("LOC", "SKU-A")
    assert level is not None
    assert (level.on_hand, level.version) == (6, 2)


async def test_rollback_discards_the_transaction() -> None:
    uows = seeded()
    async with uows() as uow:
        await uow.levels.change("LOC", "SKU-A", on_hand=5, now=NOW)
        await uow.rollback()
        level = await uow.levels.get("LOC", "SKU-A")
        assert level is not None
        assert level.on_hand == 10
        await uow.commit()
    assert uows.commits == 1
    assert uows.ledger() == []


async def take_in_savepoint_then_fail(uow: UnitOfWork) -> None:
    async with uow.savepoint():
        await uow.levels.change("LOC", "SKU-A", on_hand=-2, now=NOW)
        raise RuntimeError


async def test_savepoint_rolls_back_only_its_own_block() -> None:
    uows = seeded()
    async with uows() as uow:
        await uow.levels.change("LOC", "SKU-A", on_hand=-1, now=NOW)
        with pytest.raises(RuntimeError):
            await take_in_savepoint_then_fail(uow)
        async with uow.savepoint():
            await uow.levels.change("LOC", "SKU-A", on_hand=-3, now=NOW)
        await uow.commit()
    level = uows.level("LOC", "SKU-A")
    assert level is not None
    assert (level.on_hand, level.version) == (6, 3)


async def test_take_is_guarded_by_available_and_version() -> None:
    uows = seeded(on_hand=10, reserved=4)
    async with uows() as uow:
        assert await uow.levels.change("LOC", "SKU-A", on_hand=-7, now=NOW) is None
        assert await uow.levels.change("LOC", "SKU-A", on_hand=-6, now=NOW,
                                       expected_version=2) is None
        assert await uow.levels.change("LOC", "SKU-B", on_hand=-1, now=NOW) is None
        level = await uow.levels.change("LOC", "SKU-A", on_hand=-6, now=NOW, expected_version=1)
        assert level is not None
        assert (level.on_hand, level.available, level.version) == (4, 0, 2)


async def test_create_answers_none_for_an_existing_level_and_checks_keys() -> None:
    uows = seeded()
    async with uows() as uow:
        assert await uow.levels.create("LOC", "SKU-A", 1, now=NOW) is None
        created = await uow.levels.create("LOC", "SKU-B", 3, now=NOW)
        assert created is not None
        assert (created.on_hand, created.version) == (3, 1)
        with pytest.raises(IntegrityError):
            await uow.levels.create("LOC", "NOPE", 1, now=NOW)
        # create_many skips a level that exists (a concurrent creator got there first).
        assert await uow.levels.create_many("LOC", {"SKU-A": 1}, now=NOW) == []


async def test_database_constraints_are_a_backstop() -> None:
    uows = seeded(on_hand=10, reserved=4)
    async with uows() as uow:
        with pytest.raises(IntegrityError):
            await uow.levels.set_on_hand("LOC", "SKU-A", 3, now=NOW)
        # change() guards instead: taking more than is available answers None.
        assert await uow.levels.change("LOC", "SKU-A", on_hand=-7, now=NOW) is None


async def test_objects_read_are_copies() -> None:
    uows = seeded()
    async with uows() as uow:
        product = await uow.products.get("SKU-A")
        assert product is not None
        product.name = "changed without update"
        level = await uow.levels.get("LOC", "SKU-A")
        assert level is not None
        level.on_hand = 99
        await uow.commit()
    stored = uows.product("SKU-A")
    assert stored is not None
    assert stored.name == "a"
    level = uows.level("LOC", "SKU-A")
    assert level is not None
    assert level.on_hand == 10


async def test_idempotency_claim_is_once_per_caller_and_key() -> None:
    uows = seeded()
    async with uows() as uow:
        assert await uow.idempotency.claim("p", "k", "fp", NOW)
        assert not await uow.idempotency.claim("p", "k", "other", NOW)
        assert await uow.idempotency.claim("q", "k", "fp", NOW)
        assert await uow.idempotency.get("p", "k") is None  # claimed, not completed
        await uow.idempotency.complete("p", "k", StoredAnswer("ok", b"{}", replayed=True))
        record = await uow.idempotency.get("p", "k")
        assert record is not None
        assert (record.fingerprint, record.answer) == ("fp", StoredAnswer("ok", b"{}"))
    async with uows() as uow:  # nothing was committed: the key is free again
        assert await uow.idempotency.claim("p", "k", "fp", NOW)


async def test_transactions_run_one_at_a_time() -> None:
    uows = seeded()
    order: list[str] = []

    async def transaction(name: str) -> None:
        async with uows() as uow:
            order.append(f"{name} begins")
            await asyncio.sleep(0)
            await uow.levels.change("LOC", "SKU-A", on_hand=-1, now=NOW)
            await uow.commit()
            order.append(f"{name} ends")

    await asyncio.gather(transaction("one"), transaction("two"))
    assert order == ["one begins", "one ends", "two begins", "two ends"]
    level = uows.level("LOC", "SKU-A")
    assert level is not None
    assert level.on_hand == 8
