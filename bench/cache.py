"""``python -m bench.cache``: level and product reads with the read cache, against the same
reads without it, in one run.

For each backend: a fresh database (``--locations`` x ``--skus`` levels, the products),
then the real server (``stockline serve``, production settings) started twice on it, once
with the cache (``STOCKLINE_CACHE_TTL_SECONDS``, ``--ttl``) and once without (``0``), in
the order of each round (``--rounds``: the next round starts with the other). Against
each, wrk reads random levels (``GET /v1/inventory/{location}/{sku}``) and random
products (``GET /v1/products/{sku}``) for ``--seconds`` after a second of warm-up, and
the table prints both rates and their ratio; the cached server's /metrics gives the hit
ratio (reads answered by the cache / all reads) and the mean age of the values it served.
Nothing is written meanwhile, so the cache holds every key read within the TTL: the
figures bound what the cache saves on reads, not its cost under writes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from bench.harness import BENCH_KEY, Dataset, Measured, prepare, served
from bench.loadgen import run_wrk, wrk_available
from stockline.bootstrap import bootstrap
from stockline.config import Settings
from stockline.entrypoints.http.metrics import Metrics

console = Console(width=150)
READS = {"level": "read one level", "product": "read one product"}


async def run_backend(backend: str, args: argparse.Namespace, workdir: Path
                      ) -> list[list[str]]:
    data = Dataset(args.locations, args.skus, stock=10**9)
    console.print(f"[bold]{backend}[/]: {data.levels:,} levels ({data.locations} x "
                  f"{data.skus:,}), {data.skus:,} products")
    url, cleanup = await prepare(backend, workdir, data)
    runs: dict[tuple[str, str], list[Measured]] = {}
    served_from: list[str] = []
    try:
        for round_no in range(args.rounds):
            order = [("cache", args.ttl), ("no cache", "0")]
            for label, ttl in order[::-1] if round_no % 2 else order:
                env = {"STOCKLINE_CACHE_TTL_SECONDS": ttl}
                with served(url, workdir, workers=args.workers, extra_env=env) as base:
                    for script in READS:
                        await asyncio.to_thread(run_wrk, base, script, data=data, seconds=1,
                                                concurrency=args.concurrency)
                        got = await asyncio.to_thread(run_wrk, base, script, data=data,
                                                      seconds=args.seconds,
                                                      concurrency=args.concurrency)
                        runs.setdefault((label, script), []).append(got)
                        console.print(f"  round {round_no + 1}, {label}, {READS[script]}: "
                                      f"{got.rate:,.0f}/s")
                    if ttl != "0":
                        served_from.append(cache_figures(base))
    finally:
        await cleanup()
    return [row(backend, script, runs[("cache", script)], runs[("no cache", script)],
                "; ".join(served_from)) for script in READS]


def row(backend: str, script: str, cached: list[Measured], plain: list[Measured],
        note: str) -> list[str]:
    rate = sum(m.rate for m in cached) / len(cached)
    base = sum(m.rate for m in plain) / len(plain)
    return [backend, READS[script], " / ".join(f"{m.rate:,.0f}" for m in cached),
            " / ".join(f"{m.p50 * 1000:.1f}" for m in cached),
            " / ".join(f"{m.rate:,.0f}" for m in plain),
            " / ".join(f"{m.p50 * 1000:.1f}" for m in plain),
            str(sum(m.errors for m in cached + plain)),
            f"{rate / base:.2f}x" if base else "-", note if script == "level" else ""]


def cache_figures(base_url: str) -> str:
    """The hit ratio and the mean age served, from the server's /metrics (every worker)."""
    text = httpx.get(f"{base_url}/metrics", headers={"X-API-Key": BENCH_KEY}, timeout=30).text
    reads: dict[str, float] = {}
    age_sum = age_count = 0.0
    for line in text.splitlines():
        if line.startswith("stockline_cache_reads_total{"):
            source = line.split('source="', 1)[1].split('"', 1)[0]
            reads[source] = reads.get(source, 0.0) + float(line.rsplit(" ", 1)[1])
        elif line.startswith("stockline_cache_served_age_seconds_sum{"):
            age_sum += float(line.rsplit(" ", 1)[1])
        elif line.startswith("stockline_cache_served_age_seconds_count{"):
            age_count += float(line.rsplit(" ", 1)[1])
    total = sum(reads.values())
    hits = reads.get("local", 0.0) + reads.get("redis", 0.0)
    if not total:
        return "no cache reads counted"
    mean_age = f", mean age served {age_sum / age_count * 1000:.0f} ms" if age_count else ""
    return f"hit ratio {hits / total:.1%} of {total:,.0f}{mean_age}"


async def in_process(backend: str, workdir: Path, calls: int = 20_000) -> list[str]:
    """The cost of one level read in this process, one call after another: the
    driver-level read the lean route made before the cache (``adapters/queries/hot.py``),
    then the cache's hit, with its metrics and without them."""
    url, cleanup = await prepare(backend, workdir, Dataset(1, 10, stock=10))
    container = bootstrap(Settings(database_url=url, admin_key="bench-" + "k" * 40,
                                   var_dir=workdir, log_level="warning"))
    await container.start(jobs=False)
    try:
        Metrics().business.watch(container)
        await asyncio.sleep(0.3)  # the hub catches up with the log: the cache is trusted
        reads = {"driver-level read": container.hot.level,
                 "cache hit, with metrics": container.cached.level}
        found = [backend]
        for label, read in reads.items():
            found.append(f"{label}: {await _per_call(read, calls):.1f} us")
        container.cached.on_read = lambda kind, source, age: None
        found.append(f"cache hit, no metrics: "
                     f"{await _per_call(container.cached.level, calls):.1f} us")
        return found
    finally:
        await container.close()
        await cleanup()


async def _per_call(read: Callable[[str, str], Awaitable[object]], calls: int) -> float:
    await read("BENCH-L000", "BENCH-000001")
    started = time.perf_counter()
    for _ in range(calls):
        await read("BENCH-L000", "BENCH-000001")
    return (time.perf_counter() - started) / calls * 1e6


def print_table(rows: list[list[str]]) -> None:
    table = Table(title="Reads with the read cache vs the same reads without it (same run)")
    for col in ("backend", "operation", "cache req/s", "p50 ms", "no cache req/s", "p50 ms",
                "errors", "ratio", "cache"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(*r)
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.cache", description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--locations", type=int, default=5)
    parser.add_argument("--skus", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--ttl", default="2", help="STOCKLINE_CACHE_TTL_SECONDS when cached")
    parser.add_argument("--in-process", action="store_true",
                        help="time one level read in this process instead (no server, no "
                             "HTTP): the driver-level read against the cache's hit")
    args = parser.parse_args()
    if not wrk_available() and not args.in_process:
        sys.exit("bench: wrk is not installed (Debian: apt-get install wrk)")
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    console.print(f"machine: {platform.machine()}, {os.cpu_count()} cores, load average "
                  f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}; python "
                  f"{sys.version.split()[0]}; wrk, {args.concurrency} connections, "
                  f"{args.seconds:g} s per figure; server workers: {args.workers}")
    rows: list[list[str]] = []
    with tempfile.TemporaryDirectory(prefix="stockline-bench-") as tmp:
        if args.in_process:
            for backend in backends:
                console.print("; ".join(asyncio.run(in_process(backend, Path(tmp)))))
            return
        for backend in backends:
            rows += asyncio.run(run_backend(backend, args, Path(tmp)))
    print_table(rows)
    console.print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
