"""The read side of transfers."""

from __future__ import annotations

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from stockline.adapters.queries.base import (
    Page,
    QueryBase,
    Within,
    older_than_cursor,
    page_of,
    time_and_id,
)
from stockline.adapters.repositories.transfers import load_transfers
from stockline.adapters.tables import transfer_lines, transfers
from stockline.domain.documents import Transfer

T, TL = transfers.c, transfer_lines.c


class TransferQueries(QueryBase):
    async def transfer(self, transfer_id: str) -> Transfer | None:
        async def read(conn: AsyncConnection) -> Transfer | None:
            row = (await conn.execute(select(transfers).where(T.id == transfer_id))).first()
            if row is None:
                return None
            return (await load_transfers(conn, [row]))[0]
        return await self._read(read)

    async def transfers(self, *, status: str | None, from_location_id: str | None,
                        to_location_id: str | None, location_id: str | None, sku: str | None,
                        limit: int, cursor: str | None, within: Within = None
                        ) -> Page[Transfer]:
        """Newest first (by ``created_at``); ``location_id`` matches either end, and so does
        ``within`` (a transfer is seen from both of its ends)."""
        conditions: list[ColumnElement[bool]] = []
        if within is not None:
            seen = sorted(within)
            conditions.append(or_(T.from_location_id.in_(seen), T.to_location_id.in_(seen)))
        if status is not None:
            conditions.append(T.status == status)
        if from_location_id is not None:
            conditions.append(T.from_location_id == from_location_id)
        if to_location_id is not None:
            conditions.append(T.to_location_id == to_location_id)
        if location_id is not None:
            conditions.append(or_(T.from_location_id == location_id,
                                  T.to_location_id == location_id))
        if sku is not None:
            conditions.append(T.id.in_(select(TL.transfer_id).where(TL.sku == sku)))
        conditions += older_than_cursor(cursor, T.created_at, T.id)
        stmt = (select(transfers).where(*conditions)
                .order_by(T.created_at.desc(), T.id.desc()).limit(limit + 1))
        async def read(conn: AsyncConnection) -> list[Transfer]:
            return await load_transfers(conn, list((await conn.execute(stmt)).all()))
        return page_of(await self._read(read), limit, lambda t: time_and_id(t.created_at, t.id))
