"""``python -m bench.level_partitions``: inventory_levels plain vs partitioned by location
(PostgreSQL), the same operations timed on both in one run.

1. A database migrated to the head is loaded with COPY: ``--locations`` stores (500) x
   ``--levels`` / ``--locations`` SKUs (10 M levels: 500 x 20,000, as ``bench.scale``),
   every level with 10^9 units; one SKU in ten has a reorder point and one in a hundred is
   under it. The last location is left out of every write, and gets one opening ledger row
   per level, so that its reconcile finds no drift.
2. A copy of it (CREATE DATABASE ... TEMPLATE) gets ``inventory_levels`` rebuilt as a table
   partitioned by HASH on ``location_id`` (``--partitions``, 16), rows and all, with the
   plain table's constraints, indexes and defaults read from the catalog, and the foreign
   key that references it (``inventory_lots``) dropped and made again: PostgreSQL 12 and
   later let a foreign key reference a partitioned table whose key holds the partition key.
   Both databases are vacuumed and analysed.
3. On both, with Stockline's own code (no HTTP), turn about (one run on the plain copy, the
   same run on the partitioned one), each the median of ``--runs``: a level read through the
   hot read path and through the queries, a sale and a count through the write service, a
   page of one location's levels, that location's levels below their reorder point, the
   levels of one SKU everywhere, then (fewer runs) the count of levels below their reorder
   point that /metrics reads and the reconcile of one location. Ratios are partitioned /
   plain: below 1 is a gain.

Why HASH: locations are made at run time through the API with codes the user picks, so a
LIST (or RANGE) of location groups needs a new partition, or a default one that grows,
whenever a location is created, and its groups drift out of balance; HASH needs no upkeep
and spreads any set of codes evenly. Every read or write of one level, or of one location,
names its location, so it reads one partition either way.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TypeVar

import asyncpg
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from bench.harness import POSTGRES_URL, location, sku
from bench.scale import create, drop
from stockline.adapters.reconcile import Reconciler
from stockline.adapters.status import operations_status
from stockline.bootstrap import Container, bootstrap
from stockline.config import Settings
from stockline.domain.commands import RecordSale, SaleLineRequest, UpdateInventory
from stockline.domain.reconcile import ReconcileReport
from stockline.domain.values import Money, Reason
from stockline.entrypoints.operations import RECORD_SALE, UPDATE_INVENTORY
from stockline.services.executor import Caller
from stockline.services.writes import Outcome

console = Console(width=150)
CALLER = Caller(principal="bench", actor="bench")
STOCK = 10**9
PRICE = Money(Decimal("10.00"), "USD")
R = TypeVar("R")


@dataclass(frozen=True)
class Shape:
    locations: int
    skus: int

    @property
    def levels(self) -> int:
        return self.locations * self.skus

    @property
    def reconciled(self) -> str:
        """The location no write touches, reconciled at the end."""
        return location(self.locations - 1)

    def key(self, rng: random.Random) -> tuple[str, str]:
        return location(rng.randrange(self.locations - 1)), sku(rng.randrange(self.skus))


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


def _reorder_point(n: int) -> int | None:
    if n % 100 == 0:
        return 2 * STOCK  # under it
    return 5 if n % 10 == 0 else None


async def load(url: str, shape: Shape) -> None:
    """Locations, products, every level (location by location, in key order) and the
    reconciled location's opening ledger rows, with COPY; then VACUUM ANALYZE."""
    conn = await asyncpg.connect(_plain(url))
    now = datetime.now(UTC)
    try:
        await conn.copy_records_to_table("locations", columns=[
            "code", "type", "name", "created_at"], records=[
            (location(n), "retail", f"Bench {n}", now) for n in range(shape.locations)])
        await conn.copy_records_to_table("products", columns=[
            "sku", "name", "category", "attributes", "price_amount", "price_currency",
            "version", "created_at", "updated_at"], records=[
            (sku(n), f"Bench {n}", "bench", "{}", 100_000, "USD", 1, now, now)
            for n in range(shape.skus)])
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task(f"{shape.levels:,} levels", total=shape.levels)
            for loc in range(shape.locations):
                await conn.copy_records_to_table("inventory_levels", columns=[
                    "location_id", "sku", "on_hand", "reserved", "in_transit", "incoming",
                    "lotted", "reorder_point", "version", "updated_at"], records=[
                    (location(loc), sku(n), STOCK, 0, 0, 0, False, _reorder_point(n), 1, now)
                    for n in range(shape.skus)])
                progress.advance(task, shape.skus)
        await conn.copy_records_to_table("stock_movements", columns=[
            "location_id", "sku", "delta", "balance_after", "type", "reason", "actor",
            "occurred_at", "recorded_at"], records=[
            (shape.reconciled, sku(n), STOCK, STOCK, "receipt", "receipt", "bench", now, now)
            for n in range(shape.skus)])
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


