"""Feedback, count tasks and the accuracy report."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from stockline.domain.commands import CompleteCountTask, ReportFeedback
from stockline.domain.counting import (
    MAX_RATING,
    MIN_RATING,
    Accuracy,
    CountTask,
    CountTaskReason,
    CountTaskStatus,
    Feedback,
    FeedbackKind,
    Ratings,
)
from stockline.entrypoints.http.schemas.common import Body, CodeStr, Count, Text500

Rating = Annotated[int, Field(strict=True, ge=MIN_RATING, le=MAX_RATING,
                              description="How well Stockline serves the reporter, 1 to 5")]


class FeedbackCreate(Body):
    """What a member of staff saw: a ``discrepancy`` between shelf and system (a count task
    follows), a ``sync_delay`` (a change that took too long to show) or a ``suggestion``."""

    model_config = ConfigDict(json_schema_extra={
        # The rule the use case keeps (check_feedback), said to schema readers and fuzzers.
        "if": {"properties": {"kind": {"const": "discrepancy"}}},
        "then": {"required": ["location_id", "sku"]}})

    kind: FeedbackKind
    location_id: CodeStr | None = Field(default=None, description="Needed by a discrepancy")
    sku: CodeStr | None = Field(default=None, description="Needed by a discrepancy")
    observed_quantity: Count | None = Field(default=None,
                                            description="What the reporter saw on the shelf")
    rating: Rating | None = None
    note: Text500 | None = None

    def to_command(self) -> ReportFeedback:
        return ReportFeedback(kind=self.kind, location_id=self.location_id, sku=self.sku,
                              observed_quantity=self.observed_quantity, rating=self.rating,
                              note=self.note)


class FeedbackOut(BaseModel):
    id: str
    kind: FeedbackKind
    location_id: str | None
    sku: str | None
    observed_quantity: int | None
    rating: int | None
    note: str | None
    count_task_id: str | None = Field(description="The count task a discrepancy opened or "
                                      "joined (the level's open task, if it had one)")
    actor: str
    created_at: datetime

    @classmethod
    def of(cls, f: Feedback) -> FeedbackOut:
        return cls(id=f.id, kind=f.kind, location_id=f.location_id, sku=f.sku,
                   observed_quantity=f.observed_quantity, rating=f.rating, note=f.note,
                   count_task_id=f.count_task_id, actor=f.actor, created_at=f.created_at)


class CountTaskComplete(Body):
    quantity: Count = Field(description="The units counted on the shelf")
    note: Text500 | None = None

    def to_command(self, task_id: str) -> CompleteCountTask:
        return CompleteCountTask(task_id=task_id, quantity=self.quantity, note=self.note)


class CountTaskOut(BaseModel):
    id: str
    location_id: str
    sku: str
    status: CountTaskStatus
    reason: CountTaskReason
    reference: str | None = Field(description="What opened it: a feedback id or a sale id")
    reports: int = Field(description="Reports and in-hand sales that pointed at it")
    opened_by: str
    opened_at: datetime
    completed_by: str | None
    completed_at: datetime | None
    system_quantity: int | None = Field(description="on_hand when it was counted")
    counted_quantity: int | None
    difference: int | None = Field(description="counted less system: found (+), lost (-)")

    @classmethod
    def of(cls, t: CountTask) -> CountTaskOut:
        return cls(id=t.id, location_id=t.location_id, sku=t.sku, status=t.status,
                   reason=t.reason, reference=t.reference, reports=t.reports,
                   opened_by=t.opened_by, opened_at=t.opened_at, completed_by=t.completed_by,
                   completed_at=t.completed_at, system_quantity=t.system_quantity,
                   counted_quantity=t.counted_quantity, difference=t.difference)


class WrongSkuOut(BaseModel):
    sku: str
    mismatches: int


class RatingsOut(BaseModel):
    kind: FeedbackKind
    count: int
    mean_rating: float | None = Field(description="Of the reports that carried a rating")

    @classmethod
    def of(cls, r: Ratings) -> RatingsOut:
        return cls(kind=r.kind, count=r.count, mean_rating=r.mean)


class AccuracyOut(BaseModel):
    location_id: str
    counts_done: int
    matched_share: float | None = Field(description="Share of counts that found exactly "
                                        "what the system held")
    mean_absolute_error: float | None = Field(description="Mean of |counted - system|")
    units_found: int
    units_lost: int
    median_hours_to_count: float | None = Field(description="From a task opened to counted")
    most_often_wrong: list[WrongSkuOut] = Field(description="SKUs by mismatched counts, at "
                                                "most 5")
    feedback: list[RatingsOut] = Field(description="Feedback naming the location, by kind")

    @classmethod
    def of(cls, location_id: str, a: Accuracy, rated: tuple[Ratings, ...]) -> AccuracyOut:
        return cls(location_id=location_id, counts_done=a.counts_done,
                   matched_share=a.matched_share, mean_absolute_error=a.mean_absolute_error,
                   units_found=a.units_found, units_lost=a.units_lost,
                   median_hours_to_count=a.median_hours_to_count,
                   most_often_wrong=[WrongSkuOut(sku=w.sku, mismatches=w.mismatches)
                                     for w in a.most_often_wrong],
                   feedback=[RatingsOut.of(r) for r in rated])


class AccuracyReport(BaseModel):
    rows: list[AccuracyOut] = Field(description="By location: those with a count done or "
                                    "feedback in the period")
