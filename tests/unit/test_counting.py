"""The accuracy of counts: matches, errors, found and lost units, time to count, ratings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from stockline.domain.counting import (
    CountTask,
    CountTaskReason,
    CountTaskStatus,
    Feedback,
    FeedbackKind,
    accuracy,
    by_location,
    check_feedback,
    ratings,
)
from stockline.domain.errors import InvalidInput

T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)


def done(sku: str, system: int, counted: int, hours: float, where: str = "S1") -> CountTask:
    return CountTask(id=f"ct_{sku}_{hours}", location_id=where, sku=sku,
                     status=CountTaskStatus.DONE, reason=CountTaskReason.DISCREPANCY,
                     reference=None, reports=1, opened_by="t", opened_at=T0,
                     completed_by="t", completed_at=T0 + timedelta(hours=hours),
                     system_quantity=system, counted_quantity=counted)


def said(kind: FeedbackKind, rating: int | None, where: str | None = "S1") -> Feedback:
    return Feedback(id="fb", kind=kind, location_id=where, sku=None, observed_quantity=None,
                    rating=rating, note=None, count_task_id=None, actor="t", created_at=T0)


def test_accuracy_adds_up_matches_errors_found_lost_and_hours() -> None:
    measured = accuracy([done("A", 10, 10, 1), done("B", 10, 7, 2), done("C", 5, 9, 30),
                         done("B", 7, 5, 4)])
    assert (measured.counts_done, measured.matched, measured.matched_share) == (4, 1, 0.25)
    assert measured.mean_absolute_error == 2.25
    assert (measured.units_found, measured.units_lost) == (4, 5)
    assert measured.median_hours_to_count == 3  # between 2 and 4
    assert [(w.sku, w.mismatches) for w in measured.most_often_wrong] == [("B", 2), ("C", 1)]


def test_no_counts_measure_nothing() -> None:
    measured = accuracy([])
    assert (measured.counts_done, measured.matched_share, measured.mean_absolute_error,
            measured.median_hours_to_count) == (0, None, None, None)


def test_ratings_by_kind_average_only_the_rated() -> None:
    got = ratings([said(FeedbackKind.DISCREPANCY, 4), said(FeedbackKind.DISCREPANCY, None),
                   said(FeedbackKind.DISCREPANCY, 1), said(FeedbackKind.SUGGESTION, None)])
    assert [(r.kind, r.count, r.mean) for r in got] == [
        (FeedbackKind.DISCREPANCY, 3, 2.5), (FeedbackKind.SUGGESTION, 1, None)]


def test_locations_with_only_feedback_are_reported_too() -> None:
    rows = by_location([done("A", 1, 1, 1, "S2")], [said(FeedbackKind.SYNC_DELAY, 2, "S1"),
                                                    said(FeedbackKind.SUGGESTION, 5, None)])
    assert list(rows) == ["S1", "S2"]
    assert rows["S1"][0].counts_done == 0 and rows["S2"][1] == ()


@pytest.mark.parametrize(("kind", "location", "sku", "rating", "field"), [
    (FeedbackKind.DISCREPANCY, None, "A", None, "location_id"),
    (FeedbackKind.DISCREPANCY, "S1", None, None, "sku"),
    (FeedbackKind.SUGGESTION, None, None, 6, "rating"),
    (FeedbackKind.SYNC_DELAY, None, None, 0, "rating"),
])
def test_feedback_rules(kind: FeedbackKind, location: str | None, sku: str | None,
                        rating: int | None, field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_feedback(kind, location, sku, rating)
    assert refused.value.field == field
