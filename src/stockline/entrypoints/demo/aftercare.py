"""What happens after the sales: returns, and staff who report discrepancies that get counted.

Planned from the seed like the rest (the same data set each time), loaded through the use
cases: a return through ``return_sale``, a report through ``report_feedback``, its count
through ``complete_count_task``, the last two dated when they are planned for
(``occurred_at``), so the tasks and the accuracy report read as weeks of real use. Loading
again adds only what is missing: a sale's return when the sale is not returned yet, a
report when no feedback carries its note's code, a count when its task is still open.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta

from stockline.domain.commands import (
    CompleteCountTask,
    LineQuantity,
    RecordSale,
    ReportFeedback,
    ReturnSale,
)
from stockline.domain.counting import FeedbackKind
from stockline.domain.values import ReturnReason

RETURN_SHARE = 0.04  # of the sales, returned in part or whole
CHECKS_PER_STORE = 4  # discrepancy reports; two in three are counted
CHECK_PREFIX = "DEMO-CHECK-"
DIFFERENCES = (0, 0, 0, -1, -1, -2, -3, 1, 2)  # counted less system
NOT_RESTOCKED = (ReturnReason.DAMAGED, ReturnReason.DEFECTIVE)


@dataclass(frozen=True, slots=True)
class PlannedReturn:
    sale_ref: str
    lines: tuple[LineQuantity, ...]
    restock: bool
    reason: ReturnReason


@dataclass(frozen=True, slots=True)
class PlannedCheck:
    """A report by store staff; ``counted_at`` None leaves its count task open."""

    code: str  # DEMO-CHECK-0001, the start of its note
    kind: FeedbackKind
    location_id: str
    sku: str | None
    reported_at: datetime
    rating: int | None
    difference: int  # counted less system
    counted_at: datetime | None

    @property
    def note(self) -> str:
        said = {FeedbackKind.DISCREPANCY: "the shelf does not match the screen",
                FeedbackKind.SYNC_DELAY: "a sale took a while to show on the screen",
                FeedbackKind.SUGGESTION: "scan to count would save time"}
        return f"{self.code}: {said[self.kind]}"


def returns_plan(rng: random.Random, sales: Sequence[RecordSale]) -> list[PlannedReturn]:
    """A few sales come back: one line, all of it or one unit; damaged goods are written
    off, the rest restocked."""
    planned = []
    for sale in sales:
        if rng.random() >= RETURN_SHARE or sale.external_ref is None:
            continue
        first = sale.lines[0]
        quantity = first.quantity if rng.random() < 0.7 else 1
        reason = rng.choice((ReturnReason.WRONG_SIZE, ReturnReason.CHANGED_MIND,
                             ReturnReason.WRONG_SIZE, ReturnReason.DEFECTIVE,
                             ReturnReason.DAMAGED))
        planned.append(PlannedReturn(sale.external_ref, (LineQuantity(
            sku=first.sku, quantity=quantity),), reason not in NOT_RESTOCKED, reason))
    return planned


def checks_plan(rng: random.Random, sales: Sequence[RecordSale], stock: dict[str, dict[str, int]],
                shops: Sequence[str], days: Sequence[datetime], now: datetime
                ) -> list[PlannedCheck]:
    """Per store, discrepancies on SKUs it sold that still have 3 units or more (so that no
    count could go below 0), and a sync delay reported once."""
    left = {shop: Counter(stock[shop]) for shop in shops}
    for sale in sales:
        for line in sale.lines:
            left[sale.location_id][line.sku] -= line.quantity
    planned: list[PlannedCheck] = []
    for shop in shops:
        sold = sorted({ln.sku for s in sales if s.location_id == shop for ln in s.lines
                       if left[shop][ln.sku] >= 3})
        for sku in rng.sample(sold, min(CHECKS_PER_STORE, len(sold))):
            reported = rng.choice(days) + timedelta(hours=rng.uniform(14, 22))
            counted = reported + timedelta(hours=rng.triangular(0.5, 30, 4))
            planned.append(PlannedCheck(
                code="", kind=FeedbackKind.DISCREPANCY, location_id=shop, sku=sku,
                reported_at=reported, rating=rng.choice((None, 2, 3, 3, 4, 5)),
                difference=rng.choice(DIFFERENCES),
                counted_at=min(counted, now - timedelta(minutes=5))
                if rng.random() < 2 / 3 else None))
        planned.append(PlannedCheck(
            code="", kind=FeedbackKind.SYNC_DELAY, location_id=shop, sku=None,
            reported_at=rng.choice(days) + timedelta(hours=15), rating=rng.randint(2, 5),
            difference=0, counted_at=None))
    return [replace(check, code=f"{CHECK_PREFIX}{n:04d}") for n, check in enumerate(
        sorted(planned, key=lambda c: c.reported_at), start=1)]


def day_starts(days: Sequence[date]) -> list[datetime]:
    """Midnight UTC of each history day."""
    return [datetime.combine(day, time(0), tzinfo=UTC) for day in days]


def return_command(planned: PlannedReturn, sale_id: str) -> ReturnSale:
    return ReturnSale(sale_id=sale_id, lines=planned.lines, restock=planned.restock,
                      reason=planned.reason, note="demo data set: a return")


def report_command(check: PlannedCheck, observed: int | None) -> ReportFeedback:
    return ReportFeedback(kind=check.kind, location_id=check.location_id, sku=check.sku,
                          observed_quantity=observed, rating=check.rating, note=check.note,
                          occurred_at=check.reported_at)


def count_command(task_id: str, on_hand: int, check: PlannedCheck) -> CompleteCountTask:
    return CompleteCountTask(task_id=task_id, quantity=max(0, on_hand + check.difference),
                             note=f"{check.code}: counted", occurred_at=check.counted_at)
