"""Count tasks and feedback (SQL)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from stockline.adapters.dialects import upsert
from stockline.adapters.tables import count_tasks, feedback
from stockline.domain.counting import (
    CountTask,
    CountTaskReason,
    CountTaskStatus,
    Feedback,
    FeedbackKind,
)

CT, F = count_tasks.c, feedback.c


def task_from_row(row: Any) -> CountTask:
    return CountTask(id=row.id, location_id=row.location_id, sku=row.sku,
                     status=CountTaskStatus(row.status), reason=CountTaskReason(row.reason),
                     reference=row.reference, reports=int(row.reports),
                     opened_by=row.opened_by, opened_at=row.opened_at,
                     completed_by=row.completed_by, completed_at=row.completed_at,
                     system_quantity=row.system_quantity, counted_quantity=row.counted_quantity)


def feedback_from_row(row: Any) -> Feedback:
    return Feedback(id=row.id, kind=FeedbackKind(row.kind), location_id=row.location_id,
                    sku=row.sku, observed_quantity=row.observed_quantity, rating=row.rating,
                    note=row.note, count_task_id=row.count_task_id, actor=row.actor,
                    created_at=row.created_at)


class SqlCounting:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def open_task(self, task: CountTask) -> CountTask | None:
        stmt = (upsert(self._conn, count_tasks).values(
            id=task.id, location_id=task.location_id, sku=task.sku, status=task.status.value,
            reason=task.reason.value, reference=task.reference, reports=task.reports,
            opened_by=task.opened_by, opened_at=task.opened_at)
            .on_conflict_do_nothing().returning(CT.id))
        return task if (await self._conn.execute(stmt)).first() is not None else None

    async def open_task_of(self, location_id: str, sku: str) -> CountTask | None:
        stmt = (count_tasks.update()
                .where(and_(CT.location_id == location_id, CT.sku == sku,
                            CT.status == CountTaskStatus.OPEN.value))
                .values(reports=CT.reports + 1).returning(*count_tasks.c))
        row = (await self._conn.execute(stmt)).first()
        return task_from_row(row) if row is not None else None

    async def get_task(self, task_id: str, *, for_update: bool = False) -> CountTask | None:
        stmt = select(count_tasks).where(CT.id == task_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = (await self._conn.execute(stmt)).first()
        return task_from_row(row) if row is not None else None

    async def complete_task(self, task: CountTask) -> bool:
        stmt = count_tasks.update().where(
            and_(CT.id == task.id, CT.status == CountTaskStatus.OPEN.value)).values(
            status=task.status.value, completed_by=task.completed_by,
            completed_at=task.completed_at, system_quantity=task.system_quantity,
            counted_quantity=task.counted_quantity)
        return bool((await self._conn.execute(stmt)).rowcount)

    async def add_feedback(self, made: Feedback) -> None:
        await self._conn.execute(feedback.insert().values(
            id=made.id, kind=made.kind.value, location_id=made.location_id, sku=made.sku,
            observed_quantity=made.observed_quantity, rating=made.rating, note=made.note,
            count_task_id=made.count_task_id, actor=made.actor, created_at=made.created_at))
