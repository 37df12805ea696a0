"""The read side of the core: catalog, locations, levels, sales, the ledger."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    String,
    and_,
    bindparam,
    case,
    cast,
    func,
    or_,
    select,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from stockline.adapters import rows
from stockline.adapters.queries import search
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
from stockline.domain.values import LocationStatus, LocationType, ProductStatus, ReturnReason

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
                       cursor: str | None, status: ProductStatus | None = None) -> Page[Product]:
        """The catalogue by SKU; with ``q``, what matches it, best first (``search``)."""
        if q:
            return await self._found(q, category, attributes, limit, cursor, status)
        stmt = select(products).order_by(P.sku).limit(limit + 1)
        stmt = stmt.where(*self._filters(category, attributes, status))
        if cursor:
            (after_sku,) = decode_cursor(cursor, str)
            stmt = stmt.where(P.sku > after_sku)
        found = await self._all(stmt)
        return page_of([rows.product_from_row(r) for r in found], limit, lambda p: [p.sku])

    async def _found(self, q: str, category: str | None, attributes: Mapping[str, str],
                     limit: int, cursor: str | None,
                     status: ProductStatus | None) -> Page[Product]:
        matching = search.search(q, self._engine.dialect.name == "postgresql")
        if matching is None:
            return Page([], None)
        hits = matching.where(*self._filters(category, attributes, status)).subquery("hits")
        stmt = (select(hits).where(*search.after(cursor, hits.c.score, hits.c.sku))
                .order_by(hits.c.score.desc(), hits.c.sku).limit(limit + 1))
        found = await self._all(stmt)
        scores = {r.sku: int(r.score) for r in found}
        return page_of([rows.product_from_row(r) for r in found], limit,
                       lambda p: [scores[p.sku], p.sku])

    def _filters(self, category: str | None, attributes: Mapping[str, str],
                 status: ProductStatus | None = None) -> list[ColumnElement[bool]]:
        conditions = [] if category is None else [P.category == category]
        if status is not None:
            conditions.append(P.status == status.value)
        return conditions + [self._attribute_text(name) == value
                             for name, value in attributes.items()]

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
                        cursor: str | None, within: Within = None,
                        status: LocationStatus | None = None) -> Page[Location]:
        stmt = (select(locations).where(LOC.type == type.value).order_by(LOC.code)
                .limit(limit + 1))
        if status is not None:
            stmt = stmt.where(LOC.status == status.value)
        if within is not None:
            stmt = stmt.where(LOC.code.in_(sorted(within)))
        if region is not None:
            stmt = stmt.where(LOC.region == region)
        if cursor:
            (after,) = decode_cursor(cursor, str)
            stmt = stmt.where(LOC.code > after)
        found = await self._all(stmt)
        return page_of([rows.location_from_row(r) for r in found], limit, lambda x: [x.code])

    async def on_hand_units(self, codes: Sequence[str]) -> dict[str, int]:
        """The sum of ``on_hand`` over each location's levels (0 for one without stock),
        in one grouped query for a page of locations."""
        found = dict.fromkeys(codes, 0)
        if codes:
            stmt = (select(L.location_id, func.sum(L.on_hand).label("units"))
                    .where(L.location_id.in_(sorted(found))).group_by(L.location_id))
            found.update((r.location_id, int(r.units)) for r in await self._all(stmt))
        return found

    # -- inventory -------------------------------------------------------------------
    async def level(self, location_id: str, sku: str) -> Level | None:
        row = await self._first(_LEVEL, {"location_id": location_id, "sku": sku})
        return rows.level_from_row(row) if row else None

    async def levels_by_key(self, keys: Sequence[tuple[str, str]]) -> list[Level]:
        """The stored levels of these (location, sku) keys, in one query (a key the
        location has never stocked has none)."""
        if not keys:
            return []
        stmt = select(inventory_levels).where(
            tuple_(L.location_id, L.sku).in_(sorted(set(keys))))
        return [rows.level_from_row(r) for r in await self._all(stmt)]

    async def lots(self, location_id: str, sku: str) -> list[Lot]:
        rows_ = await self._all(_LOTS, {"location_id": location_id, "sku": sku})
        return [rows.lot_from_row(r) for r in rows_]

    async def levels(self, *, sku: str | None, location_id: str | None,
                     location_type: LocationType | None, below_reorder_point: bool | None,
                     limit: int, cursor: str | None, within: Within = None) -> Page[Level]:
        stmt = (select(inventory_levels).order_by(L.location_id, L.sku).limit(limit + 1)
                .where(*level_conditions(sku=sku, location_id=location_id,
                                         location_type=location_type,
                                         below_reorder_point=below_reorder_point,
                                         cursor=cursor, within=within)))
        found = await self._all(stmt)
        return page_of([rows.level_from_row(r) for r in found], limit, level_key)

    # -- sales -----------------------------------------------------------------------
    async def sale(self, sale_id: str) -> Sale | None:
        async def read(conn: AsyncConnection) -> Sale | None:
            row = (await conn.execute(select(sales).where(S.id == sale_id))).first()
            if row is None:
                return None
            return (await load_sales(conn, [row]))[0]
        return await self._read(read)

    async def sales(self, *, start: datetime | None, end: datetime | None,
                    location_id: str | None, sku: str | None, channel: str | None,
                    limit: int, cursor: str | None, within: Within = None,
                    customer_ref: str | None = None, payment_status: str | None = None,
                    fulfillment_status: str | None = None) -> Page[Sale]:
        """Newest first (by ``occurred_at``), ``start`` inclusive, ``end`` exclusive."""
        stmt = select(sales).order_by(S.occurred_at.desc(), S.id.desc()).limit(limit + 1)
        conditions = sale_conditions(
            start=start, end=end, location_id=location_id, sku=sku, channel=channel,
            within=within, customer_ref=customer_ref, payment_status=payment_status,
            fulfillment_status=fulfillment_status) + older_than_cursor(cursor, S.occurred_at,
                                                                       S.id)
        async def read(conn: AsyncConnection) -> list[Sale]:
            found = (await conn.execute(stmt.where(*conditions))).all()
            return await load_sales(conn, list(found))
        return page_of(await self._read(read), limit, sale_key)

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

    async def sale_ids(self, prefix: str) -> dict[str, tuple[str, str]]:
        """The id and status of each sale whose external ref starts with ``prefix``."""
        found = await self._all(select(S.external_ref, S.id, S.status)
                                .where(S.external_ref.startswith(prefix, autoescape=True)))
        return {r.external_ref: (r.id, r.status) for r in found}

    async def ping(self) -> None:
        """The primary answers (readiness: replicas are optional)."""
        async with self._engine.connect() as conn:
            await conn.execute(select(1))


def level_key(level: Level) -> list[str]:
    """A level's place in a list of levels: by location, then SKU."""
    return [level.location_id, level.sku]


