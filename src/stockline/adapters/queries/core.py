"""The read side of the core: catalog, locations, levels, sales, the ledger."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, String, and_, bindparam, case, cast, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from stockline.adapters import rows
from stockline.adapters.queries.base import (
    Page,
    QueryBase,
    Within,
    decode_cursor,
    older_than_cursor,
    page_of,
    time_and_id,
)
from stockline.adapters.tables import (
    inventory_levels,
    inventory_lots,
    locations,
    products,
    sale_lines,
    sale_return_lines,
    sale_returns,
    sales,
    stock_movements,
)
from stockline.domain.lots import Lot
from stockline.domain.model import (
    LedgerEntry,
    Level,
    Location,
    Product,
    ReturnLine,
    Sale,
    SaleReturn,
)
from stockline.domain.values import LocationType, ReturnReason

L, P, S, M, LOC = (inventory_levels.c, products.c, sales.c, stock_movements.c, locations.c)

# The lookups of every request, built once: building a statement and its cache key took
# more time than running it.
_PRODUCT = select(products).where(P.sku == bindparam("sku"))
_LOCATION = select(locations).where(LOC.code == bindparam("code"))
_LEVEL = select(inventory_levels).where(L.location_id == bindparam("location_id"),
                                        L.sku == bindparam("sku"))
_LOTS = select(inventory_lots).where(inventory_lots.c.location_id == bindparam("location_id"),
                                     inventory_lots.c.sku == bindparam("sku"))


class CoreQueries(QueryBase):
    # -- catalog ---------------------------------------------------------------------
    async def product(self, sku: str) -> Product | None:
        row = await self._first(_PRODUCT, {"sku": sku})
        return rows.product_from_row(row) if row else None

    async def products(self, *, category: str | None, q: str | None,
                       attributes: Mapping[str, str], limit: int,
                       cursor: str | None) -> Page[Product]:
        stmt = select(products).order_by(P.sku).limit(limit + 1)
        if category is not None:
            stmt = stmt.where(P.category == category)
        if q:
            needle = q.lower()
            stmt = stmt.where(or_(func.lower(P.sku).contains(needle, autoescape=True),
                                  func.lower(P.name).contains(needle, autoescape=True)))
        for name, value in attributes.items():
            stmt = stmt.where(self._attribute_text(name) == value)
        if cursor:
            (after,) = decode_cursor(cursor, str)
            stmt = stmt.where(P.sku > after)
        found = await self._all(stmt)
        return page_of([rows.product_from_row(r) for r in found], limit, lambda p: [p.sku])

    def _attribute_text(self, name: str) -> ColumnElement[str]:
        """An attribute as the text a query string carries: 'true', '42', 'black'."""
        if self._engine.dialect.name == "postgresql":
            text: ColumnElement[str] = P.attributes[name].as_string()
            return text
        # SQLite's json_extract answers 1 for true: spell booleans out as JSON does.
        path = f'$."{name}"'
        return case((func.json_type(P.attributes, path) == "true", "true"),
                    (func.json_type(P.attributes, path) == "false", "false"),
                    else_=cast(func.json_extract(P.attributes, path), String))

    # -- locations -------------------------------------------------------------------
    async def location(self, code: str, type: LocationType | None = None) -> Location | None:
        stmt = _LOCATION if type is None else _LOCATION.where(LOC.type == type.value)
        row = await self._first(stmt, {"code": code})
        return rows.location_from_row(row) if row else None

    async def locations(self, *, type: LocationType, region: str | None, limit: int,
                        cursor: str | None, within: Within = None) -> Page[Location]:
        stmt = (select(locations).where(LOC.type == type.value).order_by(LOC.code)
                .limit(limit + 1))
        if within is not None:
            stmt = stmt.where(LOC.code.in_(sorted(within)))
        if region is not None:
            stmt = stmt.where(LOC.region == region)
        if cursor:
            (after,) = decode_cursor(cursor, str)
            stmt = stmt.where(LOC.code > after)
        found = await self._all(stmt)
        return page_of([rows.location_from_row(r) for r in found], limit, lambda x: [x.code])

    # -- inventory -------------------------------------------------------------------
    async def level(self, location_id: str, sku: str) -> Level | None:
        row = await self._first(_LEVEL, {"location_id": location_id, "sku": sku})
        return rows.level_from_row(row) if row else None

    async def lots(self, location_id: str, sku: str) -> list[Lot]:
        rows_ = await self._all(_LOTS, {"location_id": location_id, "sku": sku})
        return [rows.lot_from_row(r) for r in rows_]

    async def levels(self, *, sku: str | None, location_id: str | None,
                     location_type: LocationType | None, below_reorder_point: bool | None,
                     limit: int, cursor: str | None, within: Within = None) -> Page[Level]:
        stmt = select(inventory_levels).order_by(L.location_id, L.sku).limit(limit + 1)
        if within is not None:
            stmt = stmt.where(L.location_id.in_(sorted(within)))
        if sku is not None:
            stmt = stmt.where(L.sku == sku)
        if location_id is not None:
            stmt = stmt.where(L.location_id == location_id)
        if location_type is not None:
            stmt = stmt.where(L.location_id.in_(
                select(LOC.code).where(LOC.type == location_type.value)))
        if below_reorder_point is not None:
            low = and_(L.reorder_point.is_not(None), L.on_hand - L.reserved <= L.reorder_point)
            stmt = stmt.where(low if below_reorder_point else ~low)
        if cursor:
            loc, after_sku = decode_cursor(cursor, str, str)
            stmt = stmt.where(or_(L.location_id > loc,
                                  and_(L.location_id == loc, L.sku > after_sku)))
        found = await self._all(stmt)
        return page_of([rows.level_from_row(r) for r in found], limit,
                     lambda lv: [lv.location_id, lv.sku])

    # -- sales -----------------------------------------------------------------------
    async def sale(self, sale_id: str) -> Sale | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(sales).where(S.id == sale_id))).first()
            if row is None:
                return None
            return (await load_sales(conn, [row]))[0]

    async def sales(self, *, start: datetime | None, end: datetime | None,
                    location_id: str | None, sku: str | None, channel: str | None,
                    limit: int, cursor: str | None, within: Within = None,
                    customer_ref: str | None = None) -> Page[Sale]:
        """Newest first (by ``occurred_at``), ``start`` inclusive, ``end`` exclusive."""
        stmt = select(sales).order_by(S.occurred_at.desc(), S.id.desc()).limit(limit + 1)
        conditions: list[ColumnElement[bool]] = []
        if within is not None:
            conditions.append(S.location_id.in_(sorted(within)))
        if start is not None:
            conditions.append(S.occurred_at >= start)
        if end is not None:
            conditions.append(S.occurred_at < end)
        if location_id is not None:
            conditions.append(S.location_id == location_id)
        if channel is not None:
            conditions.append(S.channel == channel)
        if customer_ref is not None:
            conditions.append(S.customer_ref == customer_ref)
        if sku is not None:
            conditions.append(S.id.in_(select(sale_lines.c.sale_id)
                                       .where(sale_lines.c.sku == sku)))
        conditions += older_than_cursor(cursor, S.occurred_at, S.id)
        async with self._engine.connect() as conn:
            found = (await conn.execute(stmt.where(*conditions))).all()
            items = await load_sales(conn, list(found))
        return page_of(items, limit, lambda s: time_and_id(s.occurred_at, s.id))

    # -- the ledger ------------------------------------------------------------------
    async def movements(self, *, location_id: str | None, sku: str | None, type: str | None,
                        start: datetime | None, end: datetime | None, limit: int,
                        cursor: str | None, within: Within = None) -> Page[LedgerEntry]:
        """Oldest first, in the order the changes were recorded."""
        stmt = select(stock_movements).order_by(M.id).limit(limit + 1)
        if within is not None:
            stmt = stmt.where(M.location_id.in_(sorted(within)))
        if location_id is not None:
            stmt = stmt.where(M.location_id == location_id)
        if sku is not None:
            stmt = stmt.where(M.sku == sku)
        if type is not None:
            stmt = stmt.where(M.type == type)
        if start is not None:
            stmt = stmt.where(M.occurred_at >= start)
        if end is not None:
            stmt = stmt.where(M.occurred_at < end)
        if cursor:
            (after,) = decode_cursor(cursor, int)
            stmt = stmt.where(M.id > after)
        found = await self._all(stmt)
        return page_of([rows.ledger_from_row(r) for r in found], limit,
                     lambda e: [e.id])

    # -- the demo loader: what is there already -------------------------------------
    async def product_count(self) -> int:
        row = await self._first(select(func.count()).select_from(products))
        return int(row[0])

    async def reorder_points(self, location_id: str) -> dict[str, int | None]:
        """Every level at one location: its SKU and reorder point (None where unset)."""
        found = await self._all(select(L.sku, L.reorder_point)
                                .where(L.location_id == location_id))
        return {r.sku: r.reorder_point for r in found}

    async def sale_refs(self, prefix: str) -> set[str]:
        """The external refs that start with ``prefix``."""
        found = await self._all(select(S.external_ref)
                                .where(S.external_ref.startswith(prefix, autoescape=True)))
        return {r.external_ref for r in found}

    async def ping(self) -> None:
        async with self._engine.connect() as conn:
            await conn.execute(select(1))


async def load_sales(conn: AsyncConnection, sale_rows: list[Any]) -> list[Sale]:
    """The sales of these ``sales`` rows, with their lines and their returns (oldest first).

    Shared by the read side and the sales repository (which locks the rows it passes).
    """
    if not sale_rows:
        return []
    ids = [r.id for r in sale_rows]
    lines: dict[str, list[Any]] = {i: [] for i in ids}
    stmt = (select(sale_lines).where(sale_lines.c.sale_id.in_(ids))
            .order_by(sale_lines.c.sale_id, sale_lines.c.line_no))
    for line in (await conn.execute(stmt)).all():
        lines[line.sale_id].append(line)
    returns = await _returns(conn, ids)
    return [replace(rows.sale_from_rows(r, lines[r.id]), returns=tuple(returns[r.id]))
            for r in sale_rows]


async def _returns(conn: AsyncConnection, sale_ids: list[str]) -> dict[str, list[SaleReturn]]:
    R, RL = sale_returns.c, sale_return_lines.c
    found: dict[str, list[SaleReturn]] = {i: [] for i in sale_ids}
    headers = (await conn.execute(select(sale_returns).where(R.sale_id.in_(sale_ids))
                                  .order_by(R.created_at, R.id))).all()
    if not headers:
        return found
    lines: dict[str, list[ReturnLine]] = {h.id: [] for h in headers}
    for line in (await conn.execute(select(sale_return_lines)
                                    .where(RL.return_id.in_(list(lines)))
                                    .order_by(RL.return_id, RL.line_no))).all():
        lines[line.return_id].append(ReturnLine(sku=line.sku, quantity=line.quantity))
    for h in headers:
        found[h.sale_id].append(SaleReturn(
            id=h.id, sale_id=h.sale_id, location_id=h.location_id, lines=tuple(lines[h.id]),
            restock=bool(h.restock), reason=ReturnReason(h.reason), note=h.note,
            actor=h.actor, created_at=h.created_at))
    return found
