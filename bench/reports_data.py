"""A year of sales for bench.reports, written straight into fresh tables.

The same rows on both backends, made by formula from each sale's number: its store, its
channel, its time (spread evenly over 365 days), its lines (1 to 3, SKUs and quantities
by formula) and, for one sale in 20, a return of one unit two days later (for one in 40,
at the next store).
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from bench.harness import POSTGRES_URL

START = datetime(2025, 12, 1, tzinfo=UTC)
STORES, REGIONS, SKUS, CATEGORIES = 50, 10, 1_000, 20
ZONES = ("America/New_York", "Europe/Paris", None)
CHANNELS = ("ecommerce", "marketplace", *("pos",) * 8)
YEAR_US = 365 * 24 * 3600 * 10**6
CHUNK = 100_000
Rows = list[tuple[object, ...]]


@dataclass(frozen=True)
class Dataset:
    sales: int

    @property
    def lines(self) -> int:
        return sum(1 + n % 3 for n in range(self.sales))

    @property
    def returns(self) -> int:
        return len(range(3, self.sales, 20))


def store(n: int) -> str:
    return f"BENCH-L{n % STORES:03d}"


def _sku(n: int) -> str:
    return f"BENCH-{n % SKUS:06d}"


def _price(sku_no: int) -> int:
    return 10_000 * (1 + sku_no % 50)


def catalog(now: datetime) -> tuple[Rows, Rows]:
    locations = [(store(n), "retail", f"Store {n}", f"R{n % REGIONS}", ZONES[n % 3], now)
                 for n in range(STORES)]
    products = [(_sku(n), f"Product {n}", f"cat-{n % CATEGORIES}", "{}", _price(n), "USD", 1,
                 now, now) for n in range(SKUS)]
    return locations, products


def chunks(data: Dataset) -> Iterator[tuple[Rows, Rows, Rows, Rows]]:
    """Sales, their lines, returns and return lines, ``CHUNK`` sales at a time."""
    for first in range(0, data.sales, CHUNK):
        sales: Rows = []
        lines: Rows = []
        returns: Rows = []
        return_lines: Rows = []
        for n in range(first, min(first + CHUNK, data.sales)):
            at = START + timedelta(microseconds=n * YEAR_US // data.sales)
            units = total = 0
            for j in range(1 + n % 3):
                sku_no, quantity = (n * 7 + j * 131) % SKUS, 1 + (n + j) % 3
                lines.append((f"S{n:07d}", j, _sku(sku_no), quantity, _price(sku_no)))
                units, total = units + quantity, total + quantity * _price(sku_no)
            sales.append((f"S{n:07d}", store(n), "completed", CHANNELS[n % 10], "paid",
                          "fulfilled", "USD", total, units, "bench", at, at))
            if n % 20 == 3:
                taken_at = store(n + 1) if n % 40 == 3 else store(n)
                returns.append((f"R{n:07d}", f"S{n:07d}", taken_at, True, "wrong_size",
                                "bench", at + timedelta(days=2)))
                # one unit of the first line, its value on the sale kept as a return keeps it
                return_lines.append((f"R{n:07d}", 0, _sku(n * 7), 1, _price(n * 7 % SKUS)))
        yield sales, lines, returns, return_lines


SALE_COLUMNS = ("id", "location_id", "status", "channel", "payment_status",
                "fulfillment_status", "currency", "total_amount", "units", "actor",
                "occurred_at", "created_at")
TABLES = (("sales", SALE_COLUMNS),
          ("sale_lines", ("sale_id", "line_no", "sku", "quantity", "unit_price_amount")),
          ("sale_returns", ("id", "sale_id", "location_id", "restock", "reason", "actor",
                            "created_at")),
          ("sale_return_lines", ("return_id", "line_no", "sku", "quantity", "amount")))
CATALOG = (("locations", ("code", "type", "name", "region", "time_zone", "created_at")),
           ("products", ("sku", "name", "category", "attributes", "price_amount",
                         "price_currency", "version", "created_at", "updated_at")))


def _lite(value: object) -> object:
    """As SQLAlchemy keeps a UTC instant in SQLite: naive ISO text with microseconds."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def _insert(table: str, columns: tuple[str, ...]) -> str:
    marks = ", ".join("?" for _ in columns)
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"


def load_sqlite(path: str, data: Dataset) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous = OFF")
    with conn:
        for (table, columns), rows in zip(CATALOG, catalog(datetime.now(UTC)), strict=True):
            conn.executemany(_insert(table, columns), rows)
        for batch in chunks(data):
            for (table, columns), rows in zip(TABLES, batch, strict=True):
                conn.executemany(_insert(table, columns),
                                 ([_lite(v) for v in row] for row in rows))
    conn.execute("ANALYZE")
    conn.close()


async def load_postgres(dsn: str, data: Dataset) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        for (table, columns), rows in zip(CATALOG, catalog(datetime.now(UTC)), strict=True):
            await conn.copy_records_to_table(table, records=rows, columns=list(columns))
        for batch in chunks(data):
            for (table, columns), rows in zip(TABLES, batch, strict=True):
                await conn.copy_records_to_table(table, records=rows, columns=list(columns))
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


async def fresh_url(backend: str, workdir: Path
                    ) -> tuple[str, Callable[[], Awaitable[None]]]:
    """The URL of a new, empty database, and what drops it."""
    if backend == "sqlite":
        async def nothing() -> None:
            return None
        return f"sqlite+aiosqlite:///{workdir / f'report-{uuid.uuid4().hex[:6]}.db'}", nothing
    name = f"stockline_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(POSTGRES_URL)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()

    async def drop() -> None:
        conn = await asyncpg.connect(POSTGRES_URL)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()
    base = POSTGRES_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{name}", drop
