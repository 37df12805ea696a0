"""``python -m bench.batch``: 500 level changes as one batch vs as 500 requests, same run.

For each backend: a fresh database (``--skus`` SKUs at one store, loaded in bulk), the
real server (``stockline serve``, production settings, 1 worker) in its own process, and
in each round the same 500 changes (+1 receipts of distinct levels, each with its own
Idempotency-Key) sent three ways: one ``POST /v1/inventory/batch`` (one key), 500
``POST /v1/inventory/update`` one after another on one keep-alive connection (how a sync
job loops), and the same 500 with ``--concurrency`` in flight. Each way's time is the
median of ``--rounds`` rounds; the ratios are the singles' time over the batch's.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from bench.harness import BENCH_KEY, Dataset, location, prepare, served, sku

console = Console(width=150)
ITEMS = 500


def _changes(round_no: int, skus: int) -> list[dict[str, Any]]:
    """500 receipts of distinct levels, another 500 in each round (as far as SKUs go)."""
    return [{"location_id": location(0), "sku": sku((round_no * ITEMS + n) % skus),
             "delta": 1, "reason": "receipt"} for n in range(ITEMS)]


def _key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


async def _batch(client: httpx.AsyncClient, items: list[dict[str, Any]], _: int) -> int:
    response = await client.post("/v1/inventory/batch", json={"items": items}, headers=_key())
    response.raise_for_status()
    return sum(r["status"] == 200 for r in response.json()["results"])


async def _singles(client: httpx.AsyncClient, items: list[dict[str, Any]],
                   concurrency: int) -> int:
    gate = asyncio.Semaphore(concurrency)

    async def one(item: dict[str, Any]) -> bool:
        async with gate:
            response = await client.post("/v1/inventory/update", json=item, headers=_key())
        return response.status_code == 200

    return sum(await asyncio.gather(*(one(item) for item in items)))


Way = Callable[[httpx.AsyncClient, list[dict[str, Any]], int], Awaitable[int]]


async def _timed(way: Way, client: httpx.AsyncClient, items: list[dict[str, Any]],
                 concurrency: int) -> float:
    started = time.perf_counter()
    applied = await way(client, items, concurrency)
    elapsed = time.perf_counter() - started
    if applied != len(items):
        raise RuntimeError(f"{applied} of {len(items)} changes applied")
    return elapsed


async def run_backend(backend: str, args: argparse.Namespace,
                      workdir: Path) -> list[list[str]]:
    url, cleanup = await prepare(backend, workdir, Dataset(1, args.skus, stock=1000))
    ways: list[tuple[str, Way, int]] = [
        ("batch", _batch, 1), ("singles, one at a time", _singles, 1),
        (f"singles, {args.concurrency} at a time", _singles, args.concurrency)]
    seconds: dict[str, list[float]] = {name: [] for name, _, _ in ways}
    try:
        with served(url, workdir, workers=1) as base_url:
            limits = httpx.Limits(max_connections=args.concurrency)
            async with httpx.AsyncClient(base_url=base_url, headers={"X-API-Key": BENCH_KEY},
                                         limits=limits, timeout=120) as client:
                await _timed(_batch, client, _changes(0, args.skus), 1)  # warm up
                for round_no in range(1, args.rounds + 1):
                    items = _changes(round_no, args.skus)  # the same levels for each way
                    for name, way, concurrency in ways:
                        seconds[name].append(await _timed(way, client, items, concurrency))
    finally:
        await cleanup()
    batch = statistics.median(seconds["batch"])
    rows = []
    for name, _, _ in ways:
        median = statistics.median(seconds[name])
        rows.append([backend, name, f"{median * 1000:,.0f}", f"{ITEMS / median:,.0f}",
                     f"{median / batch:.1f}x"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.batch", description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--skus", type=int, default=20_000)
    args = parser.parse_args()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    table = Table(title=f"{ITEMS} level changes: one batch vs {ITEMS} requests "
                        f"(median of {args.rounds} rounds)")
    for column in ("backend", "how", "ms", "changes/s", "time / batch's"):
        table.add_column(column, justify="right")
    with tempfile.TemporaryDirectory(prefix="stockline-bench-") as tmp:
        for backend in backends:
            for row in asyncio.run(run_backend(backend, args, Path(tmp))):
                table.add_row(*row)
    console.print(table)


if __name__ == "__main__":
    main()