def sale_key(sale: Sale) -> list[str]:
    """A sale's place in a list of sales: newest first."""
    return time_and_id(sale.occurred_at, sale.id)


def level_conditions(*, sku: str | None, location_id: str | None,
                     location_type: LocationType | None, below_reorder_point: bool | None,
                     cursor: str | None, within: Within) -> list[ColumnElement[bool]]:
    """What a list of levels keeps: the caller's scope, the filters, after the cursor."""
    conditions: list[ColumnElement[bool]] = []
    if within is not None:
        conditions.append(L.location_id.in_(sorted(within)))
    if sku is not None:
        conditions.append(L.sku == sku)
    if location_id is not None:
        conditions.append(L.location_id == location_id)
    if location_type is not None:
        conditions.append(L.location_id.in_(
            select(LOC.code).where(LOC.type == location_type.value)))
    if below_reorder_point is not None:
        low = and_(L.reorder_point.is_not(None), L.on_hand - L.reserved <= L.reorder_point)
        conditions.append(low if below_reorder_point else ~low)
    if cursor:
        loc, after_sku = decode_cursor(cursor, str, str)
        conditions.append(or_(L.location_id > loc,
                              and_(L.location_id == loc, L.sku > after_sku)))
    return conditions


def sale_conditions(*, start: datetime | None, end: datetime | None, location_id: str | None,
                    sku: str | None, channel: str | None, within: Within,
                    customer_ref: str | None = None, payment_status: str | None = None,
                    fulfillment_status: str | None = None) -> list[ColumnElement[bool]]:
    """What a list of sales keeps: the caller's scope and the filters."""
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
    if payment_status is not None:
        conditions.append(S.payment_status == payment_status)
    if fulfillment_status is not None:
        conditions.append(S.fulfillment_status == fulfillment_status)
    if sku is not None:
        conditions.append(S.id.in_(select(sale_lines.c.sale_id).where(sale_lines.c.sku == sku)))
    return conditions


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
        lines[line.return_id].append(ReturnLine(sku=line.sku, quantity=line.quantity,
                                                         amount=line.amount))
    for h in headers:
        found[h.sale_id].append(SaleReturn(
            id=h.id, sale_id=h.sale_id, location_id=h.location_id, lines=tuple(lines[h.id]),
            restock=bool(h.restock), reason=ReturnReason(h.reason), note=h.note,
            actor=h.actor, created_at=h.created_at))
    return found
