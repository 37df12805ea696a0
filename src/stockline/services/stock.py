"""The one way stock changes: guarded level updates, each with its ledger row and events."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from stockline.domain.errors import InsufficientStock, NotFound, ShortLine
from stockline.domain.events import Event, InventoryChanged, LowStock
from stockline.domain.model import LedgerEntry, Level, crossed_reorder_point
from stockline.domain.values import MovementType
from stockline.services.executor import Context
from stockline.services.ports import UnitOfWork


async def ensure_exists(uow: UnitOfWork, location_id: str, sku: str) -> None:
    """Raise NotFound for an unknown location or SKU (location first)."""
    if not await uow.locations.exists(location_id):
        raise NotFound("location", location_id)
    if not await uow.products.exists(sku):
        raise NotFound("product", sku)


async def take_stock(uow: UnitOfWork, location_id: str, quantities: Mapping[str, int],
                     ctx: Context) -> list[Level]:
    """Lower ``on_hand`` of every SKU, all or none.

    Levels are updated in SKU order so that two multi-line sales cannot deadlock;
    each update is guarded by ``available >= quantity``. When any line is short,
    InsufficientStock names every short line and the caller's transaction rolls back.
    """
    levels: list[Level] = []
    short: dict[str, int] = {}
    for sku in sorted(quantities):
        level = await uow.levels.take(location_id, sku, quantities[sku], now=ctx.now)
        if level is None:
            short[sku] = quantities[sku]
        else:
            levels.append(level)
    if short:
        raise await _shortage(uow, location_id, short)
    return levels


async def _shortage(uow: UnitOfWork, location_id: str,
                    wanted: Mapping[str, int]) -> InsufficientStock | NotFound:
    if not await uow.locations.exists(location_id):
        return NotFound("location", location_id)
    lines = []
    for sku, quantity in wanted.items():
        level = await uow.levels.get(location_id, sku)
        if level is None and not await uow.products.exists(sku):
            return NotFound("product", sku)
        lines.append(ShortLine(sku, quantity, level.available if level else 0))
    return InsufficientStock(location_id, tuple(lines))


def record_change(level: Level, delta: int, ctx: Context, *, type: MovementType, reason: str,
                  reference: str | None, occurred_at: datetime | None = None,
                  note: str | None = None,
                  lot: str | None = None) -> tuple[LedgerEntry, list[Event]]:
    """The ledger entry and events for a change already applied to ``level``."""
    when = occurred_at if occurred_at is not None else ctx.now
    entry = LedgerEntry(location_id=level.location_id, sku=level.sku, delta=delta,
                        balance_after=level.on_hand, type=type, reason=reason,
                        reference=reference, actor=ctx.actor, occurred_at=when,
                        note=note, lot=lot, recorded_at=ctx.now)
    events: list[Event] = [InventoryChanged(occurred_at=ctx.now, level=level, delta=delta,
                                            cause=type.value, reference=reference)]
    if delta < 0 and crossed_reorder_point(level.available - delta, level):
        events.append(LowStock(occurred_at=ctx.now, level=level))
    return entry, events
