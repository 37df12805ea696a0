"""The SQL unit of work: one connection, one transaction, driver errors translated."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from types import TracebackType

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from stockline.adapters.driver_errors import translate
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
from stockline.adapters.repositories.counting import SqlCounting
from stockline.adapters.repositories.imports import SqlImports
from stockline.domain.events import Event
from stockline.services.executor import StorageUnavailable

# Told what a transaction wrote to the outbox, once it has committed (metrics count them).
Committed = Callable[[Sequence[Event]], None]
# The W3C traceparent of the span current as a transaction begins (tracing on), which its
# outbox rows keep.
TraceSource = Callable[[], str | None]


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
    counting: SqlCounting

    def __init__(self, engine: AsyncEngine, on_committed: Sequence[Committed] = (),
                 trace: TraceSource | None = None) -> None:
        self._engine, self._on_committed, self._trace = engine, on_committed, trace
        self._conn: AsyncConnection | None = None
        self._events: list[Event] = []  # appended to the outbox in this transaction

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
        traceparent = self._trace() if self._trace is not None else None
        self.products = SqlProducts(conn)
        self.locations = SqlLocations(conn)
        self.levels = SqlLevels(conn)
        self.lots = SqlLots(conn)
        self.ledger = SqlLedger(conn)
        self.sales = SqlSales(conn, self._events, traceparent)
        self.transfers = SqlTransfers(conn)
        self.reservations = SqlReservations(conn)
        self.suppliers = SqlSuppliers(conn)
        self.purchase_orders = SqlPurchaseOrders(conn)
        self.webhooks = SqlWebhooks(conn)
        self.api_keys = SqlApiKeys(conn)
        self.customers = SqlCustomers(conn)
        self.outbox = SqlOutbox(conn, self._events, traceparent)
        self.idempotency = SqlIdempotency(conn)
        self.imports = SqlImports(conn)
        self.counting = SqlCounting(conn)
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
        committed = list(self._events)
        self._events.clear()  # the repositories keep appending to this same list
        if committed:
            for listener in self._on_committed:
                listener(committed)

    async def rollback(self) -> None:
        assert self._conn is not None
        await self._conn.rollback()
        self._events.clear()

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        assert self._conn is not None
        kept = len(self._events)
        try:
            async with self._conn.begin_nested():
                yield
        except BaseException:
            del self._events[kept:]  # rolled back with the savepoint
            raise


class SqlUnitOfWorkFactory:
    """``on_committed``: each told every committed transaction's events (the apps on this
    container add their metrics, and take them off when they stop); ``trace``: where the
    outbox rows' trace context comes from, when tracing is on."""

    def __init__(self, engine: AsyncEngine, trace: TraceSource | None = None) -> None:
        self._engine, self._trace = engine, trace
        self.on_committed: list[Committed] = []

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self._engine, self.on_committed, self._trace)
