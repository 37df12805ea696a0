"""Events: what happened, written to the outbox in the transaction that made it happen."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from stockline.domain.counting import CountTask, Feedback
from stockline.domain.documents import Reservation, Supplier, Transfer
from stockline.domain.model import Level, Location, Product, Sale, SaleReturn


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
    # What ``available`` was before the change (None: not known); kept out of ``data()``.
    available_before: int | None = None

    @property
    def stocked_out(self) -> bool:
        """The change took the level from some available to none (a stock-out)."""
        before = self.available_before
        return before is not None and before > 0 >= self.level.available

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


def _statuses(sale: Sale) -> dict[str, str]:
    return {"payment_status": sale.payment_status.value,
            "fulfillment_status": sale.fulfillment_status.value}


@dataclass(frozen=True, slots=True, kw_only=True)
class SaleUpdated(Event):
    """A sale's payment or fulfillment moved on (its stock did not: returns move stock)."""

    TYPE: ClassVar[str] = "sale.updated"
    before: Sale
    after: Sale

    @property
    def location_id(self) -> str:
        return self.after.location_id

    def data(self) -> dict[str, Any]:
        return {"sale_id": self.after.id, "before": _statuses(self.before),
                "after": _statuses(self.after), "external_ref": self.after.external_ref}


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
            "status": p.status.value,
            "version": p.version,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class LocationUpdated(Event):
    TYPE: ClassVar[str] = "location.updated"
    location: Location
    changed: tuple[str, ...]  # the fields whose value changed

    @property
    def location_id(self) -> str:
        return self.location.code

    def data(self) -> dict[str, Any]:
        loc = self.location
        return {"type": loc.type.value, "name": loc.name, "status": loc.status.value,
                "region": loc.region, "address": loc.address, "latitude": loc.latitude,
                "longitude": loc.longitude, "capacity": loc.capacity,
                "operating_hours": dict(loc.operating_hours) if loc.operating_hours else None,
                "changed": list(self.changed)}


@dataclass(frozen=True, slots=True, kw_only=True)
class SupplierUpdated(Event):
    TYPE: ClassVar[str] = "supplier.updated"
    supplier: Supplier
    changed: tuple[str, ...]

    def data(self) -> dict[str, Any]:
        s = self.supplier
        return {"supplier_id": s.code, "name": s.name, "status": s.status.value,
                "contact": dict(s.contact) if s.contact else None,
                "lead_time_days": s.lead_time_days, "changed": list(self.changed)}


def _transfer_data(transfer: Transfer) -> dict[str, Any]:
    return {
        "transfer_id": transfer.id,
        "status": transfer.status.value,
        "from_location_id": transfer.from_location_id,
        "to_location_id": transfer.to_location_id,
        "lines": [{"sku": ln.sku, "quantity": ln.quantity, "received_quantity":
                   ln.received_quantity, "cancelled_quantity": ln.cancelled_quantity,
                   "lost_quantity": ln.lost_quantity}
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
class TransferClosed(_TransferEvent):
    """A transfer ended short; ``settled`` is what this close lost or sent back, by SKU."""

    TYPE: ClassVar[str] = "transfer.closed"
    settled: tuple[tuple[str, int], ...]

    def data(self) -> dict[str, Any]:
        remainder = self.transfer.remainder
        return {**_transfer_data(self.transfer),
                "remainder": remainder.value if remainder else None,
                "settled": [{"sku": sku, "quantity": q} for sku, q in self.settled]}


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


@dataclass(frozen=True, slots=True, kw_only=True)
class _CountTaskEvent(Event):
    task: CountTask

    @property
    def location_id(self) -> str:
        return self.task.location_id

    @property
    def sku(self) -> str:
        return self.task.sku

    def data(self) -> dict[str, Any]:
        t = self.task
        return {"count_task_id": t.id, "status": t.status.value, "reason": t.reason.value,
                "reference": t.reference, "system_quantity": t.system_quantity,
                "counted_quantity": t.counted_quantity, "difference": t.difference}


@dataclass(frozen=True, slots=True, kw_only=True)
class CountTaskOpened(_CountTaskEvent):
    TYPE: ClassVar[str] = "count_task.opened"


@dataclass(frozen=True, slots=True, kw_only=True)
class CountTaskCompleted(_CountTaskEvent):
    TYPE: ClassVar[str] = "count_task.completed"


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedbackReceived(Event):
    TYPE: ClassVar[str] = "feedback.received"
    feedback: Feedback

    @property
    def location_id(self) -> str | None:
        return self.feedback.location_id

    @property
    def sku(self) -> str | None:
        return self.feedback.sku

    def data(self) -> dict[str, Any]:
        f = self.feedback
        return {"feedback_id": f.id, "kind": f.kind.value, "observed_quantity":
                f.observed_quantity, "rating": f.rating, "note": f.note,
                "count_task_id": f.count_task_id}
