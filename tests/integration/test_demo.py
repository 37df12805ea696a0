"""``stockline demo``: the data set it plans, and loading it once, twice and after a crash."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy import and_, func, select
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from stockline.adapters.tables import (
    inventory_levels,
    locations,
    outbox,
    products,
    sale_lines,
    sales,
    stock_movements,
)
from stockline.bootstrap import Container, bootstrap
from stockline.config import Settings
from stockline.domain.values import Channel, LocationType
from stockline.entrypoints.cli import app
from stockline.entrypoints.demo import (
    CATALOG,
    DEFAULT_OPEN,
    FULL_SIZE,
    SALE_REF_PREFIX,
    STORE_OPEN,
    WAREHOUSES,
    DemoPlan,
    DemoReport,
    DemoSize,
    build_plan,
    load_demo,
    load_plan,
    stores,
)
from stockline.entrypoints.demo.aftercare import PlannedCheck
from stockline.entrypoints.http.app import create_app
from tests.factories import migrate, run_cli

SMALL = DemoSize(stores_per_region=1, skus=60, days=4, sales_per_store_day=5,
                 replenished_skus=10)
L, M = inventory_levels.c, stock_movements.c


# -- the plan (no database) --------------------------------------------------------------

@pytest.fixture(scope="module")
def full_plan() -> tuple[DemoPlan, datetime]:
    now = datetime(2026, 3, 18, 15, 30, tzinfo=UTC)
    return build_plan(FULL_SIZE, now), now


def test_full_plan_has_the_locations_the_issue_asks_for(
        full_plan: tuple[DemoPlan, datetime]) -> None:
    plan, _ = full_plan
    warehouses = [c for c in plan.locations if c.type is LocationType.WAREHOUSE]
    shops = [c for c in plan.locations if c.type is LocationType.RETAIL]
    assert len(warehouses) >= 4
    for w in warehouses:
        assert w.address and w.capacity and w.operating_hours
        assert w.latitude is not None and w.longitude is not None
    assert len(shops) == 30
    regions = ("Northeast", "Southeast", "Midwest", "Southwest", "West")
    assert Counter(s.region for s in shops) == dict.fromkeys(regions, 6)
    assert len({c.code for c in plan.locations}) == len(plan.locations)


def test_full_plan_has_2000_skus_as_variants_of_named_models(
        full_plan: tuple[DemoPlan, datetime]) -> None:
    plan, _ = full_plan
    assert len(plan.products) == 2000
    assert len({p.sku for p in plan.products}) == 2000
    assert {p.category for p in plan.products} == {
        "footwear", "apparel", "balls", "rackets", "bikes", "fitness"}
    for p in plan.products:
        assert {"size", "color", "sport", "gender", "material", "model"} <= set(p.attributes)
        assert p.price is not None and p.price.currency == "USD"
        assert p.price.amount == p.price.amount.quantize(Decimal("0.01")) > 0
    variants: dict[object, set[tuple[object, object]]] = {}
    for p in plan.products:
        key = (p.attributes["model"], p.attributes["gender"])
        variants.setdefault(key, set()).add((p.attributes["color"], p.attributes["size"]))
    shoes = [k for k, v in variants.items()
             if len({c for c, _ in v}) >= 2 and len({s for _, s in v}) >= 5]
    assert shoes, "a model comes in several colours and sizes"


def test_full_plan_stocks_every_sku_everywhere_stores_with_fewer_units(
        full_plan: tuple[DemoPlan, datetime]) -> None:
    plan, _ = full_plan
    skus = {p.sku for p in plan.products}
    warehouse_codes = {w.code for w in WAREHOUSES}
    assert set(plan.stock) == {c.code for c in plan.locations}
    for by_sku in plan.stock.values():
        assert set(by_sku) == skus
        assert min(by_sku.values()) > 0
    store_units = [q for c, by in plan.stock.items() if c not in warehouse_codes
                   for q in by.values()]
    warehouse_units = [q for c in warehouse_codes for q in plan.stock[c].values()]
    assert max(store_units) <= 15
    assert sum(warehouse_units) / len(warehouse_units) > 10 * (
        sum(store_units) / len(store_units))
    settings = [s for by in plan.settings.values() for s in by.values()]
    assert len(settings) == FULL_SIZE.replenished_skus * len(plan.locations)
    assert all(s.reorder_point is not None and s.reorder_point < plan.stock[s.location_id][s.sku]
               for s in settings)


def test_full_plan_sales_are_backdated_in_shop_hours_and_never_oversell(
        full_plan: tuple[DemoPlan, datetime]) -> None:
    plan, now = full_plan
    sites = {s.code: s for s in stores(FULL_SIZE)}
    refs = [s.external_ref for s in plan.sales]
    assert len(plan.sales) > 2000
    assert len(set(refs)) == len(refs)
    assert all(r is not None and r.startswith(SALE_REF_PREFIX) for r in refs)
    assert {s.location_id for s in plan.sales} == set(sites)
    assert {s.channel for s in plan.sales} == {Channel.POS, Channel.ECOMMERCE}
    assert sum(len(s.lines) > 1 for s in plan.sales) > len(plan.sales) / 4
    times = [s.occurred_at for s in plan.sales]
    assert all(t is not None and t < now for t in times)
    assert times == sorted(times)  # type: ignore[type-var]
    days = set()
    sold: Counter[tuple[str, str]] = Counter()
    for sale in plan.sales:
        assert sale.occurred_at is not None
        local = sale.occurred_at.astimezone(
            timezone(timedelta(hours=sites[sale.location_id].utc_offset)))
        days.add(local.date())
        if sale.channel is Channel.POS:
            opens, closes = STORE_OPEN.get(local.weekday(), DEFAULT_OPEN)
            assert opens <= local.hour * 60 + local.minute < closes, sale
        for line in sale.lines:
            sold[(sale.location_id, line.sku)] += line.quantity
    assert len(days) == FULL_SIZE.days
    assert all(units <= plan.stock[loc][sku] for (loc, sku), units in sold.items())


def test_plan_is_the_same_data_set_each_time(full_plan: tuple[DemoPlan, datetime]) -> None:
    plan, now = full_plan
    assert build_plan(FULL_SIZE, now) == plan
    week_later = build_plan(FULL_SIZE, now + timedelta(days=7))
    assert week_later.products == plan.products and week_later.stock == plan.stock
    shifted = {s.external_ref: replace(s, occurred_at=s.occurred_at + timedelta(days=7))
               for s in plan.sales if s.occurred_at is not None}
    assert {s.external_ref: s for s in week_later.sales} == shifted


def test_every_category_has_room_for_half_as_many_skus_again() -> None:
    skus = FULL_SIZE.skus * 3 // 2
    plan = build_plan(replace(SMALL, skus=skus), datetime(2026, 3, 18, tzinfo=UTC))
    assert len({p.sku for p in plan.products}) == skus
    assert {p.category for p in plan.products} == {c.name for c in CATALOG}


# -- loading (SQLite and PostgreSQL) -----------------------------------------------------

@asynccontextmanager
async def fresh_database(settings: Settings, directory: Path) -> AsyncIterator[str]:
    """An empty, migrated database on the backend of ``settings`` (the session's database is
    shared with other tests, and these count everything)."""
    if settings.is_sqlite:
        url = f"sqlite+aiosqlite:///{directory / f'demo-{uuid.uuid4().hex[:8]}.db'}"
        await migrate(url)
        yield url
        return
    server = make_url(settings.database_url)
    name = f"stockline_demo_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(server.set(drivername="postgresql")
                                  .render_as_string(hide_password=False))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            url = server.set(database=name).render_as_string(hide_password=False)
            await migrate(url)
            yield url
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@asynccontextmanager
async def fresh_container(settings: Settings, directory: Path) -> AsyncIterator[Container]:
    async with fresh_database(settings, directory) as url:
        container = bootstrap(Settings(database_url=url, env="test", log_level="warning"))
        try:
            yield container
        finally:
            await container.close()


@dataclass(frozen=True)
class Loaded:
    container: Container
    plan: DemoPlan
    report: DemoReport
    now: datetime


@pytest.fixture(scope="module")
async def loaded(settings: Settings, tmp_path_factory: pytest.TempPathFactory
                 ) -> AsyncIterator[Loaded]:
    """The small demo data set, loaded once into a database of its own."""
    async with fresh_container(settings, tmp_path_factory.mktemp("demo")) as container:
        now = datetime.now(UTC)
        report = await load_demo(container, size=SMALL, now=now)
        yield Loaded(container, build_plan(SMALL, now), report, now)


async def _counts(container: Container) -> dict[str, int]:
    found = {}
    async with container.database.read.connect() as conn:
        for table in (products, locations, inventory_levels, stock_movements, sales,
                      sale_lines, outbox):
            stmt = select(func.count()).select_from(table)
            found[table.name] = (await conn.execute(stmt)).scalar_one()
        found["on_hand"] = (await conn.execute(select(func.sum(L.on_hand)))).scalar_one()
        stmt = select(func.count()).where(L.reorder_point.is_not(None))
        found["reorder_points"] = (await conn.execute(stmt)).scalar_one()
    return found


def _sold(plan: DemoPlan) -> Counter[tuple[str, str]]:
    sold: Counter[tuple[str, str]] = Counter()
    for sale in plan.sales:
        for line in sale.lines:
            sold[(sale.location_id, line.sku)] += line.quantity
    return sold


def _aftercare(plan: DemoPlan) -> Counter[tuple[str, str]]:
    """What the returns restocked and the counts found (or lost), by level."""
    sold_at = {s.external_ref: s.location_id for s in plan.sales}
    moved: Counter[tuple[str, str]] = Counter()
    for back in plan.returns:
        for ln in back.lines:
            moved[(sold_at[back.sale_ref], ln.sku)] += ln.quantity if back.restock else 0
    for check in _counted(plan):
        assert check.sku is not None
        moved[(check.location_id, check.sku)] += check.difference
    return moved


def _counted(plan: DemoPlan) -> list[PlannedCheck]:
    return [c for c in plan.checks if c.counted_at is not None]


def _expected(plan: DemoPlan) -> dict[str, int]:
    levels = sum(map(len, plan.stock.values()))
    return {
        "products": len(plan.products), "locations": len(plan.locations),
        "inventory_levels": levels,
        # a receipt per level, per sale one entry for each SKU it took, one per restocked
        # return (of one line) and one per count
        "stock_movements": levels + sum(len({ln.sku for ln in s.lines}) for s in plan.sales)
        + sum(r.restock for r in plan.returns) + len(_counted(plan)),
        "sales": len(plan.sales), "sale_lines": sum(len(s.lines) for s in plan.sales),
        "on_hand": sum(q for by in plan.stock.values() for q in by.values())
        - sum(_sold(plan).values()) + sum(_aftercare(plan).values()),
        "reorder_points": sum(map(len, plan.settings.values())),
    }


async def test_first_load_adds_the_whole_data_set(loaded: Loaded) -> None:
    plan, report = loaded.plan, loaded.report
    levels = 9 * SMALL.skus
    assert (report.products.created, report.products.present) == (SMALL.skus, 0)
    assert (report.locations.created, report.locations.present) == (9, 0)
    assert (report.stock.created, report.stock.present) == (levels, 0)
    assert (report.settings.created, report.settings.present) == (9 * SMALL.replenished_skus, 0)
    assert report.sales.created == len(plan.sales) > 20
    assert report.sales.refused == report.sales.present == 0
    counts = await _counts(loaded.container)
    assert {k: counts[k] for k in _expected(plan)} == _expected(plan)


async def test_loaded_sales_keep_their_refs_lines_and_past_times(loaded: Loaded) -> None:
    page = await loaded.container.queries.sales(start=None, end=None, location_id=None, sku=None,
                                                channel=None, limit=500, cursor=None)
    assert page.next_cursor is None
    by_ref = {s.external_ref: s for s in page.items}
    assert len(by_ref) == len(loaded.plan.sales)
    for planned in loaded.plan.sales:
        sale = by_ref[planned.external_ref]
        assert sale.location_id == planned.location_id
        assert sale.occurred_at == planned.occurred_at < loaded.now
        assert sale.channel == planned.channel
        assert [(ln.sku, ln.quantity, ln.unit_price) for ln in sale.lines] == [
            (ln.sku, ln.quantity, ln.unit_price) for ln in planned.lines]
        assert sale.actor == "demo-loader"


async def test_ledger_identity_holds_for_every_demo_level(loaded: Loaded) -> None:
    container = loaded.container
    totals = (select(M.location_id, M.sku, func.sum(M.delta).label("total"))
              .group_by(M.location_id, M.sku).subquery())
    drift = (select(L.location_id, L.sku, L.on_hand, totals.c.total)
             .select_from(inventory_levels.outerjoin(totals, and_(
                 totals.c.location_id == L.location_id, totals.c.sku == L.sku)))
             .where(func.coalesce(totals.c.total, -1) != L.on_hand))
    async with container.database.read.connect() as conn:
        assert (await conn.execute(drift)).all() == []
        changed = (await conn.execute(select(func.count()).where(
            outbox.c.type == "inventory.changed"))).scalar_one()
        recorded = (await conn.execute(select(func.count()).where(
            outbox.c.type == "sale.recorded"))).scalar_one()
    counts = await _counts(container)
    # one event per ledger entry, plus one per reorder setting (delta 0)
    assert changed == counts["stock_movements"] + counts["reorder_points"]
    assert recorded == counts["sales"]
    sold = _sold(loaded.plan)
    sample = random.Random(7).sample(sorted(loaded.plan.settings["DC-EAST"]), 3)
    sample = [("DC-EAST", sku) for sku in sample] + random.Random(7).sample(sorted(sold), 10)
    moved = _aftercare(loaded.plan)
    sample += sorted(moved)[:10]
    for location_id, sku in sample:
        await _assert_running_balance(container, location_id, sku,
                                      loaded.plan.stock[location_id][sku]
                                      - sold[(location_id, sku)] + moved[(location_id, sku)])


async def _assert_running_balance(container: Container, location_id: str, sku: str,
                                  expected: int) -> None:
    level = await container.queries.level(location_id, sku)
    entries = await container.queries.movements(location_id=location_id, sku=sku, type=None,
                                                start=None, end=None, limit=500, cursor=None)
    running = 0
    for entry in entries.items:
        running += entry.delta
        assert entry.balance_after == running, entry
        assert entry.actor == "demo-loader"
    assert level is not None and level.on_hand == running == expected


async def test_second_load_changes_nothing(loaded: Loaded) -> None:
    before = await _counts(loaded.container)
    again = await load_demo(loaded.container, size=SMALL, now=loaded.now)
    assert again.added == 0
    assert again.products.present == SMALL.skus
    assert again.stock.present == 9 * SMALL.skus
    assert again.settings.present == 9 * SMALL.replenished_skus
    assert again.sales.present == len(loaded.plan.sales)
    assert again.returns.present == len(loaded.plan.returns)
    assert again.feedback.present == len(loaded.plan.checks)
    assert again.counts.present == len(_counted(loaded.plan))
    assert await _counts(loaded.container) == before


async def test_a_load_after_an_interrupted_one_adds_only_what_is_missing(
        settings: Settings, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    plan = build_plan(SMALL, now)
    dc = WAREHOUSES[0].code
    half = dict(sorted(plan.stock[dc].items())[:SMALL.skus // 2])
    first_sales = plan.sales[:5]
    async with fresh_container(settings, tmp_path) as container:
        # a first run that stopped part-way: every product and location, half of one
        # warehouse's stock, and (after all the stock) a few of the sales
        await load_plan(container, replace(plan, stock={dc: half}, settings={}, sales=[],
                                           returns=[], checks=[]))
        partial = replace(plan, stock={k: v for k, v in plan.stock.items() if k != dc},
                          settings={k: v for k, v in plan.settings.items() if k != dc},
                          sales=first_sales, returns=[], checks=plan.checks[:3])
        await load_plan(container, partial)
        report = await load_demo(container, size=SMALL, now=now)
        assert report.products.present == SMALL.skus and report.products.created == 0
        assert (report.stock.present, report.stock.created) == (
            8 * SMALL.skus + len(half), SMALL.skus - len(half))
        assert report.settings.present == 8 * SMALL.replenished_skus
        assert (report.sales.present, report.sales.created) == (5, len(plan.sales) - 5)
        assert report.returns.created == len(plan.returns)
        assert (report.feedback.present, report.feedback.created) == (3, len(plan.checks) - 3)
        counts = await _counts(container)
        assert {k: counts[k] for k in _expected(plan)} == _expected(plan)
        for sku, units in plan.stock[dc].items():  # received once, not twice
            level = await container.queries.level(dc, sku)
            assert level is not None and level.on_hand == units


def test_demo_if_empty_skips_a_database_with_products(loaded: Loaded) -> None:
    before = loaded.report.products.created
    url = loaded.container.settings.database_url
    result = CliRunner().invoke(app, ["demo", "--if-empty", "--database-url", url],
                                env={"STOCKLINE_DATABASE_URL": url})
    assert result.exit_code == 0, result.output
    assert "skipped" in result.output
    assert f"{before} products" in result.output



async def test_the_demo_data_reads_back_through_every_list_of_the_api(loaded: Loaded) -> None:
    """The demo is loaded through the use cases, not the API: what it stored must still be
    what the API answers (a location's hours once were not, and listing them was a 500)."""
    key = "demo-read-key-" + "0" * 32
    settings = Settings(database_url=loaded.container.settings.database_url, env="test",
                        log_level="warning", admin_key=key)
    container = bootstrap(settings)
    app = create_app(settings, container=container)
    try:
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://demo",
                headers={"X-API-Key": key}) as client:
            for path in ("/v1/warehouses", "/v1/retail-locations", "/v1/products",
                         "/v1/inventory", "/v1/sales", "/v1/stock-movements",
                         "/v1/replenishment/suggestions"):
                cursor: str | None = None
                for _ in range(3):  # the first pages of each
                    params = {"limit": 500, **({"cursor": cursor} if cursor else {})}
                    answer = await client.get(path, params=params)
                    assert answer.status_code == 200, (path, answer.text[:500])
                    cursor = answer.json().get("next_cursor")
                    if cursor is None:
                        break
            hours = (await client.get("/v1/warehouses")).json()["items"][0]["operating_hours"]
            assert hours["mon"] == "05:00-23:00" and hours["utc_offset"].endswith(":00")
    finally:
        await container.close()


