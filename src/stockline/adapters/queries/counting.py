"""The read side of count tasks and feedback, and what the accuracy report adds up."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, select

from stockline.adapters.queries.base import (
    Page,
    QueryBase,
    Within,
    older_than_cursor,
    page_of,
    time_and_id,
)
from stockline.adapters.repositories.counting import feedback_from_row, task_from_row
from stockline.adapters.tables import count_tasks, feedback
from stockline.domain.counting import CountTask, CountTaskStatus, Feedback

CT, F = count_tasks.c, feedback.c


def _at(column: ColumnElement[str], location_id: str | None,
        within: Within) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if location_id is not None:
        conditions.append(column == location_id)
    if within is not None:
        conditions.append(column.in_(sorted(within)))
    return conditions


class CountingQueries(QueryBase):
    async def count_task(self, task_id: str) -> CountTask | None:
        row = await self._first(select(count_tasks).where(CT.id == task_id))
        return task_from_row(row) if row is not None else None

    async def count_tasks(self, *, location_id: str | None, sku: str | None,
                          status: str | None, limit: int, cursor: str | None,
                          within: Within = None) -> Page[CountTask]:
        """Newest opened first."""
        conditions = _at(CT.location_id, location_id, within)
        if sku is not None:
            conditions.append(CT.sku == sku)
        if status is not None:
            conditions.append(CT.status == status)
        conditions += older_than_cursor(cursor, CT.opened_at, CT.id)
        stmt = (select(count_tasks).where(*conditions)
                .order_by(CT.opened_at.desc(), CT.id.desc()).limit(limit + 1))
        items = [task_from_row(row) for row in await self._all(stmt)]
        return page_of(items, limit, lambda t: time_and_id(t.opened_at, t.id))

    async def feedback_list(self, *, kind: str | None, location_id: str | None, sku: str | None,
                       start: datetime | None, end: datetime | None, limit: int,
                       cursor: str | None, within: Within = None) -> Page[Feedback]:
        """Newest first; ``start`` inclusive, ``end`` exclusive."""
        conditions = _at(F.location_id, location_id, within)
        if kind is not None:
            conditions.append(F.kind == kind)
        if sku is not None:
            conditions.append(F.sku == sku)
        if start is not None:
            conditions.append(F.created_at >= start)
        if end is not None:
            conditions.append(F.created_at < end)
        conditions += older_than_cursor(cursor, F.created_at, F.id)
        stmt = (select(feedback).where(*conditions)
                .order_by(F.created_at.desc(), F.id.desc()).limit(limit + 1))
        items = [feedback_from_row(row) for row in await self._all(stmt)]
        return page_of(items, limit, lambda f: time_and_id(f.created_at, f.id))

    async def counted_between(self, *, start: datetime, end: datetime,
                              location_id: str | None, within: Within = None
                              ) -> list[CountTask]:
        """Tasks done with ``start <= completed_at < end``."""
        stmt = select(count_tasks).where(
            CT.status == CountTaskStatus.DONE.value, CT.completed_at >= start,
            CT.completed_at < end, *_at(CT.location_id, location_id, within))
        return [task_from_row(row) for row in await self._all(stmt)]

    async def located_feedback_between(self, *, start: datetime, end: datetime,
                                       location_id: str | None, within: Within = None
                                       ) -> list[Feedback]:
        """Feedback that names a location, with ``start <= created_at < end``."""
        stmt = select(feedback).where(
            F.location_id.is_not(None), F.created_at >= start, F.created_at < end,
            *_at(F.location_id, location_id, within))
        return [feedback_from_row(row) for row in await self._all(stmt)]

    async def feedback_noted(self, prefix: str) -> list[Feedback]:
        """Feedback whose note starts with ``prefix`` (how a loader finds what it made)."""
        stmt = select(feedback).where(F.note.startswith(prefix, autoescape=True))
        return [feedback_from_row(row) for row in await self._all(stmt)]
