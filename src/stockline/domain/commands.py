"""Commands: what a caller asks Stockline to do. Validated shape, unvalidated rules."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from stockline.domain.model import Attributes
from stockline.domain.values import Channel, LocationType, Money, PaymentStatus, Reason


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
    expected_version: int | None = None


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


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceiveStock:
    """Receive many SKUs at one location at once (a delivery note, an import, a demo load)."""

    location_id: str
    quantities: Mapping[str, int]
    reference: str | None = None
    note: str | None = None
    occurred_at: datetime | None = None
