"""Many level changes in one transaction, each applied or refused on its own."""

from __future__ import annotations

from collections.abc import Sequence

from stockline.domain.commands import UpdateInventory
from stockline.domain.errors import DomainError, InvalidInput
from stockline.domain.model import Level
from stockline.services.executor import Context, each_on_its_own
from stockline.services.inventory import change_level, permission_for
from stockline.services.ports import UnitOfWork
from stockline.services.stock import Record, append_records

MAX_CHANGES = 500
# Changes tried together in one savepoint; a refusal among them has them redone each in
# its own. Larger runs save savepoints when all pass and redo more when one does not.
RUN = 20

Outcome = Level | DomainError


async def update_inventory_many(uow: UnitOfWork, commands: Sequence[UpdateInventory],
                                ctx: Context) -> list[Outcome]:
    """Apply each change as ``update_inventory`` would, in the order given; a refused change
    is rolled back alone and its refusal stands in its place in the answer.

    The levels the caller may change are locked first, in key order, so that two batches
    over the same levels, in whatever order, wait for each other instead of deadlocking.
    The ledger entries and events of the changes applied are written together at the end.
    """
    if len(commands) > MAX_CHANGES:
        raise InvalidInput("items", f"at most {MAX_CHANGES} changes at once, "
                                    f"not {len(commands)}")
    await uow.levels.lock_many([(c.location_id, c.sku) for c in commands
                                if ctx.may_at(permission_for(c.reason), c.location_id)])
    records: list[Record] = []

    async def change(uow: UnitOfWork, command: UpdateInventory, ctx: Context) -> Level:
        level, record = await change_level(uow, command, ctx)
        records.append(record)
        return level

    outcomes: list[Outcome] = []
    for start in range(0, len(commands), RUN):
        run = commands[start:start + RUN]
        kept = len(records)
        try:
            async with uow.savepoint():  # the plain case: every change of the run stands
                outcomes += [await change(uow, command, ctx) for command in run]
        except DomainError:  # the run is rolled back; redone, each change on its own
            del records[kept:], outcomes[start:]
            outcomes += await each_on_its_own(change, uow, run, ctx)
    await append_records(uow, records)
    return outcomes
