"""In-memory fake of the count task and feedback repository (see tests/fakes.py for the
shared rules). Tasks live in ``uow.store.table("count_tasks")`` by id, feedback in
``table("feedback")``; stored values are replaced, never mutated. As the partial unique
index does, a level has at most one open task."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from stockline.domain.counting import CountTask, CountTaskStatus, Feedback


class FakeCounting:
    def __init__(self, uow: Any) -> None:
        self._uow = uow

    def _tasks(self) -> dict[str, CountTask]:
        rows: dict[str, CountTask] = self._uow.store.table("count_tasks")
        return rows

    def _open_of(self, location_id: str, sku: str) -> CountTask | None:
        return next((t for t in self._tasks().values() if t.status is CountTaskStatus.OPEN
                     and (t.location_id, t.sku) == (location_id, sku)), None)

    async def open_task(self, task: CountTask) -> CountTask | None:
        if self._open_of(task.location_id, task.sku) is not None:
            return None
        self._tasks()[task.id] = replace(task)
        return task

    async def open_task_of(self, location_id: str, sku: str) -> CountTask | None:
        found = self._open_of(location_id, sku)
        if found is None:
            return None
        joined = replace(found, reports=found.reports + 1)
        self._tasks()[joined.id] = joined
        return replace(joined)

    async def get_task(self, task_id: str, *, for_update: bool = False) -> CountTask | None:
        found = self._tasks().get(task_id)
        return replace(found) if found is not None else None

    async def complete_task(self, task: CountTask) -> bool:
        found = self._tasks().get(task.id)
        if found is None or found.status is not CountTaskStatus.OPEN:
            return False
        self._tasks()[task.id] = replace(task)
        return True

    async def add_feedback(self, made: Feedback) -> None:
        self._uow.store.table("feedback")[made.id] = made
