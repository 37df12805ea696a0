"""Many level changes in one transaction, each applied or refused on its own."""

from __future__ import annotations

from collections.abc import Sequence

from stockline.domain.commands import UpdateInventory
from stockline.domain.errors import DomainError, InvalidInput
from stockline.domain.model import Level
from stockline.services.executor import Context, each_on_its_own
from stockline.services.inventory import permission_for, update_inventory
from stockline.services.ports import UnitOfWork

MAX_CHANGES = 500


async def update_inventory_many(uow: UnitOfWork, commands: Sequence[UpdateInventory],
                                ctx: Context) -> list[Level | DomainError]:
    """Apply each change as ``update_inventory`` would, in the order given; a refused change
    is rolled back alone and its refusal stands in its place in the answer.

    The levels the caller may change are locked first, in key order, so that two batches
    over the same levels, in whatever order, wait for each other instead of deadlocking.
    """
    if len(commands) > MAX_CHANGES:
        raise InvalidInput("items", f"at most {MAX_CHANGES} changes at once, "
                                    f"not {len(commands)}")
    await uow.levels.lock_many([(c.location_id, c.sku) for c in commands
                                if ctx.may_at(permission_for(c.reason), c.location_id)])
    return await each_on_its_own(update_inventory, uow, commands, ctx)
