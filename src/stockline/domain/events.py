"""Events: what happened, written to the outbox in the transaction that made it happen."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from stockline.domain.documents import Reservation, Transfer
from stockline.domain.model import Level, Product, Sale, SaleReturn


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
        "incoming": level.incoming,
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


def _transfer_data(transfer: Transfer) -> dict[str, Any]:
    return {
        "transfer_id": transfer.id,
        "status": transfer.status.value,
        "from_location_id": transfer.from_location_id,
        "to_location_id": transfer.to_location_id,
        "lines": [{"sku": ln.sku, "quantity": ln.quantity, "received_quantity":
                   ln.received_quantity, "cancelled_quantity": ln.cancelled_quantity}
                  for ln in transfer.lines],
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class _TransferEvent(Event):
    transfer: Transfer

    @property
    def location_id(self) -> str:
        return self.transfer.from_location_id

    def data(self) -> dict[str, Any]:
        return _transfer_data(self.transfer)


@dataclass(frozen=True, slots=True, kw_only=True)
class TransferShipped(_TransferEvent):
    TYPE: ClassVar[str] = "transfer.shipped"


@dataclass(frozen=True, slots=True, kw_only=True)
class TransferReceived(_TransferEvent):
    TYPE: ClassVar[str] = "transfer.received"
    received: tuple[tuple[str, int], ...]  # (sku, quantity) of this receipt

    @property
    def location_id(self) -> str:
        return self.transfer.to_location_id

    def data(self) -> dict[str, Any]:
        return {**_transfer_data(self.transfer),
                "received": [{"sku": sku, "quantity": q} for sku, q in self.received]}


@dataclass(frozen=True, slots=True, kw_only=True)
class TransferCancelled(_TransferEvent):
    TYPE: ClassVar[str] = "transfer.cancelled"


@dataclass(frozen=True, slots=True, kw_only=True)
class SaleReturned(Event):
    TYPE: ClassVar[str] = "sale.returned"
    sale_return: SaleReturn

    @property
    def location_id(self) -> str:
        return self.sale_return.location_id

    def data(self) -> dict[str, Any]:
        r = self.sale_return
        return {"return_id": r.id, "sale_id": r.sale_id, "restock": r.restock,
                "reason": r.reason.value,
                "lines": [{"sku": ln.sku, "quantity": ln.quantity} for ln in r.lines]}


@dataclass(frozen=True, slots=True, kw_only=True)
class _ReservationEvent(Event):
    reservation: Reservation

    @property
    def location_id(self) -> str:
        return self.reservation.location_id

    def data(self) -> dict[str, Any]:
        r = self.reservation
        return {"reservation_id": r.id, "status": r.status.value,
                "expires_at": r.expires_at.isoformat(), "sale_id": r.sale_id, "reason": r.reason,
                "lines": [{"sku": ln.sku, "quantity": ln.quantity} for ln in r.lines]}


@dataclass(frozen=True, slots=True, kw_only=True)
class ReservationCreated(_ReservationEvent):
    TYPE: ClassVar[str] = "reservation.created"


@dataclass(frozen=True, slots=True, kw_only=True)
class ReservationCommitted(_ReservationEvent):
    TYPE: ClassVar[str] = "reservation.committed"


@dataclass(frozen=True, slots=True, kw_only=True)
class ReservationReleased(_ReservationEvent):
    TYPE: ClassVar[str] = "reservation.released"


@dataclass(frozen=True, slots=True, kw_only=True)
class ReservationExpired(_ReservationEvent):
    TYPE: ClassVar[str] = "reservation.expired"
