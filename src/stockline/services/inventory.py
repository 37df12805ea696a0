"""Direct changes to levels: receipts, adjustments, counts, write-offs, reorder settings."""

from __future__ import annotations

from stockline.domain.commands import ReceiveStock, SetReorderSettings, UpdateInventory
from stockline.domain.documents import Reservation
from stockline.domain.errors import (
    InvalidInput,
    VersionConflict,
)
from stockline.domain.events import Event, InventoryChanged, LowStock
from stockline.domain.lots import LotPiece
from stockline.domain.model import Level
from stockline.domain.rules import check_inventory_change
from stockline.domain.security import Permission
from stockline.domain.values import MovementType, Reason
from stockline.services.executor import Context
from stockline.services.ports import UnitOfWork
from stockline.services.reservations import release_for_count
from stockline.services.stock import (
    Moved,
    Record,
    append_records,
    ensure_exists,
    ensure_receivable,
    put_stock,
    record_change,
    take_one,
)


async def update_inventory(uow: UnitOfWork, cmd: UpdateInventory, ctx: Context) -> Level:
    """Change one level by a delta (never below what is reserved) or to a counted quantity.

    A count is the truth: the holds it leaves no room for are released, newest first.
    A level springs into being on its first increase; ``expected_version`` makes the
    change a compare-and-set (a level that does not exist yet is at version 0). With a
    ``lot``, the change (or the count) is of that lot. The reason names the permission
    needed at the location (``permission_for``). A receipt needs an open location and an
    active product (``ensure_receivable``); counts and adjustments are taken anywhere.
    """
    level, record = await change_level(uow, cmd, ctx)
    await append_records(uow, [record])
    return level


async def change_level(uow: UnitOfWork, cmd: UpdateInventory,
                       ctx: Context) -> tuple[Level, Record]:
    """``update_inventory`` but for writing its ledger entries and events: they are
    returned, for a caller that writes those of many changes at once."""
    ctx.require(permission_for(cmd.reason), cmd.location_id)
    check_inventory_change(cmd.reason, cmd.delta, cmd.quantity)
    if cmd.expires_on is not None and cmd.lot is None:
        raise InvalidInput("expires_on", "an expiry belongs to a lot: give 'lot' too")
    if cmd.quantity is not None:
        moved = await _count(uow, cmd, cmd.quantity, ctx)
    elif cmd.delta is not None and cmd.delta > 0:
        if cmd.reason is Reason.RECEIPT:  # found stock, returns and counts are facts, not buys
            await ensure_receivable(uow, cmd.location_id, [cmd.sku])
        moved = await put_stock(uow, cmd.location_id, cmd.sku, cmd.delta, ctx, lot=cmd.lot,
                                expires_on=cmd.expires_on, expected_version=cmd.expected_version)
    else:
        assert cmd.delta is not None
        moved = await take_one(uow, cmd.location_id, cmd.sku, -cmd.delta, ctx, lot=cmd.lot,
                               expected_version=cmd.expected_version)
    record = record_change(moved, ctx, type=MovementType(cmd.reason.value),
                           reason=cmd.reason.value, reference=cmd.reference, note=cmd.note,
                           occurred_at=cmd.occurred_at)
    return moved.level, record


def permission_for(reason: Reason) -> Permission:
    """A receipt needs ``inventory:receive``, a count ``inventory:count``; every other
    reason (adjustment, damage, loss, found, return) is an adjustment."""
    if reason is Reason.RECEIPT:
        return Permission.INVENTORY_RECEIVE
    if reason is Reason.COUNT:
        return Permission.INVENTORY_COUNT
    return Permission.INVENTORY_ADJUST


