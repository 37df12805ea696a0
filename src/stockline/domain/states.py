"""State machines of the documents that move stock: which action each state allows."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from stockline.domain.errors import InvalidState


class TransferStatus(StrEnum):
    IN_TRANSIT = "in_transit"
    PARTIALLY_RECEIVED = "partially_received"
    RECEIVED = "received"
    CANCELLED = "cancelled"


class ReservationStatus(StrEnum):
    ACTIVE = "active"
    COMMITTED = "committed"
    RELEASED = "released"
    EXPIRED = "expired"


class PurchaseOrderStatus(StrEnum):
    DRAFT = "draft"
    ORDERED = "ordered"
    PARTIALLY_RECEIVED = "partially_received"
    RECEIVED = "received"
    CANCELLED = "cancelled"


class StateMachine:
    """The actions each state allows; anything else is InvalidState (409 invalid_state)."""

    def __init__(self, kind: str, allowed: Mapping[str, frozenset[str]]) -> None:
        self.kind, self._allowed = kind, allowed

    def check(self, key: str, state: str, action: str) -> None:
        if action not in self._allowed.get(state, frozenset()):
            raise InvalidState(self.kind, key, state, action)


TRANSFERS = StateMachine("transfer", {
    TransferStatus.IN_TRANSIT: frozenset({"receive", "cancel"}),
    TransferStatus.PARTIALLY_RECEIVED: frozenset({"receive"}),
})

RESERVATIONS = StateMachine("reservation", {
    ReservationStatus.ACTIVE: frozenset({"commit", "release", "expire"}),
})

PURCHASE_ORDERS = StateMachine("purchase order", {
    PurchaseOrderStatus.DRAFT: frozenset({"order", "cancel"}),
    PurchaseOrderStatus.ORDERED: frozenset({"receive", "cancel"}),
    PurchaseOrderStatus.PARTIALLY_RECEIVED: frozenset({"receive", "cancel"}),
})


def after_receipt(outstanding: int) -> tuple[TransferStatus, PurchaseOrderStatus]:
    """The status a transfer and a purchase order take after a receipt."""
    if outstanding > 0:
        return TransferStatus.PARTIALLY_RECEIVED, PurchaseOrderStatus.PARTIALLY_RECEIVED
    return TransferStatus.RECEIVED, PurchaseOrderStatus.RECEIVED
