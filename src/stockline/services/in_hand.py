"""Goods in hand at the till: the customer holds what the system says is gone."""

from __future__ import annotations

from collections.abc import Mapping

from stockline.domain.counting import CountTaskReason
from stockline.domain.values import MovementType, Reason
from stockline.services.count_tasks import open_count_task
from stockline.services.executor import Context
from stockline.services.ports import UnitOfWork
from stockline.services.stock import Record, append_records, ensure_exists, put_stock, record_change

IN_HAND_NOTE = "in hand at the till: sold though the system showed too little"


async def cover_in_hand(uow: UnitOfWork, location_id: str, quantities: Mapping[str, int],
                        sale_id: str, ctx: Context) -> None:
    """Make every SKU's available stock cover the sale before it takes it.

    For each SKU short of available, the shortfall is found (a ledger entry of type
    ``found`` referencing the sale, on the unlabelled lot of a lotted level) and a count
    task is opened for the level (reason ``in_hand_sale``; an open one is joined). Holds
    are untouched: ``on_hand`` rises until ``on_hand - reserved`` covers the line, so it
    never goes below 0. Levels are locked in SKU order, as the sale then takes them.
    """
    records: list[Record] = []
    for sku in sorted(quantities):
        level = await uow.levels.get(location_id, sku, for_update=True)
        if level is None:
            await ensure_exists(uow, location_id, sku)
            await uow.levels.ensure(location_id, sku, now=ctx.now)
            level = await uow.levels.get(location_id, sku, for_update=True)
            assert level is not None
        shortfall = quantities[sku] - level.available
        if shortfall <= 0:
            continue
        moved = await put_stock(uow, location_id, sku, shortfall, ctx)
        records.append(record_change(moved, ctx, type=MovementType.FOUND,
                                     reason=Reason.FOUND.value, reference=sale_id,
                                     note=IN_HAND_NOTE))
        await open_count_task(uow, location_id, sku, CountTaskReason.IN_HAND_SALE, sale_id,
                              ctx)
    await append_records(uow, records)
