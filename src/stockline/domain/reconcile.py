"""Reconciliation: what a level's numbers must equal, and the report of where they do not.

Each check compares a number kept on a level (``on_hand``, ``reserved``, ...) with what the
documents behind it say (the ledger, live reservations, transfers on the way, ...). A drift
names the check, the level, the expected value (from the documents) and the actual one
(kept on the level).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Check(StrEnum):
    ON_HAND_LEDGER = "on_hand_ledger"          # on_hand == sum of the level's ledger deltas
    LEDGER_BALANCE = "ledger_balance"          # on_hand == balance_after of its last ledger row
    RESERVED_RESERVATIONS = "reserved_reservations"  # reserved == sum of its active holds
    IN_TRANSIT_TRANSFERS = "in_transit_transfers"  # in_transit == what open transfers carry
    LOTS_TOTAL = "lots_total"                  # lotted: on_hand == sum of its lots' on_hand
    INCOMING_ORDERS = "incoming_orders"        # incoming == what open orders still await
    EVENT_MISSING = "event_missing"            # newest inventory.changed carries the version
    OUTBOX_STUCK = "outbox_stuck"              # no outbox row older than the grace period


# A report lists at most this many drifts (and counts them all), so that it stays bounded.
MAX_DRIFT_ITEMS = 1000


@dataclass(frozen=True, slots=True, kw_only=True)
class Drift:
    check: Check
    location_id: str | None
    sku: str | None
    expected: int | None
    actual: int | None
    detail: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ReconcileProgress:
    checked: int  # levels checked so far
    of: int       # levels to check


@dataclass(slots=True, kw_only=True)
class ReconcileReport:
    """Drifts found so far: the first ``limit`` kept, every one counted by check."""

    checked: int = 0
    drift: list[Drift] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    limit: int = MAX_DRIFT_ITEMS

    def add(self, found: Drift) -> None:
        self.counts[found.check.value] += 1
        if len(self.drift) < self.limit:
            self.drift.append(found)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def truncated(self) -> bool:
        return self.total > len(self.drift)

    def as_dict(self) -> dict[str, Any]:
        """The report as the API answers it (``drift`` empty when every invariant holds)."""
        return {"checked": self.checked,
                "drift": [{"check": d.check.value, "location_id": d.location_id, "sku": d.sku,
                           "expected": d.expected, "actual": d.actual, "detail": d.detail}
                          for d in self.drift],
                "drift_total": self.total, "truncated": self.truncated,
                "by_check": {check.value: self.counts[check.value] for check in Check}}
