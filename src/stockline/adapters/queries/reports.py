"""Reports: sales summed by the groups a caller asks for, gross and net of returns.

Two aggregates: the sales made in the window, and the returns taken in the window, each
by the sale's own attributes (its location, that location's region and time zone, its
channel and currency; a line's SKU and its category). A return taken at another store
counts against the store that made the sale.

The sales come from the rollup where its keys answer the report (report_rollup.py), both
aggregates then read in one snapshot; else, and whenever the rollup was summed with a
zone or a category that has changed since, from the sales tables (report_sql.py). The
locations of the report are read first (a few rows) and Python names each location's
region. The two aggregates meet by group in Python, which also names the weeks and
months of a report summed by local day.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Executable, exists, select
from sqlalchemy.ext.asyncio import AsyncConnection

from stockline.adapters.queries.base import QueryBase, Within
from stockline.adapters.queries.report_rollup import (
    Kind,
    Source,
    from_rollup,
    source_of,
)
from stockline.adapters.queries.report_rows import Grouping, Key, SalesTotals, merged
from stockline.adapters.queries.report_sql import (
    Sites,
    part_of,
    returned,
    scope_of,
    sold,
)
from stockline.adapters.tables import (
    locations,
    products,
    rollup_categories,
    rollup_zones,
    zone_key,
)
from stockline.domain.calendar import stored_zone
from stockline.domain.values import SalesGroup

LOC, P, RZ, RC = locations.c, products.c, rollup_zones.c, rollup_categories.c
T = TypeVar("T")

__all__ = ["Key", "ReportQueries", "SalesTotals"]


class ReportQueries(QueryBase):
    async def sales_report(self, *, start: datetime, end: datetime,
                           groups: Iterable[SalesGroup], location_id: str | None,
                           within: Within = None, rollup: bool = True
                           ) -> list[SalesTotals]:
        """Sales with ``start <= occurred_at < end`` and returns taken in that window,
        summed by ``groups`` and currency, ordered by group. ``rollup`` False: from the
        sales tables alone, the answer the rollup's must equal."""
        grouping = Grouping(self._engine.dialect.name,
                            tuple(g for g in SalesGroup if g in set(groups)))
        scope = scope_of(location_id, within)
        source = source_of(grouping, scoped=bool(scope)) if rollup else None
        if source is None:
            return await self._from_sales(grouping, location_id, within, start, end)
        rolled = source

        async def read(conn: AsyncConnection) -> tuple[Sites, list[list[Any]]]:
            sites = await _sites(conn, location_id, within)
            part = part_of(grouping, sites, scope, start, end)
            statements: list[Executable] = (
                [from_rollup(grouping, rolled, kind, part, sites, start, end)
                 for kind in (Kind.SOLD, Kind.RETURNED)]
                if await _rollup_current(conn, rolled, sites) else
                [sold(grouping, part, start, end), returned(grouping, part, start, end)])
            return sites, [list((await conn.execute(stmt)).all()) for stmt in statements]
        sites, sums = await self._in_snapshot(read)
        return merged(grouping, sums[:1], sums[1:], _regions(sites))

    async def _from_sales(self, grouping: Grouping, location_id: str | None,
                          within: Within, start: datetime, end: datetime
                          ) -> list[SalesTotals]:
        """From the sales tables alone, the two aggregates side by side."""
        sites: Sites = {}
        if grouping.by_site:
            async def read(conn: AsyncConnection) -> Sites:
                return await _sites(conn, location_id, within)
            sites = await self._read(read)
        part = part_of(grouping, sites, scope_of(location_id, within), start, end)
        answers = await asyncio.gather(self._summed(sold(grouping, part, start, end)),
                                       self._summed(returned(grouping, part, start, end)))
        return merged(grouping, answers[:1], answers[1:], _regions(sites))

    async def _summed(self, stmt: Executable) -> list[Any]:
        async def read(conn: AsyncConnection) -> list[Any]:
            return list((await conn.execute(stmt)).all())
        return await self._in_snapshot(read)

    async def _in_snapshot(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """``work`` in one transaction, so one snapshot, for every statement (SQLite's
        reads are snapshots in WAL mode; PostgreSQL's, at REPEATABLE READ)."""
        postgres = self._engine.dialect.name == "postgresql"

        async def run(conn: AsyncConnection) -> T:
            async with conn.begin():
                if postgres:
                    # PostgreSQL compiles a statement this costly to machine code first
                    # (JIT), which took seconds where running it takes a fraction of one.
                    await conn.exec_driver_sql("SET LOCAL jit = off")
                return await work(conn)
        if postgres:
            return await self._read(run, isolation_level="REPEATABLE READ",
                                    postgresql_readonly=True)
        return await self._read(run)


async def _sites(conn: AsyncConnection, location_id: str | None, within: Within) -> Sites:
    """The region and time zone of each location of the report."""
    stmt = select(LOC.code, LOC.region, LOC.time_zone).where(
        *scope_of(location_id, within, LOC.code))
    return {r.code: (r.region, r.time_zone if stored_zone(r.time_zone) else None)
            for r in await conn.execute(stmt)}


def _regions(sites: Sites) -> dict[str, str | None]:
    return {code: region for code, (region, _) in sites.items()}


async def _rollup_current(conn: AsyncConnection, source: Source, sites: Sites) -> bool:
    """Whether the rollup's sums were made with the zones (and, by category, the
    categories) the report's locations and products have now."""
    kept = dict((await conn.execute(select(RZ.location_id, RZ.zone).where(
        RZ.location_id.in_(sorted(sites))))).all())
    if any(kept.get(code, zone_key(zone)) != zone_key(zone)
           for code, (_, zone) in sites.items()):
        return False
    if source is not Source.CATEGORY_DAYS:
        return True
    renamed = exists().select_from(rollup_categories.outerjoin(products, P.sku == RC.sku)) \
        .where(P.category.is_distinct_from(RC.category))
    return not (await conn.execute(select(renamed))).scalar()
