"""Events: what happened, written to the outbox in the transaction that made it happen."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from stockline.domain.model import Level, Product, Sale


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Base: every event names its type and, where it has them, its location and SKU."""

    TYPE: ClassVar[str]
    occurred_at: datetime

    @property
    def type(self) -> str:
        return self.TYPE

    @property
    def location_id(self) -> str | None:
        return None

    @property
    def sku(self) -> str | None:
        return None

    def data(self) -> dict[str, Any]:
        raise NotImplementedError


def _level_data(level: Level) -> dict[str, Any]:
    return {
        "on_hand": level.on_hand,
        "reserved": level.reserved,
        "available": level.available,
        "in_transit": level.in_transit,
        "reorder_point": level.reorder_point,
        "version": level.version,
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class InventoryChanged(Event):
    TYPE: ClassVar[str] = "inventory.changed"
    level: Level
    delta: int
    cause: str
    reference: str | None

    @property
    def location_id(self) -> str:
        return self.level.location_id

    @property
    def sku(self) -> str:
        return self.level.sku

    def data(self) -> dict[str, Any]:
        return {**_level_data(self.level), "delta": self.delta, "cause": self.cause,
                "reference": self.reference}


@dataclass(frozen=True, slots=True, kw_only=True)
class LowStock(Event):
    TYPE: ClassVar[str] = "inventory.low_stock"
    level: Level

    @property
    def location_id(self) -> str:
        return self.level.location_id

    @property
    def sku(self) -> str:
        return self.level.sku

    def data(self) -> dict[str, Any]:
        return {**_level_data(self.level), "reorder_quantity": self.level.reorder_quantity,
                "safety_stock": self.level.safety_stock}


@dataclass(frozen=True, slots=True, kw_only=True)
class SaleRecorded(Event):
    TYPE: ClassVar[str] = "sale.recorded"
    sale: Sale

    @property
    def location_id(self) -> str:
        return self.sale.location_id

    def data(self) -> dict[str, Any]:
        sale = self.sale
        return {
            "sale_id": sale.id,
            "channel": sale.channel.value,
            "total": {"amount": sale.total.format(), "currency": sale.currency},
            "lines": [{"sku": ln.sku, "quantity": ln.quantity,
                       "unit_price": {"amount": ln.unit_price.format(),
                                      "currency": ln.unit_price.currency}}
                      for ln in sale.lines],
            "external_ref": sale.external_ref,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class ProductChanged(Event):
    TYPE: ClassVar[str] = "product.changed"
    product: Product
    created: bool

    @property
    def sku(self) -> str:
        return self.product.sku

    def data(self) -> dict[str, Any]:
        p = self.product
        return {
            "created": self.created,
            "name": p.name,
            "category": p.category,
            "attributes": dict(p.attributes),
            "price": None if p.price is None
            else {"amount": p.price.format(), "currency": p.price.currency},
            "version": p.version,
        }
