"""``python -m bench``: Stockline against the same database work done raw, side by side.

For each backend: a fresh database loaded with every SKU at every location, the real
server (``stockline serve``, production settings) in its own process, and wrk (Debian's
package, Lua scripts in bench/wrk/) driving it from another process. Each Stockline figure
is followed at once by its baseline, measured with the same concurrency for the same time
(asyncpg on PostgreSQL, sqlite3 threads on SQLite), and the table prints the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
from pathlib import Path

import asyncpg
import httpx
from rich.console import Console
from rich.table import Table

from bench.baseline import raw_reads, raw_sales
from bench.harness import BENCH_KEY, HOT, Dataset, Measured, Result, prepare, served
from bench.loadgen import run_wrk, wrk_available

console = Console(width=150)
TARGETS = {"sale (spread)": {"postgres": 1.2, "sqlite": 1.0},
           "sale (hot SKU)": {"postgres": 3.0, "sqlite": 1.0},
           "read one level": {"postgres": 1.0, "sqlite": 1.0}}


async def run_backend(backend: str, args: argparse.Namespace, workdir: Path) -> list[Result]:
    data = Dataset(args.locations, args.skus, stock=10**9)
    console.print(f"[bold]{backend}[/]: loading {data.levels:,} levels "
                  f"({data.locations} locations x {data.skus:,} SKUs)")
    url, cleanup = await prepare(backend, workdir, data)
    results: list[Result] = []
    env = dict(item.split("=", 1) for item in args.env)
    if args.no_batch:
        env["STOCKLINE_SALE_BATCH_ENABLED"] = "false"
    try:
        with served(url, workdir, workers=args.workers, extra_env=env) as base_url:
            c, s = args.concurrency, args.seconds
            for label, hot in (("sale (spread)", False), ("sale (hot SKU)", True)):
                await asyncio.to_thread(run_wrk, base_url, "sale", concurrency=c,
                                        seconds=1, data=data, hot=hot)  # warm up
                api = await asyncio.to_thread(run_wrk, base_url, "sale", concurrency=c,
                                              seconds=s, data=data, hot=hot)
                raw = await raw_sales(url, c, s, data, hot=hot)
                results.append(Result(backend, label, c, api, raw,
                                      TARGETS[label][backend]))
                console.print(f"  {label}: {api.rate:,.0f}/s vs raw {raw.rate:,.0f}/s")
            api = await asyncio.to_thread(run_wrk, base_url, "level", concurrency=c,
                                          seconds=s, data=data)
            raw = await raw_reads(url, c, s, data)
            results.append(Result(backend, "read one level", c, api, raw,
                                  TARGETS["read one level"][backend]))
            console.print(f"  read one level: {api.rate:,.0f}/s vs raw {raw.rate:,.0f}/s")
            results.append(await flash_sale(backend, base_url, url))
    finally:
        await cleanup()
    return results


async def flash_sale(backend: str, base_url: str, url: str, *, stock: int = 50,
                     buyers: int = 200) -> Result:
    """``buyers`` checkouts at once for a level holding ``stock``: exactly ``stock`` sold."""
    await _set_stock(url, stock)
    body = {"location_id": HOT[0], "lines": [{"sku": HOT[1], "quantity": 1, "unit_price": {
        "amount": "10.00", "currency": "USD"}}]}
    limits = httpx.Limits(max_connections=buyers)
    async with httpx.AsyncClient(base_url=base_url, headers={"X-API-Key": BENCH_KEY},
                                 limits=limits, timeout=60) as client:
        loop = asyncio.get_running_loop()
        started = loop.time()
        answers = await asyncio.gather(*(client.post("/v1/sales/record", json=body)
                                         for _ in range(buyers)))
        elapsed = loop.time() - started
        level = (await client.get(f"/v1/inventory/{HOT[0]}/{HOT[1]}")).json()
    sold = sum(a.status_code == 201 for a in answers)
    refused = sum(a.status_code == 409 for a in answers)
    other = buyers - sold - refused
    oversold = sold - stock
    note = (f"{sold} sold of {stock}, {refused} refused (409), {other} other; "
            f"on_hand after: {level['on_hand']}")
    if oversold > 0 or level["on_hand"] != stock - sold or other:
        note = "FAILED: " + note
    return Result(backend, f"flash sale ({buyers} buyers, {stock} units)", buyers,
                  Measured(sold, elapsed, 0.0, 0.0, other), None, note=note)


async def _set_stock(url: str, stock: int) -> None:
    if url.startswith("sqlite"):
        import sqlite3
        conn = sqlite3.connect(url.split("///", 1)[1], timeout=30)
        conn.execute("UPDATE inventory_levels SET on_hand = ?, reserved = 0 "
                     "WHERE location_id = ? AND sku = ?", (stock, *HOT))
        conn.commit()
        conn.close()
        return
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    await conn.execute("UPDATE inventory_levels SET on_hand = $1, reserved = 0 "
                       "WHERE location_id = $2 AND sku = $3", stock, *HOT)
    await conn.close()


def print_table(results: list[Result]) -> None:
    table = Table(title="Stockline vs the same database work done raw (same run)")
    for col in ("backend", "operation", "clients", "req/s", "p50 ms", "p99 ms", "errors",
                "baseline/s", "ratio", "target"):
        table.add_column(col, justify="right")
    for r in results:
        ratio, target = r.ratio, r.target
        verdict = ""
        if ratio is not None and target is not None:
            verdict = "[green]met[/]" if ratio >= target else "[red]not met[/]"
        table.add_row(
            r.backend, r.operation, str(r.concurrency), f"{r.api.rate:,.0f}",
            f"{r.api.p50 * 1000:.1f}", f"{r.api.p99 * 1000:.1f}", str(r.api.errors),
            f"{r.baseline.rate:,.0f}" if r.baseline else "-",
            f"{ratio:.2f}x" if ratio is not None else "-",
            f">= {target:g}x {verdict}" if target is not None else r.note)
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--locations", type=int, default=50)
    parser.add_argument("--skus", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-batch", action="store_true",
                        help="turn group commit off (STOCKLINE_SALE_BATCH_ENABLED=false)")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="a setting for the server, e.g. STOCKLINE_SALE_BATCH_LANES=4 "
                             "(repeat for several)")
    args = parser.parse_args()
    if any("=" not in item for item in args.env):
        parser.error("--env takes NAME=VALUE")
    if not wrk_available():
        sys.exit("bench: wrk is not installed (Debian: apt-get install wrk)")
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    console.print(f"machine: {platform.machine()}, {os.cpu_count()} cores, "
                  f"{platform.system()} {platform.release()}, python "
                  f"{sys.version.split()[0]}; load: wrk, {args.concurrency} connections, "
                  f"{args.seconds:g} s per figure; server workers: {args.workers}; "
                  f"group commit {'off' if args.no_batch else 'on'}")
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="stockline-bench-") as tmp:
        for backend in backends:
            results += asyncio.run(run_backend(backend, args, Path(tmp)))
    print_table(results)


if __name__ == "__main__":
    main()
