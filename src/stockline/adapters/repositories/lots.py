"""Lots: named parts of a level's stock, each with its own expiry."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from stockline.adapters import rows
from stockline.adapters.dialects import upsert
from stockline.adapters.tables import inventory_lots
from stockline.domain.lots import Lot


class SqlLots:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def list(self, location_id: str, sku: str, *, for_update: bool = False) -> list[Lot]:
        stmt = (select(inventory_lots).where(inventory_lots.c.location_id == location_id,
                                             inventory_lots.c.sku == sku)
                .order_by(inventory_lots.c.lot))
        if for_update:
            stmt = stmt.with_for_update()
        return [rows.lot_from_row(r) for r in (await self._conn.execute(stmt)).all()]

    async def add(self, location_id: str, sku: str, lot: str, quantity: int, *,
                  expires_on: date | None, now: datetime) -> None:
        c = inventory_lots.c
        insert = upsert(self._conn, inventory_lots).values(
            location_id=location_id, sku=sku, lot=lot, on_hand=quantity, expires_on=expires_on,
            received_at=now)
        await self._conn.execute(insert.on_conflict_do_update(
            index_elements=[c.location_id, c.sku, c.lot],
            set_={"on_hand": c.on_hand + insert.excluded.on_hand,
                  "expires_on": func.coalesce(c.expires_on, insert.excluded.expires_on)}))

    async def take(self, location_id: str, sku: str, lot: str, quantity: int) -> bool:
        c = inventory_lots.c
        stmt = (inventory_lots.update()
                .where(c.location_id == location_id, c.sku == sku, c.lot == lot,
                       c.on_hand >= quantity)
                .values(on_hand=c.on_hand - quantity).returning(c.lot))
        return (await self._conn.execute(stmt)).first() is not None
