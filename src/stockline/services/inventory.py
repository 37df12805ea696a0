"""Direct changes to levels: receipts, adjustments, counts, write-offs, reorder settings."""

from __future__ import annotations

from stockline.domain.commands import ReceiveStock, SetReorderSettings, UpdateInventory
from stockline.domain.errors import (
    InsufficientStock,
    InvalidInput,
    NotFound,
    ShortLine,
    VersionConflict,
)
from stockline.domain.events import Event, InventoryChanged, LowStock
from stockline.domain.model import LedgerEntry, Level
from stockline.domain.rules import check_inventory_change
from stockline.domain.values import MovementType
from stockline.services.executor import Context
from stockline.services.ports import UnitOfWork
from stockline.services.stock import ensure_exists, record_change


async def update_inventory(uow: UnitOfWork, cmd: UpdateInventory, ctx: Context) -> Level:
    """Change one level by a delta or to a counted quantity, never below what is reserved.

    A level springs into being on its first increase; ``expected_version`` makes the
    change a compare-and-set (a level that does not exist yet is at version 0).
    """
    check_inventory_change(cmd.reason, cmd.delta, cmd.quantity)
    if cmd.quantity is not None:
        level, delta = await _set_quantity(uow, cmd, cmd.quantity, ctx)
    elif cmd.delta is not None and cmd.delta > 0:
        level, delta = await _add(uow, cmd, cmd.delta, ctx), cmd.delta
    else:
        assert cmd.delta is not None
        level, delta = await _take(uow, cmd, -cmd.delta, ctx), cmd.delta
    entry, events = record_change(level, delta, ctx, type=MovementType(cmd.reason.value),
                                  reason=cmd.reason.value, reference=None, note=cmd.note,
                                  lot=cmd.lot)
    await uow.ledger.append([entry])
    await uow.outbox.append(events)
    return level


async def _add(uow: UnitOfWork, cmd: UpdateInventory, quantity: int, ctx: Context) -> Level:
    ev = cmd.expected_version
    level = await uow.levels.add(cmd.location_id, cmd.sku, quantity, now=ctx.now,
                                 expected_version=ev)
    if level is not None:
        return level
    existing = await uow.levels.get(cmd.location_id, cmd.sku)
    if existing is None:
        await ensure_exists(uow, cmd.location_id, cmd.sku)
        if ev not in (None, 0):
            raise VersionConflict(cmd.location_id, cmd.sku, ev, 0)
        level = await uow.levels.create(cmd.location_id, cmd.sku, quantity, now=ctx.now)
        if level is not None:
            return level
        # Another transaction created it first: add to theirs, unless a version was pinned.
        existing = await uow.levels.get(cmd.location_id, cmd.sku)
        if ev is None:
            level = await uow.levels.add(cmd.location_id, cmd.sku, quantity, now=ctx.now)
            if level is not None:
                return level
    actual = existing.version if existing is not None else 0
    raise VersionConflict(cmd.location_id, cmd.sku, ev if ev is not None else actual, actual)


async def _take(uow: UnitOfWork, cmd: UpdateInventory, quantity: int, ctx: Context) -> Level:
    ev = cmd.expected_version
    level = await uow.levels.take(cmd.location_id, cmd.sku, quantity, now=ctx.now,
                                  expected_version=ev)
    if level is not None:
        return level
    existing = await uow.levels.get(cmd.location_id, cmd.sku)
    if existing is None:
        await ensure_exists(uow, cmd.location_id, cmd.sku)
    elif ev is not None and existing.version != ev:
        raise VersionConflict(cmd.location_id, cmd.sku, ev, existing.version)
    available = existing.available if existing is not None else 0
    raise InsufficientStock(cmd.location_id, (ShortLine(cmd.sku, quantity, available),))


async def _set_quantity(uow: UnitOfWork, cmd: UpdateInventory, quantity: int,
                        ctx: Context) -> tuple[Level, int]:
    ev = cmd.expected_version
    level = await uow.levels.get(cmd.location_id, cmd.sku, for_update=True)
    if level is None:
        await ensure_exists(uow, cmd.location_id, cmd.sku)
        if ev not in (None, 0):
            raise VersionConflict(cmd.location_id, cmd.sku, ev, 0)
        created = await uow.levels.create(cmd.location_id, cmd.sku, quantity, now=ctx.now)
        if created is not None:
            return created, quantity
        level = await uow.levels.get(cmd.location_id, cmd.sku, for_update=True)
        assert level is not None
    if ev is not None and level.version != ev:
        raise VersionConflict(cmd.location_id, cmd.sku, ev, level.version)
    if quantity < level.reserved:
        raise InsufficientStock(cmd.location_id,
                                (ShortLine(cmd.sku, level.on_hand - quantity, level.available),))
    updated = await uow.levels.set_on_hand(cmd.location_id, cmd.sku, quantity, now=ctx.now)
    return updated, quantity - level.on_hand


async def set_reorder_settings(uow: UnitOfWork, cmd: SetReorderSettings, ctx: Context) -> Level:
    """Settings may be given before the first receipt (the level then starts empty).

    A level that the new settings put at or under its reorder point raises
    ``inventory.low_stock`` as if stock had fallen to it.
    """
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

    Levels are touched in SKU order; missing levels are created. Unknown SKUs or a
    non-positive quantity refuse the whole receipt.
    """
    if any(q <= 0 for q in cmd.quantities.values()):
        raise InvalidInput("quantities", "every received quantity must be positive")
    if not await uow.locations.exists(cmd.location_id):
        raise NotFound("location", cmd.location_id)
    skus = sorted(cmd.quantities)
    existing = await uow.levels.get_many(cmd.location_id, skus, for_update=True)
    missing = [sku for sku in skus if sku not in existing]
    if missing:
        unknown = set(missing) - await uow.products.existing(missing)
        if unknown:
            raise NotFound("product", min(unknown))
    levels = await uow.levels.create_many(
        cmd.location_id, {sku: cmd.quantities[sku] for sku in missing}, now=ctx.now)
    created = {level.sku for level in levels}
    for sku in skus:
        if sku not in created:
            level = await uow.levels.add(cmd.location_id, sku, cmd.quantities[sku], now=ctx.now)
            assert level is not None, "the level exists and this transaction holds its lock"
            levels.append(level)
    entries: list[LedgerEntry] = []
    events: list[Event] = []
    for level in levels:
        entry, level_events = record_change(level, cmd.quantities[level.sku], ctx,
                                            type=MovementType.RECEIPT, reason="receipt",
                                            reference=cmd.reference, note=cmd.note,
                                            occurred_at=cmd.occurred_at)
        entries.append(entry)
        events.extend(level_events)
    await uow.ledger.append(entries)
    await uow.outbox.append(events)
    return levels
