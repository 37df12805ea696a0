"""In-memory fake of the reservation repository (see tests/fakes.py for the shared rules).

Holds live in ``uow.store.table("reservations")`` by id. Reservations are replaced, never
mutated (their lines are frozen), and callers get copies. The constraints of the tables
hold: a known location, a unique id, positive line quantities. ``update`` is conditional,
as the SQL adapter's is: it stores a transition only while the stored hold is active.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from stockline.domain.documents import Reservation
from stockline.domain.states import ReservationStatus


class IntegrityError(Exception):
    """What the database would refuse (tests.fakes has its own: it imports this module)."""


class FakeReservations:
    def __init__(self, uow: Any) -> None:
        self._uow = uow

    def _rows(self) -> dict[str, Reservation]:
        rows: dict[str, Reservation] = self._uow.store.table("reservations")
        return rows

    async def add(self, reservation: Reservation) -> None:
        if reservation.id in self._rows():
            raise IntegrityError(f"duplicate reservation id {reservation.id}")
        if reservation.location_id not in self._uow.store.locations:
            raise IntegrityError(
                f"FOREIGN KEY constraint failed: location {reservation.location_id}")
        if any(line.quantity <= 0 for line in reservation.lines):
            raise IntegrityError("CHECK constraint failed: reservation_lines.quantity_positive")
        self._rows()[reservation.id] = replace(reservation)

    async def get(self, reservation_id: str, *,
                  for_update: bool = False) -> Reservation | None:
        reservation = self._rows().get(reservation_id)
        return replace(reservation) if reservation else None

    async def update(self, reservation: Reservation) -> bool:
        stored = self._rows().get(reservation.id)
        if stored is None or stored.status is not ReservationStatus.ACTIVE:
            return False
        self._rows()[reservation.id] = replace(stored, status=reservation.status,
                                               sale_id=reservation.sale_id,
                                               reason=reservation.reason,
                                               updated_at=reservation.updated_at)
        return True

    async def holding(self, location_id: str, sku: str) -> list[Reservation]:
        held = [r for r in self._rows().values()
                if r.location_id == location_id and r.status is ReservationStatus.ACTIVE
                and any(line.sku == sku for line in r.lines)]
        return [replace(r) for r in sorted(held, key=lambda r: (r.created_at, r.id),
                                           reverse=True)]

    async def expired(self, now: datetime, limit: int) -> list[str]:
        due = sorted((r for r in self._rows().values()
                      if r.status is ReservationStatus.ACTIVE and r.expires_at <= now),
                     key=lambda r: (r.expires_at, r.id))
        return [r.id for r in due[:limit]]
