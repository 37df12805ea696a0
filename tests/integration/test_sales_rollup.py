"""The sales report from its rollup answers as from the sales tables, on both backends.

Random sales and returns (stores in zones of whole, half and quarter hours, with and
without daylight saving time; several channels, currencies and SKUs of two categories)
are written straight into the tables, then reported over random windows by random
groups, with and without a scope: the report (rollup, edges and sales not folded yet)
must equal the sales tables' own answer (``rollup=False``) with nothing folded, with
part of the sales folded, after a store's time zone or a product's category changed
under folded sales, and after everything is folded again. Each test has a database of
its own (``url``).
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from stockline.adapters.database import Database, open_database
from stockline.adapters.migrate import upgrade
from stockline.adapters.queries import Queries
from stockline.adapters.rollup import fold, fold_waiting
from stockline.adapters.tables import (
    locations,
    products,
    rollup_days,
    sale_lines,
    sale_return_lines,
    sale_returns,
    sales,
)
from stockline.bootstrap import bootstrap
from stockline.config import Settings
from stockline.domain.values import SalesGroup
from tests.factories import random_code, run_cli
from tests.integration.test_migrations import empty_url  # noqa: F401  (a fixture)

T = TypeVar("T")
BASE = datetime(2031, 2, 20, tzinfo=UTC)  # the window spans March's and April's clock changes
SPAN_MINUTES = 100 * 24 * 60
# Offsets of whole, half and three-quarter hours, changes at 02:00 and at midnight: Beirut
# sets its clock forward from midnight (its day begins at 01:00) in March, Santiago back
# from midnight to 23:00 in April.
ZONES = (None, "Europe/Paris", "America/New_York", "Asia/Kolkata", "Asia/Kathmandu",
         "Australia/Lord_Howe", "Pacific/Chatham", "America/Santiago", "Asia/Beirut")
COMBOS = ("day,location", "week", "month,region", "channel", "location", "sku",
          "month,category", "category", "day,category", "month,sku", "week,channel",
          "sku,category", "month", "day,week,month", "region,sku", "day,sku")


@dataclass(frozen=True)
class Sold:
    store: int
    minute: int
    channel: str
    currency: str
    lines: tuple[tuple[int, int, int], ...]  # sku, quantity, unit price


@dataclass(frozen=True)
class Returned:
    sale: int
    delay_minutes: int
    elsewhere: bool
    priced: bool


@dataclass(frozen=True)
class Case:
    zones: tuple[str | None, ...]
    categories: tuple[int, ...]
    sold: tuple[Sold, ...]
    returned: tuple[Returned, ...]
    first_fold: int
    change: tuple[str, int, int]  # zone of a store, or category of a SKU, or nothing
    windows: tuple[tuple[int, int], ...]
    combos: tuple[str, ...]
    scope: str


def _minute() -> st.SearchStrategy[int]:
    # Whole UTC days and hours as often as any minute: edges on and off the rollup's days.
    return st.one_of(st.integers(0, SPAN_MINUTES), st.integers(0, 100).map(lambda d: d * 1440),
                     st.integers(0, 2400).map(lambda h: h * 60))


def _sold() -> st.SearchStrategy[Sold]:
    line = st.tuples(st.integers(0, 3), st.integers(1, 3), st.sampled_from((10_000, 25_500)))
    return st.builds(Sold, store=st.integers(0, 2), minute=_minute(),
                     channel=st.sampled_from(("pos", "ecommerce")),
                     currency=st.sampled_from(("USD", "USD", "EUR")),
                     lines=st.lists(line, min_size=1, max_size=3).map(tuple))


def cases() -> st.SearchStrategy[Case]:
    return st.builds(
        Case, zones=st.tuples(*(st.sampled_from(ZONES) for _ in range(3))),
        categories=st.tuples(*(st.integers(0, 1) for _ in range(4))),
        sold=st.lists(_sold(), min_size=1, max_size=25).map(tuple),
        returned=st.lists(st.builds(Returned, sale=st.integers(0, 24),
                                    delay_minutes=st.integers(0, 20 * 1440),
                                    elsewhere=st.booleans(), priced=st.booleans()),
                          max_size=6).map(tuple),
        first_fold=st.integers(0, 25),
        change=st.tuples(st.sampled_from(("none", "zone", "category")), st.integers(0, 3),
                         st.integers(0, len(ZONES) - 1)),
        windows=st.lists(st.tuples(_minute(), _minute()), min_size=1, max_size=2).map(tuple),
        combos=st.lists(st.sampled_from(COMBOS), min_size=2, max_size=3).map(tuple),
        scope=st.sampled_from(("all", "all", "within", "location")))


@dataclass
class Shop:
    """One example's stores and SKUs (random codes) in the test's database."""

    stores: list[str]
    skus: list[str]
    categories: list[str]


async def _write(engine: AsyncEngine, case: Case) -> Shop:
    now = datetime.now(UTC)
    shop = Shop([random_code("ST") for _ in range(3)], [random_code("SKU") for _ in range(4)],
                [random_code("cat") for _ in range(2)])
    async with engine.begin() as conn:
        await conn.execute(locations.insert(), [
            {"code": code, "type": "retail", "name": code, "region": f"r{n % 2}",
             "time_zone": zone, "created_at": now}
            for n, (code, zone) in enumerate(zip(shop.stores, case.zones, strict=True))])
        await conn.execute(products.insert(), [
            {"sku": sku, "name": sku, "category": shop.categories[c], "attributes": {},
             "version": 1, "created_at": now, "updated_at": now}
            for sku, c in zip(shop.skus, case.categories, strict=True)])
        ids = [random_code("SALE") for _ in case.sold]
        for sale_id, sale in zip(ids, case.sold, strict=True):
            at = BASE + timedelta(minutes=sale.minute)
            await conn.execute(sales.insert().values(
                id=sale_id, location_id=shop.stores[sale.store], status="completed",
                channel=sale.channel, payment_status="paid", fulfillment_status="delivered",
                currency=sale.currency, units=sum(q for _, q, _ in sale.lines),
                total_amount=sum(q * p for _, q, p in sale.lines), actor="t",
                occurred_at=at, created_at=at))
            await conn.execute(sale_lines.insert(), [
                {"sale_id": sale_id, "line_no": n, "sku": shop.skus[sku], "quantity": q,
                 "unit_price_amount": price}
                for n, (sku, q, price) in enumerate(sale.lines, start=1)])
        for back in case.returned:
            sale = case.sold[back.sale % len(case.sold)]
            sku, quantity, price = sale.lines[0]
            return_id = random_code("RET")
            store = (sale.store + back.elsewhere) % 3
            await conn.execute(sale_returns.insert().values(
                id=return_id, sale_id=ids[back.sale % len(case.sold)],
                location_id=shop.stores[store], restock=True, reason="other", actor="t",
                created_at=BASE + timedelta(minutes=sale.minute + back.delay_minutes)))
            await conn.execute(sale_return_lines.insert().values(
                return_id=return_id, line_no=1, sku=shop.skus[sku], quantity=1,
                amount=price if back.priced else None))
    return shop


async def _same_answers(queries: Queries, shop: Shop, case: Case, stage: str) -> None:
    scopes: dict[str, dict[str, Any]] = {
        "all": {"location_id": None},
        "within": {"location_id": None, "within": frozenset(shop.stores[:2])},
        "location": {"location_id": shop.stores[0]}}
    for a, b in case.windows:
        start, end = BASE + timedelta(minutes=min(a, b)), BASE + timedelta(minutes=max(a, b))
        if start == end:
            end += timedelta(hours=1)
        for combo in case.combos:
            groups = [SalesGroup(g) for g in combo.split(",")]
            asked = {"start": start, "end": end, "groups": groups, **scopes[case.scope]}
            rolled = await queries.sales_report(**asked)
            plain = await queries.sales_report(**asked, rollup=False)
            assert rolled == plain, (stage, combo, start, end, case.scope)


async def _change(engine: AsyncEngine, shop: Shop, case: Case) -> None:
    what, which, zone = case.change
    async with engine.begin() as conn:
        if what == "zone":
            await conn.execute(update(locations).where(locations.c.code == shop.stores[which % 3])
                               .values(time_zone=ZONES[zone]))
        elif what == "category":
            await conn.execute(update(products).where(products.c.sku == shop.skus[which])
                               .values(category=random_code("cat")))


async def _fold(engine: AsyncEngine, limit: int | None) -> int:
    async with engine.begin() as conn:
        return await conn.run_sync(lambda sync: fold(sync, limit=limit))


async def _example(database: Database, case: Case) -> None:
    queries = Queries(database.read)
    shop = await _write(database.write, case)
    await _same_answers(queries, shop, case, "nothing folded")
    await _fold(database.write, case.first_fold)
    await _same_answers(queries, shop, case, "part folded")
    await _change(database.write, shop, case)
    await _same_answers(queries, shop, case, "zone or category changed")
    await _fold(database.write, None)
    await _same_answers(queries, shop, case, "all folded again")
    async with database.read.connect() as conn:
        left = await conn.scalar(select(func.count()).select_from(sales)
                                 .where(sales.c.rollup_state != 1))
    assert left == 0


def _on_loop(url: str, work: Callable[[Database, asyncio.AbstractEventLoop], None]) -> None:
    loop = asyncio.new_event_loop()
    database = open_database(url)
    try:
        work(database, loop)
    finally:
        loop.run_until_complete(database.dispose())
        loop.close()


# Each example writes, folds and reports a few times (seconds on a loaded machine): a few in
# the suite, many in `make soak`.
EXAMPLES = 100 if os.environ.get("STOCKLINE_SOAK", "") not in ("", "0") else 5


def test_the_rollup_answers_as_the_sales_tables(url: str) -> None:
    def work(database: Database, loop: asyncio.AbstractEventLoop) -> None:
        @hsettings(max_examples=EXAMPLES, deadline=None, database=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
        @given(case=cases())
        def check(case: Case) -> None:
            loop.run_until_complete(_example(database, case))
        check()
    _on_loop(url, work)


def _run(loop: asyncio.AbstractEventLoop, coro: Awaitable[T]) -> T:
    return loop.run_until_complete(coro)


def test_the_report_reads_the_rollup_once_folded(url: str) -> None:
    """The rollup is what answers: a sum planted in it shows in the report, and only
    where the report reads it (not in a report the rollup cannot answer)."""
    case = Case(zones=("Europe/Paris", None, "Asia/Kolkata"), categories=(0, 1, 0, 1),
                sold=tuple(Sold(store=n % 3, minute=n * 997, channel="pos",
                                currency="USD", lines=((n % 4, 1, 10_000),))
                           for n in range(40)),
                returned=(), first_fold=0, change=("none", 0, 0), windows=(),
                combos=(), scope="all")

    def work(database: Database, loop: asyncio.AbstractEventLoop) -> None:
        shop = _run(loop, _write(database.write, case))
        assert _run(loop, _fold(database.write, None)) == 40
        queries = Queries(database.read)
        asked: dict[str, Any] = {"start": BASE, "end": BASE + timedelta(days=40),
                                 "groups": [SalesGroup.LOCATION], "location_id": None}
        before = _run(loop, queries.sales_report(**asked))
        _run(loop, _plant(database.write, shop.stores[1]))
        after = _run(loop, queries.sales_report(**asked))
        assert [t.units for t in after] != [t.units for t in before]
        assert _run(loop, queries.sales_report(**asked, rollup=False)) == before
    _on_loop(url, work)


async def _plant(engine: AsyncEngine, store: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(update(rollup_days).where(rollup_days.c.location_id == store)
                           .values(units=rollup_days.c.units + 1000))


def test_sales_committing_during_folds_are_counted_once(url: str, backend: str) -> None:
    """Writers commit sales (on PostgreSQL out of the order they began in) while folds
    run back to back and reports are read: each report counts at least the sales
    committed before it began and at most those committed by its end, and once all is
    folded the rollup holds every sale exactly once."""
    writers, each = 4, 30

    def work(database: Database, loop: asyncio.AbstractEventLoop) -> None:
        _run(loop, _race(database, backend, writers, each))
    _on_loop(url, work)


async def _race(database: Database, backend: str, writers: int, each: int) -> None:
    now = datetime.now(UTC)
    store = random_code("ST")
    async with database.write.begin() as conn:
        await conn.execute(locations.insert().values(code=store, type="retail", name=store,
                                                     time_zone="Europe/Paris",
                                                     created_at=now))
    committing = committed = 0  # sales whose commit began; that ended
    done = asyncio.Event()

    async def write(n: int) -> None:
        nonlocal committing, committed
        rng = random.Random(n)
        for i in range(each):
            sale_id = f"S-{n}-{i}-{store}"
            at = BASE + timedelta(minutes=rng.randrange(SPAN_MINUTES))
            async with database.write.begin() as conn:
                await conn.execute(sales.insert().values(
                    id=sale_id, location_id=store, status="completed", channel="pos",
                    payment_status="paid", fulfillment_status="delivered", currency="USD",
                    units=2, total_amount=20_000, actor="t", occurred_at=at, created_at=at))
                await conn.execute(sale_lines.insert().values(
                    sale_id=sale_id, line_no=1, sku="SKU-R", quantity=2,
                    unit_price_amount=10_000))
                if backend == "postgres":  # commits come out of the order inserts went in
                    await conn.execute(text(f"SELECT pg_sleep({rng.random() / 50})"))
                committing += 1
            committed += 1

    async def folds() -> int:
        folded = 0
        while not done.is_set():
            folded += await fold_waiting(database.write, batch=7, batches=3)
            await asyncio.sleep(0)
        return folded

    async def read() -> int:
        queries = Queries(database.read)
        reads = 0
        while not done.is_set():
            reads += 1
            low = committed
            rows = await queries.sales_report(start=BASE, end=BASE + timedelta(days=100),
                                              groups=[SalesGroup.LOCATION],
                                              location_id=store)
            high = committing
            counted = sum(t.sales for t in rows)
            assert low <= counted <= high
            await asyncio.sleep(0.01)
        return reads

    async def writing() -> None:
        await asyncio.gather(*(write(n) for n in range(writers)))
        done.set()

    _, folded, reads = await asyncio.gather(writing(), folds(), read())
    assert folded > 0 and reads > 0  # folds and reports did run among the commits
    await fold_waiting(database.write, batch=1000, batches=10)
    async with database.read.connect() as conn:
        summed = (await conn.execute(select(func.sum(rollup_days.c.sales),
                                            func.sum(rollup_days.c.units))
                                     .where(rollup_days.c.location_id == store))).one()
    assert tuple(summed) == (writers * each, 2 * writers * each)


def test_stockline_rollup_folds_the_waiting_sales(url: str) -> None:
    case = Case(zones=(None, "America/New_York", None), categories=(0, 0, 1, 1),
                sold=tuple(Sold(store=n % 3, minute=n * 4001, channel="ecommerce",
                                currency="EUR", lines=((n % 4, 2, 10_000),))
                           for n in range(12)),
                returned=(), first_fold=0, change=("none", 0, 0), windows=(),
                combos=(), scope="all")
    asyncio.run(_write_only(url, case))
    code, out, err = run_cli(url, "rollup", "--batch", "5")
    assert code == 0, out + err
    assert "folded 12 sales" in err
    code, out, err = run_cli(url, "rollup")
    assert code == 0 and "folded 0 sales" in err, out + err


async def _write_only(url: str, case: Case) -> None:
    database = open_database(url)
    try:
        await _write(database.write, case)
    finally:
        await database.dispose()


async def test_0017_folds_the_sales_and_returns_recorded_before_it(
        empty_url: str) -> None:  # noqa: F811
    """On a database holding sales and returns (SQLite: migrated with foreign keys off),
    0017 folds them all, and the report answers as the sales tables do."""
    case = Case(zones=("America/New_York", None, "Asia/Kolkata"), categories=(0, 1, 1, 0),
                sold=tuple(Sold(store=n % 3, minute=n * 3331, channel="pos",
                                currency="USD", lines=((n % 4, 1 + n % 2, 10_000),
                                                       ((n + 1) % 4, 1, 25_500)))
                           for n in range(30)),
                returned=tuple(Returned(sale=n * 3, delay_minutes=n * 900, elsewhere=n % 2 == 1,
                                        priced=n % 3 > 0) for n in range(6)),
                first_fold=0, change=("none", 0, 0), windows=((0, SPAN_MINUTES),),
                combos=("day,location", "sku", "month,category"), scope="all")
    database = open_database(empty_url)
    try:
        await upgrade(database.write, "0016")
        # Inserts name their columns: none of them is one 0017 adds.
        shop = await _write(database.write, case)
        await upgrade(database.write)
        async with database.read.connect() as conn:
            left = await conn.scalar(select(func.count()).select_from(sales)
                                     .where(sales.c.rollup_state != 1))
            summed = await conn.scalar(select(func.sum(rollup_days.c.sales)))
        assert (left, summed) == (0, 30)
        await _same_answers(Queries(database.read), shop, case, "migrated")
    finally:
        await database.dispose()


async def test_the_server_folds_waiting_sales_in_the_background(url: str,
                                                               settings: Settings) -> None:
    case = Case(zones=("Europe/Paris", None, None), categories=(0, 1, 0, 1),
                sold=tuple(Sold(store=n % 3, minute=n * 611, channel="pos", currency="USD",
                                lines=((n % 4, 1, 10_000),)) for n in range(9)),
                returned=(Returned(sale=2, delay_minutes=60, elsewhere=True, priced=True),),
                first_fold=0, change=("none", 0, 0), windows=(), combos=(), scope="all")
    container = bootstrap(settings.model_copy(update={"database_url": url,
                                                      "rollup_interval_seconds": 0.05}))
    await container.start(events=False, jobs=True)
    try:
        await _write(container.database.write, case)
        for _ in range(600):
            async with container.database.read.connect() as conn:
                left = [await conn.scalar(select(func.count()).select_from(table)
                                          .where(table.c.rollup_state != 1))
                        for table in (sales, sale_returns)]
            if left == [0, 0]:
                break
            await asyncio.sleep(0.05)
        assert left == [0, 0]
    finally:
        await container.close()
