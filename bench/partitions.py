"""``python -m bench.partitions``: the same 10 M rows in plain and in monthly-partitioned
tables (PostgreSQL), the same operations timed on both in one run.

1. A database migrated to 0020 (plain tables) is loaded with COPY: ``--ledger`` ledger
   rows, ``--events`` events and ``--sales`` sales with one line each, spread over the last
   ``--months`` months (10 M rows by default), on 50 stores x 1,000 SKUs.
2. A copy of it (CREATE DATABASE ... TEMPLATE) is upgraded to the head: migration 0021
   rebuilds the three tables as partitioned ones, rows and all, and is timed.
3. On both, with Stockline's own code: a sale recorded through the write service, a sale
   looked up by id, the ledger page of one level, an event page ``after=`` near the end,
   a month's sales report read from the sales table, each the median of ``--runs``; then
   the event retention forgetting the oldest month (a DELETE of its rows, or a DROP of its
   partition). Ratios are partitioned / plain: below 1 is a gain.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from bench.harness import POSTGRES_URL
from stockline.adapters.bus.base import EVERYTHING
from stockline.adapters.database import open_database
from stockline.adapters.migrate import upgrade
from stockline.adapters.partitions import add_months, month_of
from stockline.adapters.queries import Queries
from stockline.adapters.queries.events import EventQueries
from stockline.adapters.relay import prune_events
from stockline.bootstrap import bootstrap
from stockline.config import Settings
from stockline.domain.commands import RecordSale, SaleLineRequest
from stockline.domain.ids import id_at
from stockline.domain.values import Money, SalesGroup
from stockline.services import sales
from stockline.services.executor import Caller

console = Console(width=150)
STORES, SKUS = 50, 1_000
CALLER = Caller(principal="bench", actor="bench")
CHUNK = 200_000


def store(n: int) -> str:
    return f"BENCH-L{n % STORES:03d}"


def item(n: int) -> str:
    return f"BENCH-{n % SKUS:06d}"


def sale_at(start: datetime, span: float, count: int, n: int) -> tuple[str, datetime]:
    """The id of the ``n``-th of ``count`` sales made evenly over the span, and its time:
    the id is the server's, made when the sale was recorded."""
    at = start + timedelta(seconds=span * n / count)
    return id_at("sale", int(at.timestamp() * 1000), n), at


def _async_url(name: str) -> str:
    base = POSTGRES_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{name}"


async def _admin(statement: str) -> None:
    conn = await asyncpg.connect(POSTGRES_URL)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def load(url: str, args: argparse.Namespace, start: datetime, span: float) -> None:
    """The catalogue, its levels and the big tables, with COPY; events logged and sales
    recorded in id order (as the relay and the server make their ids), ledger rows at random
    times in the span."""
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    now = datetime.now(UTC)
    try:
        await conn.copy_records_to_table("locations", columns=[
            "code", "type", "name", "created_at"], records=[
            (store(n), "retail", f"Store {n}", now) for n in range(STORES)])
        await conn.copy_records_to_table("products", columns=[
            "sku", "name", "category", "attributes", "price_amount", "price_currency",
            "version", "created_at", "updated_at"], records=[
            (item(n), f"P {n}", "bench", "{}", 100_000, "USD", 1, now, now)
            for n in range(SKUS)])
        await conn.copy_records_to_table("inventory_levels", columns=[
            "location_id", "sku", "on_hand", "reserved", "in_transit", "incoming", "lotted",
            "version", "updated_at"], records=[
            (store(s), item(k), 10**9, 0, 0, 0, False, 1, now)
            for s in range(STORES) for k in range(SKUS)])

        def at(rng: random.Random) -> datetime:
            return start + timedelta(seconds=rng.random() * span)

        with Progress(console=console, transient=True) as progress:
            await _copy(conn, progress, "stock_movements", args.ledger, [
                "location_id", "sku", "delta", "balance_after", "type", "reason", "reference",
                "actor", "occurred_at", "recorded_at"], lambda n, rng: (
                store(rng.randrange(STORES)), item(rng.randrange(SKUS)), -1, 10**9, "sale",
                "sale", f"sale_{n:026d}", "bench", at(rng), now))
            await _copy(conn, progress, "events", args.events, [
                "id", "type", "location_id", "sku", "payload", "occurred_at", "logged_at"],
                lambda n, rng: (n + 1, "inventory.changed", store(n), item(n), "{}",
                                start + timedelta(seconds=span * n / args.events),
                                start + timedelta(seconds=span * n / args.events)))
            await _copy(conn, progress, "sales", args.sales, [
                "id", "location_id", "status", "channel", "payment_status",
                "fulfillment_status", "currency", "total_amount", "units", "actor",
                "occurred_at", "created_at"], lambda n, rng: _sale_row(
                *sale_at(start, span, args.sales, n), store(rng.randrange(STORES))))
            await _copy(conn, progress, "sale_lines", args.sales, [
                "sale_id", "line_no", "sku", "quantity", "unit_price_amount"],
                lambda n, rng: (sale_at(start, span, args.sales, n)[0], 1,
                                item(rng.randrange(SKUS)), 1, 100_000))
        await conn.execute("UPDATE relay_state SET last_event_id = $1, published_through = $1",
                           args.events)
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


def _sale_row(sale_id: str, at: datetime, location: str) -> tuple[Any, ...]:
    return (sale_id, location, "completed", "pos", "paid", "fulfilled", "USD", 100_000, 1,
            "bench", at, at)


