"""``python -m bench.positions``: what ``Stockline-Position`` costs the sale path.

On PostgreSQL, one app in this process (group commit on, as served), sales sent through
httpx's ASGI transport by ``--concurrency`` clients for ``--seconds``, in rounds that
take turns: with the position read after each answer (as served), and without it. Each
round's sales a second and the position reads it made are printed; the ratio compares the
medians of the two kinds of round, measured in the same process minutes apart.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
from rich.console import Console

from bench.harness import BENCH_KEY, Dataset, location, prepare, sku
from stockline.adapters.positions import CommitPositions
from stockline.adapters.queries.hot import PostgresHotReads
from stockline.bootstrap import bootstrap
from stockline.config import Settings
from stockline.entrypoints.http.app import create_app

console = Console(width=150)


class Counted:
    """The position read, counted."""

    def __init__(self, read: Callable[[], Awaitable[int]]) -> None:
        self.read, self.calls = read, 0

    async def __call__(self) -> int:
        self.calls += 1
        return await self.read()


async def _round(client: httpx.AsyncClient, seconds: float, concurrency: int,
                 skus: int) -> list[float]:
    """The time each sale sold in the round took to answer."""
    deadline = time.monotonic() + seconds
    took: list[float] = []

    async def clerk(n: int) -> None:
        while time.monotonic() < deadline:
            n += concurrency
            started = time.perf_counter()
            answer = await client.post("/v1/sales/record", json={
                "location_id": location(0), "lines": [{"sku": sku(n % skus), "quantity": 1,
                "unit_price": {"amount": "1.00", "currency": "USD"}}]})
            if answer.status_code == 201:
                took.append(time.perf_counter() - started)

    await asyncio.gather(*(clerk(n) for n in range(concurrency)))
    return took


async def run(args: argparse.Namespace, workdir: Path) -> None:
    url, cleanup = await prepare("postgres", workdir, Dataset(1, args.skus, stock=10**6))
    settings = Settings(database_url=url, admin_key=BENCH_KEY, log_level="warning",
                        var_dir=workdir, rate_limit_enabled=False)
    container = bootstrap(settings)
    await container.start(jobs=False)
    assert isinstance(container.hot, PostgresHotReads)
    counted = Counted(container.hot.wal_position)
    positions = CommitPositions(counted)  # as bootstrap makes it, its reads counted
    rates: dict[bool, list[float]] = {True: [], False: []}
    try:
        app = create_app(settings, container=container)
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://bench",
                headers={"X-API-Key": BENCH_KEY}, timeout=60) as client:
            await _round(client, 1.0, args.concurrency, args.skus)  # warm up
            for n in range(args.rounds * 2):
                with_position = n % 2 == 0
                container.positions = positions if with_position else None
                before = counted.calls
                took = await _round(client, args.seconds, args.concurrency, args.skus)
                rates[with_position].append(len(took) / args.seconds)
                p50 = statistics.median(took) * 1000
                console.print(f"round {n + 1}: position {'on ' if with_position else 'off'} "
                              f"{len(took) / args.seconds:7.0f} sales/s, p50 {p50:.1f} ms, "
                              f"position reads {counted.calls - before} for {len(took)} "
                              "sales")
    finally:
        container.positions = positions
        await container.close()
        await cleanup()
    on, off = statistics.median(rates[True]), statistics.median(rates[False])
    console.print(f"median sales/s: with the position {on:.0f}, without {off:.0f}: "
          f"{on / off:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.positions", description=__doc__)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--skus", type=int, default=2_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="stockline-bench-") as tmp:
        asyncio.run(run(args, Path(tmp)))


if __name__ == "__main__":
    main()
