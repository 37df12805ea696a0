"""What the API answers, as typed, frozen dataclasses; and the lines a request carries.

Answers are read leniently: a field the server adds later is ignored, so an older client
keeps working. Statuses and types are plain strings for the same reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in a currency: ``Money(Decimal("89.99"), "USD")``."""

    amount: Decimal
    currency: str

    def to_json(self) -> dict[str, str]:
        return {"amount": format(self.amount, "f"), "currency": self.currency}


@dataclass(frozen=True, slots=True)
class Line:
    """A line of a sale, hold or transfer: ``unit_price`` is required by sales only (a hold
    without one is sold at the product's price; a transfer carries none)."""

    sku: str
    quantity: int
    unit_price: Money | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"sku": self.sku, "quantity": self.quantity}
        if self.unit_price is not None:
            body["unit_price"] = self.unit_price.to_json()
        return body


@dataclass(frozen=True, slots=True, kw_only=True)
class InventoryChange:
    """A change of one level, as ``update_inventory`` sends it: by ``delta``, or to a
    counted ``quantity`` (give one of them); ``reason``: receipt, adjustment, count, damage,
    loss, found, return. ``expected_version``: refused when the level moved on."""

    location_id: str
    sku: str
    reason: str
    delta: int | None = None
    quantity: int | None = None
    note: str | None = None
    lot: str | None = None
    expires_on: date | None = None
    expected_version: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Lot:
    lot: str | None
    on_hand: int
    expires_on: date | None = None
    received_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Level:
    """One (location, SKU): ``available`` = ``on_hand`` - ``reserved``."""

    location_id: str
    sku: str
    on_hand: int
    reserved: int
    available: int
    in_transit: int = 0
    # None only in an answer ``as_of`` an instant: nothing records these over time.
    incoming: int | None = 0
    reorder_point: int | None = None
    reorder_quantity: int | None = None
    safety_stock: int | None = None
    version: int | None = 0
    updated_at: datetime | None = None
    lots: list[Lot] | None = field(default_factory=list)
    as_of: datetime | None = None  # the instant of an answer ``as_of`` one


@dataclass(frozen=True, slots=True, kw_only=True)
class SaleLine:
    line_no: int
    sku: str
    quantity: int
    unit_price: Money
    total: Money
    returned_quantity: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class ReturnLine:
    sku: str
    quantity: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SaleReturn:
    id: str
    sale_id: str
    location_id: str
    lines: list[ReturnLine]
    restock: bool
    reason: str
    note: str | None = None
    actor: str = ""
    created_at: datetime | None = None
    sale_status: str | None = None  # in the answer to a return: the sale's new status


@dataclass(frozen=True, slots=True, kw_only=True)
class Sale:
    id: str
    location_id: str
    lines: list[SaleLine]
    total: Money
    status: str
    created_at: datetime
    units: int = 0
    channel: str = "pos"
    payment_status: str = "paid"
    fulfillment_status: str = "delivered"
    external_ref: str | None = None
    actor: str = ""
    occurred_at: datetime | None = None
    returns: list[SaleReturn] = field(default_factory=list)


@dataclass(frozen=True, slots=True, kw_only=True)
class Movement:
    """A ledger entry: one change of one level."""

    id: int
    location_id: str
    sku: str
    delta: int
    balance_after: int
    type: str
    reason: str
    occurred_at: datetime
    lot: str | None = None
    reference: str | None = None
    actor: str = ""
    note: str | None = None
    recorded_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TransferLine:
    line_no: int
    sku: str
    quantity: int
    received_quantity: int = 0
    cancelled_quantity: int = 0
    lost_quantity: int = 0
    in_transit: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Transfer:
    id: str
    status: str
    from_location_id: str
    to_location_id: str
    lines: list[TransferLine]
    created_at: datetime
    note: str | None = None
    external_ref: str | None = None
    updated_at: datetime | None = None
    received_at: datetime | None = None
    cancelled_at: datetime | None = None
    closed_at: datetime | None = None
    remainder: str | None = None  # closed: "lost" or "return"
    actor: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReservationLine:
    line_no: int
    sku: str
    quantity: int
    unit_price: Money | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Reservation:
    """A hold on available stock, until ``expires_at``."""

    id: str
    status: str
    location_id: str
    lines: list[ReservationLine]
    expires_at: datetime
    channel: str = "ecommerce"
    external_ref: str | None = None
    sale_id: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    actor: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Product:
    sku: str
    name: str
    category: str
    attributes: dict[str, str | int | float | bool] = field(default_factory=dict)
    price: Money | None = None
    status: str = "active"  # or "discontinued": no more receipts or purchase orders
    version: int = 0
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Location:
    """A warehouse or a store (``type`` ``warehouse`` or ``retail``)."""

    code: str
    type: str
    name: str
    region: str | None = None
    address: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    capacity: int | None = None
    operating_hours: dict[str, str] | None = None
    time_zone: str | None = None  # IANA name; the sales report's days for it
    status: str = "active"  # or "closed": no new sales, receipts or inbound transfers
    on_hand_units: int = 0  # the units it holds, to set beside its capacity
    capacity_used: float | None = None  # on_hand_units / capacity
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SupplierProduct:
    sku: str
    cost: Money


@dataclass(frozen=True, slots=True, kw_only=True)
class Supplier:
    code: str
    name: str
    lead_time_days: int | None = None
    products: list[SupplierProduct] = field(default_factory=list)
    contact: dict[str, str | None] | None = None
    status: str = "active"  # or "closed": no new purchase orders
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PurchaseOrderLine:
    line_no: int
    sku: str
    quantity: int
    received_quantity: int = 0
    outstanding: int = 0
    unit_cost: Money | None = None
    total: Money | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PurchaseOrder:
    id: str
    supplier_id: str
    location_id: str
    status: str
    lines: list[PurchaseOrderLine]
    total: Money | None = None
    note: str | None = None
    external_ref: str | None = None
    actor: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None
    ordered_at: datetime | None = None
    expected_at: datetime | None = None
    received_at: datetime | None = None
    cancelled_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """One logged change; ``id`` is global, gap-free and grows in commit order."""

    id: int
    type: str
    occurred_at: datetime
    location_id: str | None = None
    sku: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None = None
    reset: dict[str, Any] | None = None  # the event log's: its point was pruned
