"""Stock summed by location: the network's overview, in one set-based query."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from stockline.adapters.tables import inventory_levels, locations, products


@dataclass(frozen=True, slots=True)
class LocationStock:
    location_id: str
    location_type: str
    skus: int
    on_hand: int
    reserved: int
    in_transit: int
    low: int  # levels whose available stock is at or under their reorder point


async def stock_by_location(engine: AsyncEngine, *, sku: str | None, category: str | None,
                            within: Collection[str] | None) -> list[LocationStock]:
    lv = inventory_levels
    available = lv.c.on_hand - lv.c.reserved
    low = case((and_(lv.c.reorder_point.is_not(None), available <= lv.c.reorder_point), 1),
               else_=0)
    stmt = (select(lv.c.location_id, locations.c.type, func.count(), func.sum(lv.c.on_hand),
                   func.sum(lv.c.reserved), func.sum(lv.c.in_transit), func.sum(low))
            .join(locations, locations.c.code == lv.c.location_id)
            .group_by(lv.c.location_id, locations.c.type).order_by(lv.c.location_id))
    if sku is not None:
        stmt = stmt.where(lv.c.sku == sku)
    if category is not None:
        stmt = stmt.join(products, products.c.sku == lv.c.sku).where(
            products.c.category == category)
    if within is not None:
        stmt = stmt.where(lv.c.location_id.in_(sorted(within)))
    async with engine.connect() as conn:
        rows = (await conn.execute(stmt)).all()
    return [LocationStock(location_id=r[0], location_type=r[1], skus=int(r[2]),
                          on_hand=int(r[3] or 0), reserved=int(r[4] or 0),
                          in_transit=int(r[5] or 0), low=int(r[6] or 0)) for r in rows]
