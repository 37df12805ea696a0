"""Documents that move stock over time: transfers, reservations, suppliers, purchase orders."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from stockline.domain.lots import LotPiece
from stockline.domain.states import (
    PurchaseOrderStatus,
    ReservationStatus,
    TransferRemainder,
    TransferStatus,
)
from stockline.domain.values import Channel, Money, SupplierStatus


@dataclass(slots=True, kw_only=True)
class TransferLot:
    """What one lot contributes to a transfer line, and what became of it."""

    lot: str
    expires_on: date | None
    quantity: int
    received_quantity: int = 0
    returned_quantity: int = 0
    lost_quantity: int = 0

    @property
    def in_transit(self) -> int:
        return (self.quantity - self.received_quantity - self.returned_quantity
                - self.lost_quantity)

    def piece(self, quantity: int) -> LotPiece:
        return LotPiece(self.lot, quantity, self.expires_on)


@dataclass(slots=True, kw_only=True)
class TransferLine:
    line_no: int
    sku: str
    quantity: int
    received_quantity: int = 0
    cancelled_quantity: int = 0  # sent back to the origin (a cancel, or a close: return)
    lost_quantity: int = 0       # written off in transit (a close: lost)
    lots: list[TransferLot] = field(default_factory=list)

    @property
    def in_transit(self) -> int:
        return (self.quantity - self.received_quantity - self.cancelled_quantity
                - self.lost_quantity)


@dataclass(slots=True, kw_only=True)
class Transfer:
    id: str
    from_location_id: str
    to_location_id: str
    status: TransferStatus
    lines: list[TransferLine]
    note: str | None
    external_ref: str | None
    actor: str
    created_at: datetime
    updated_at: datetime
    received_at: datetime | None = None
    cancelled_at: datetime | None = None
    closed_at: datetime | None = None
    remainder: TransferRemainder | None = None  # what a close did with the rest

    @property
    def in_transit(self) -> int:
        return sum(line.in_transit for line in self.lines)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReservationLine:
    sku: str
    quantity: int
    unit_price: Money | None = None


@dataclass(slots=True, kw_only=True)
class Reservation:
    """A hold on available stock (a cart, a click-and-collect order) until it expires."""

    id: str
    location_id: str
    status: ReservationStatus
    lines: tuple[ReservationLine, ...]
    channel: Channel
    expires_at: datetime
    external_ref: str | None
    actor: str
    created_at: datetime
    updated_at: datetime
    sale_id: str | None = None
    # Why a hold ended other than by its holder's word (``stock_count``: a count left too
    # little on hand for it); None otherwise.
    reason: str | None = None

    def quantities(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for line in self.lines:
            totals[line.sku] = totals.get(line.sku, 0) + line.quantity
        return totals


@dataclass(frozen=True, slots=True, kw_only=True)
class SupplierProduct:
    sku: str
    cost: Money


@dataclass(slots=True, kw_only=True)
class Supplier:
    code: str
    name: str
    contact: Mapping[str, str] | None
    lead_time_days: int | None
    products: tuple[SupplierProduct, ...]
    created_at: datetime
    updated_at: datetime
    status: SupplierStatus = SupplierStatus.ACTIVE


@dataclass(slots=True, kw_only=True)
class PurchaseOrderLine:
    line_no: int
    sku: str
    quantity: int
    received_quantity: int = 0
    unit_cost: Money | None = None

    @property
    def outstanding(self) -> int:
        return self.quantity - self.received_quantity


@dataclass(slots=True, kw_only=True)
class PurchaseOrder:
    id: str
    supplier_id: str
    location_id: str
    status: PurchaseOrderStatus
    lines: list[PurchaseOrderLine]
    note: str | None
    external_ref: str | None
    actor: str
    created_at: datetime
    updated_at: datetime
    ordered_at: datetime | None = None
    expected_at: datetime | None = None
    received_at: datetime | None = None
    cancelled_at: datetime | None = None

    @property
    def outstanding(self) -> int:
        return sum(line.outstanding for line in self.lines)


@dataclass(frozen=True, slots=True, kw_only=True)
class SuggestionSource:
    type: str  # "supplier" or "transfer"
    id: str
    unit_cost: Money | None = None
    lead_time_days: int | None = None
    surplus: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Suggestion:
    location_id: str
    sku: str
    available: int
    reorder_point: int
    reorder_quantity: int | None
    safety_stock: int | None
    on_order: int  # in transit and incoming already
    quantity: int
    source: SuggestionSource | None
    daily_velocity: float = 0.0  # net units sold a day (domain.cover)
