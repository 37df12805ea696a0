"""Commands: what a caller asks Stockline to do. Validated shape, unvalidated rules."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from stockline.domain.counting import FeedbackKind
from stockline.domain.customers import CustomerDetails
from stockline.domain.model import Attributes
from stockline.domain.states import TransferRemainder
from stockline.domain.values import (
    Channel,
    FulfillmentStatus,
    LocationType,
    Money,
    PaymentStatus,
    ProductStatus,
    Reason,
    ReturnReason,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateProduct:
    sku: str
    name: str
    category: str
    attributes: Attributes
    price: Money | None


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateProduct:
    """A partial change; ``None`` leaves a field as it is.

    ``attributes`` is a JSON merge patch (RFC 7396): a key set to ``None`` removes it.
    """

    sku: str
    name: str | None = None
    category: str | None = None
    attributes: Mapping[str, str | int | float | bool | None] | None = None
    price: Money | None = None
    status: ProductStatus | None = None
    expected_version: int | None = None  # compare-and-set on the product's version


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateLocation:
    code: str
    type: LocationType
    name: str
    region: str | None = None
    address: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    capacity: int | None = None
    operating_hours: Mapping[str, Any] | None = None
    time_zone: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateLocation:
    """A partial change of a location of ``type``: ``changes`` maps each field sent to its
    new value (``None`` clears an optional field); fields not named stay as they are."""

    code: str
    type: LocationType
    changes: Mapping[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateInventory:
    """Change one level by ``delta`` or to an absolute ``quantity`` (exactly one is set)."""

    location_id: str
    sku: str
    reason: Reason
    delta: int | None = None
    quantity: int | None = None
    note: str | None = None
    lot: str | None = None
    expires_on: date | None = None  # of the lot, on its first receipt
    expected_version: int | None = None
    reference: str | None = None  # the document the change belongs to (a count task)
    occurred_at: datetime | None = None  # when it happened, if before now (a count on paper)


@dataclass(frozen=True, slots=True, kw_only=True)
class SetReorderSettings:
    location_id: str
    sku: str
    reorder_point: int | None
    reorder_quantity: int | None
    safety_stock: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class SaleLineRequest:
    sku: str
    quantity: int
    unit_price: Money


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordSale:
    location_id: str
    lines: tuple[SaleLineRequest, ...]
    channel: Channel = Channel.POS
    payment_status: PaymentStatus = PaymentStatus.PAID
    occurred_at: datetime | None = None
    external_ref: str | None = None
    customer: CustomerDetails | None = None  # kept apart: never on the Sale, its events
    # The customer holds the goods: a line short of available stock is found first.
    in_hand: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateSale:
    """Move a sale's payment and/or fulfillment on; None leaves that one as it is."""

    sale_id: str
    payment_status: PaymentStatus | None = None
    fulfillment_status: FulfillmentStatus | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceiveStock:
    """Receive many SKUs at one location at once (a delivery note, an import, a demo load)."""

    location_id: str
    quantities: Mapping[str, int]
    reference: str | None = None
    note: str | None = None
    occurred_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LineQuantity:
    sku: str
    quantity: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ShipTransfer:
    from_location_id: str
    to_location_id: str
    lines: tuple[LineQuantity, ...]
    note: str | None = None
    external_ref: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceiveTransfer:
    """Receive ``lines`` (all that is still in transit when None)."""

    transfer_id: str
    lines: tuple[LineQuantity, ...] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelTransfer:
    transfer_id: str
    note: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CloseTransfer:
    """End a transfer short: what is still in transit is ``lost`` or sent back (``return``)."""

    transfer_id: str
    remainder: TransferRemainder
    note: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReturnSale:
    sale_id: str
    lines: tuple[LineQuantity, ...]
    restock: bool
    reason: ReturnReason
    note: str | None = None
    location_id: str | None = None  # where the goods came back; default: the sale's


@dataclass(frozen=True, slots=True, kw_only=True)
class ReservationLineRequest:
    sku: str
    quantity: int
    unit_price: Money | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateReservation:
    location_id: str
    lines: tuple[ReservationLineRequest, ...]
    ttl_seconds: int | None = None  # the configured default when None
    channel: Channel = Channel.ECOMMERCE
    external_ref: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CommitReservation:
    reservation_id: str
    payment_status: PaymentStatus = PaymentStatus.PAID
    external_ref: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReleaseReservation:
    reservation_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ExpireReservation:
    reservation_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SupplierProductRequest:
    sku: str
    cost: Money


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateSupplier:
    code: str
    name: str
    contact: Mapping[str, str] | None = None
    lead_time_days: int | None = None
    products: tuple[SupplierProductRequest, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateSupplier:
    """A partial change of a supplier, as ``UpdateLocation`` is of a location."""

    code: str
    changes: Mapping[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class PurchaseLineRequest:
    sku: str
    quantity: int
    unit_cost: Money | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CreatePurchaseOrder:
    supplier_id: str
    location_id: str
    lines: tuple[PurchaseLineRequest, ...]
    draft: bool = False
    note: str | None = None
    external_ref: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PlacePurchaseOrder:
    purchase_order_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceiptLine:
    sku: str
    quantity: int
    lot: str | None = None
    expires_on: date | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceivePurchaseOrder:
    """Receive ``lines`` (everything outstanding when None)."""

    purchase_order_id: str
    lines: tuple[ReceiptLine, ...] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelPurchaseOrder:
    purchase_order_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportFeedback:
    kind: FeedbackKind
    location_id: str | None = None
    sku: str | None = None
    observed_quantity: int | None = None
    rating: int | None = None
    note: str | None = None
    occurred_at: datetime | None = None  # when it was seen, if before now (defaults to now)


@dataclass(frozen=True, slots=True, kw_only=True)
class CompleteCountTask:
    task_id: str
    quantity: int
    note: str | None = None
    occurred_at: datetime | None = None  # when it was counted, if before now
