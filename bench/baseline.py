"""The same database work as a sale, without Stockline: the denominator of every ratio."""

from __future__ import annotations

import asyncio
import random
import sqlite3
import threading
import time
import uuid
from datetime import UTC, datetime

import asyncpg

from bench.harness import STORE, Measured, sku

_UPDATE = ("UPDATE inventory_levels SET on_hand = on_hand - 1, version = version + 1, "
           "updated_at = {now} WHERE location_id = {p1} AND sku = {p2} "
           "AND on_hand - reserved >= 1 RETURNING on_hand")
_SALE = ("INSERT INTO sales (id, location_id, status, channel, payment_status, currency, "
         "total_amount, units, actor, occurred_at, created_at) VALUES "
         "({p1}, {p2}, 'completed', 'pos', 'paid', 'USD', 100000, 1, 'bench', {now}, {now})")
_LINE = ("INSERT INTO sale_lines (sale_id, line_no, sku, quantity, unit_price_amount) "
         "VALUES ({p1}, 1, {p2}, 1, 100000)")
_LEDGER = ("INSERT INTO stock_movements (location_id, sku, delta, balance_after, type, reason, "
           "reference, actor, occurred_at, recorded_at) VALUES "
           "({p1}, {p2}, -1, {p3}, 'sale', 'sale', {p4}, 'bench', {now}, {now})")
_OUTBOX = ("INSERT INTO outbox (type, location_id, sku, payload, occurred_at) VALUES "
           "('sale.recorded', {p1}, {p2}, '{{}}', {now})")


def _pg(sql: str) -> str:
    return sql.format(now="now()", p1="$1", p2="$2", p3="$3", p4="$4")


def _lite(sql: str) -> str:
    return sql.format(now="?", p1="?", p2="?", p3="?", p4="?")


async def raw_sales(url: str, concurrency: int, seconds: float, skus: int, *,
                    hot: bool) -> Measured:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1]
        return await asyncio.to_thread(_sqlite_sales, path, concurrency, seconds, skus, hot)
    return await _postgres_sales(url.replace("postgresql+asyncpg://", "postgresql://"),
                                 concurrency, seconds, skus, hot)


async def _postgres_sales(dsn: str, concurrency: int, seconds: float, skus: int,
                          hot: bool) -> Measured:
    pool = await asyncpg.create_pool(dsn, min_size=concurrency, max_size=concurrency)
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        rng = random.Random()
        while time.perf_counter() < deadline:
            code = sku(0 if hot else rng.randrange(skus))
            sale_id = f"sale_{uuid.uuid4().hex[:26]}"
            started = time.perf_counter()
            async with pool.acquire() as conn, conn.transaction():
                on_hand = await conn.fetchval(_pg(_UPDATE), STORE, code)
                await conn.execute(_pg(_SALE), sale_id, STORE)
                await conn.execute(_pg(_LINE), sale_id, code)
                await conn.execute(_pg(_LEDGER), STORE, code, on_hand, sale_id)
                await conn.execute(_pg(_OUTBOX), STORE, code)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    await pool.close()
    return Measured(len(latencies), elapsed, latencies, 0)


def _sqlite_sales(path: str, concurrency: int, seconds: float, skus: int,
                  hot: bool) -> Measured:
    latencies: list[float] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def worker() -> None:
        conn = sqlite3.connect(path, isolation_level=None, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        rng = random.Random()
        while time.perf_counter() < deadline:
            code = sku(0 if hot else rng.randrange(skus))
            sale_id = f"sale_{uuid.uuid4().hex[:26]}"
            now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
            started = time.perf_counter()
            conn.execute("BEGIN IMMEDIATE")
            (on_hand,) = conn.execute(_lite(_UPDATE), (now, STORE, code)).fetchone()
            conn.execute(_lite(_SALE), (sale_id, STORE, now, now))
            conn.execute(_lite(_LINE), (sale_id, code))
            conn.execute(_lite(_LEDGER), (STORE, code, on_hand, sale_id, now, now))
            conn.execute(_lite(_OUTBOX), (STORE, code, now))
            conn.execute("COMMIT")
            with lock:
                latencies.append(time.perf_counter() - started)
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return Measured(len(latencies), time.perf_counter() - started, latencies, 0)
