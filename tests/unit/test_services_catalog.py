"""Products and locations: created once, changed field by field, each change an event."""

from __future__ import annotations

import pytest

from stockline.domain.commands import UpdateProduct
from stockline.domain.errors import AlreadyExists, NotFound
from stockline.domain.values import LocationType, Money
from stockline.services import catalog
from stockline.services.executor import Executor
from tests.fakes import FakeUnitOfWorkFactory
from tests.unit.support import CALLER, Shop


async def test_created_product_is_stored_and_announced(shop: Shop,
                                                       uows: FakeUnitOfWorkFactory) -> None:
    product = await shop.product("SKU-A", price="89.99", size="42", color="black")
    stored = uows.product("SKU-A")
    assert stored == product
    assert stored is not None
    assert stored.version == 1
    assert stored.price == Money.parse("89.99", "USD")
    assert dict(stored.attributes) == {"size": "42", "color": "black"}
    [event] = uows.events()
    assert (event.type, event.sku, event.location_id) == ("product.changed", "SKU-A", None)
    assert event.data["created"] is True
    assert event.data["price"] == {"amount": "89.99", "currency": "USD"}
    assert event.data["attributes"] == {"size": "42", "color": "black"}


async def test_product_without_price_is_allowed(shop: Shop, uows: FakeUnitOfWorkFactory) -> None:
    await shop.product("SKU-A", price=None)
    stored = uows.product("SKU-A")
    assert stored is not None
    assert stored.price is None
    assert uows.events()[0].data["price"] is None


async def test_second_create_of_a_sku_is_refused_and_changes_nothing(
        shop: Shop, uows: FakeUnitOfWorkFactory) -> None:
    await shop.product("SKU-A", price="10.00")
    before = uows.committed.copy()
    with pytest.raises(AlreadyExists) as refused:
        await shop.product("SKU-A", price="99.00", category="other")
    assert (refused.value.kind, refused.value.key) == ("product", "SKU-A")
    assert uows.committed == before
    stored = uows.product("SKU-A")
    assert stored is not None
    assert stored.price == Money.parse("10.00", "USD")
    assert len(uows.events("product.changed")) == 1


async def test_update_changes_only_the_fields_given(shop: Shop, executor: Executor,
                                                    uows: FakeUnitOfWorkFactory) -> None:
    await shop.product("SKU-A", price="10.00", category="shoes", size="42")
    updated = await executor.run(catalog.update_product,
                                 UpdateProduct(sku="SKU-A", name="Pegasus 41"), CALLER)
    assert updated.name == "Pegasus 41"
    stored = uows.product("SKU-A")
    assert stored is not None
    assert (stored.name, stored.category, stored.price) == (
        "Pegasus 41", "shoes", Money.parse("10.00", "USD"))
    assert dict(stored.attributes) == {"size": "42"}


async def test_each_update_raises_the_version_and_is_announced(
        shop: Shop, executor: Executor, uows: FakeUnitOfWorkFactory) -> None:
    await shop.product("SKU-A")
    for n in (2, 3):
        await executor.run(catalog.update_product, UpdateProduct(
            sku="SKU-A", price=Money.parse(f"{n}.50", "EUR")), CALLER)
        stored = uows.product("SKU-A")
        assert stored is not None
        assert stored.version == n
    events = uows.events("product.changed")
    assert [e.data["created"] for e in events] == [True, False, False]
    assert [e.data["version"] for e in events] == [1, 2, 3]
    assert events[-1].data["price"] == {"amount": "3.50", "currency": "EUR"}


async def test_attributes_merge_and_a_null_removes_a_key(shop: Shop, executor: Executor,
                                                         uows: FakeUnitOfWorkFactory) -> None:
    await shop.product("SKU-A", size="42", color="black", sport="running")
    await executor.run(catalog.update_product, UpdateProduct(
        sku="SKU-A", attributes={"color": "red", "sport": None, "width": "wide",
                                 "absent": None}), CALLER)
    stored = uows.product("SKU-A")
    assert stored is not None
    assert dict(stored.attributes) == {"size": "42", "color": "red", "width": "wide"}
    assert uows.events()[-1].data["attributes"] == dict(stored.attributes)


async def test_update_keeps_the_creation_time(shop: Shop, executor: Executor,
                                              uows: FakeUnitOfWorkFactory) -> None:
    created = await shop.product("SKU-A")
    await executor.run(catalog.update_product, UpdateProduct(sku="SKU-A", name="x"), CALLER)
    stored = uows.product("SKU-A")
    assert stored is not None
    assert stored.created_at == created.created_at
    assert stored.updated_at >= created.updated_at


async def test_update_of_an_unknown_sku_is_not_found(executor: Executor,
                                                     uows: FakeUnitOfWorkFactory) -> None:
    with pytest.raises(NotFound) as refused:
        await executor.run(catalog.update_product, UpdateProduct(sku="NOPE", name="x"), CALLER)
    assert (refused.value.kind, refused.value.key) == ("product", "NOPE")
    assert uows.commits == 0


async def test_location_codes_are_one_namespace_for_warehouses_and_stores(
        shop: Shop, uows: FakeUnitOfWorkFactory) -> None:
    await shop.location("LOC-1", LocationType.WAREHOUSE)
    with pytest.raises(AlreadyExists) as refused:
        await shop.location("LOC-1", LocationType.RETAIL)
    assert (refused.value.kind, refused.value.key) == ("location", "LOC-1")
    assert uows.committed.locations["LOC-1"].type is LocationType.WAREHOUSE
