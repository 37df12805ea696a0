"""Cover and forecast: each level's net sales over the trailing window, and its cover.

One grouped query gives the net sales of a whole page of levels (sales less returns,
both by the sale's location), whatever the page's size; ``domain.cover`` does the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, func, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from stockline.adapters import rows
from stockline.adapters.queries.base import Page, QueryBase, Within, decode_cursor, page_of
from stockline.adapters.tables import (
    inventory_levels,
    sale_lines,
    sale_return_lines,
    sale_returns,
    sales,
)
from stockline.domain.cover import Cover, cover_of, window_start
from stockline.domain.model import Level

L, S, SL = inventory_levels.c, sales.c, sale_lines.c
R, RL = sale_returns.c, sale_return_lines.c
Key = tuple[str, str]


async def net_sales(conn: AsyncConnection, keys: Sequence[Key],
                    now: datetime) -> dict[Key, int]:
    """Per (location, SKU) of ``keys``: units sold there in the window ending ``now``, less
    the units of its sales that came back in it (a key without any is left out)."""
    if not keys:
        return {}
    locations, skus = sorted({k[0] for k in keys}), sorted({k[1] for k in keys})
    since = window_start(now)
    sold = (select(S.location_id, SL.sku, SL.quantity.label("units"))
            .select_from(sales.join(sale_lines, SL.sale_id == S.id))
            .where(S.occurred_at >= since, S.location_id.in_(locations), SL.sku.in_(skus)))
    back = (select(S.location_id, RL.sku, (-RL.quantity).label("units"))
            .select_from(sale_return_lines.join(sale_returns, R.id == RL.return_id)
                         .join(sales, S.id == R.sale_id))
            .where(R.created_at >= since, S.location_id.in_(locations), RL.sku.in_(skus)))
    both = union_all(sold, back).subquery()
    stmt = (select(both.c.location_id, both.c.sku, func.sum(both.c.units).label("net"))
            .group_by(both.c.location_id, both.c.sku))
    wanted = set(keys)
    return {(r.location_id, r.sku): int(r.net) for r in (await conn.execute(stmt)).all()
            if (r.location_id, r.sku) in wanted}


class CoverQueries(QueryBase):
    async def stock_cover(self, *, location_id: str | None, sku: str | None, now: datetime,
                          limit: int, cursor: str | None, within: Within = None
                          ) -> Page[Cover]:
        """Every level's cover, by location then SKU: two queries a page."""
        stmt = select(inventory_levels).order_by(L.location_id, L.sku).limit(limit + 1)
        if within is not None:
            stmt = stmt.where(L.location_id.in_(sorted(within)))
        if location_id is not None:
            stmt = stmt.where(L.location_id == location_id)
        if sku is not None:
            stmt = stmt.where(L.sku == sku)
        if cursor:
            loc, after = decode_cursor(cursor, str, str)
            stmt = stmt.where(or_(L.location_id > loc, and_(L.location_id == loc, L.sku > after)))
        async def read(conn: AsyncConnection) -> tuple[list[Level], dict[Key, int]]:
            levels = [rows.level_from_row(r) for r in (await conn.execute(stmt)).all()]
            net = await net_sales(conn, [(lv.location_id, lv.sku) for lv in levels[:limit]],
                                  now)
            return levels, net
        levels, net = await self._read(read)
        today = now.date()
        found = [cover_of(lv, net.get((lv.location_id, lv.sku), 0), today) for lv in levels]
        return page_of(found, limit, lambda c: [c.location_id, c.sku])