async def test_the_demo_has_returns_reports_and_counts_with_found_and_lost_units(
        loaded: Loaded) -> None:
    plan, report, queries = loaded.plan, loaded.report, loaded.container.queries
    assert report.returns.created == len(plan.returns) > 0
    assert {r.restock for r in plan.returns} == {True, False}
    assert report.feedback.created == len(plan.checks)
    assert report.counts.created == len(_counted(plan)) > 0
    sales_by_ref = await queries.sale_ids(SALE_REF_PREFIX)
    assert {sales_by_ref[r.sale_ref][1] for r in plan.returns} <= {"returned",
                                                                   "partially_returned"}
    start, end = loaded.now - timedelta(days=60), loaded.now
    done = await queries.counted_between(start=start, end=end, location_id=None)
    assert sorted(t.difference or 0 for t in done) == sorted(
        c.difference for c in _counted(plan))
    assert any(t.difference and t.difference > 0 for t in done)
    assert any(t.difference and t.difference < 0 for t in done)
    assert all(t.completed_at is not None and t.opened_at < t.completed_at < loaded.now
               for t in done)
    still_open = await queries.count_tasks(location_id=None, sku=None, status="open",
                                           limit=500, cursor=None)
    assert len(still_open.items) == sum(c.kind == "discrepancy" and c.counted_at is None
                                        for c in plan.checks) > 0
    said = await queries.located_feedback_between(start=start, end=end, location_id=None)
    assert {f.kind for f in said} == {"discrepancy", "sync_delay"}


def test_reconcile_finds_no_drift_after_the_demo(loaded: Loaded) -> None:
    code, out, err = run_cli(loaded.container.settings.database_url, "reconcile")
    assert code == 0, (out, err)
