"""The read side of reservations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from stockline.adapters.queries.base import (
    Page,
    QueryBase,
    Within,
    older_than_cursor,
    page_of,
    time_and_id,
)
from stockline.adapters.rows import money_or_none
from stockline.adapters.tables import reservation_lines, reservations
from stockline.domain.documents import Reservation, ReservationLine
from stockline.domain.states import ReservationStatus
from stockline.domain.values import Channel

R, RL = reservations.c, reservation_lines.c


def due(now: datetime) -> ColumnElement[bool]:
    """Active holds whose time has come: the one condition holds are expired by."""
    return and_(R.status == ReservationStatus.ACTIVE.value, R.expires_at <= now)


class ReservationQueries(QueryBase):
    async def holds_due(self, now: datetime) -> bool:
        """Whether any hold is due to expire: a read, so the sweeper opens its write
        transaction (on SQLite, the database's one write lock) only when one is."""
        return await self._first(select(R.id).where(due(now)).limit(1)) is not None

    async def reservation(self, reservation_id: str) -> Reservation | None:
        async def read(conn: AsyncConnection) -> Reservation | None:
            row = (await conn.execute(select(reservations).where(R.id == reservation_id))
                   ).first()
            return (await load_reservations(conn, [row]))[0] if row else None
        return await self._read(read)

    async def reservations(self, *, status: str | None, location_id: str | None, limit: int,
                           cursor: str | None, within: Within = None) -> Page[Reservation]:
        """Newest first (by ``created_at``)."""
        stmt = select(reservations).order_by(R.created_at.desc(), R.id.desc()).limit(limit + 1)
        conditions: list[ColumnElement[bool]] = []
        if within is not None:
            conditions.append(R.location_id.in_(sorted(within)))
        if status is not None:
            conditions.append(R.status == status)
        if location_id is not None:
            conditions.append(R.location_id == location_id)
        conditions += older_than_cursor(cursor, R.created_at, R.id)
        async def read(conn: AsyncConnection) -> list[Reservation]:
            found = (await conn.execute(stmt.where(*conditions))).all()
            return await load_reservations(conn, list(found))
        return page_of(await self._read(read), limit, lambda r: time_and_id(r.created_at, r.id))


async def load_reservations(conn: AsyncConnection, rows: list[Any]) -> list[Reservation]:
    """The holds of these ``reservations`` rows, with their lines.

    Shared by the read side and the reservation repository (which locks the rows it passes).
    """
    if not rows:
        return []
    lines: dict[str, list[ReservationLine]] = {r.id: [] for r in rows}
    stmt = (select(reservation_lines).where(RL.reservation_id.in_(list(lines)))
            .order_by(RL.reservation_id, RL.line_no))
    for line in (await conn.execute(stmt)).all():
        lines[line.reservation_id].append(ReservationLine(
            sku=line.sku, quantity=line.quantity,
            unit_price=money_or_none(line.unit_price_amount, line.currency)))
    return [Reservation(id=r.id, location_id=r.location_id, status=ReservationStatus(r.status),
                        lines=tuple(lines[r.id]), channel=Channel(r.channel),
                        expires_at=r.expires_at, external_ref=r.external_ref, actor=r.actor,
                        created_at=r.created_at, updated_at=r.updated_at, sale_id=r.sale_id,
                        reason=r.reason)
            for r in rows]
