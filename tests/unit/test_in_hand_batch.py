"""Sales of goods in hand give the same through group commit as one by one: the batch
hands a short one to ``record_sale``, the one place the in-hand rule lives."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stockline.domain.counting import CountTask
from tests.fakes import FakeUnitOfWorkFactory
from tests.unit.support import make_container, sale
from tests.unit.test_group_commit import (
    PLACES,
    SKUS,
    _grouped,
    _sequential,
    picture,
    seeded,
    stock_st,
)

line_st = st.tuples(st.sampled_from((*SKUS, "NO-LEVEL")), st.integers(1, 4))
order_st = st.tuples(st.sampled_from(PLACES), st.lists(line_st, min_size=1, max_size=3),
                     st.booleans())


def open_tasks(uows: FakeUnitOfWorkFactory) -> list[tuple[str, str, str, int]]:
    tasks: dict[str, CountTask] = uows.committed.table("count_tasks")
    return sorted((t.location_id, t.sku, t.status.value, t.reports) for t in tasks.values())


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stock=stock_st, orders=st.lists(order_st, min_size=1, max_size=10),
       lotted=st.frozensets(st.sampled_from(SKUS), max_size=1))
async def test_in_hand_sales_give_the_same_grouped_as_one_by_one(
        tmp_path: Path, stock: dict[tuple[str, str], int],
        orders: list[tuple[str, list[tuple[str, int]], bool]], lotted: frozenset[str]) -> None:
    commands = [sale(place, *lines, in_hand=in_hand) for place, lines, in_hand in orders]
    one, many = seeded(stock, lotted), seeded(stock, lotted)
    a, b = make_container(one, tmp_path / "a"), make_container(many, tmp_path / "b")
    try:
        alone = await _sequential(one, a, commands)
        grouped = await _grouped(many, b, commands)
    finally:
        await a.close()
        await b.close()
    assert grouped == alone
    assert picture(many) == picture(one)
    assert open_tasks(many) == open_tasks(one)
    for uows in (one, many):
        assert all(level.on_hand >= level.reserved >= 0
                   for level in uows.committed.levels.values())
    # every place and SKU exists (NO-LEVEL without a level): an in-hand sale is never refused
    assert all(answer[0] == "ok" for (_, _, in_hand), answer in zip(orders, alone, strict=True)
               if in_hand)
