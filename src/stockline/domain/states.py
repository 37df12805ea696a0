"""State machines of the documents that move stock: which action each state allows."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from stockline.domain.errors import InvalidInput, InvalidState
from stockline.domain.values import (
    Channel,
    FulfillmentStatus,
    OpeningPaymentStatus,
    PaymentStatus,
)


class TransferStatus(StrEnum):
    IN_TRANSIT = "in_transit"
    PARTIALLY_RECEIVED = "partially_received"
    RECEIVED = "received"
    CANCELLED = "cancelled"
    CLOSED = "closed"  # ended short: what was still in transit was lost or sent back


class TransferRemainder(StrEnum):
    """What closing a transfer does with the units still in transit."""

    LOST = "lost"      # written off in transit (the origin's loss)
    RETURN = "return"  # shipped back to the origin's on_hand


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

    def step(self, key: str, state: str, to: str) -> bool:
        """Whether moving from ``state`` to ``to`` changes anything (False: already there);
        a step the table does not list is InvalidState."""
        if to == state:
            return False
        if to not in self._allowed.get(state, frozenset()):
            raise InvalidState(self.kind, key, state, f"move to '{to}'")
        return True

    def steps(self) -> Mapping[str, frozenset[str]]:
        return self._allowed


TRANSFERS = StateMachine("transfer", {
    TransferStatus.IN_TRANSIT: frozenset({"receive", "cancel", "close"}),
    TransferStatus.PARTIALLY_RECEIVED: frozenset({"receive", "cancel", "close"}),
})

RESERVATIONS = StateMachine("reservation", {
    ReservationStatus.ACTIVE: frozenset({"commit", "release", "expire"}),
})

PURCHASE_ORDERS = StateMachine("purchase order", {
    PurchaseOrderStatus.DRAFT: frozenset({"order", "cancel"}),
    PurchaseOrderStatus.ORDERED: frozenset({"receive", "cancel"}),
    PurchaseOrderStatus.PARTIALLY_RECEIVED: frozenset({"receive", "cancel"}),
})

_PAY, _FILL = PaymentStatus, FulfillmentStatus

# A sale's payment: an authorization is captured (paid) or voided/declined (failed); a
# failed payment may be tried again (back to pending); only money taken can be refunded.
# Refunded is final: a new charge is a new sale.
SALE_PAYMENTS = StateMachine("sale payment", {
    _PAY.PENDING: frozenset({_PAY.AUTHORIZED, _PAY.PAID, _PAY.FAILED}),
    _PAY.AUTHORIZED: frozenset({_PAY.PAID, _PAY.FAILED}),
    _PAY.PAID: frozenset({_PAY.REFUNDED}),
    _PAY.FAILED: frozenset({_PAY.PENDING}),
})

# A sale's goods: picked and packed (fulfilled), then shipped and delivered, or handed
# over at the counter (fulfilled -> delivered, a pickup). Cancelling is possible until the
# goods leave (unfulfilled or fulfilled); delivered and cancelled are final.
SALE_FULFILLMENTS = StateMachine("sale fulfillment", {
    _FILL.UNFULFILLED: frozenset({_FILL.FULFILLED, _FILL.CANCELLED}),
    _FILL.FULFILLED: frozenset({_FILL.SHIPPED, _FILL.DELIVERED, _FILL.CANCELLED}),
    _FILL.SHIPPED: frozenset({_FILL.DELIVERED}),
})

OPENING_PAYMENTS = frozenset(PaymentStatus(s.value) for s in OpeningPaymentStatus)


def check_opening_payment(payment_status: PaymentStatus) -> None:
    """A sale is recorded pending, authorized or paid; refunds and failures come later."""
    if payment_status not in OPENING_PAYMENTS:
        raise InvalidInput("payment_status", "a sale is recorded pending, authorized or paid")


def opening_fulfillment(channel: Channel) -> FulfillmentStatus:
    """A sale at the till leaves with its customer (delivered: nothing is left to ship or
    cancel); an order from another channel waits to be picked."""
    return _FILL.DELIVERED if channel is Channel.POS else _FILL.UNFULFILLED


def after_receipt(outstanding: int) -> tuple[TransferStatus, PurchaseOrderStatus]:
    """The status a transfer and a purchase order take after a receipt."""
    if outstanding > 0:
        return TransferStatus.PARTIALLY_RECEIVED, PurchaseOrderStatus.PARTIALLY_RECEIVED
    return TransferStatus.RECEIVED, PurchaseOrderStatus.RECEIVED
