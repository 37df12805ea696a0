"""Write-side repositories over one open connection (the unit of work's transaction)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import ColumnElement, and_, bindparam, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from stockline.adapters import rows
from stockline.adapters.dialects import upsert
from stockline.adapters.queries.core import load_sales
from stockline.adapters.repositories.batch_pg import write_sales_batch
from stockline.adapters.repositories.sale_states import SaleStatusWrites
from stockline.adapters.tables import (
    inventory_levels,
    locations,
    outbox,
    products,
    sale_lines,
    sale_return_lines,
    sale_returns,
    sales,
    stock_movements,
)
from stockline.domain.events import Event
from stockline.domain.model import LedgerEntry, Level, Location, Product, Sale, SaleReturn
from stockline.domain.values import LocationStatus, ProductStatus

L = inventory_levels.c

# Statements of the sale path, built once (building one costs more than running it).
_SAVE_LEVEL = (inventory_levels.update()
               .where(L.location_id == bindparam("k_location"), L.sku == bindparam("k_sku"))
               .values(on_hand=bindparam("v_on_hand"), reserved=bindparam("v_reserved"),
                       version=bindparam("v_version"), updated_at=bindparam("v_updated_at")))
# The status of a level's location, read by the statement that reads or changes the level.
_LOCATION_STATUS = (select(locations.c.status).where(locations.c.code == L.location_id)
                    .correlate(inventory_levels).scalar_subquery().label("location_status"))
_LOCK_LEVELS_PG = (select(inventory_levels, _LOCATION_STATUS)
                   .where(tuple_(L.location_id, L.sku).in_(bindparam("keys", expanding=True)))
                   .order_by(L.location_id, L.sku).with_for_update(of=inventory_levels))
_INSERT_SALE = sales.insert()
_INSERT_SALE_LINE = sale_lines.insert()
_INSERT_MOVEMENT = stock_movements.insert()
_INSERT_OUTBOX = outbox.insert()


class SqlProducts:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def get(self, sku: str, *, for_update: bool = False) -> Product | None:
        stmt = select(products).where(products.c.sku == sku)
        row = (await self._conn.execute(stmt.with_for_update() if for_update else stmt)).first()
        return rows.product_from_row(row) if row else None

    async def add(self, product: Product) -> bool:
        stmt = (upsert(self._conn, products).values(rows.product_values(product))
                .on_conflict_do_nothing().returning(products.c.sku))
        return (await self._conn.execute(stmt)).first() is not None

    async def update(self, product: Product) -> None:
        values = rows.product_values(product)
        del values["sku"], values["created_at"]
        await self._conn.execute(products.update()
                                 .where(products.c.sku == product.sku).values(values))

    async def exists(self, sku: str) -> bool:
        stmt = select(products.c.sku).where(products.c.sku == sku)
        return (await self._conn.execute(stmt)).first() is not None

    async def existing(self, skus: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(skus), 500):
            stmt = select(products.c.sku).where(products.c.sku.in_(skus[start:start + 500]))
            found.update((await self._conn.execute(stmt)).scalars())
        return found

    async def statuses(self, skus: Sequence[str]) -> dict[str, ProductStatus]:
        found: dict[str, ProductStatus] = {}
        for start in range(0, len(skus), 500):
            stmt = (select(products.c.sku, products.c.status)
                    .where(products.c.sku.in_(skus[start:start + 500])))
            found.update((r.sku, ProductStatus(r.status))
                         for r in (await self._conn.execute(stmt)).all())
        return found


class SqlLocations:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def get(self, code: str, *, for_update: bool = False) -> Location | None:
        stmt = select(locations).where(locations.c.code == code)
        row = (await self._conn.execute(stmt.with_for_update() if for_update else stmt)).first()
        return rows.location_from_row(row) if row else None

    async def add(self, location: Location) -> bool:
        stmt = (upsert(self._conn, locations).values(rows.location_values(location))
                .on_conflict_do_nothing().returning(locations.c.code))
        return (await self._conn.execute(stmt)).first() is not None

    async def update(self, location: Location) -> None:
        values = rows.location_values(location)
        del values["code"], values["type"], values["created_at"]
        await self._conn.execute(locations.update()
                                 .where(locations.c.code == location.code).values(values))

    async def on_hand_units(self, code: str) -> int:
        stmt = select(func.coalesce(func.sum(L.on_hand), 0)).where(L.location_id == code)
        return int((await self._conn.execute(stmt)).scalar_one())

    async def exists(self, code: str) -> bool:
        stmt = select(locations.c.code).where(locations.c.code == code)
        return (await self._conn.execute(stmt)).first() is not None


class SqlLevels:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    @staticmethod
    def _key(location_id: str, sku: str,
             expected_version: int | None = None) -> ColumnElement[bool]:
        clause = and_(L.location_id == location_id, L.sku == sku)
        return clause if expected_version is None else and_(clause, L.version == expected_version)

    async def _returning(self, stmt: Any) -> Level | None:
        row = (await self._conn.execute(stmt.returning(*inventory_levels.c))).first()
        return rows.level_from_row(row) if row else None

    async def get(self, location_id: str, sku: str, *, for_update: bool = False) -> Level | None:
        stmt = select(inventory_levels).where(self._key(location_id, sku))
        if for_update:
            stmt = stmt.with_for_update()
        row = (await self._conn.execute(stmt)).first()
        return rows.level_from_row(row) if row else None

    async def change(self, location_id: str, sku: str, *, now: datetime, on_hand: int = 0,
                     reserved: int = 0, in_transit: int = 0, incoming: int = 0,
                     expected_version: int | None = None) -> Level | None:
        return await self._returning(self._change(
            location_id, sku, now=now, on_hand=on_hand, reserved=reserved,
            in_transit=in_transit, incoming=incoming, expected_version=expected_version))

    async def change_for_sale(self, location_id: str, sku: str, *, now: datetime,
                              quantity: int, from_reserved: bool = False
                              ) -> tuple[Level, LocationStatus] | None:
        stmt = self._change(location_id, sku, now=now, on_hand=-quantity,
                            reserved=-quantity if from_reserved else 0)
        row = (await self._conn.execute(
            stmt.returning(*inventory_levels.c, _LOCATION_STATUS))).first()
        return (rows.level_from_row(row), LocationStatus(row.location_status)) if row else None

    def _change(self, location_id: str, sku: str, *, now: datetime, on_hand: int = 0,
                reserved: int = 0, in_transit: int = 0, incoming: int = 0,
                expected_version: int | None = None) -> Any:
        values: dict[str, Any] = {"version": L.version + 1, "updated_at": now}
        guards: list[ColumnElement[bool]] = []
        if on_hand or reserved:
            # The guard reads the row it updates: a waiting writer re-checks it after the lock.
            guards.append(L.on_hand - L.reserved >= reserved - on_hand)
        for name, delta in (("on_hand", on_hand), ("reserved", reserved),
                            ("in_transit", in_transit), ("incoming", incoming)):
            if delta:
                column = inventory_levels.c[name]
                values[name] = column + delta
                if delta < 0 and name != "on_hand":
                    guards.append(column >= -delta)
        return (inventory_levels.update()
                .where(self._key(location_id, sku, expected_version), *guards).values(values))

    async def lock_many(self, keys: Sequence[tuple[str, str]]
                        ) -> dict[tuple[str, str], Level]:
        return (await self.lock_for_sale(keys))[0]

    async def lock_for_sale(self, keys: Sequence[tuple[str, str]]
                            ) -> tuple[dict[tuple[str, str], Level], dict[str, LocationStatus]]:
        """The levels of these (location, SKU) keys, locked in key order (two batches
        locking overlapping keys cannot deadlock), and their locations' statuses; missing
        levels are left out."""
        found: dict[tuple[str, str], Level] = {}
        statuses: dict[str, LocationStatus] = {}
        ordered = sorted(set(keys))
        # SQLite scans the table for a row-value IN; an OR of key equalities uses the key.
        on_sqlite = self._conn.dialect.name == "sqlite"
        for start in range(0, len(ordered), 500):
            part = ordered[start:start + 500]
            if on_sqlite:
                stmt = (select(inventory_levels, _LOCATION_STATUS)
                        .where(or_(*(and_(L.location_id == loc, L.sku == sku)
                                     for loc, sku in part)))
                        .order_by(L.location_id, L.sku))
                result = await self._conn.execute(stmt)
            else:
                result = await self._conn.execute(_LOCK_LEVELS_PG, {"keys": part})
            for row in result.all():
                found[row.location_id, row.sku] = rows.level_from_row(row)
                statuses[row.location_id] = LocationStatus(row.location_status)
        return found, statuses

    async def save_many(self, levels: Sequence[Level]) -> None:
        """Write the stock columns of levels this transaction has locked (``lock_many``)."""
        if not levels:
            return
        await self._conn.execute(_SAVE_LEVEL, [
            {"k_location": lv.location_id, "k_sku": lv.sku, "v_on_hand": lv.on_hand,
             "v_reserved": lv.reserved, "v_version": lv.version, "v_updated_at": lv.updated_at}
            for lv in levels])

    async def get_many(self, location_id: str, skus: Sequence[str], *,
                       for_update: bool = False) -> dict[str, Level]:
        found: dict[str, Level] = {}
        for start in range(0, len(skus), 500):
            stmt = (select(inventory_levels)
                    .where(L.location_id == location_id, L.sku.in_(skus[start:start + 500]))
                    .order_by(L.sku))
            if for_update:
                stmt = stmt.with_for_update()
            for row in (await self._conn.execute(stmt)).all():
                found[row.sku] = rows.level_from_row(row)
        return found

    async def create_many(self, location_id: str, quantities: Mapping[str, int], *,
                          now: datetime) -> list[Level]:
        if not quantities:
            return []
        skus = sorted(quantities)
        created: list[Level] = []
        # A level created by a concurrent transaction since the caller looked is skipped
        # (ON CONFLICT DO NOTHING), and the caller adds to it instead.
        for start in range(0, len(skus), 1000):
            stmt = (upsert(self._conn, inventory_levels).values([
                {"location_id": location_id, "sku": sku, "on_hand": quantities[sku],
                 "reserved": 0, "in_transit": 0, "version": 1, "updated_at": now}
                for sku in skus[start:start + 1000]])
                .on_conflict_do_nothing().returning(*inventory_levels.c))
            created.extend(rows.level_from_row(r) for r in (await self._conn.execute(stmt)).all())
        created.sort(key=lambda lv: lv.sku)
        return created

    async def ensure(self, location_id: str, sku: str, *, now: datetime) -> None:
        await self._conn.execute(
            upsert(self._conn, inventory_levels)
            .values(location_id=location_id, sku=sku, on_hand=0, reserved=0, in_transit=0,
                    version=1, updated_at=now)
            .on_conflict_do_nothing())

    async def mark_lotted(self, location_id: str, sku: str) -> None:
        await self._conn.execute(inventory_levels.update()
                                 .where(self._key(location_id, sku)).values(lotted=True))

    async def create(self, location_id: str, sku: str, on_hand: int, *,
                     now: datetime) -> Level | None:
        stmt = (upsert(self._conn, inventory_levels)
                .values(location_id=location_id, sku=sku, on_hand=on_hand, reserved=0,
                        in_transit=0, version=1, updated_at=now)
                .on_conflict_do_nothing())
        return await self._returning(stmt)

    async def set_on_hand(self, location_id: str, sku: str, on_hand: int, *,
                          now: datetime) -> Level:
        stmt = (inventory_levels.update().where(self._key(location_id, sku))
                .values(on_hand=on_hand, version=L.version + 1, updated_at=now))
        level = await self._returning(stmt)
        assert level is not None, "set_on_hand needs a level the caller has locked"
        return level

    async def set_settings(self, location_id: str, sku: str, *, reorder_point: int | None,
                           reorder_quantity: int | None, safety_stock: int | None,
                           now: datetime) -> Level:
        settings = {"reorder_point": reorder_point, "reorder_quantity": reorder_quantity,
                    "safety_stock": safety_stock}
        insert = upsert(self._conn, inventory_levels).values(
            location_id=location_id, sku=sku, on_hand=0, reserved=0, in_transit=0, version=1,
            updated_at=now, **settings)
        stmt = insert.on_conflict_do_update(
            index_elements=[L.location_id, L.sku],
            set_={**settings, "version": L.version + 1, "updated_at": now})
        level = await self._returning(stmt)
        assert level is not None
        return level


class SqlLedger:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def append(self, entries: Sequence[LedgerEntry]) -> None:
        if entries:
            await self._conn.execute(_INSERT_MOVEMENT, [rows.ledger_values(e) for e in entries])


class SqlSales(SaleStatusWrites):
    def __init__(self, conn: AsyncConnection, seen: list[Event] | None = None,
                 traceparent: str | None = None) -> None:
        self._conn, self._seen = conn, seen  # ``seen``, ``traceparent``: as SqlOutbox's
        self._traceparent = traceparent

    async def add(self, sale: Sale, *, customer_ref: str | None = None) -> None:
        await self._conn.execute(sales.insert().values(
            {**rows.sale_values(sale), "customer_ref": customer_ref}))
        await self._conn.execute(sale_lines.insert(), [
            {"sale_id": sale.id, "line_no": n, "sku": line.sku, "quantity": line.quantity,
             "unit_price_amount": line.unit_price.units}
            for n, line in enumerate(sale.lines, start=1)])

    async def add_many(self, made: Sequence[tuple[Sale, str | None]]) -> None:
        """Several sales, each with its customer reference (or None)."""
        if not made:
            return
        await self._conn.execute(_INSERT_SALE, [
            {**rows.sale_values(sale), "customer_ref": ref} for sale, ref in made])
        await self._conn.execute(_INSERT_SALE_LINE, [
            {"sale_id": sale.id, "line_no": n, "sku": line.sku, "quantity": line.quantity,
             "unit_price_amount": line.unit_price.units}
            for sale, _ in made for n, line in enumerate(sale.lines, start=1)])

    async def record_batch(self, levels: Sequence[Level], made: Sequence[tuple[Sale, str | None]],
                           entries: Sequence[LedgerEntry], events: Sequence[Event]) -> None:
        if self._seen is not None:
            self._seen.extend(events)
        if self._conn.dialect.name == "postgresql":  # one round trip under the row locks
            await write_sales_batch(self._conn, levels, made, entries, events,
                                    self._traceparent)
            return
        await SqlLevels(self._conn).save_many(levels)
        await self.add_many(made)
        await SqlLedger(self._conn).append(entries)
        await SqlOutbox(self._conn, traceparent=self._traceparent).append(events)

    async def get(self, sale_id: str, *, for_update: bool = False) -> Sale | None:
        stmt = select(sales).where(sales.c.id == sale_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = (await self._conn.execute(stmt)).first()
        if row is None:
            return None
        return (await load_sales(self._conn, [row]))[0]

    async def add_return(self, sale_return: SaleReturn, status: str) -> None:
        r = sale_return
        await self._conn.execute(sale_returns.insert().values(
            id=r.id, sale_id=r.sale_id, location_id=r.location_id, restock=r.restock,
            reason=r.reason.value, note=r.note, actor=r.actor, created_at=r.created_at))
        await self._conn.execute(sale_return_lines.insert(), [
            {"return_id": r.id, "line_no": n, "sku": line.sku, "quantity": line.quantity,
             "amount": line.amount} for n, line in enumerate(r.lines, start=1)])
        await self._conn.execute(sales.update().where(sales.c.id == r.sale_id)
                                 .values(status=status))


class SqlOutbox:
    """``seen``: the unit of work's list of events, for after commit; ``traceparent``: the
    trace context of the transaction (tracing on), kept on each row."""

    def __init__(self, conn: AsyncConnection, seen: list[Event] | None = None,
                 traceparent: str | None = None) -> None:
        self._conn, self._seen, self._traceparent = conn, seen, traceparent

    async def append(self, events: Sequence[Event]) -> None:
        if self._seen is not None:
            self._seen.extend(events)
        if events:
            await self._conn.execute(_INSERT_OUTBOX, [
                {"type": e.type, "location_id": e.location_id, "sku": e.sku,
                 "payload": orjson.dumps(e.data()).decode(), "occurred_at": e.occurred_at,
                 "traceparent": self._traceparent}
                for e in events])
