"""``python -m bench``: sales through Stockline vs. the same database work done raw.

For each backend: a fresh database with one store and ``--skus`` products in stock, the real
server (``stockline serve``) in its own process, and an asyncio load generator (httpx) in
this process. The baseline does, per sale, one transaction of the guarded level update and
the sale, sale line, ledger and outbox inserts, with the same concurrency for the same time
(asyncpg on PostgreSQL; sqlite3 in threads on SQLite). The ratio is Stockline / baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.baseline import raw_sales
from bench.harness import Result, drive_sales, prepare, served

console = Console()


async def run_backend(backend: str, args: argparse.Namespace, workdir: Path) -> list[Result]:
    url, cleanup = await prepare(backend, workdir, skus=args.skus, stock=10**9)
    try:
        results = []
        with served(url, workdir, workers=args.workers) as base_url:
            for hot in (False, True):
                label = "hot SKU" if hot else "spread"
                api = await drive_sales(base_url, args.concurrency, args.seconds, args.skus,
                                        hot=hot)
                raw = await raw_sales(url, args.concurrency, args.seconds, args.skus, hot=hot)
                results.append(Result(backend, f"sale ({label})", args.concurrency, api, raw))
        return results
    finally:
        await cleanup()


def print_table(results: list[Result]) -> None:
    table = Table(title="Stockline vs raw database work (same run, same concurrency)")
    for col in ("backend", "operation", "clients", "req/s", "p50 ms", "p99 ms", "errors",
                "baseline/s", "ratio"):
        table.add_column(col, justify="right")
    for r in results:
        table.add_row(r.backend, r.operation, str(r.concurrency), f"{r.api.rate:,.0f}",
                      f"{r.api.p50 * 1000:.1f}", f"{r.api.p99 * 1000:.1f}", str(r.api.errors),
                      f"{r.baseline.rate:,.0f}", f"{r.ratio:.2f}x")
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--skus", type=int, default=500)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    console.print(f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}; "
                  f"{args.seconds:g} s per measurement, server workers: {args.workers}")
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="stockline-bench-") as tmp:
        for backend in backends:
            results += asyncio.run(run_backend(backend, args, Path(tmp)))
    print_table(results)


if __name__ == "__main__":
    main()
