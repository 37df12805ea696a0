"""Unit tests drive the services through ``bootstrap``'s executor over in-memory fakes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from stockline.bootstrap import Container
from stockline.services.executor import Executor
from tests.fakes import FakeUnitOfWorkFactory
from tests.unit.support import SKUS, STORE, Shop, make_container


@pytest.fixture
def uows() -> FakeUnitOfWorkFactory:
    return FakeUnitOfWorkFactory()


@pytest.fixture
async def container(uows: FakeUnitOfWorkFactory,
                    tmp_path: Path) -> AsyncIterator[Container]:
    c = make_container(uows, tmp_path)
    try:
        yield c
    finally:
        await c.close()


@pytest.fixture
def executor(container: Container) -> Executor:
    return container.executor


@pytest.fixture
def shop(executor: Executor) -> Shop:
    return Shop(executor)


@pytest.fixture
async def store(shop: Shop) -> str:
    """A retail location, and the products SKU-A, SKU-B, SKU-C (no stock anywhere)."""
    await shop.location(STORE)
    for sku in SKUS:
        await shop.product(sku)
    return STORE
