"""Business rules that need no storage."""

from __future__ import annotations

from datetime import datetime, timedelta

from stockline.domain.errors import InvalidInput
from stockline.domain.values import DECREASING_REASONS, INCREASING_REASONS, Reason

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
