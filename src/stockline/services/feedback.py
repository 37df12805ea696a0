"""Feedback: staff report what they see; a discrepancy sends someone to count the level."""

from __future__ import annotations

from stockline.domain.commands import ReportFeedback
from stockline.domain.counting import CountTaskReason, Feedback, FeedbackKind, check_feedback
from stockline.domain.errors import InvalidInput, NotFound
from stockline.domain.events import FeedbackReceived
from stockline.domain.ids import new_id
from stockline.domain.rules import check_occurred_at
from stockline.domain.security import Permission
from stockline.services.count_tasks import open_count_task
from stockline.services.executor import Context
from stockline.services.ports import UnitOfWork


async def report_feedback(uow: UnitOfWork, cmd: ReportFeedback, ctx: Context) -> Feedback:
    """Keep a report and raise ``feedback.received``. Reporting needs the right to count
    (at the location named, if any). A discrepancy names an existing level's location and
    SKU and opens a count task for it, or joins the level's open one. ``occurred_at`` (not
    in the future) dates a report made after the fact; its events are dated now."""
    check_feedback(cmd.kind, cmd.location_id, cmd.sku, cmd.rating)
    if cmd.observed_quantity is not None and cmd.observed_quantity < 0:
        raise InvalidInput("observed_quantity", "must be zero or more")
    if cmd.occurred_at is not None:
        check_occurred_at(cmd.occurred_at, ctx.now)
    seen_at = cmd.occurred_at or ctx.now
    if cmd.location_id is not None:
        ctx.require(Permission.INVENTORY_COUNT, cmd.location_id)
    else:
        ctx.require(Permission.INVENTORY_COUNT)
    if cmd.location_id is not None and not await uow.locations.exists(cmd.location_id):
        raise NotFound("location", cmd.location_id)
    if cmd.sku is not None and not await uow.products.exists(cmd.sku):
        raise NotFound("product", cmd.sku)
    feedback_id = new_id("fb")
    task_id = None
    if cmd.kind is FeedbackKind.DISCREPANCY:
        assert cmd.location_id is not None and cmd.sku is not None  # check_feedback
        task = await open_count_task(uow, cmd.location_id, cmd.sku,
                                     CountTaskReason.DISCREPANCY, feedback_id, ctx,
                                     opened_at=seen_at)
        task_id = task.id
    made = Feedback(id=feedback_id, kind=cmd.kind, location_id=cmd.location_id, sku=cmd.sku,
                    observed_quantity=cmd.observed_quantity, rating=cmd.rating, note=cmd.note,
                    count_task_id=task_id, actor=ctx.actor, created_at=seen_at)
    await uow.counting.add_feedback(made)
    await uow.outbox.append([FeedbackReceived(occurred_at=ctx.now, feedback=made)])
    return made
