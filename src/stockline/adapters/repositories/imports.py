"""Rows of an imported file, read and written in bulk (executemany, chunked selects)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Column, Table, bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from stockline.adapters import rows
from stockline.adapters.dialects import upsert
from stockline.adapters.repositories.purchasing import supplier_from_rows
from stockline.adapters.tables import locations, products, suppliers
from stockline.domain.documents import Supplier
from stockline.domain.model import Location, Product

# Bound parameters a statement may carry stay well under SQLite's and asyncpg's limits.
CHUNK = 500


def _location_values(location: Location) -> dict[str, Any]:
    return {"code": location.code, "type": location.type.value, "name": location.name,
            "region": location.region, "address": location.address,
            "latitude": location.latitude, "longitude": location.longitude,
            "capacity": location.capacity, "operating_hours": location.operating_hours,
            "time_zone": location.time_zone, "created_at": location.created_at}


def _supplier_values(supplier: Supplier) -> dict[str, Any]:
    return {"code": supplier.code, "name": supplier.name,
            "contact": dict(supplier.contact) if supplier.contact is not None else None,
            "lead_time_days": supplier.lead_time_days, "created_at": supplier.created_at,
            "updated_at": supplier.updated_at}


def _prefixed(values: dict[str, Any], key: str) -> dict[str, Any]:
    """Parameters of an UPDATE ... WHERE key = :k_key SET column = :v_column."""
    return {("k_" if name == key else "v_") + name: value for name, value in values.items()}


class SqlImports:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def _rows(self, table: Table, key: Column[Any], keys: Sequence[str], *,
                    for_update: bool) -> list[Any]:
        found: list[Any] = []
        ordered = sorted(set(keys))
        for start in range(0, len(ordered), CHUNK):
            stmt = select(table).where(key.in_(ordered[start:start + CHUNK])).order_by(key)
            if for_update:
                stmt = stmt.with_for_update()
            found.extend((await self._conn.execute(stmt)).all())
        return found

    async def _insert(self, table: Table, key: Column[Any], values: list[dict[str, Any]]) -> int:
        """Insert the rows whose key is free; how many were."""
        if not values:
            return 0
        stmt = upsert(self._conn, table).on_conflict_do_nothing().returning(key)
        return len((await self._conn.execute(stmt, values)).all())

    async def _update(self, table: Table, key: str, values: list[dict[str, Any]]) -> None:
        if not values:
            return
        columns = [name for name in values[0] if name != key]
        stmt = (table.update().where(table.c[key] == bindparam("k_" + key))
                .values({name: bindparam("v_" + name) for name in columns}))
        await self._conn.execute(stmt, [_prefixed(v, key) for v in values])

    # -- products ---------------------------------------------------------------------------

    async def products(self, skus: Sequence[str]) -> dict[str, Product]:
        """The products of these SKUs that exist, locked until the transaction ends."""
        found = await self._rows(products, products.c.sku, skus, for_update=True)
        return {row.sku: rows.product_from_row(row) for row in found}

    async def add_products(self, made: Sequence[Product]) -> int:
        return await self._insert(products, products.c.sku,
                                  [rows.product_values(p) for p in made])

    async def update_products(self, changed: Sequence[Product]) -> None:
        values = [rows.product_values(p) for p in changed]
        for v in values:
            del v["created_at"]
        await self._update(products, "sku", values)

    # -- locations --------------------------------------------------------------------------

    async def locations(self, codes: Sequence[str]) -> dict[str, Location]:
        found = await self._rows(locations, locations.c.code, codes, for_update=True)
        return {row.code: rows.location_from_row(row) for row in found}

    async def existing_locations(self, codes: Sequence[str]) -> set[str]:
        found: set[str] = set()
        ordered = sorted(set(codes))
        for start in range(0, len(ordered), CHUNK):
            stmt = select(locations.c.code).where(
                locations.c.code.in_(ordered[start:start + CHUNK]))
            found.update((await self._conn.execute(stmt)).scalars())
        return found

    async def add_locations(self, made: Sequence[Location]) -> int:
        return await self._insert(locations, locations.c.code,
                                  [_location_values(x) for x in made])

    async def update_locations(self, changed: Sequence[Location]) -> None:
        values = [_location_values(x) for x in changed]
        for v in values:
            del v["created_at"], v["type"]  # a code names a warehouse or a store for good
        await self._update(locations, "code", values)

    # -- suppliers --------------------------------------------------------------------------

    async def suppliers(self, codes: Sequence[str]) -> dict[str, Supplier]:
        """The suppliers of these codes that exist, locked; without what they sell (a file
        of suppliers speaks of the suppliers only)."""
        found = await self._rows(suppliers, suppliers.c.code, codes, for_update=True)
        return {row.code: supplier_from_rows(row, ()) for row in found}

    async def add_suppliers(self, made: Sequence[Supplier]) -> int:
        return await self._insert(suppliers, suppliers.c.code,
                                  [_supplier_values(x) for x in made])

    async def update_suppliers(self, changed: Sequence[Supplier]) -> None:
        values = [_supplier_values(x) for x in changed]
        for v in values:
            del v["created_at"]
        await self._update(suppliers, "code", values)
