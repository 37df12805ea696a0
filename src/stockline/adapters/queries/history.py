"""Levels as they were: ``on_hand`` at a past instant, read back from the ledger."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, select

from stockline.adapters.queries.base import Page, QueryBase, decode_cursor, page_of
from stockline.adapters.tables import stock_movements

M = stock_movements.c


@dataclass(frozen=True, slots=True, kw_only=True)
class LevelAsOf:
    """A level's ``on_hand`` right after the last ledger entry recorded at or before
    ``as_of`` (0 and no entry when there was none)."""

    location_id: str
    sku: str
    as_of: datetime
    on_hand: int
    last_movement_id: int | None
    last_movement_at: datetime | None


class HistoryQueries(QueryBase):
    # Entries are ordered by id, the order their ``balance_after`` was written in; an
    # entry counts from the moment it was recorded (a back-dated sale's ``occurred_at`` is
    # earlier, but the stock it moved was on hand until it was recorded). The ledger's
    # (location_id, sku, id) index serves both reads.
    async def level_as_of(self, location_id: str, sku: str, as_of: datetime) -> LevelAsOf:
        stmt = (select(M.id, M.balance_after, M.recorded_at)
                .where(M.location_id == location_id, M.sku == sku, M.recorded_at <= as_of)
                .order_by(M.id.desc()).limit(1))
        row = await self._first(stmt)
        if row is None:
            return LevelAsOf(location_id=location_id, sku=sku, as_of=as_of, on_hand=0,
                             last_movement_id=None, last_movement_at=None)
        return LevelAsOf(location_id=location_id, sku=sku, as_of=as_of,
                         on_hand=row.balance_after, last_movement_id=row.id,
                         last_movement_at=row.recorded_at)

    async def levels_as_of(self, *, location_id: str, sku: str | None, as_of: datetime,
                           limit: int, cursor: str | None) -> Page[LevelAsOf]:
        """The levels of one location that had a ledger entry by ``as_of``, by SKU."""
        last = (select(M.sku, func.max(M.id).label("id"))
                .where(M.location_id == location_id, M.recorded_at <= as_of)
                .group_by(M.sku))
        if sku is not None:
            last = last.where(M.sku == sku)
        if cursor:
            (after,) = decode_cursor(cursor, str)
            last = last.where(M.sku > after)
        latest = last.subquery()
        stmt = (select(M.sku, M.id, M.balance_after, M.recorded_at)
                .join(latest, and_(M.id == latest.c.id))
                .order_by(M.sku).limit(limit + 1))
        found = await self._all(stmt)
        items = [LevelAsOf(location_id=location_id, sku=r.sku, as_of=as_of,
                           on_hand=r.balance_after, last_movement_id=r.id,
                           last_movement_at=r.recorded_at) for r in found]
        return page_of(items, limit, lambda lv: [lv.sku])
