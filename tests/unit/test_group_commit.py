"""Group commit without a database: a batch of sales gives exactly what the same sales give
one by one, in arrival order (outcomes, levels, ledger, events, idempotent answers)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stockline.bootstrap import Container
from stockline.domain.commands import RecordSale
from stockline.domain.customers import CustomerDetails
from stockline.domain.lots import Lot
from stockline.domain.model import Level, Location, Product
from stockline.domain.security import Principal, Role
from stockline.domain.values import LocationType
from stockline.services import sales
from stockline.services.batching import GroupCommit
from stockline.services.executor import Caller, IdempotencyClaim
from stockline.services.sales_batch import record_sales
from tests.fakes import FakeUnitOfWorkFactory
from tests.unit.support import CALLER, JsonAnswers, make_container, sale

NOW = datetime(2026, 1, 1, tzinfo=UTC)
PLACES = ("S-1", "S-2")
SKUS = ("A", "B", "C")


def seeded(stock: dict[tuple[str, str], int], lotted: frozenset[str] = frozenset()
           ) -> FakeUnitOfWorkFactory:
    products = [Product(sku=s, name=s, category="c", attributes={}, price=None, version=1,
                        created_at=NOW, updated_at=NOW) for s in (*SKUS, "NO-LEVEL")]
    places = [Location(code=c, type=LocationType.RETAIL, name=c, created_at=NOW)
              for c in PLACES]
    levels = [Level(location_id=loc, sku=s, on_hand=q, version=1, updated_at=NOW,
                    reorder_point=2, lotted=s in lotted)
              for (loc, s), q in stock.items()]
    uows = FakeUnitOfWorkFactory(products=products, locations=places, levels=levels)
    for (loc, s), q in stock.items():  # a lotted level holds all its stock in lots
        if s in lotted and q:
            uows.committed.lots[loc, s, "L1"] = Lot(location_id=loc, sku=s, lot="L1",
                                                    on_hand=q, expires_on=None,
                                                    received_at=NOW)
    return uows


def strip(data: Any) -> Any:
    """An event's data without what differs between two runs (ids, times)."""
    if isinstance(data, dict):
        return {k: strip(v) for k, v in data.items()
                if k not in ("id", "sale_id", "reference", "occurred_at", "created_at",
                             "count_task_id",
                             "updated_at", "recorded_at")}
    if isinstance(data, list):
        return [strip(x) for x in data]
    return data


def picture(uows: FakeUnitOfWorkFactory) -> tuple[Any, ...]:
    store = uows.committed
    levels = sorted((k, v.on_hand, v.reserved, v.version) for k, v in store.levels.items())
    ledger = [(e.location_id, e.sku, e.delta, e.balance_after, e.type) for e in store.ledger]
    events = [(r.type, r.location_id, r.sku, strip(r.data)) for r in store.outbox]
    return levels, ledger, events, len(store.sales)


def outcome(response: Any) -> Any:
    body = orjson.loads(response.body)
    if not response.ok:
        return response.outcome, body.get("code"), body.get("lines")
    return response.outcome, strip(body)


line_st = st.tuples(st.sampled_from((*SKUS, "NO-LEVEL", "GHOST")), st.integers(1, 3))
sale_st = st.tuples(st.sampled_from((*PLACES, "NOWHERE")), st.lists(line_st, min_size=1,
                                                                     max_size=3))
stock_st = st.dictionaries(st.tuples(st.sampled_from(PLACES), st.sampled_from(SKUS)),
                           st.integers(0, 6), min_size=1)


async def _sequential(uows: FakeUnitOfWorkFactory, container: Container,
                      commands: list[RecordSale]) -> list[Any]:
    answers = []
    for cmd in commands:
        answers.append(outcome(await container.executor.respond(
            sales.record_sale, cmd, CALLER, JsonAnswers())))
    return answers


async def _grouped(uows: FakeUnitOfWorkFactory, container: Container,
                   commands: list[RecordSale], *, on_batch: Any = None) -> list[Any]:
    batcher: GroupCommit[RecordSale, Any] = GroupCommit(
        uows, container.executor, record_sales, sales.record_sale, window=0.05,
        max_size=len(commands), lanes=1, on_batch=on_batch)
    try:
        answers = await asyncio.gather(*(batcher.submit(cmd, CALLER, JsonAnswers())
                                         for cmd in commands))
    finally:
        await batcher.close()
    return [outcome(a) for a in answers]


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stock=stock_st, orders=st.lists(sale_st, min_size=1, max_size=12),
       lotted=st.frozensets(st.sampled_from(SKUS), max_size=1))
async def test_a_batch_gives_what_the_same_sales_give_one_by_one(
        tmp_path: Path, stock: dict[tuple[str, str], int],
        orders: list[tuple[str, list[tuple[str, int]]]], lotted: frozenset[str]) -> None:
    commands = [sale(place, *lines) for place, lines in orders]
    one, many = seeded(stock, lotted), seeded(stock, lotted)
    sizes: list[int] = []
    a, b = make_container(one, tmp_path / "a"), make_container(many, tmp_path / "b")
    try:
        alone = await _sequential(one, a, commands)
        grouped = await _grouped(many, b, commands,
                                 on_batch=lambda size, seconds: sizes.append(size))
    finally:
        await a.close()
        await b.close()
    assert grouped == alone
    assert picture(many) == picture(one)
    assert sizes == [len(commands)] and many.commits == 1  # one transaction, one commit


