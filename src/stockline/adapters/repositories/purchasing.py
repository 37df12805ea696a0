"""Suppliers and purchase orders (SQL)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection


class SqlSuppliers:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn


class SqlPurchaseOrders:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
