"""Fresh databases loaded in bulk, a served Stockline, and the figures of one measurement."""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
from rich.progress import Progress

from stockline.adapters.database import open_database
from stockline.adapters.migrate import upgrade
from stockline.adapters.tables import inventory_levels, locations, products

BENCH_KEY = "bench-admin-key-" + "0123456789abcdef" * 2  # production wants 32+ chars
POSTGRES_URL = os.environ.get("STOCKLINE_BENCH_POSTGRES_URL",
                              "postgresql://postgres@127.0.0.1:5432/test")
HOT = ("BENCH-L000", "BENCH-000000")


def location(n: int) -> str:
    return f"BENCH-L{n:03d}"


def sku(n: int) -> str:
    return f"BENCH-{n:06d}"


@dataclass
class Measured:
    count: int
    seconds: float
    p50: float
    p99: float
    errors: int

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    @classmethod
    def of(cls, latencies: list[float], seconds: float, errors: int = 0) -> Measured:
        if not latencies:
            return cls(0, seconds, 0.0, 0.0, errors)
        p99 = (statistics.quantiles(latencies, n=100)[98] if len(latencies) > 1
               else latencies[0])
        return cls(len(latencies), seconds, statistics.median(latencies), p99, errors)


@dataclass
class Result:
    backend: str
    operation: str
    concurrency: int
    api: Measured
    baseline: Measured | None
    target: float | None = None  # the ratio the performance goals ask for
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or not self.baseline.rate:
            return None
        return self.api.rate / self.baseline.rate


@dataclass(frozen=True)
class Dataset:
    locations: int
    skus: int
    stock: int

    @property
    def levels(self) -> int:
        return self.locations * self.skus


async def prepare(backend: str, workdir: Path,
                  data: Dataset) -> tuple[str, Callable[[], Awaitable[None]]]:
    """A fresh, migrated database holding ``data``: every SKU at every location."""
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
    try:
        await upgrade(database.write)
        await _load(database.write, data)
    finally:
        await database.dispose()
    return url, cleanup


async def migrated(url: str) -> str:
    """``url``, its database brought to the newest schema."""
    database = open_database(url)
    try:
        await upgrade(database.write)
    finally:
        await database.dispose()
    return url


async def _load(engine: object, data: Dataset) -> None:
    """Catalogue, locations and levels straight into the tables (setting up is not what is
    measured). No ledger rows are written for the opening stock."""
    from sqlalchemy.ext.asyncio import AsyncEngine
    assert isinstance(engine, AsyncEngine)
    now = datetime.now(UTC)
    chunk = 20_000
    with Progress(transient=True) as progress:
        task = progress.add_task(f"loading {data.levels:,} levels", total=data.levels)
        async with engine.begin() as conn:
            await conn.execute(locations.insert(), [
                {"code": location(n), "type": "retail", "name": f"Bench {n}",
                 "created_at": now} for n in range(data.locations)])
            for start in range(0, data.skus, chunk):
                await conn.execute(products.insert(), [
                    {"sku": sku(n), "name": f"Bench {n}", "category": "bench",
                     "attributes": {}, "price_amount": 100_000, "price_currency": "USD",
                     "version": 1, "created_at": now, "updated_at": now}
                    for n in range(start, min(start + chunk, data.skus))])
        for loc in range(data.locations):
            async with engine.begin() as conn:
                for start in range(0, data.skus, chunk):
                    rows = [{"location_id": location(loc), "sku": sku(n), "on_hand": data.stock,
                             "reserved": 0, "in_transit": 0, "incoming": 0, "lotted": False,
                             "version": 1, "updated_at": now}
                            for n in range(start, min(start + chunk, data.skus))]
                    await conn.execute(inventory_levels.insert(), rows)
                    progress.advance(task, len(rows))
        if engine.dialect.name == "postgresql":
            async with engine.connect() as conn:
                await conn.exec_driver_sql("ANALYZE")


@contextlib.contextmanager
def served(url: str, workdir: Path, *, workers: int,
           extra_env: dict[str, str] | None = None) -> Iterator[str]:
    """``stockline serve`` with production settings, in its own process: its base URL."""
    with serving(url, workdir, workers=workers, extra_env=extra_env) as (base, _):
        yield base


@contextlib.contextmanager
def serving(url: str, workdir: Path, *, workers: int,
            extra_env: dict[str, str] | None = None) -> Iterator[tuple[str, int]]:
    """As ``served``, with the server's process id (one worker: the process serving)."""
    port = _free_port()
    env = {**os.environ, "STOCKLINE_DATABASE_URL": url, "STOCKLINE_ADMIN_KEY": BENCH_KEY,
           "STOCKLINE_LOG_LEVEL": "warning", "STOCKLINE_ENV": "production",
           "STOCKLINE_TOKEN_SECRET": "bench-token-secret-" + "x" * 32,
           "STOCKLINE_IDEMPOTENCY_SECRET": "bench-idempotency-" + "fedcba9876543210" * 2,
           "STOCKLINE_SESSION_SECRET": "bench-session-" + "0123456789abcdef" * 2,
           # the limiter stays in the path, with a budget no run reaches
           "STOCKLINE_RATE_LIMITS": '{"admin": 1000000}', "STOCKLINE_VAR_DIR": str(workdir),
           **(extra_env or {})}
    process = subprocess.Popen([sys.executable, "-m", "stockline.entrypoints.cli", "serve",
                                "--port", str(port), "--workers", str(workers)],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, process)
        yield base, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
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
