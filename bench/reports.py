"""The sales report over a year of 1,000,000 sales, over HTTP, against its bare SQL.

    .venv/bin/python -m bench.reports [--backend sqlite|postgres|both] [--sales 1000000]

For each backend: a fresh, migrated database, loaded straight into its tables (sqlite3
executemany, asyncpg COPY; loading is not what is measured) with 50 stores of 10 regions
(a third in America/New_York, a third in Europe/Paris, a third without a time zone),
1,000 SKUs of 20 categories, the sales spread evenly over 365 days with 1 to 3 lines each
(2,000,000 lines for 1,000,000 sales), and a return of one unit for one sale in 20 (half
of them taken at another store). Then ``stockline serve`` (production settings, one
worker) answers ``GET /v1/reports/sales`` for the whole year with several ``group_by``;
each is timed from request to the last byte of the JSON answer, median of ``--rounds``
after one warm-up. Before serving, the loaded sales are folded into the report's rollup
(timed; ``--no-fold`` leaves them waiting, read from the sales tables as before it).

The baseline, in the same run: the least SQL that answers the same question without
returns or time zones (sales by UTC day and location from the sales table; units and
amounts by SKU from the lines), run raw (sqlite3, asyncpg), median of the same rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import asyncpg
import httpx
from rich.console import Console
from rich.table import Table

from bench.harness import BENCH_KEY, migrated, served
from bench.reports_data import START, Dataset, fresh_url, load_postgres, load_sqlite
from stockline.adapters.database import open_database
from stockline.adapters.rollup import fold_waiting

console = Console(width=150)
END = START + timedelta(days=365)
COMBOS = ("day,location", "week", "month,region", "channel", "location", "sku",
          "month,category")
BY_DAY = ("SELECT substr(occurred_at, 1, 10), location_id, currency, count(*), sum(units), "
          "sum(total_amount) FROM sales WHERE occurred_at >= ? AND occurred_at < ? "
          "GROUP BY 1, 2, 3")
BY_SKU = ("SELECT l.sku, s.currency, count(*), sum(l.quantity), "
          "sum(l.quantity * l.unit_price_amount) FROM sales s JOIN sale_lines l "
          "ON l.sale_id = s.id WHERE s.occurred_at >= ? AND s.occurred_at < ? GROUP BY 1, 2")
PG_BY_DAY = ("SELECT (occurred_at AT TIME ZONE 'UTC')::date, location_id, currency, count(*), "
             "sum(units), sum(total_amount) FROM sales WHERE occurred_at >= $1 AND "
             "occurred_at < $2 GROUP BY 1, 2, 3")
PG_BY_SKU = BY_SKU.replace("?", "$1", 1).replace("?", "$2", 1)


def baseline_of(combo: str) -> str:
    return "lines by SKU" if "sku" in combo or "category" in combo else "sales by day"


def _sqlite_seconds(path: str, sql: str) -> float:
    conn = sqlite3.connect(path)
    try:
        started = time.perf_counter()
        conn.execute(sql, (f"{START:%Y-%m-%d %H:%M:%S}.000000",
                           f"{END:%Y-%m-%d %H:%M:%S}.000000")).fetchall()
        return time.perf_counter() - started
    finally:
        conn.close()


async def _postgres_seconds(dsn: str, sql: str) -> float:
    conn = await asyncpg.connect(dsn)
    try:
        started = time.perf_counter()
        await conn.fetch(sql, START, END)
        return time.perf_counter() - started
    finally:
        await conn.close()


async def baselines(backend: str, url: str, rounds: int) -> dict[str, float]:
    """The median time of each bare aggregate, after one run to warm the caches."""
    found: dict[str, float] = {}
    for name, lite, pg in (("sales by day", BY_DAY, PG_BY_DAY), ("lines by SKU", BY_SKU,
                                                                  PG_BY_SKU)):
        times = []
        for _ in range(rounds + 1):
            if backend == "sqlite":
                times.append(await asyncio.to_thread(_sqlite_seconds,
                                                     url.split(":///", 1)[1], lite))
            else:
                times.append(await _postgres_seconds(url.replace("+asyncpg", ""), pg))
        found[name] = statistics.median(times[1:])
    return found


async def report_seconds(client: httpx.AsyncClient, combo: str,
                         rounds: int) -> tuple[float, int]:
    """The median time of the report, and how many rows it answered."""
    params = {"from": START.isoformat(), "to": END.isoformat(), "group_by": combo}
    times, rows = [], 0
    for _ in range(rounds + 1):
        started = time.perf_counter()
        answer = await client.get("/v1/reports/sales", params=params)
        times.append(time.perf_counter() - started)
        answer.raise_for_status()
        rows = len(answer.json()["rows"])
    return statistics.median(times[1:]), rows


async def run_backend(backend: str, args: argparse.Namespace,
                      workdir: Path) -> Iterator[list[str]]:
    data = Dataset(args.sales)
    url, cleanup = await fresh_url(backend, workdir)
    try:
        await migrated(url)
        started = time.perf_counter()
        if backend == "sqlite":
            await asyncio.to_thread(load_sqlite, url.split(":///", 1)[1], data)
        else:
            await load_postgres(url.replace("+asyncpg", ""), data)
        console.print(f"[bold]{backend}[/]: {data.sales:,} sales, {data.lines:,} lines, "
                      f"{data.returns:,} returns loaded in {time.perf_counter() - started:.0f} s")
        if args.fold:
            await fold_all(url)
        bare = await baselines(backend, url, args.rounds)
        rows: list[list[str]] = []
        with served(url, workdir, workers=1) as base_url:
            async with httpx.AsyncClient(base_url=base_url, timeout=600,
                                         headers={"X-API-Key": BENCH_KEY}) as client:
                for combo in COMBOS:
                    seconds, count = await report_seconds(client, combo, args.rounds)
                    base = bare[baseline_of(combo)]
                    rows.append([backend, combo, f"{count:,}", f"{seconds * 1000:,.0f}",
                                 f"{baseline_of(combo)}: {base * 1000:,.0f}",
                                 f"{seconds / base:.1f}x"])
    finally:
        await cleanup()
    return iter(rows)


async def fold_all(url: str) -> None:
    """Fold the loaded sales into the report's rollup, as the server's background job (or
    ``stockline rollup``) does with sales as they come; then refresh the planner's
    statistics, as the loader did."""
    database = open_database(url)
    try:
        started = time.perf_counter()
        folded = await fold_waiting(database.write, batch=100_000, batches=1_000)
        seconds = time.perf_counter() - started
        async with database.write.connect() as conn:
            if database.dialect == "postgresql":
                auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
                await auto.exec_driver_sql("VACUUM ANALYZE")
            else:
                await conn.exec_driver_sql("ANALYZE")
                await conn.commit()
    finally:
        await database.dispose()
    console.print(f"folded {folded:,} sales and returns into the rollup in {seconds:.1f} s "
                  f"(batches of 100,000 each)")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.reports", description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--sales", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-fold", dest="fold", action="store_false",
                        help="Leave the sales unfolded: the report reads them all from the "
                             "sales tables, as before the rollup")
    args = parser.parse_args()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    table = Table(title=f"GET /v1/reports/sales over 365 days of {args.sales:,} sales "
                        f"(median of {args.rounds})")
    for column in ("backend", "group_by", "rows", "ms", "bare SQL, ms", "report / bare"):
        table.add_column(column, justify="right")
    with tempfile.TemporaryDirectory(prefix="stockline-bench-") as tmp:
        for backend in backends:
            for row in asyncio.run(run_backend(backend, args, Path(tmp))):
                table.add_row(*row)
    console.print(table)


if __name__ == "__main__":
    main()
