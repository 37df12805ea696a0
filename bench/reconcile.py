"""``python -m bench.reconcile``: GET /v1/admin/reconcile and ``stockline reconcile`` on
1,000,000 levels (PostgreSQL).

1. A fresh database: ``--locations`` x ``--skus`` levels (default 1,000 x 1,000), each with
   one opening ledger row (delta = balance_after = on_hand), loaded with COPY, so that
   every level reconciles.
2. With the real server (``stockline serve``, 1 worker): ``GET /v1/admin/reconcile``
   (JSON) and the NDJSON variant, timed; then ``stockline reconcile`` as a process, timed
   with its exit code. Each must find no drift (target: each under 60 s).
3. Three levels are broken by hand in SQL (on_hand without ledger, a lotless level marked
   lotted without its lots, an incoming without an order) and the GET is run again: it
   must report exactly their four drifts (on_hand breaks the ledger sum and the balance).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
from rich.console import Console
from rich.progress import Progress

from bench.harness import BENCH_KEY, served
from bench.scale import create, drop

console = Console(width=150)
TARGET_SECONDS = 60.0


def location(n: int) -> str:
    return f"RECON-L{n:05d}"


def sku(n: int) -> str:
    return f"RECON-{n:06d}"


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def load(url: str, locations: int, skus: int, stock: int = 100) -> None:
    """Locations, products, every level and its opening ledger row, with COPY."""
    conn = await asyncpg.connect(_plain(url))
    now = datetime.now(UTC)
    try:
        await conn.copy_records_to_table("locations", columns=[
            "code", "type", "name", "created_at"], records=[
            (location(n), "warehouse", f"Bench {n}", now) for n in range(locations)])
        await conn.copy_records_to_table("products", columns=[
            "sku", "name", "category", "attributes", "price_amount", "price_currency",
            "version", "created_at", "updated_at"], records=[
            (sku(n), f"Bench {n}", "bench", "{}", 100_000, "USD", 1, now, now)
            for n in range(skus)])
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task(f"{locations * skus:,} levels and ledger rows",
                                     total=locations * skus)
            for loc in range(locations):
                code = location(loc)
                await conn.copy_records_to_table("inventory_levels", columns=[
                    "location_id", "sku", "on_hand", "reserved", "in_transit", "incoming",
                    "lotted", "version", "updated_at"], records=[
                    (code, sku(n), stock, 0, 0, 0, False, 1, now) for n in range(skus)])
                await conn.copy_records_to_table("stock_movements", columns=[
                    "location_id", "sku", "delta", "balance_after", "type", "reason",
                    "actor", "occurred_at", "recorded_at"], records=[
                    (code, sku(n), stock, stock, "receipt", "opening", "bench", now, now)
                    for n in range(skus)])
                progress.advance(task, skus)
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


async def break_three(url: str) -> None:
    conn = await asyncpg.connect(_plain(url))
    try:
        await conn.execute("UPDATE inventory_levels SET on_hand = on_hand + 1 "
                           "WHERE location_id = $1 AND sku = $2", location(1), sku(1))
        await conn.execute("UPDATE inventory_levels SET lotted = true "
                           "WHERE location_id = $1 AND sku = $2", location(2), sku(2))
        await conn.execute("UPDATE inventory_levels SET incoming = 5 "
                           "WHERE location_id = $1 AND sku = $2", location(3), sku(3))
    finally:
        await conn.close()


def get(base_url: str, ndjson: bool = False) -> tuple[float, dict[str, Any], int]:
    """Seconds, the report, and the progress lines streamed before it."""
    headers = {"X-API-Key": BENCH_KEY}
    if ndjson:
        headers["Accept"] = "application/x-ndjson"
    started = time.perf_counter()
    with httpx.stream("GET", f"{base_url}/v1/admin/reconcile", headers=headers,
                      timeout=600) as answer:
        answer.raise_for_status()
        lines = [orjson.loads(x) for x in answer.iter_lines() if x]
    elapsed = time.perf_counter() - started
    return elapsed, lines[-1], len(lines) - 1


def cli(url: str) -> tuple[float, int, str]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "stockline.entrypoints.cli", "reconcile",
                           "--database-url", url], capture_output=True, text=True,
                          env={**os.environ, "STOCKLINE_DATABASE_URL": url}, check=False)
    last = (done.stderr.strip().splitlines() or [""])[-1]
    return time.perf_counter() - started, done.returncode, last


async def main_async(args: argparse.Namespace) -> None:
    levels = args.locations * args.skus
    name = f"stockline_recon_{uuid.uuid4().hex[:8]}"
    url = await create(name)
    try:
        started = time.perf_counter()
        await load(url, args.locations, args.skus)
        console.print(f"{levels:,} levels and {levels:,} ledger rows loaded in "
                      f"{time.perf_counter() - started:.0f} s")
        with tempfile.TemporaryDirectory(prefix="stockline-recon-") as tmp, \
                served(url, Path(tmp), workers=1) as base_url:
            for label, ndjson in (("GET (JSON)", False), ("GET (NDJSON)", True)):
                seconds, report, progress = await asyncio.to_thread(get, base_url, ndjson)
                verdict = "ok" if seconds < TARGET_SECONDS and report["drift_total"] == 0 \
                    else "MISSED"
                console.print(f"{label:<14} {seconds:6.1f} s  checked {report['checked']:,}"
                              f"  drift {report['drift_total']}  progress lines {progress}"
                              f"  ({verdict})")
            seconds, code, last = await asyncio.to_thread(cli, url)
            console.print(f"{'CLI':<14} {seconds:6.1f} s  exit {code}  ({last})")
            await break_three(url)
            seconds, report, _ = await asyncio.to_thread(get, base_url)
            found = sorted((d["check"], d["location_id"]) for d in report["drift"])
            console.print(f"{'GET, 3 broken':<14} {seconds:6.1f} s  drift "
                          f"{report['drift_total']}: {found}")
    finally:
        await drop(name)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.reconcile", description=__doc__)
    parser.add_argument("--locations", type=int, default=1_000)
    parser.add_argument("--skus", type=int, default=1_000)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
