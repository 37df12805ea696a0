"""Importing 100,000 products from one CSV file over the live HTTP route (SQLite).

    .venv/bin/python -m bench.imports [--rows 100000]

Generates the file (sku, name, category, price and two attributes a row), serves a fresh
database with ``stockline serve`` (production settings, one worker), sends the file to
``POST /v1/imports/products`` and times the answer; then sends it again (every row
unchanged). The baseline, in the same run: the same rows (products and their
``product.changed`` outbox rows) written to a fresh database by one raw executemany each
(sqlite3), in one transaction, with no checks at all.

Then the products come back out: ``GET /v1/products`` with ``Accept: text/csv`` (every
row, page by page), read slowly enough to hold the server back, while the server's
resident memory is sampled: an export streamed in constant memory keeps it near where it
started, however large the file.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from bench.harness import BENCH_KEY, migrated, serving

console = Console()
HEADER = "sku,name,category,price_amount,price_currency,attr.size,attr.color\n"


def generate(rows: int) -> bytes:
    colors = ("black", "white", "red", "blue")
    lines = [HEADER] + [f"IMP-{n:07d},Product {n},cat-{n % 50},{n % 500}.99,USD,"
                        f"{36 + n % 12},{colors[n % 4]}\n" for n in range(rows)]
    return "".join(lines).encode()


def _values(rows: int, now: str) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    colors = ("black", "white", "red", "blue")
    products, events = [], []
    for n in range(rows):
        attributes = {"size": str(36 + n % 12), "color": colors[n % 4]}
        products.append((f"IMP-{n:07d}", f"Product {n}", f"cat-{n % 50}",
                         json.dumps(attributes), (n % 500) * 10_000 + 9_900, "USD", 1, now, now))
        events.append(("product.changed", f"IMP-{n:07d}", json.dumps({
            "created": True, "name": f"Product {n}", "attributes": attributes}), now))
    return products, events


PRODUCTS_SQL = ("INSERT INTO products (sku, name, category, attributes, price_amount, "
                "price_currency, version, created_at, updated_at) VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?)")
OUTBOX_SQL = "INSERT INTO outbox (type, sku, payload, occurred_at) VALUES (?, ?, ?, ?)"


def baseline(path: str, rows: int) -> float:
    """One executemany of the products and one of their outbox rows, one transaction."""
    products, events = _values(rows, datetime.now(UTC).isoformat())
    conn = sqlite3.connect(path)
    started = time.perf_counter()
    with conn:
        conn.executemany(PRODUCTS_SQL, products)
        conn.executemany(OUTBOX_SQL, events)
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


async def send(base: str, data: bytes) -> tuple[float, dict[str, object]]:
    async with httpx.AsyncClient(base_url=base, timeout=600,
                                 headers={"X-API-Key": BENCH_KEY}) as client:
        started = time.perf_counter()
        response = await client.post("/v1/imports/products", content=data,
                                     headers={"Content-Type": "text/csv"})
        elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"import answered {response.status_code}: {response.text[:500]}")
    answer: dict[str, object] = response.json()
    return elapsed, answer


async def run(rows: int, workdir: Path) -> None:
    data = generate(rows)
    console.print(f"sqlite: {rows:,} rows, {len(data) / 1e6:.1f} MB")
    url = await migrated(f"sqlite+aiosqlite:///{workdir / 'imports.db'}")
    await migrated(f"sqlite+aiosqlite:///{workdir / 'baseline.db'}")
    with serving(url, workdir, workers=1) as (base, pid):
        first, made = await send(base, data)
        second, again = await send(base, data)
        exported = await export(base, pid)
    raw = baseline(str(workdir / "baseline.db"), rows)
    assert made["created"] == rows and again["unchanged"] == rows, (made, again)
    table = Table("import", "rows", "seconds", "rows/s", "baseline s", "ratio")
    for name, seconds in (("first (all created)", first), ("again (all unchanged)", second)):
        table.add_row(name, f"{rows:,}", f"{seconds:.1f}", f"{rows / seconds:,.0f}",
                      f"{raw:.2f}", f"{raw / seconds:.2f}")
    console.print(table)
    console.print("ratio = baseline time / import time (1.0: as fast as the raw inserts)")
    rows_out, size, seconds, before, peak = exported
    assert rows_out == rows, rows_out
    console.print(f"export: {rows_out:,} rows, {size / 1e6:.1f} MB in {seconds:.1f} s "
                  f"({rows_out / seconds:,.0f} rows/s); server RSS {before / 1024:.0f} MiB "
                  f"before, {peak / 1024:.0f} MiB at most while streaming")


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def export(base: str, pid: int) -> tuple[int, int, float, int, int]:
    """Rows, bytes and seconds of the whole catalogue as CSV; the server's RSS (KiB)
    before and at its highest while the answer streamed."""
    before = peak = _rss_kib(pid)
    size = newlines = 0
    async with httpx.AsyncClient(base_url=base, timeout=600,
                                 headers={"X-API-Key": BENCH_KEY}) as client:
        started = time.perf_counter()
        async with client.stream("GET", "/v1/products",
                                 headers={"Accept": "text/csv"}) as response:
            async for chunk in response.aiter_bytes(64 * 1024):
                size, newlines = size + len(chunk), newlines + chunk.count(b"\n")
                peak = max(peak, _rss_kib(pid))
                await asyncio.sleep(0.002)  # a reader slower than the server
        elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"export answered {response.status_code}")
    return newlines - 1, size, elapsed, before, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="stockline-bench-imports-") as tmp:
        asyncio.run(run(args.rows, Path(tmp)))


if __name__ == "__main__":
    main()
