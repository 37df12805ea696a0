"""Transfers between locations (SQL)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection


class SqlTransfers:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