_CONSTRAINTS = """SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
    WHERE conrelid = 'inventory_levels'::regclass AND contype IN ('p', 'u', 'f', 'x')
    ORDER BY contype DESC, conname"""
_INDEXES = """SELECT pg_get_indexdef(indexrelid) FROM pg_index
    WHERE indrelid = 'inventory_levels'::regclass AND NOT EXISTS (
        SELECT 1 FROM pg_constraint WHERE conindid = indexrelid) ORDER BY 1"""
_REFERENCES = """SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
    FROM pg_constraint WHERE confrelid = 'inventory_levels'::regclass ORDER BY conname"""
_CHECKS = """SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
    WHERE conrelid = 'inventory_levels'::regclass AND contype = 'c'"""


async def schema_of(url: str) -> list[str]:
    """What the levels table is bound by: its constraints (checks included), its other
    other indexes and the foreign keys that reference it."""
    conn = await asyncpg.connect(_plain(url))
    try:
        found = [f"{name}: {d}" for query in (_CONSTRAINTS, _CHECKS)
                 for name, d in await conn.fetch(query)]
        found += [r[0].replace(" ON ONLY ", " ON ") for r in await conn.fetch(_INDEXES)]
        found += [f"{rel}.{name}: {d}" for rel, name, d in await conn.fetch(_REFERENCES)]
        return sorted(found)
    finally:
        await conn.close()


async def partition(url: str, partitions: int) -> None:
    """Rebuild inventory_levels as ``partitions`` HASH partitions on location_id, in one
    transaction: the same columns, defaults and checks (LIKE), the rows in the order the
    plain table holds them, then its keys, indexes and the references to it."""
    conn = await asyncpg.connect(_plain(url))
    try:
        async with conn.transaction():
            keys = await conn.fetch(_CONSTRAINTS)
            indexes = [r[0] for r in await conn.fetch(_INDEXES)]
            references = await conn.fetch(_REFERENCES)
            for rel, name, _ in references:
                await conn.execute(f'ALTER TABLE {rel} DROP CONSTRAINT "{name}"')
            await conn.execute(
                "CREATE TABLE levels_by_location (LIKE inventory_levels INCLUDING DEFAULTS "
                "INCLUDING CONSTRAINTS) PARTITION BY HASH (location_id)")
            for n in range(partitions):
                await conn.execute(
                    f"CREATE TABLE inventory_levels_p{n:02d} PARTITION OF levels_by_location "
                    f"FOR VALUES WITH (MODULUS {partitions}, REMAINDER {n})")
            await conn.execute("INSERT INTO levels_by_location SELECT * FROM inventory_levels")
            await conn.execute("DROP TABLE inventory_levels")
            await conn.execute("ALTER TABLE levels_by_location RENAME TO inventory_levels")
            for name, definition in keys:
                await conn.execute(f'ALTER TABLE inventory_levels ADD CONSTRAINT "{name}" '
                                   f"{definition}")
            for definition in indexes:
                await conn.execute(definition)
            for rel, name, definition in references:
                await conn.execute(f'ALTER TABLE {rel} ADD CONSTRAINT "{name}" {definition}')
        await conn.execute("VACUUM ANALYZE inventory_levels")
    finally:
        await conn.close()


def _applied(outcome: Outcome[R]) -> R:
    """The write's result; a refused write would time the refusal, not the write."""
    if outcome.error is not None or outcome.result is None:
        raise RuntimeError(f"the write was not applied: {outcome.answer}")
    return outcome.result


Case = tuple[str, int, Callable[[Container, int], Awaitable[object]]]


