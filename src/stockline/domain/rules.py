"""Business rules that need no storage."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from stockline.domain.errors import InvalidInput, LocationClosed, ProductDiscontinued
from stockline.domain.values import (
    DECREASING_REASONS,
    INCREASING_REASONS,
    LocationStatus,
    ProductStatus,
    Reason,
)

# A POS clock may run a little ahead; a sale further in the future is a client bug.
MAX_CLOCK_SKEW = timedelta(minutes=5)


def check_inventory_change(reason: Reason, delta: int | None, quantity: int | None) -> None:
    """Exactly one of delta and quantity; the sign of a delta must fit its reason."""
    if (delta is None) == (quantity is None):
        raise InvalidInput("delta", "give exactly one of 'delta' or 'quantity'")
    if delta is not None:
        if delta == 0:
            raise InvalidInput("delta", "must not be zero")
        if reason in INCREASING_REASONS and delta < 0:
            raise InvalidInput("delta", f"a '{reason}' adds stock: delta must be positive")
        if reason in DECREASING_REASONS and delta > 0:
            raise InvalidInput("delta", f"a '{reason}' removes stock: delta must be negative")
        if reason is Reason.COUNT:
            raise InvalidInput("quantity", "a 'count' states the counted 'quantity', not a delta")
    elif quantity is not None:
        if quantity < 0:
            raise InvalidInput("quantity", "must be zero or more")
        if reason not in (Reason.COUNT, Reason.ADJUSTMENT):
            raise InvalidInput("quantity", f"a '{reason}' is a change: send a 'delta' "
                               "(an absolute 'quantity' goes with 'count' or 'adjustment')")


def check_occurred_at(occurred_at: datetime, now: datetime) -> None:
    if occurred_at.tzinfo is None:
        raise InvalidInput("occurred_at", "must carry a time zone offset")
    if occurred_at > now + MAX_CLOCK_SKEW:
        raise InvalidInput("occurred_at", "must not be in the future")


def check_open(location_id: str, status: LocationStatus) -> None:
    """A closed location takes no new sale, receipt or inbound transfer (the one test every
    such write makes, however it learnt the location's status)."""
    if status is LocationStatus.CLOSED:
        raise LocationClosed(location_id)


def check_buyable(statuses: Mapping[str, ProductStatus]) -> None:
    """Only active products are received or ordered; a discontinued one sells out."""
    discontinued = tuple(sorted(sku for sku, status in statuses.items()
                                if status is ProductStatus.DISCONTINUED))
    if discontinued:
        raise ProductDiscontinued(discontinued)
