"""The SQL unit of work: one connection, one transaction, driver errors translated."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import TracebackType

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from stockline.adapters.repositories import (
    SqlApiKeys,
    SqlCustomers,
    SqlIdempotency,
    SqlLedger,
    SqlLevels,
    SqlLocations,
    SqlLots,
    SqlOutbox,
    SqlProducts,
    SqlPurchaseOrders,
    SqlReservations,
    SqlSales,
    SqlSuppliers,
    SqlTransfers,
    SqlWebhooks,
)
from stockline.adapters.repositories.imports import SqlImports
from stockline.services.executor import StorageUnavailable, TransientStorageError

# SQLSTATEs after which the same transaction may simply be tried again.
_RETRYABLE_SQLSTATES = {"40001", "40P01", "55P03"}
_UNAVAILABLE_SQLSTATES_PREFIXES = ("08", "53", "57")


def translate(error: DBAPIError) -> Exception:
    """Map a driver error to what the services understand; anything else stays a bug."""
    orig = error.orig
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if sqlstate in _RETRYABLE_SQLSTATES:
        return TransientStorageError(str(orig))
    if error.connection_invalidated or (
            sqlstate and sqlstate.startswith(_UNAVAILABLE_SQLSTATES_PREFIXES)):
        return StorageUnavailable(str(orig))
    message = str(orig).lower()
    if any(s in message for s in ("database is locked", "disk is full", "disk i/o error",
                                  "unable to open database", "connection", "database or disk")):
        return StorageUnavailable(str(orig))
    return error


class SqlUnitOfWork:
    products: SqlProducts
    locations: SqlLocations
    levels: SqlLevels
    lots: SqlLots
    ledger: SqlLedger
    sales: SqlSales
    transfers: SqlTransfers
    reservations: SqlReservations
    suppliers: SqlSuppliers
    purchase_orders: SqlPurchaseOrders
    webhooks: SqlWebhooks
    api_keys: SqlApiKeys
    customers: SqlCustomers
    outbox: SqlOutbox
    idempotency: SqlIdempotency
    imports: SqlImports

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._conn: AsyncConnection | None = None

    async def __aenter__(self) -> SqlUnitOfWork:
        try:
            conn = await self._engine.connect()
        except DBAPIError as exc:
            raise translate(exc) from exc
        except OSError as exc:
            raise StorageUnavailable(str(exc)) from exc
        try:
            await conn.begin()
        except BaseException as exc:
            await conn.close()
            if isinstance(exc, DBAPIError):
                raise translate(exc) from exc
            raise
        self._conn = conn
        self.products = SqlProducts(conn)
        self.locations = SqlLocations(conn)
        self.levels = SqlLevels(conn)
        self.lots = SqlLots(conn)
        self.ledger = SqlLedger(conn)
        self.sales = SqlSales(conn)
        self.transfers = SqlTransfers(conn)
        self.reservations = SqlReservations(conn)
        self.suppliers = SqlSuppliers(conn)
        self.purchase_orders = SqlPurchaseOrders(conn)
        self.webhooks = SqlWebhooks(conn)
        self.api_keys = SqlApiKeys(conn)
        self.customers = SqlCustomers(conn)
        self.outbox = SqlOutbox(conn)
        self.idempotency = SqlIdempotency(conn)
        self.imports = SqlImports(conn)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        conn, self._conn = self._conn, None
        assert conn is not None
        try:
            if conn.in_transaction():
                await conn.rollback()
        except DBAPIError:
            pass  # the connection is broken; closing it below returns nothing to the pool
        finally:
            await conn.close()
        if isinstance(exc, DBAPIError):
            translated = translate(exc)
            if translated is not exc:
                raise translated from exc

    async def commit(self) -> None:
        assert self._conn is not None
        await self._conn.commit()

    async def rollback(self) -> None:
        assert self._conn is not None
        await self._conn.rollback()

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        assert self._conn is not None
        async with self._conn.begin_nested():
            yield


class SqlUnitOfWorkFactory:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self._engine)
