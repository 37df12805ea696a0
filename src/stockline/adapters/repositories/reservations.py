"""Reservations (holds) on available stock (SQL)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from stockline.adapters.queries.reservations import due, load_reservations
from stockline.adapters.tables import reservation_lines, reservations
from stockline.domain.documents import Reservation
from stockline.domain.states import ReservationStatus

R, RL = reservations.c, reservation_lines.c


class SqlReservations:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, reservation: Reservation) -> None:
        r = reservation
        await self._conn.execute(reservations.insert().values(
            id=r.id, location_id=r.location_id, status=r.status.value,
            channel=r.channel.value, expires_at=r.expires_at, external_ref=r.external_ref,
            sale_id=r.sale_id, actor=r.actor, created_at=r.created_at,
            updated_at=r.updated_at))
        await self._conn.execute(reservation_lines.insert(), [
            {"reservation_id": r.id, "line_no": n, "sku": line.sku, "quantity": line.quantity,
             "unit_price_amount": line.unit_price.units if line.unit_price else None,
             "currency": line.unit_price.currency if line.unit_price else None}
            for n, line in enumerate(r.lines, start=1)])

    async def get(self, reservation_id: str, *,
                  for_update: bool = False) -> Reservation | None:
        stmt = select(reservations).where(R.id == reservation_id)
        if for_update:
            # PostgreSQL answers the newest committed row once the lock is ours (READ
            # COMMITTED), so the status the caller checks is the one it will change.
            stmt = stmt.with_for_update()
        row = (await self._conn.execute(stmt)).first()
        return (await load_reservations(self._conn, [row]))[0] if row else None

    async def update(self, reservation: Reservation) -> bool:
        stmt = (reservations.update()
                .where(R.id == reservation.id, R.status == ReservationStatus.ACTIVE.value)
                .values(status=reservation.status.value, sale_id=reservation.sale_id,
                        reason=reservation.reason, updated_at=reservation.updated_at)
                .returning(R.id))
        return (await self._conn.execute(stmt)).first() is not None

    async def holding(self, location_id: str, sku: str) -> list[Reservation]:
        # Locked: a count takes the holds before the level, in the order a release does.
        held = (select(RL.reservation_id).where(RL.sku == sku)
                .where(RL.reservation_id == R.id).exists())
        stmt = (select(reservations)
                .where(R.location_id == location_id,
                       R.status == ReservationStatus.ACTIVE.value, held)
                .order_by(R.created_at.desc(), R.id.desc())
                .with_for_update())
        rows = list((await self._conn.execute(stmt)).all())
        return await load_reservations(self._conn, rows)

    async def expired(self, now: datetime, limit: int) -> list[str]:
        # SKIP LOCKED: a hold being committed or expired elsewhere right now is left to
        # that transaction. (SQLite has one writer at a time and no row locks to skip.)
        stmt = (select(R.id)
                .where(due(now)).order_by(R.expires_at, R.id).limit(limit)
                .with_for_update(skip_locked=True))
        return list((await self._conn.execute(stmt)).scalars())
