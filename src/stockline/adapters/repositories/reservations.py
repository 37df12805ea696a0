"""Reservations (holds) on available stock (SQL)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection


class SqlReservations:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
