"""What count tasks and feedback need from storage."""

from __future__ import annotations

from typing import Protocol

from stockline.domain.counting import CountTask, Feedback


class CountingRepository(Protocol):
    async def open_task(self, task: CountTask) -> CountTask | None:
        """Insert ``task`` as the level's open task; None when the level has one already
        (a concurrent opener waits for the other's transaction, then finds it)."""
        ...

    async def open_task_of(self, location_id: str, sku: str) -> CountTask | None:
        """The level's open task, locked for this transaction, its reports counted up by
        one (the caller links a report to it)."""
        ...

    async def get_task(self, task_id: str, *, for_update: bool = False) -> CountTask | None:
        ...

    async def complete_task(self, task: CountTask) -> bool:
        """Store the status, who and when, and the system and counted quantities, if the
        stored task is still open (locking it); False, and nothing stored, otherwise."""
        ...

    async def add_feedback(self, feedback: Feedback) -> None: ...
