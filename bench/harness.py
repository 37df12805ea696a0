"""Fresh databases, a served Stockline, and an asyncio load generator."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx

from stockline.adapters.database import open_database
from stockline.adapters.migrate import upgrade
from stockline.bootstrap import bootstrap
from stockline.config import Settings
from stockline.domain.commands import CreateLocation, CreateProduct, ReceiveStock
from stockline.domain.values import LocationType, Money
from stockline.services import catalog, inventory, locations
from stockline.services.executor import Caller

BENCH_KEY = "bench-admin-key-" + "0123456789abcdef" * 2  # production wants 32+ chars
STORE = "BENCH-STORE"
POSTGRES_URL = os.environ.get("STOCKLINE_BENCH_POSTGRES_URL",
                              "postgresql://postgres@127.0.0.1:5432/test")


def sku(n: int) -> str:
    return f"BENCH-{n:06d}"


@dataclass
class Measured:
    count: int
    seconds: float
    latencies: list[float]
    errors: int

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies) if self.latencies else 0.0

    @property
    def p99(self) -> float:
        if len(self.latencies) < 2:
            return self.p50
        return statistics.quantiles(self.latencies, n=100)[98]


@dataclass
class Result:
    backend: str
    operation: str
    concurrency: int
    api: Measured
    baseline: Measured

    @property
    def ratio(self) -> float:
        return self.api.rate / self.baseline.rate if self.baseline.rate else 0.0


async def prepare(backend: str, workdir: Path, *, skus: int,
                  stock: int) -> tuple[str, Callable[[], Awaitable[None]]]:
    """A fresh, migrated database with one store holding ``stock`` of each SKU."""
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{workdir / f'bench-{uuid.uuid4().hex[:6]}.db'}"

        async def nothing() -> None:
            return None
        cleanup = nothing
    else:
        name = f"stockline_bench_{uuid.uuid4().hex[:8]}"
        admin = await asyncpg.connect(POSTGRES_URL)
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.close()
        url = POSTGRES_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
        url = f"{url}/{name}"

        async def drop() -> None:
            conn = await asyncpg.connect(POSTGRES_URL)
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.close()
        cleanup = drop
    database = open_database(url)
    await upgrade(database.write)
    await database.dispose()
    await _load(url, skus, stock)
    return url, cleanup


async def _load(url: str, skus: int, stock: int) -> None:
    container = bootstrap(Settings(database_url=url))
    caller = Caller(principal="bench", actor="bench")
    ex = container.executor
    await ex.run(locations.create_location,
                 CreateLocation(code=STORE, type=LocationType.RETAIL, name="Bench store"), caller)
    price = Money.parse("10.00", "USD")
    await ex.run_batch(catalog.create_product, [
        CreateProduct(sku=sku(n), name=f"Bench {n}", category="bench", attributes={},
                      price=price) for n in range(skus)], caller)
    await ex.run(inventory.receive_stock, ReceiveStock(
        location_id=STORE, quantities={sku(n): stock for n in range(skus)}), caller)
    await container.close()


@contextlib.contextmanager
def served(url: str, workdir: Path, *, workers: int) -> Iterator[str]:
    port = _free_port()
    env = {**os.environ, "STOCKLINE_DATABASE_URL": url, "STOCKLINE_ADMIN_KEY": BENCH_KEY,
           "STOCKLINE_LOG_LEVEL": "warning", "STOCKLINE_ENV": "production",
           "STOCKLINE_TOKEN_SECRET": "bench-token-secret-" + "x" * 32,
           "STOCKLINE_VAR_DIR": str(workdir)}
    process = subprocess.Popen([sys.executable, "-m", "stockline.entrypoints.cli", "serve",
                                "--port", str(port), "--workers", str(workers)],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, process)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)


def _wait_ready(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("server exited during start-up")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError("server did not become ready")


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def drive_sales(base_url: str, concurrency: int, seconds: float, skus: int, *,
                      hot: bool) -> Measured:
    """``concurrency`` clients posting 1-line sales back to back for ``seconds``."""
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30,
                                 headers={"X-API-Key": BENCH_KEY}) as client:
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal errors
            rng = random.Random()
            while time.perf_counter() < deadline:
                n = 0 if hot else rng.randrange(skus)
                body = {"location_id": STORE, "lines": [
                    {"sku": sku(n), "quantity": 1,
                     "unit_price": {"amount": "10.00", "currency": "USD"}}]}
                started = time.perf_counter()
                response = await client.post("/v1/sales/record", json=body)
                if response.status_code == 201:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return Measured(len(latencies), elapsed, latencies, errors)
