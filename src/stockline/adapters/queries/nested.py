"""Reads of many parents at once, for nested fields (GraphQL's data loaders).

A page of 50 products asking for their levels costs one statement, not 50: each read
here takes every key a page of parents asks for and answers them all together. The
lists keep the rules of the flat lists they nest (``CoreQueries.levels``, ``.sales``):
the same filters and scope (``level_conditions``, ``sale_conditions``), the same order
and the same cursors; each parent's page is cut by a window (``row_number() OVER
(PARTITION BY parent ...)``), so that the statement reads at most a page per parent.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from stockline.adapters import rows
from stockline.adapters.queries.base import Page, QueryBase, Within, older_than_cursor, page_of
from stockline.adapters.queries.core import (
    level_conditions,
    level_key,
    load_sales,
    sale_conditions,
    sale_key,
)
from stockline.adapters.tables import inventory_levels, inventory_lots, locations, products, sales
from stockline.domain.lots import Lot
from stockline.domain.model import Level, Location, Product, Sale
from stockline.domain.values import LocationType

L, S, LOT = inventory_levels.c, sales.c, inventory_lots.c


def _pages(found: Iterable[Any], parents: Sequence[str], parent_of: Any,
           limit: int, key: Any) -> dict[str, Page[Any]]:
    grouped: dict[str, list[Any]] = {p: [] for p in parents}
    for item in found:
        grouped.setdefault(parent_of(item), []).append(item)
    return {p: page_of(grouped[p], limit, key) for p in parents}


class NestedQueries(QueryBase):
    async def products_by_sku(self, skus: Sequence[str]) -> dict[str, Product]:
        found = await self._all(select(products).where(products.c.sku.in_(sorted(set(skus)))))
        return {r.sku: rows.product_from_row(r) for r in found}

    async def locations_by_code(self, codes: Sequence[str]) -> dict[str, Location]:
        found = await self._all(select(locations)
                                .where(locations.c.code.in_(sorted(set(codes)))))
        return {r.code: rows.location_from_row(r) for r in found}

    async def lots_of(self, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], list[Lot]]:
        """The lots of each (location, SKU) level: one statement for all of them."""
        wanted = set(pairs)
        found: dict[tuple[str, str], list[Lot]] = {pair: [] for pair in wanted}
        if not wanted:
            return found
        stmt = select(inventory_lots).where(
            LOT.location_id.in_(sorted({loc for loc, _ in wanted})),
            LOT.sku.in_(sorted({sku for _, sku in wanted})))
        for row in await self._all(stmt):
            if (row.location_id, row.sku) in wanted:
                found[(row.location_id, row.sku)].append(rows.lot_from_row(row))
        return found

    async def levels_of(self, *, by: str, parents: Sequence[str],
                        location_type: LocationType | None, below_reorder_point: bool | None,
                        limit: int, cursor: str | None, within: Within
                        ) -> dict[str, Page[Level]]:
        """A page of levels for each parent: ``by`` ``"sku"`` (a product's levels, across
        locations) or ``"location_id"`` (a location's levels, across products)."""
        parent = L.sku if by == "sku" else L.location_id
        conditions = [parent.in_(sorted(set(parents))), *level_conditions(
            sku=None, location_id=None, location_type=location_type,
            below_reorder_point=below_reorder_point, cursor=cursor, within=within)]
        rank = func.row_number().over(partition_by=parent,
                                      order_by=(L.location_id, L.sku)).label("rank")
        ranked = select(inventory_levels, rank).where(*conditions).subquery("ranked")
        stmt = (select(ranked).where(ranked.c.rank <= limit + 1)
                .order_by(ranked.c[by], ranked.c.location_id, ranked.c.sku))
        found = [rows.level_from_row(r) for r in await self._all(stmt)]
        return _pages(found, parents, lambda lv: getattr(lv, by), limit, level_key)

    async def sales_at(self, *, parents: Sequence[str], start: datetime | None,
                       end: datetime | None, sku: str | None, channel: str | None,
                       limit: int, cursor: str | None, within: Within
                       ) -> dict[str, Page[Sale]]:
        """A page of each location's sales, newest first (as ``CoreQueries.sales``)."""
        conditions = [S.location_id.in_(sorted(set(parents))), *sale_conditions(
            start=start, end=end, location_id=None, sku=sku, channel=channel,
            within=within), *older_than_cursor(cursor, S.occurred_at, S.id)]
        rank = func.row_number().over(partition_by=S.location_id,
                                      order_by=(S.occurred_at.desc(), S.id.desc())
                                      ).label("rank")
        ranked = select(sales, rank).where(*conditions).subquery("ranked")
        stmt = (select(*[ranked.c[c.name] for c in sales.columns])
                .where(ranked.c.rank <= limit + 1)
                .order_by(ranked.c.location_id, ranked.c.occurred_at.desc(),
                          ranked.c.id.desc()))
        async def read(conn: AsyncConnection) -> list[Sale]:
            return await load_sales(conn, list((await conn.execute(stmt)).all()))
        return _pages(await self._read(read), parents, lambda s: s.location_id, limit, sale_key)

