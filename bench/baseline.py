"""The same database work without Stockline: the denominator of every ratio.

A sale: one transaction of the guarded level update, the sale row, its line, the ledger
row and the outbox row, sent by asyncpg (PostgreSQL) or sqlite3 (SQLite, one connection
per client thread), with the same concurrency for the same time as the run it is compared
with. A read: the same single-row SELECT of a level.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import asyncpg

from bench.harness import HOT, Dataset, Measured, location, sku

_UPDATE = ("UPDATE inventory_levels SET on_hand = on_hand - 1, version = version + 1, "
           "updated_at = {now} WHERE location_id = {p1} AND sku = {p2} "
           "AND on_hand - reserved >= 1 RETURNING on_hand")
_SALE = ("INSERT INTO sales (id, location_id, status, channel, payment_status, "
         "fulfillment_status, currency, total_amount, units, actor, occurred_at, created_at) "
         "VALUES ({p1}, {p2}, 'completed', 'pos', 'paid', 'delivered', 'USD', 100000, 1, "
         "'bench', {now}, {now})")
_LINE = ("INSERT INTO sale_lines (sale_id, line_no, sku, quantity, unit_price_amount) "
         "VALUES ({p1}, 1, {p2}, 1, 100000)")
_LEDGER = ("INSERT INTO stock_movements (location_id, sku, delta, balance_after, type, reason, "
           "reference, actor, occurred_at, recorded_at) VALUES "
           "({p1}, {p2}, -1, {p3}, 'sale', 'sale', {p4}, 'bench', {now}, {now})")
_OUTBOX = ("INSERT INTO outbox (type, location_id, sku, payload, occurred_at) VALUES "
           "('sale.recorded', {p1}, {p2}, '{{}}', {now})")
_READ = ("SELECT location_id, sku, on_hand, reserved, in_transit, incoming, version, "
         "updated_at FROM inventory_levels WHERE location_id = {p1} AND sku = {p2}")


def _pg(sql: str) -> str:
    return sql.format(now="now()", p1="$1", p2="$2", p3="$3", p4="$4")


def _lite(sql: str) -> str:
    return sql.format(now="?", p1="?", p2="?", p3="?", p4="?")


def _pick(rng: random.Random, data: Dataset, hot: bool) -> tuple[str, str]:
    if hot:
        return HOT
    return location(rng.randrange(data.locations)), sku(rng.randrange(data.skus))


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def raw_sales(url: str, concurrency: int, seconds: float, data: Dataset, *,
                    hot: bool) -> Measured:
    if url.startswith("sqlite"):
        return await asyncio.to_thread(_sqlite_run, url.split("///", 1)[1], concurrency,
                                       seconds, data, hot, _sqlite_sale)
    pool = await asyncpg.create_pool(_dsn(url), min_size=concurrency, max_size=concurrency)

    async def one(conn: asyncpg.Connection, rng: random.Random) -> None:
        loc, code = _pick(rng, data, hot)
        sale_id = f"sale_{uuid.uuid4().hex[:26]}"
        async with conn.transaction():
            on_hand = await conn.fetchval(_pg(_UPDATE), loc, code)
            await conn.execute(_pg(_SALE), sale_id, loc)
            await conn.execute(_pg(_LINE), sale_id, code)
            await conn.execute(_pg(_LEDGER), loc, code, on_hand, sale_id)
            await conn.execute(_pg(_OUTBOX), loc, code)

    try:
        return await _pg_run(pool, concurrency, seconds, one)
    finally:
        await pool.close()


async def raw_reads(url: str, concurrency: int, seconds: float, data: Dataset) -> Measured:
    if url.startswith("sqlite"):
        return await asyncio.to_thread(_sqlite_run, url.split("///", 1)[1], concurrency,
                                       seconds, data, False, _sqlite_read)
    pool = await asyncpg.create_pool(_dsn(url), min_size=concurrency, max_size=concurrency)
    query = _pg(_READ)

    async def one(conn: asyncpg.Connection, rng: random.Random) -> None:
        loc, code = _pick(rng, data, False)
        await conn.fetchrow(query, loc, code)

    try:
        return await _pg_run(pool, concurrency, seconds, one)
    finally:
        await pool.close()


PgStep = Callable[[asyncpg.Connection, random.Random], Awaitable[None]]
LiteStep = Callable[[sqlite3.Connection, random.Random, Dataset, bool], None]


async def _pg_run(pool: asyncpg.Pool, concurrency: int, seconds: float, one: PgStep
                  ) -> Measured:
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        rng = random.Random()
        async with pool.acquire() as conn:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                await one(conn, rng)
                latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Measured.of(latencies, time.perf_counter() - started)


def _sqlite_sale(conn: sqlite3.Connection, rng: random.Random, data: Dataset,
                 hot: bool) -> None:
    loc, code = _pick(rng, data, hot)
    sale_id = f"sale_{uuid.uuid4().hex[:26]}"
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    conn.execute("BEGIN IMMEDIATE")
    (on_hand,) = conn.execute(_lite(_UPDATE), (now, loc, code)).fetchone()
    conn.execute(_lite(_SALE), (sale_id, loc, now, now))
    conn.execute(_lite(_LINE), (sale_id, code))
    conn.execute(_lite(_LEDGER), (loc, code, on_hand, sale_id, now, now))
    conn.execute(_lite(_OUTBOX), (loc, code, now))
    conn.execute("COMMIT")


def _sqlite_read(conn: sqlite3.Connection, rng: random.Random, data: Dataset,
                 hot: bool) -> None:
    conn.execute(_lite(_READ), _pick(rng, data, hot)).fetchone()


def _sqlite_run(path: str, concurrency: int, seconds: float, data: Dataset, hot: bool,
                one: LiteStep) -> Measured:
    latencies: list[float] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def worker() -> None:
        conn = sqlite3.connect(path, isolation_level=None, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        rng = random.Random()
        mine = []
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            one(conn, rng, data, hot)
            mine.append(time.perf_counter() - started)
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return Measured.of(latencies, time.perf_counter() - started)