def cases(shape: Shape, runs: int) -> list[Case]:
    """(name, runs, one run on a container): the n-th run asks the same on both sides."""
    def key(n: int) -> tuple[str, str]:
        return shape.key(random.Random(n))

    async def sale(c: Container, n: int) -> object:
        loc, code = key(n)
        return _applied(await c.writes.execute(RECORD_SALE, RecordSale(
            location_id=loc, lines=(SaleLineRequest(sku=code, quantity=1, unit_price=PRICE),)),
            CALLER))

    async def count(c: Container, n: int) -> object:
        loc, code = key(n + 1_000_000)
        return _applied(await c.writes.execute(UPDATE_INVENTORY, UpdateInventory(
            location_id=loc, sku=code, reason=Reason.COUNT, quantity=STOCK - 1 - n % 997),
            CALLER))

    def page(c: Container, n: int, below: bool | None) -> Awaitable[object]:
        return c.queries.levels(sku=None, location_id=key(n)[0], location_type=None,
                                below_reorder_point=below, limit=50, cursor=None)

    async def reconcile(c: Container, n: int) -> object:
        report = [step async for step in Reconciler(c.database.read).run(
            now=datetime.now(UTC), location_id=shape.reconciled)][-1]
        if not isinstance(report, ReconcileReport) or report.drift:
            raise RuntimeError(f"the reconcile of {shape.reconciled} found drift: {report}")
        return report

    few = max(3, runs // 50)
    return [
        ("read one level (hot path, asyncpg)", runs, lambda c, n: c.hot.level(*key(n))),
        ("read one level (queries)", runs, lambda c, n: c.queries.level(*key(n))),
        ("record a sale (write service)", runs, sale),
        ("count a level (write service)", runs, count),
        ("page of one location's levels (50)", runs, lambda c, n: page(c, n, None)),
        ("one location's levels below reorder point (50)", runs,
         lambda c, n: page(c, n, True)),
        ("levels of one SKU everywhere (500)", runs, lambda c, n: c.queries.levels(
            sku=key(n)[1], location_id=None, location_type=None, below_reorder_point=None,
            limit=500, cursor=None)),
        ("/metrics: count below reorder point (all levels)", few,
         lambda c, n: operations_status(c.database.read)),
        (f"reconcile one location ({shape.skus:,} levels)", few, reconcile),
    ]


async def measure(containers: tuple[Container, Container], shape: Shape, runs: int
                  ) -> list[tuple[str, float, float]]:
    """(operation, plain seconds, partitioned seconds): medians, run in turns (plain, then
    partitioned, with the same arguments) so that both see the same load."""
    found = []
    for name, count, run in cases(shape, runs):
        times: tuple[list[float], list[float]] = ([], [])
        for n in range(count + 3):  # the first three warm the caches and are not counted
            for side, container in enumerate(containers):
                started = time.perf_counter()
                await run(container, n)
                if n >= 3:
                    times[side].append(time.perf_counter() - started)
        found.append((name, statistics.median(times[0]), statistics.median(times[1])))
        console.print(f"  {name}: {found[-1][1] * 1000:.2f} / {found[-1][2] * 1000:.2f} ms")
    return found


def _container(url: str) -> Container:
    return bootstrap(Settings(database_url=url, env="test", log_level="warning",
                              sale_batch_enabled=False))


async def main_async(args: argparse.Namespace) -> None:
    began, load_start = time.perf_counter(), os.getloadavg()
    console.print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average at start: "
                  f"{load_start[0]:.2f} {load_start[1]:.2f} {load_start[2]:.2f}")
    shape = Shape(args.locations, max(1, args.levels // args.locations))
    names = [f"stockline_levelparts_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    steps: dict[str, float] = {}
    try:
        plain = await create(names[0])
        started = time.perf_counter()
        await load(plain, shape)
        steps["load"] = time.perf_counter() - started
        console.print(f"loaded {shape.levels:,} levels in {steps['load']:.0f} s")
        admin = await asyncpg.connect(POSTGRES_URL)
        await admin.execute(f'CREATE DATABASE "{names[1]}" TEMPLATE "{names[0]}"')
        await admin.close()
        parted = plain.rsplit("/", 1)[0] + f"/{names[1]}"
        started = time.perf_counter()
        await partition(parted, args.partitions)
        steps["partition"] = time.perf_counter() - started
        console.print(f"partitioned in {steps['partition']:.0f} s")
        same = await schema_of(plain) == await schema_of(parted)
        console.print(f"same constraints, indexes and references: {same}")
        containers = (_container(plain), _container(parted))
        try:
            results = await measure(containers, shape, args.runs)
        finally:
            for container in containers:
                await container.close()
    finally:
        for name in names:
            await drop(name)
    table = Table(title=f"{shape.levels:,} levels ({shape.locations} x {shape.skus:,}): plain "
                        f"vs {args.partitions} HASH partitions on location_id (median of "
                        f"{args.runs}; the last two: of {max(3, args.runs // 50)})")
    for column in ("operation", "plain ms", "partitioned ms", "ratio"):
        table.add_column(column)
    for op, plain_s, parted_s in results:
        table.add_row(op, f"{plain_s * 1000:.2f}", f"{parted_s * 1000:.2f}",
                      f"{parted_s / plain_s:.2f}x")
    console.print(table)
    load_end = os.getloadavg()
    console.print(f"load {steps['load']:.0f} s, partitioning {steps['partition']:.0f} s, "
                  f"whole run {time.perf_counter() - began:.0f} s; load average at end: "
                  f"{load_end[0]:.2f} {load_end[1]:.2f} {load_end[2]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.level_partitions",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", type=int, default=10_000_000,
                        help="levels to load (100000 for a quick check)")
    parser.add_argument("--locations", type=int, default=500)
    parser.add_argument("--partitions", type=int, default=16)
    parser.add_argument("--runs", type=int, default=300)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
