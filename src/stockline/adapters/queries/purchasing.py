"""The read side of suppliers, purchase orders and replenishment suggestions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
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
from stockline.adapters.queries.cover import net_sales
from stockline.adapters.repositories.purchasing import (
    lines_of,
    products_of,
    purchase_order_from_rows,
    supplier_from_rows,
)
from stockline.adapters.tables import (
    inventory_levels,
    locations,
    products,
    purchase_order_lines,
    purchase_orders,
    supplier_products,
    suppliers,
)
from stockline.domain.cover import daily_velocity
from stockline.domain.documents import PurchaseOrder, Suggestion, Supplier
from stockline.domain.model import Level
from stockline.domain.replenishment import Offer, Place, suggest
from stockline.domain.values import LocationStatus, Money, ProductStatus, SupplierStatus

L, SUP, SP, PO = inventory_levels.c, suppliers.c, supplier_products.c, purchase_orders.c
LOC = locations.c

# Levels judged per round trip when suggestions are filtered down in Python.
SUGGESTION_BATCH = 500
NO_SOURCE = "none"


class PurchasingQueries(QueryBase):
    # -- suppliers -------------------------------------------------------------------
    async def supplier(self, code: str) -> Supplier | None:
        async def read(conn: AsyncConnection) -> Supplier | None:
            row = (await conn.execute(select(suppliers).where(SUP.code == code))).first()
            if row is None:
                return None
            return supplier_from_rows(row, (await products_of(conn, [code]))[code])
        return await self._read(read)

    async def suppliers(self, *, sku: str | None, limit: int, cursor: str | None,
                        status: SupplierStatus | None = None) -> Page[Supplier]:
        """By code; with ``sku``, only the suppliers that offer it."""
        stmt = select(suppliers).order_by(SUP.code).limit(limit + 1)
        if status is not None:
            stmt = stmt.where(SUP.status == status.value)
        if sku is not None:
            stmt = stmt.where(SUP.code.in_(select(SP.supplier_code).where(SP.sku == sku)))
        if cursor:
            (after,) = decode_cursor(cursor, str)
            stmt = stmt.where(SUP.code > after)
        async def read(conn: AsyncConnection) -> list[Supplier]:
            found = (await conn.execute(stmt)).all()
            products = await products_of(conn, [r.code for r in found])
            return [supplier_from_rows(r, products[r.code]) for r in found]
        return page_of(await self._read(read), limit, lambda s: [s.code])

    # -- purchase orders -------------------------------------------------------------
    async def purchase_order(self, order_id: str) -> PurchaseOrder | None:
        async def read(conn: AsyncConnection) -> PurchaseOrder | None:
            row = (await conn.execute(select(purchase_orders).where(PO.id == order_id))).first()
            if row is None:
                return None
            return purchase_order_from_rows(row, (await lines_of(conn, [order_id]))[order_id])
        return await self._read(read)

    async def purchase_orders(self, *, status: str | None, supplier_id: str | None,
                              location_id: str | None, sku: str | None, limit: int,
                              cursor: str | None, within: Within = None
                              ) -> Page[PurchaseOrder]:
        """Newest first (by ``created_at``)."""
        stmt = (select(purchase_orders).order_by(PO.created_at.desc(), PO.id.desc())
                .limit(limit + 1))
        conditions: list[ColumnElement[bool]] = []
        if within is not None:
            conditions.append(PO.location_id.in_(sorted(within)))
        if status is not None:
            conditions.append(PO.status == status)
        if supplier_id is not None:
            conditions.append(PO.supplier_code == supplier_id)
        if location_id is not None:
            conditions.append(PO.location_id == location_id)
        if sku is not None:
            conditions.append(PO.id.in_(select(purchase_order_lines.c.purchase_order_id)
                                        .where(purchase_order_lines.c.sku == sku)))
        conditions += older_than_cursor(cursor, PO.created_at, PO.id)
        async def read(conn: AsyncConnection) -> list[PurchaseOrder]:
            found = (await conn.execute(stmt.where(*conditions))).all()
            lines = await lines_of(conn, [r.id for r in found])
            return [purchase_order_from_rows(r, lines[r.id]) for r in found]
        return page_of(await self._read(read), limit, lambda o: time_and_id(o.created_at, o.id))

    # -- replenishment ---------------------------------------------------------------
    async def suggestions(self, *, location_id: str | None, sku: str | None,
                          source_type: str | None, limit: int,
                          cursor: str | None, within: Within = None,
                          now: datetime | None = None, cover_days: int = 0
                          ) -> Page[Suggestion]:
        """A suggestion for every low level that is not covered, by location then SKU.

        The rules are ``domain.replenishment``'s; this gathers their data a batch of low
        levels at a time, with one query for the donors of the batch's SKUs (with where
        they are), one for the suppliers' offers, one for where the low levels are and one
        for their net sales over the window ending ``now`` (none when None): five queries
        a batch, whatever its size. When the rules or the filter leave too few, the next
        batch is twice as large (up to 500).
        ``source_type`` (``supplier``, ``transfer`` or ``none``) keeps only suggestions
        with that kind of source. ``within`` limits the low levels to those locations (a
        transfer's source may still be any location).
        """
        start = tuple(decode_cursor(cursor, str, str)) if cursor else None

        async def read(conn: AsyncConnection) -> list[Suggestion]:
            after, batch = start, min(limit + 1, SUGGESTION_BATCH)
            found: list[Suggestion] = []
            known = _Known(now, cover_days)
            while len(found) <= limit:
                levels = await _low_levels(conn, location_id, sku, after, batch, within)
                found += [s for s in await known.judge(conn, levels)
                          if _source_is(s, source_type)]
                if len(levels) < batch:
                    break
                after = (levels[-1].location_id, levels[-1].sku)
                batch = min(batch * 2, SUGGESTION_BATCH)  # filtered thin: read further ahead
            return found
        return page_of(await self._read(read), limit, lambda s: [s.location_id, s.sku])


class _Known:
    """What the rules need about the SKUs and locations of the batches judged so far."""

    def __init__(self, now: datetime | None, cover_days: int) -> None:
        self.now, self.cover_days = now, cover_days
        self.donors: dict[str, list[Level]] = {}
        self.offers: dict[str, list[Offer]] = {}
        self.places: dict[str, Place] = {}

    async def judge(self, conn: AsyncConnection, levels: list[Level]) -> list[Suggestion]:
        # Batches go location by location, so most SKUs come back: look each up once.
        skus = sorted({lv.sku for lv in levels} - self.offers.keys())
        self.donors.update(await _donors(conn, skus, self.places))
        self.offers.update(await _offers(conn, skus))
        self.places.update(await _places(conn, {lv.location_id for lv in levels}
                                         - self.places.keys()))
        keys = [(lv.location_id, lv.sku) for lv in levels]
        net = await net_sales(conn, keys, self.now) if self.now is not None else {}
        made = (suggest(lv, self.donors.get(lv.sku, ()), self.offers.get(lv.sku, ()),
                        daily_velocity=daily_velocity(net.get((lv.location_id, lv.sku), 0)),
                        cover_days=self.cover_days, places=self.places) for lv in levels)
        return [s for s in made if s is not None]


def _source_is(suggestion: Suggestion, source_type: str | None) -> bool:
    if source_type is None:
        return True
    if suggestion.source is None:
        return source_type == NO_SOURCE
    return suggestion.source.type == source_type


async def _low_levels(conn: AsyncConnection, location_id: str | None, sku: str | None,
                      after: tuple[str, ...] | None, limit: int,
                      within: Within) -> list[Level]:
    """Levels at or under their reorder point (as ``below_reorder_point=true`` lists them),
    of active products at open locations: a discontinued product is not bought in again,
    and a closed location takes no stock."""
    stmt = (select(inventory_levels)
            .where(L.reorder_point.is_not(None), L.on_hand - L.reserved <= L.reorder_point,
                   L.sku.in_(select(products.c.sku)
                             .where(products.c.status == ProductStatus.ACTIVE.value)),
                   L.location_id.in_(select(locations.c.code)
                                     .where(locations.c.status == LocationStatus.ACTIVE.value)))
            .order_by(L.location_id, L.sku).limit(limit))
    if within is not None:
        stmt = stmt.where(L.location_id.in_(sorted(within)))
    if location_id is not None:
        stmt = stmt.where(L.location_id == location_id)
    if sku is not None:
        stmt = stmt.where(L.sku == sku)
    if after is not None:
        loc, after_sku = after
        stmt = stmt.where(or_(L.location_id > loc, and_(L.location_id == loc, L.sku > after_sku)))
    return [rows.level_from_row(r) for r in (await conn.execute(stmt)).all()]


async def _donors(conn: AsyncConnection, skus: Sequence[str],
                  places: dict[str, Place]) -> dict[str, list[Level]]:
    """Per SKU, every level with a surplus (``replenishment.surplus`` > 0): the rules rank
    them by where they are, which this adds to ``places``.

    A low level has no surplus, so it is never a donor for itself.
    """
    found: dict[str, list[Level]] = {sku: [] for sku in skus}
    spare = (L.on_hand - L.reserved - func.coalesce(L.reorder_point, 0)
             - func.coalesce(L.safety_stock, 0))
    for start in range(0, len(skus), SUGGESTION_BATCH):
        stmt = (select(inventory_levels, LOC.region, LOC.latitude, LOC.longitude)
                .join(locations, LOC.code == L.location_id)
                .where(L.sku.in_(skus[start:start + SUGGESTION_BATCH]), spare > 0))
        for row in (await conn.execute(stmt)).all():
            found[row.sku].append(rows.level_from_row(row))
            places[row.location_id] = _place(row)
    return found


async def _places(conn: AsyncConnection, codes: set[str]) -> dict[str, Place]:
    found: dict[str, Place] = {}
    ordered = sorted(codes)
    for start in range(0, len(ordered), SUGGESTION_BATCH):
        stmt = (select(LOC.code, LOC.region, LOC.latitude, LOC.longitude)
                .where(LOC.code.in_(ordered[start:start + SUGGESTION_BATCH])))
        found.update({row.code: _place(row) for row in (await conn.execute(stmt)).all()})
    return found


def _place(row: Any) -> Place:
    return Place(region=row.region, latitude=row.latitude, longitude=row.longitude)


async def _offers(conn: AsyncConnection, skus: Sequence[str]) -> dict[str, list[Offer]]:
    """Every open supplier's offer of each SKU (an empty list for a SKU nobody sells)."""
    found: dict[str, list[Offer]] = {sku: [] for sku in skus}
    for start in range(0, len(skus), SUGGESTION_BATCH):
        stmt = (select(SP.sku, SP.supplier_code, SP.cost_amount, SP.currency,
                       SUP.lead_time_days)
                .join(suppliers, SUP.code == SP.supplier_code)
                .where(SP.sku.in_(skus[start:start + SUGGESTION_BATCH]),
                       SUP.status == SupplierStatus.ACTIVE.value))
        for row in (await conn.execute(stmt)).all():
            found[row.sku].append(_offer(row))
    return found


def _offer(row: Any) -> Offer:
    return Offer(supplier_id=row.supplier_code, sku=row.sku,
                 cost=Money.from_units(row.cost_amount, row.currency),
                 lead_time_days=row.lead_time_days)
