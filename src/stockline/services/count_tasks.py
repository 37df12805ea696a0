"""Count tasks: a level to count, opened by a report or an in-hand sale, closed by a count."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from stockline.domain.commands import CompleteCountTask, UpdateInventory
from stockline.domain.counting import (
    COUNT_TASKS,
    CountTask,
    CountTaskReason,
    CountTaskStatus,
)
from stockline.domain.errors import InvalidInput, NotFound
from stockline.domain.events import CountTaskCompleted, CountTaskOpened
from stockline.domain.ids import new_id
from stockline.domain.rules import check_occurred_at
from stockline.domain.security import Permission
from stockline.domain.values import Reason
from stockline.services.executor import Context, TransientStorageError
from stockline.services.inventory import change_level
from stockline.services.ports import UnitOfWork
from stockline.services.stock import append_records


async def open_count_task(uow: UnitOfWork, location_id: str, sku: str,
                          reason: CountTaskReason, reference: str | None,
                          ctx: Context, *, opened_at: datetime | None = None) -> CountTask:
    """A level has at most one open count task: another report of it joins the open task
    (its ``reports`` counted up) rather than opening a second; only a task really opened
    raises ``count_task.opened``. The caller has checked that the level's keys exist."""
    for _ in range(2):
        task = CountTask(id=new_id("ct"), location_id=location_id, sku=sku,
                         status=CountTaskStatus.OPEN, reason=reason, reference=reference,
                         reports=1, opened_by=ctx.actor, opened_at=opened_at or ctx.now)
        if await uow.counting.open_task(task) is not None:
            await uow.outbox.append([CountTaskOpened(occurred_at=ctx.now, task=task)])
            return task
        joined = await uow.counting.open_task_of(location_id, sku)
        if joined is not None:
            return joined
    # The open task was completed between our insert and our look: try the whole again.
    raise TransientStorageError(f"the open count task of {location_id}/{sku} moved")


async def complete_count_task(uow: UnitOfWork, cmd: CompleteCountTask,
                              ctx: Context) -> CountTask:
    """Count the task's level (the one count use case: the ledger entry references the
    task, holds that no longer fit are released) and close the task, keeping what the
    system held at the count beside what was counted. Only an open task can be completed
    (409 invalid_state); only a caller who may count at the level's location may do it.
    ``occurred_at`` dates a count made earlier (the task's and the ledger's time)."""
    task = await uow.counting.get_task(cmd.task_id)
    if task is None:
        raise NotFound("count task", cmd.task_id)
    ctx.require_of(Permission.INVENTORY_COUNT, "count task", task.location_id)
    COUNT_TASKS.check(task.id, task.status, "complete")
    counted_at = _counted_at(cmd, task, ctx)
    level, record = await change_level(uow, UpdateInventory(
        location_id=task.location_id, sku=task.sku, reason=Reason.COUNT, quantity=cmd.quantity,
        note=cmd.note, reference=task.id, occurred_at=cmd.occurred_at), ctx)
    difference = sum(entry.delta for entry in record[0])
    done = replace(task, status=CountTaskStatus.DONE, completed_by=ctx.actor,
                   completed_at=counted_at, system_quantity=level.on_hand - difference,
                   counted_quantity=level.on_hand)
    # The task is locked after the level (as an in-hand sale locks them); a task completed
    # meanwhile by another count is refused, and this count rolls back with it.
    if not await uow.counting.complete_task(done):
        COUNT_TASKS.check(task.id, CountTaskStatus.DONE, "complete")  # refuses
    await append_records(uow, [record], CountTaskCompleted(occurred_at=ctx.now, task=done))
    return done


def _counted_at(cmd: CompleteCountTask, task: CountTask, ctx: Context) -> datetime:
    """When the count was made: now, or earlier (a count on paper), but not in the future
    nor before its task was opened."""
    if cmd.occurred_at is None:
        return ctx.now
    check_occurred_at(cmd.occurred_at, ctx.now)
    if cmd.occurred_at < task.opened_at:
        raise InvalidInput("occurred_at", "a task is counted after it was opened")
    return cmd.occurred_at