async def _count(uow: UnitOfWork, cmd: UpdateInventory, quantity: int, ctx: Context) -> Moved:
    """Bring the level (or its named lot) to the counted quantity, checked under lock.

    A count is never refused for the holds on the level: those that no longer fit are
    released, newest first (``release_for_count``), so ``available`` stays at 0 or more.
    """
    # The holds are locked before the level, in the order a release locks them.
    holds = await uow.reservations.holding(cmd.location_id, cmd.sku)
    level = await uow.levels.get(cmd.location_id, cmd.sku, for_update=True)
    ev = cmd.expected_version
    if level is None:
        await ensure_exists(uow, cmd.location_id, cmd.sku)
        if ev not in (None, 0):
            raise VersionConflict(cmd.location_id, cmd.sku, ev, 0)
        if quantity > 0:
            return await put_stock(uow, cmd.location_id, cmd.sku, quantity, ctx, lot=cmd.lot,
                                   expires_on=cmd.expires_on)
        await uow.levels.ensure(cmd.location_id, cmd.sku, now=ctx.now)  # a count of 0 is kept
        level = await uow.levels.get(cmd.location_id, cmd.sku, for_update=True)
        assert level is not None
    elif ev is not None and level.version != ev:
        raise VersionConflict(cmd.location_id, cmd.sku, ev, level.version)
    counted = level.on_hand
    if cmd.lot is not None:
        lots = await uow.lots.list(cmd.location_id, cmd.sku, for_update=True)
        counted = next((x.on_hand for x in lots if x.lot == cmd.lot), 0)
    difference = quantity - counted
    await _release_what_no_longer_fits(uow, level, difference, holds, ctx)
    if difference > 0:
        return await put_stock(uow, cmd.location_id, cmd.sku, difference, ctx, lot=cmd.lot,
                               expires_on=cmd.expires_on)
    if difference < 0:
        return await take_one(uow, cmd.location_id, cmd.sku, -difference, ctx, lot=cmd.lot)
    confirmed = (LotPiece(cmd.lot, 0),) if cmd.lot is not None else ()
    return Moved(level, 0, confirmed)


async def _release_what_no_longer_fits(uow: UnitOfWork, level: Level, difference: int,
                                       holds: list[Reservation], ctx: Context) -> None:
    """Release the newest holds until the level's holds fit in its counted ``on_hand``."""
    excess = level.reserved - (level.on_hand + difference)
    if excess <= 0:
        return
    if excess > sum(h.quantities().get(level.sku, 0) for h in holds):
        # A hold was made between our look and the level's lock; none can be now.
        holds = await uow.reservations.holding(level.location_id, level.sku)
    await release_for_count(uow, holds, level.sku, excess, ctx)


async def set_reorder_settings(uow: UnitOfWork, cmd: SetReorderSettings, ctx: Context) -> Level:
    """Settings may be given before the first receipt (the level then starts empty).

    A level that the new settings put at or under its reorder point raises
    ``inventory.low_stock`` as if stock had fallen to it.
    """
    ctx.require(Permission.INVENTORY_SETTINGS, cmd.location_id)
    before = await uow.levels.get(cmd.location_id, cmd.sku, for_update=True)
    if before is None:
        await ensure_exists(uow, cmd.location_id, cmd.sku)
    level = await uow.levels.set_settings(
        cmd.location_id, cmd.sku, reorder_point=cmd.reorder_point,
        reorder_quantity=cmd.reorder_quantity, safety_stock=cmd.safety_stock, now=ctx.now)
    events: list[Event] = [InventoryChanged(occurred_at=ctx.now, level=level, delta=0,
                                            cause="settings", reference=None)]
    was_low = before is not None and before.is_at_or_below_reorder_point()
    if level.is_at_or_below_reorder_point() and not was_low:
        events.append(LowStock(occurred_at=ctx.now, level=level))
    await uow.outbox.append(events)
    return level


async def receive_stock(uow: UnitOfWork, cmd: ReceiveStock, ctx: Context) -> list[Level]:
    """Raise many levels of one location in a few statements, each change in the ledger.

    Levels are touched in SKU order; missing levels are created. Unknown SKUs, a
    non-positive quantity, a closed location or a discontinued product refuse the whole
    receipt.
    """
    ctx.require(Permission.INVENTORY_RECEIVE, cmd.location_id)
    if any(q <= 0 for q in cmd.quantities.values()):
        raise InvalidInput("quantities", "every received quantity must be positive")
    skus = sorted(cmd.quantities)
    await ensure_receivable(uow, cmd.location_id, skus)
    existing = await uow.levels.get_many(cmd.location_id, skus, for_update=True)
    missing = [sku for sku in skus if sku not in existing]
    created = await uow.levels.create_many(
        cmd.location_id, {sku: cmd.quantities[sku] for sku in missing}, now=ctx.now)
    moved = [Moved(level, cmd.quantities[level.sku]) for level in created]
    made = {level.sku for level in created}
    for sku in skus:
        if sku not in made:  # existed already, or was created concurrently since we looked
            moved.append(await put_stock(uow, cmd.location_id, sku, cmd.quantities[sku], ctx))
    await append_records(uow, [record_change(m, ctx, type=MovementType.RECEIPT,
                                             reason="receipt", reference=cmd.reference,
                                             occurred_at=cmd.occurred_at, note=cmd.note)
                               for m in sorted(moved, key=lambda m: m.level.sku)])
    return [m.level for m in moved]