async def _copy(conn: asyncpg.Connection, progress: Progress, table: str, count: int,
                columns: list[str], row: Callable[[int, random.Random], tuple[Any, ...]]
                ) -> None:
    rng = random.Random(7)
    task = progress.add_task(f"{count:,} rows of {table}", total=count)
    for first in range(0, count, CHUNK):
        records = [row(n, rng) for n in range(first, min(first + CHUNK, count))]
        await conn.copy_records_to_table(table, columns=columns, records=records)
        progress.advance(task, len(records))


async def _median(run: Callable[[int], Awaitable[object]], runs: int) -> float:
    times = []
    for n in range(runs + 3):  # the first three warm the caches and are not counted
        started = time.perf_counter()
        await run(n)
        if n >= 3:
            times.append(time.perf_counter() - started)
    return statistics.median(times)


async def measure(url: str, args: argparse.Namespace, start: datetime, span: float
                  ) -> dict[str, float]:
    """Seconds each operation took (median), then the retention of the oldest month."""
    settings = Settings(database_url=url, env="test", log_level="warning",
                        sale_batch_enabled=False)
    container = bootstrap(settings)
    q, log = Queries(container.database.read), EventQueries(container.database.read)
    rng = random.Random(11)
    month = add_months(month_of(start), args.months // 2)
    report_from = datetime.combine(month, datetime.min.time(), UTC)
    price = Money(Decimal("10.00"), "USD")
    found: dict[str, float] = {}
    cases: list[tuple[str, Callable[[int], Awaitable[object]]]] = [
        ("record a sale (write service)", lambda n: container.executor.run(
            sales.record_sale, RecordSale(location_id=store(n), lines=(SaleLineRequest(
                sku=item(n * 7), quantity=1, unit_price=price),)), CALLER)),
        ("a sale by id", lambda n: q.sale(
            sale_at(start, span, args.sales, rng.randrange(args.sales))[0])),
        ("ledger page of one level (50)", lambda n: q.movements(
            location_id=store(n), sku=item(n * 13), type=None, start=None, end=None,
            limit=50, cursor=None)),
        ("event page after= near the end (100)", lambda n: log.events_after(
            args.events - 500 - n, EVERYTHING, 100)),
        ("sales report of a month, by day and store", lambda n: q.sales_report(
            start=report_from, end=datetime.combine(add_months(month, 1), datetime.min.time(),
                                                    UTC),
            groups=(SalesGroup.DAY, SalesGroup.LOCATION), location_id=None, rollup=False)),
    ]
    try:
        for name, run in cases:
            runs = args.runs if "report" not in name else max(3, args.runs // 20)
            found[name] = await _median(run, runs)
        first_end = datetime.combine(add_months(month_of(start), 1), datetime.min.time(), UTC)
        started = time.perf_counter()
        pruned = await prune_events(container.database.write, now=first_end,
                                    retention=timedelta(0))
        found["retention: the oldest month of events"] = time.perf_counter() - started
        console.print(f"  retention forgot {pruned.forgotten:,} events, dropped "
                      f"{pruned.dropped or 'no partition'}")
    finally:
        await container.close()
    return found


async def main_async(args: argparse.Namespace) -> None:
    console.print(f"load average at start: {os.getloadavg()}")
    now = datetime.now(UTC)
    start = datetime.combine(add_months(month_of(now), -args.months), datetime.min.time(), UTC)
    span = (now - start).total_seconds()
    plain, parted = (f"stockline_parts_{uuid.uuid4().hex[:8]}" for _ in range(2))
    results: dict[str, dict[str, float]] = {}
    try:
        await _admin(f'CREATE DATABASE "{plain}"')
        database = open_database(_async_url(plain))
        await upgrade(database.write, "0020")
        await database.dispose()
        started = time.perf_counter()
        await load(_async_url(plain), args, start, span)
        total = args.ledger + args.events + 2 * args.sales
        console.print(f"loaded {total:,} rows in {time.perf_counter() - started:.0f} s")
        await _admin(f'CREATE DATABASE "{parted}" TEMPLATE "{plain}"')
        database = open_database(_async_url(parted))
        started = time.perf_counter()
        await upgrade(database.write)
        await database.dispose()
        migrated = time.perf_counter() - started
        console.print(f"migration 0021 on {total:,} rows: {migrated:.0f} s")
        for label, name in (("plain", plain), ("partitioned", parted)):
            console.print(f"measuring {label}")
            results[label] = await measure(_async_url(name), args, start, span)
    finally:
        for name in (plain, parted):
            await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    table = Table(title=f"{total:,} rows over {args.months} months: plain vs partitioned "
                        f"(median of {args.runs}; load average {os.getloadavg()[0]:.1f})")
    for column in ("operation", "plain ms", "partitioned ms", "ratio"):
        table.add_column(column)
    for op, plain_s in results["plain"].items():
        parted_s = results["partitioned"][op]
        table.add_row(op, f"{plain_s * 1000:.2f}", f"{parted_s * 1000:.2f}",
                      f"{parted_s / plain_s:.2f}x")
    console.print(table)
    console.print(f"migration 0021: {migrated:.0f} s; load average at end: {os.getloadavg()}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.partitions", description=__doc__)
    parser.add_argument("--ledger", type=int, default=5_000_000)
    parser.add_argument("--events", type=int, default=3_000_000)
    parser.add_argument("--sales", type=int, default=1_000_000, help="and as many lines")
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--runs", type=int, default=200)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
