"""``python -m bench.scale``: PostgreSQL with 500 locations x 20,000 SKUs and a large ledger.

1. A small data set (50 locations x 20,000 SKUs) and the large one (``--locations`` x
   ``--skus``, 10 M levels, ``--ledger`` ledger rows, ``--sales`` sales over 30 days),
   each loaded with COPY into a fresh database (ledger and sales over 90 days).
2. On each, with the real server (2 workers): one-level reads and sales at 8 clients
   (wrk), p50 and p99. The large set's latencies are printed as a ratio of the small's
   (target: within 1.5x).
3. On the large set: ``GET /v1/inventory?sku=`` over every location (500 rows) and a
   30-day ``GET /v1/reports/sales``, timed (target: each under 1 s).
4. Every list query of the API, run in-process against the large set with typical
   filters, and the plan PostgreSQL chose for it (EXPLAIN), flagged when a large table is
   read by a sequential scan.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy import event

from bench.harness import BENCH_KEY, POSTGRES_URL, Dataset, location, migrated, served, sku
from bench.loadgen import run_wrk
from stockline.adapters.database import open_database
from stockline.adapters.queries import Queries
from stockline.domain.values import SalesGroup

console = Console(width=150)
BIG_TABLES = ("inventory_levels", "stock_movements", "sales", "sale_lines", "events")


async def create(name: str) -> str:
    admin = await asyncpg.connect(POSTGRES_URL)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    base = POSTGRES_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return await migrated(f"{base}/{name}")


async def drop(name: str) -> None:
    conn = await asyncpg.connect(POSTGRES_URL)
    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await conn.close()


async def load(url: str, data: Dataset, *, ledger: int, sales: int) -> None:
    """Locations, products, every level, ``ledger`` ledger rows and ``sales`` one-line
    sales spread over the last 90 days, with COPY."""
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    now = datetime.now(UTC)
    try:
        await conn.copy_records_to_table("locations", columns=[
            "code", "type", "name", "created_at"], records=[
            (location(n), "retail", f"Bench {n}", now) for n in range(data.locations)])
        await conn.copy_records_to_table("products", columns=[
            "sku", "name", "category", "attributes", "price_amount", "price_currency",
            "version", "created_at", "updated_at"], records=[
            (sku(n), f"Bench {n}", "bench", "{}", 100_000, "USD", 1, now, now)
            for n in range(data.skus)])
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task(f"{data.levels:,} levels", total=data.levels)
            for loc in range(data.locations):
                await conn.copy_records_to_table("inventory_levels", columns=[
                    "location_id", "sku", "on_hand", "reserved", "in_transit", "incoming",
                    "lotted", "version", "updated_at"], records=[
                    (location(loc), sku(n), data.stock, 0, 0, 0, False, 1, now)
                    for n in range(data.skus)])
                progress.advance(task, data.skus)
            await _copy_chunks(conn, progress, "stock_movements", ledger, [
                "location_id", "sku", "delta", "balance_after", "type", "reason", "reference",
                "actor", "occurred_at", "recorded_at"], lambda n, rng: (
                location(rng.randrange(data.locations)), sku(rng.randrange(data.skus)), -1,
                data.stock, "sale", "sale", f"sale_{n:026d}", "bench",
                now - timedelta(seconds=rng.randrange(90 * 86_400)), now))
            await _copy_chunks(conn, progress, "sales", sales, [
                "id", "location_id", "status", "channel", "payment_status", "currency",
                "total_amount", "units", "actor", "occurred_at", "created_at"],
                lambda n, rng: (f"sale_{n:026d}", location(rng.randrange(data.locations)),
                                "completed", "pos", "paid", "USD", 100_000, 1, "bench",
                                now - timedelta(seconds=rng.randrange(90 * 86_400)), now))
            await _copy_chunks(conn, progress, "sale_lines", sales, [
                "sale_id", "line_no", "sku", "quantity", "unit_price_amount"],
                lambda n, rng: (f"sale_{n:026d}", 1, sku(rng.randrange(data.skus)), 1,
                                100_000))
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def _copy_chunks(conn: asyncpg.Connection, progress: Progress, table: str, count: int,
                       columns: list[str], row: Callable[[int, random.Random], tuple[Any, ...]],
                       chunk: int = 200_000) -> None:
    rng = random.Random(7)
    task = progress.add_task(f"{count:,} rows of {table}", total=count)
    for start in range(0, count, chunk):
        records = [row(n, rng) for n in range(start, min(start + chunk, count))]
        await conn.copy_records_to_table(table, columns=columns, records=records)
        progress.advance(task, len(records))


def latencies(base_url: str, data: Dataset) -> dict[str, tuple[float, float]]:
    """p50 and p99 (seconds) of one-level reads and of sales at 8 clients."""
    found = {}
    for name, script in (("read one level", "level"), ("sale", "sale")):
        run_wrk(base_url, script, concurrency=8, seconds=1, data=data)  # warm up
        measured = run_wrk(base_url, script, concurrency=8, seconds=5, data=data)
        found[name] = (measured.p50, measured.p99)
    return found


async def timed(base_url: str, path: str, params: dict[str, Any], runs: int = 5
                ) -> tuple[float, int]:
    """The median time of ``runs`` requests, and the number of rows of the last answer."""
    times = []
    rows = 0
    async with httpx.AsyncClient(base_url=base_url, headers={"X-API-Key": BENCH_KEY},
                                 timeout=60) as client:
        for _ in range(runs):
            started = time.perf_counter()
            answer = await client.get(path, params=params)
            times.append(time.perf_counter() - started)
            answer.raise_for_status()
            body = answer.json()
            rows = len(body.get("items", body.get("rows", [])))
    return statistics.median(times), rows


async def plans(url: str, data: Dataset) -> list[tuple[str, str, bool]]:
    """Every list query with typical filters: (name, plan summary, a big table scanned)."""
    database = open_database(url)
    captured: list[tuple[str, Any]] = []

    @event.listens_for(database.read.sync_engine, "before_cursor_execute")
    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
                executemany: bool) -> None:
        if not statement.startswith("EXPLAIN"):
            captured.append((statement, parameters))

    q = Queries(database.read)
    now = datetime.now(UTC)
    start = now - timedelta(days=30)
    loc, code = location(3), sku(42)
    cases: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
        ("levels of a SKU everywhere", lambda: q.levels(
            sku=code, location_id=None, location_type=None, below_reorder_point=None,
            limit=500, cursor=None)),
        ("levels of a location", lambda: q.levels(sku=None, location_id=loc, location_type=None,
                                                  below_reorder_point=None, limit=500,
                                                  cursor=None)),
        ("levels below their reorder point", lambda: q.levels(
            sku=None, location_id=loc, location_type=None, below_reorder_point=True,
            limit=500, cursor=None)),
        ("ledger of a level", lambda: q.movements(location_id=loc, sku=code, type=None,
                                                  start=None, end=None, limit=500,
                                                  cursor=None)),
        ("ledger of a SKU", lambda: q.movements(location_id=None, sku=code, type=None,
                                                start=None, end=None, limit=500, cursor=None)),
        ("sales of a location, newest", lambda: q.sales(start=None, end=None, location_id=loc,
                                                        sku=None, channel=None, limit=50,
                                                        cursor=None)),
        ("sales in a month", lambda: q.sales(start=start, end=now, location_id=None,
                                             sku=None, channel=None, limit=50,
                                             cursor=None)),
        ("sales report, 30 days", lambda: q.sales_report(
            start=start, end=now, groups=(SalesGroup.DAY, SalesGroup.LOCATION), location_id=None)),
        ("products", lambda: q.products(category=None, q=None, attributes={}, limit=500,
                                        cursor=None)),
    ]
    found = []
    try:
        for name, run in cases:
            captured.clear()
            try:
                await run()
            except TypeError as exc:  # a signature this harness does not know
                found.append((name, f"not run: {exc}", False))
                continue
            summary, scanned = [], False
            async with database.read.connect() as conn:
                for statement, parameters in list(captured):
                    result = await conn.exec_driver_sql("EXPLAIN " + statement, parameters)
                    lines = [r[0] for r in result.all()]
                    scanned = scanned or any("Seq Scan on " + t in x
                                             for x in lines for t in BIG_TABLES)
                    summary.append(" / ".join(x.strip() for x in lines
                                              if "Scan" in x or "Index" in x)[:110])
            found.append((name, " | ".join(summary), scanned))
    finally:
        await database.dispose()
    return found


def _frame(rows: Iterator[tuple[str, ...]], title: str, columns: tuple[str, ...]) -> None:
    table = Table(title=title)
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*row)
    console.print(table)


async def main_async(args: argparse.Namespace) -> None:
    small = Dataset(50, args.skus, stock=10**9)
    large = Dataset(args.locations, args.skus, stock=10**9)
    found: dict[str, dict[str, tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="stockline-scale-") as tmp:
        for label, data, ledger, sold in (("small", small, 0, 0),
                                          ("large", large, args.ledger, args.sales)):
            name = f"stockline_scale_{uuid.uuid4().hex[:8]}"
            url = await create(name)
            try:
                started = time.perf_counter()
                await load(url, data, ledger=ledger, sales=sold)
                console.print(f"{label}: {data.levels:,} levels, {ledger:,} ledger rows, "
                              f"{sold:,} sales loaded in {time.perf_counter() - started:.0f} s")
                with served(url, Path(tmp), workers=2) as base_url:
                    found[label] = await asyncio.to_thread(latencies, base_url, data)
                    if label == "large":
                        everywhere = await timed(base_url, "/v1/inventory",
                                                 {"sku": sku(42), "limit": 500})
                        now = datetime.now(UTC)
                        report = await timed(base_url, "/v1/reports/sales", {
                            "from": (now - timedelta(days=30)).isoformat(),
                            "to": now.isoformat()})
                        explained = await plans(url, data)
            finally:
                await drop(name)
    _frame(((op, f"{found['small'][op][0] * 1000:.1f} / {found['small'][op][1] * 1000:.1f}",
             f"{found['large'][op][0] * 1000:.1f} / {found['large'][op][1] * 1000:.1f}",
             f"{found['large'][op][0] / found['small'][op][0]:.2f}x / "
             f"{found['large'][op][1] / found['small'][op][1]:.2f}x", "<= 1.5x")
            for op in found["small"]),
           f"latency, small ({small.levels:,} levels) vs large ({large.levels:,} levels), "
           "8 clients", ("operation", "small p50 / p99 ms", "large p50 / p99 ms",
                         "ratio p50 / p99", "target"))
    _frame(iter([("GET /v1/inventory?sku= (every location)", f"{everywhere[1]}",
                  f"{everywhere[0] * 1000:.0f}", "< 1000"),
                 ("GET /v1/reports/sales (30 days)", f"{report[1]}",
                  f"{report[0] * 1000:.0f}", "< 1000")]),
           "large data set, median of 5", ("request", "rows", "ms", "target ms"))
    _frame(((name, "SEQ SCAN of a large table" if scanned else "indexed", summary)
            for name, summary, scanned in explained),
           "list queries on the large data set (EXPLAIN)", ("query", "verdict", "plan"))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__)
    parser.add_argument("--locations", type=int, default=500)
    parser.add_argument("--skus", type=int, default=20_000)
    parser.add_argument("--ledger", type=int, default=10_000_000)
    parser.add_argument("--sales", type=int, default=1_000_000)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
