"""Helpers of the unit tests: a client of the use cases, a responder, constants."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import orjson

from stockline.bootstrap import Container, bootstrap
from stockline.config import Settings
from stockline.domain.commands import (
    CreateLocation,
    CreateProduct,
    ReceiveStock,
    RecordSale,
    SaleLineRequest,
    SetReorderSettings,
    UpdateInventory,
)
from stockline.domain.errors import (
    DomainError,
)
from stockline.domain.model import Level, Location, Product, Sale
from stockline.domain.values import LocationType, Money, Reason
from stockline.services import catalog, inventory, locations, sales
from stockline.services.answers import refusal
from stockline.services.executor import Caller, Executor
from stockline.services.ports import OK, StoredAnswer
from tests.fakes import FakeUnitOfWorkFactory

CALLER = Caller(principal="key_unit", actor="unit-tester")
STORE = "STORE-1"
SKUS = ("SKU-A", "SKU-B", "SKU-C")


def make_container(uows: FakeUnitOfWorkFactory, var_dir: Path) -> Container:
    # Nothing connects: the engines bootstrap makes are never used with a fake factory.
    # (open_database refuses ':memory:': its writer and readers could not share it.)
    settings = Settings(database_url=f"sqlite+aiosqlite:///{var_dir / 'unused.db'}",
                        env="test", var_dir=var_dir)
    return bootstrap(settings, uow_factory=uows)


Line = tuple[str, int] | tuple[str, int, str] | tuple[str, int, str, str]


class Shop:
    """Drives the use cases through the executor, the way an entrypoint does."""

    def __init__(self, executor: Executor, caller: Caller = CALLER) -> None:
        self.executor, self.caller = executor, caller

    async def product(self, sku: str, *, price: str | None = "10.00", currency: str = "USD",
                      category: str = "shoes", **attributes: Any) -> Product:
        money = Money.parse(price, currency) if price is not None else None
        return await self.executor.run(catalog.create_product, CreateProduct(
            sku=sku, name=f"Product {sku}", category=category, attributes=attributes,
            price=money), self.caller)

    async def location(self, code: str, type: LocationType = LocationType.RETAIL) -> Location:
        return await self.executor.run(locations.create_location, CreateLocation(
            code=code, type=type, name=f"Location {code}"), self.caller)

    async def update(self, location_id: str, sku: str, reason: Reason = Reason.ADJUSTMENT,
                     **fields: Any) -> Level:
        return await self.executor.run(inventory.update_inventory, UpdateInventory(
            location_id=location_id, sku=sku, reason=reason, **fields), self.caller)

    async def receive(self, location_id: str, sku: str, quantity: int) -> Level:
        return await self.update(location_id, sku, Reason.RECEIPT, delta=quantity)

    async def receive_many(self, location_id: str, quantities: dict[str, int],
                           **fields: Any) -> list[Level]:
        return await self.executor.run(inventory.receive_stock, ReceiveStock(
            location_id=location_id, quantities=quantities, **fields), self.caller)

    async def settings(self, location_id: str, sku: str, reorder_point: int | None, *,
                       reorder_quantity: int | None = None,
                       safety_stock: int | None = None) -> Level:
        return await self.executor.run(inventory.set_reorder_settings, SetReorderSettings(
            location_id=location_id, sku=sku, reorder_point=reorder_point,
            reorder_quantity=reorder_quantity, safety_stock=safety_stock), self.caller)

    async def sell(self, location_id: str, *lines: Line, **fields: Any) -> Sale:
        return await self.executor.run(sales.record_sale, sale(location_id, *lines, **fields),
                                       self.caller)


def sale(location_id: str, *lines: Line, **fields: Any) -> RecordSale:
    """A RecordSale; a line is (sku, quantity[, unit price[, currency]])."""
    requests = []
    for line in lines:
        sku, quantity = line[0], line[1]
        amount = line[2] if len(line) > 2 else "10.00"
        currency = line[3] if len(line) > 3 else "USD"
        requests.append(SaleLineRequest(sku=sku, quantity=quantity,
                                        unit_price=Money.parse(amount, currency)))
    return RecordSale(location_id=location_id, lines=tuple(requests), **fields)


class JsonAnswers:
    """A Responder like the write service's: the result as JSON, a refusal as its code and
    document (services.answers)."""

    def ok(self, result: Any) -> StoredAnswer:
        is_row = dataclasses.is_dataclass(result) and not isinstance(result, type)
        body = dataclasses.asdict(result) if is_row else result
        return StoredAnswer(OK, orjson.dumps(body, default=str))

    def error(self, error: DomainError) -> StoredAnswer:
        return refusal(error)


def body(response: StoredAnswer) -> Any:
    return orjson.loads(response.body)


def hold(uows: FakeUnitOfWorkFactory, location_id: str, sku: str, reserved: int) -> None:
    """Reserve stock of a level directly in the committed store (as a reservation would)."""
    level = uows.committed.levels[(location_id, sku)]
    uows.committed.levels[(location_id, sku)] = dataclasses.replace(level, reserved=reserved)
