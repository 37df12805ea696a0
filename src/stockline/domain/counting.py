"""Count tasks and staff feedback: what staff report, what is counted, how accurate it was."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from statistics import mean, median

from stockline.domain.errors import InvalidInput
from stockline.domain.states import StateMachine


class CountTaskStatus(StrEnum):
    OPEN = "open"
    DONE = "done"


class CountTaskReason(StrEnum):
    """Why a level is to be counted: staff saw a discrepancy, or the till sold goods the
    system said were not there."""

    DISCREPANCY = "discrepancy"
    IN_HAND_SALE = "in_hand_sale"


class FeedbackKind(StrEnum):
    DISCREPANCY = "discrepancy"
    SYNC_DELAY = "sync_delay"
    SUGGESTION = "suggestion"


COUNT_TASKS = StateMachine("count task", {
    CountTaskStatus.OPEN: frozenset({"complete"}),
})

MIN_RATING, MAX_RATING = 1, 5


@dataclass(slots=True, kw_only=True)
class CountTask:
    """A level to count. Done, it keeps what the system held at the count and what was
    counted (the difference is the error the accuracy report adds up)."""

    id: str
    location_id: str
    sku: str
    status: CountTaskStatus
    reason: CountTaskReason
    reference: str | None  # what opened it: a feedback or a sale id
    reports: int  # the discrepancy reports and in-hand sales that pointed at it
    opened_by: str
    opened_at: datetime
    completed_by: str | None = None
    completed_at: datetime | None = None
    system_quantity: int | None = None
    counted_quantity: int | None = None

    @property
    def difference(self) -> int | None:
        """Counted less system: positive, units found; negative, units lost."""
        if self.counted_quantity is None or self.system_quantity is None:
            return None
        return self.counted_quantity - self.system_quantity


@dataclass(frozen=True, slots=True, kw_only=True)
class Feedback:
    id: str
    kind: FeedbackKind
    location_id: str | None
    sku: str | None
    observed_quantity: int | None
    rating: int | None
    note: str | None
    count_task_id: str | None
    actor: str
    created_at: datetime


def check_feedback(kind: FeedbackKind, location_id: str | None, sku: str | None,
                   rating: int | None) -> None:
    """A discrepancy names its level; a SKU belongs to a location; ratings run 1 to 5."""
    if kind is FeedbackKind.DISCREPANCY:
        if location_id is None:
            raise InvalidInput("location_id", "a discrepancy names the location it was seen at")
        if sku is None:
            raise InvalidInput("sku", "a discrepancy names the SKU it was seen for")
    if rating is not None and not MIN_RATING <= rating <= MAX_RATING:
        raise InvalidInput("rating", f"a rating runs from {MIN_RATING} to {MAX_RATING}")


# -- accuracy -----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class WrongSku:
    sku: str
    mismatches: int


@dataclass(frozen=True, slots=True)
class Accuracy:
    """How well a location's system quantities matched its counts over a period."""

    counts_done: int
    matched: int
    mean_absolute_error: float | None
    units_found: int
    units_lost: int
    median_hours_to_count: float | None
    most_often_wrong: tuple[WrongSku, ...]

    @property
    def matched_share(self) -> float | None:
        return self.matched / self.counts_done if self.counts_done else None


def accuracy(done: list[CountTask], top: int = 5) -> Accuracy:
    """The accuracy of these done tasks: matched when counted equals system, the error is
    their absolute difference, found and lost the positive and negative differences."""
    differences = [task.difference or 0 for task in done]
    hours = [(task.completed_at - task.opened_at).total_seconds() / 3600 for task in done
             if task.completed_at is not None]
    wrong = Counter(task.sku for task, d in zip(done, differences, strict=True) if d != 0)
    ranked = sorted(wrong.items(), key=lambda item: (-item[1], item[0]))[:top]
    return Accuracy(
        counts_done=len(done), matched=differences.count(0),
        mean_absolute_error=mean(abs(d) for d in differences) if done else None,
        units_found=sum(d for d in differences if d > 0),
        units_lost=-sum(d for d in differences if d < 0),
        median_hours_to_count=median(hours) if hours else None,
        most_often_wrong=tuple(WrongSku(sku, n) for sku, n in ranked))


@dataclass(frozen=True, slots=True)
class Ratings:
    kind: FeedbackKind
    count: int
    mean: float | None


def ratings(feedback: list[Feedback]) -> tuple[Ratings, ...]:
    """Per kind of feedback: how many came, and the mean of those that carried a rating."""
    out = []
    for kind in FeedbackKind:
        mine = [f for f in feedback if f.kind is kind]
        rated = [f.rating for f in mine if f.rating is not None]
        if mine:
            out.append(Ratings(kind, len(mine), mean(rated) if rated else None))
    return tuple(out)


def by_location(done: list[CountTask], feedback: list[Feedback]
                ) -> dict[str, tuple[Accuracy, tuple[Ratings, ...]]]:
    """The accuracy and feedback ratings of every location with a count or a report."""
    places = sorted({t.location_id for t in done}
                    | {f.location_id for f in feedback if f.location_id is not None})
    return {place: (accuracy([t for t in done if t.location_id == place]),
                    ratings([f for f in feedback if f.location_id == place]))
            for place in places}
