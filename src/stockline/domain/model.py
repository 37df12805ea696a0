"""The things Stockline keeps: products, locations, levels, sales, ledger entries."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from stockline.domain.values import (
    Channel,
    FulfillmentStatus,
    LocationStatus,
    LocationType,
    Money,
    MovementType,
    PaymentStatus,
    ProductStatus,
    ReturnReason,
)

Attributes = Mapping[str, str | int | float | bool]


@dataclass(slots=True, kw_only=True)
class Product:
    sku: str
    name: str
    category: str
    attributes: Attributes = field(default_factory=dict)
    price: Money | None = None
    status: ProductStatus = ProductStatus.ACTIVE
    version: int = 1
    created_at: datetime
    updated_at: datetime


@dataclass(slots=True, kw_only=True)
class Location:
    code: str
    type: LocationType
    name: str
    region: str | None = None
    address: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    capacity: int | None = None
    operating_hours: Mapping[str, Any] | None = None
    time_zone: str | None = None  # IANA name; its calendar days are the report's days
    status: LocationStatus = LocationStatus.ACTIVE
    created_at: datetime


@dataclass(slots=True, kw_only=True)
class Level:
    """Stock of one SKU at one location. ``available`` never goes below 0."""

    location_id: str
    sku: str
    on_hand: int = 0
    reserved: int = 0
    in_transit: int = 0
    incoming: int = 0  # ordered from suppliers, not yet received
    lotted: bool = False  # holds named lots: its on_hand is the sum of its lots
    reorder_point: int | None = None
    reorder_quantity: int | None = None
    safety_stock: int | None = None
    version: int = 0
    updated_at: datetime | None = None

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved

    def is_at_or_below_reorder_point(self) -> bool:
        return self.reorder_point is not None and self.available <= self.reorder_point


def crossed_reorder_point(before_available: int, after: Level) -> bool:
    """True when a change took ``available`` from above the reorder point to at or below it."""
    rp = after.reorder_point
    return rp is not None and before_available > rp >= after.available


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerEntry:
    """One change of one level's ``on_hand``; the ledger is append-only."""

    location_id: str
    sku: str
    delta: int
    balance_after: int
    type: MovementType
    reason: str
    reference: str | None
    actor: str
    occurred_at: datetime
    note: str | None = None
    lot: str | None = None
    id: int | None = None
    recorded_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SaleLine:
    sku: str
    quantity: int
    unit_price: Money

    @property
    def total(self) -> Money:
        return self.unit_price.times(self.quantity)


@dataclass(slots=True, kw_only=True)
class Sale:
    id: str
    location_id: str
    lines: tuple[SaleLine, ...]
    currency: str
    channel: Channel
    payment_status: PaymentStatus
    fulfillment_status: FulfillmentStatus
    external_ref: str | None
    actor: str
    occurred_at: datetime
    created_at: datetime
    status: str = "completed"
    returns: tuple[SaleReturn, ...] = ()

    def returned(self, sku: str) -> int:
        return sum(line.quantity for r in self.returns for line in r.lines if line.sku == sku)

    def sold(self, sku: str) -> int:
        return sum(line.quantity for line in self.lines if line.sku == sku)

    def value_of(self, sku: str, quantity: int) -> int:
        """What ``quantity`` units of ``sku`` are worth on this sale, in 1/10,000 of its
        currency: its average price of the SKU (its price, when it sold the SKU at one
        price), rounded down, so that the returns of a SKU never add up to more than it
        sold for."""
        sold = self.sold(sku)
        amount = sum(line.total.units for line in self.lines if line.sku == sku)
        return quantity * amount // sold if sold else 0

    @property
    def total(self) -> Money:
        units = sum(line.total.units for line in self.lines)
        return Money.from_units(units, self.currency)

    @property
    def units(self) -> int:
        return sum(line.quantity for line in self.lines)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReturnLine:
    sku: str
    quantity: int
    amount: int | None = None  # its value on the sale (Sale.value_of), kept when returned


@dataclass(frozen=True, slots=True, kw_only=True)
class SaleReturn:
    """Goods brought back against a sale: restocked, or written off."""

    id: str
    sale_id: str
    location_id: str
    lines: tuple[ReturnLine, ...]
    restock: bool
    reason: ReturnReason
    note: str | None
    actor: str
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class LocationStock:
    """A location with the units it holds (the sum of its levels' ``on_hand``), to set
    beside its capacity."""

    location: Location
    on_hand_units: int