async def test_idempotent_retries_in_and_after_a_batch_are_replayed(tmp_path: Path) -> None:
    stocked = seeded({("S-1", "A"): 5})
    shop_container = make_container(stocked, tmp_path)
    batcher: GroupCommit[RecordSale, Any] = GroupCommit(
        stocked, shop_container.executor, record_sales, sales.record_sale, window=0.05,
        max_size=10, lanes=1)
    cmd = sale("S-1", ("A", 1))
    claim = IdempotencyClaim("k-1", "fp-1")
    try:
        twins = await asyncio.gather(*(batcher.submit(cmd, CALLER, JsonAnswers(), claim)
                                       for _ in range(3)))
        retry = await batcher.submit(cmd, CALLER, JsonAnswers(), claim)
        reused = await batcher.submit(sale("S-1", ("A", 2)), CALLER, JsonAnswers(),
                                      IdempotencyClaim("k-1", "fp-other"))
    finally:
        await batcher.close()
        await shop_container.close()
    bodies = {a.body for a in [*twins, retry]}
    assert len(bodies) == 1 and all(a.ok for a in [*twins, retry])
    assert [a.replayed for a in twins].count(False) == 1 and retry.replayed
    assert reused.outcome == "idempotency_key_reused"
    assert stocked.level("S-1", "A").on_hand == 4  # type: ignore[union-attr]
    assert len(stocked.committed.sales) == 1


async def test_scoped_callers_and_customers_are_handled_per_sale(tmp_path: Path) -> None:
    stocked = seeded({("S-1", "A"): 5, ("S-2", "A"): 5})
    container = make_container(stocked, tmp_path)
    here = Caller(principal="key_s1", actor="s1", access=Principal(
        id="key_s1", name="s1", role=Role.STORE_STAFF, locations=frozenset({"S-1"})))
    batcher: GroupCommit[RecordSale, Any] = GroupCommit(
        stocked, container.executor, record_sales, sales.record_sale, window=0.05,
        max_size=10, lanes=1)
    mine = replace(sale("S-1", ("A", 1)), customer=CustomerDetails(ref="C-1", contact="x"))
    try:
        answers = await asyncio.gather(
            batcher.submit(mine, here, JsonAnswers()),
            batcher.submit(sale("S-2", ("A", 1)), here, JsonAnswers()))
    finally:
        await batcher.close()
        await container.close()
    assert [a.outcome for a in answers] == ["ok", "forbidden"]
    assert stocked.level("S-2", "A").on_hand == 5  # type: ignore[union-attr]
    assert stocked.committed.table("customers")["C-1"].contact == "x"
    assert list(stocked.committed.table("sale_customers").values()) == ["C-1"]


async def test_a_failing_batch_runs_each_sale_alone(tmp_path: Path) -> None:
    """Nothing of a batch that fails to commit stays; each sale is then run alone."""
    stocked = seeded({("S-1", "A"): 5})
    container = make_container(stocked, tmp_path)
    stocked.commit_failures.append(RuntimeError("disk on fire"))
    batcher: GroupCommit[RecordSale, Any] = GroupCommit(
        stocked, container.executor, record_sales, sales.record_sale, window=0.05,
        max_size=10, lanes=1)
    try:
        answers = await asyncio.gather(*(batcher.submit(sale("S-1", ("A", 2)), CALLER,
                                                        JsonAnswers()) for _ in range(3)))
    finally:
        await batcher.close()
        await container.close()
    assert sorted(a.outcome for a in answers) == ["insufficient_stock", "ok", "ok"]
    assert stocked.level("S-1", "A").on_hand == 1  # type: ignore[union-attr]
    assert len(stocked.committed.ledger) == 2


async def test_sales_of_one_level_share_a_lane_and_sales_of_others_spread_over_lanes(
        tmp_path: Path) -> None:
    uows = seeded({("S-1", "A"): 100, ("S-1", "B"): 100, ("S-2", "C"): 100})
    container = make_container(uows, tmp_path)
    sizes: list[int] = []
    batcher: GroupCommit[RecordSale, Any] = GroupCommit(
        uows, container.executor, record_sales, sales.record_sale, window=0.05, max_size=64,
        lanes=4, lane_of=sales.lane_of, on_batch=lambda size, seconds: sizes.append(size))
    try:
        hot = [sale("S-1", ("A", 1)) for _ in range(24)]
        answers = await asyncio.gather(*(batcher.submit(cmd, CALLER, JsonAnswers())
                                         for cmd in hot))
        assert [a.outcome for a in answers] == ["ok"] * 24
        assert sizes == [24]  # one batch in one lane, not four small ones
        sizes.clear()
        spread = [sale("S-1", ("B", 1)), sale("S-2", ("C", 1))] * 6
        await asyncio.gather(*(batcher.submit(cmd, CALLER, JsonAnswers()) for cmd in spread))
        assert sum(sizes) == 12
        # two levels: at most two lanes took them, each level's sales in one batch
        assert sorted(sizes) in ([12], [6, 6])
    finally:
        await batcher.close()
        await container.close()
    assert uows.committed.levels["S-1", "A"].on_hand == 76
