"""Returns: never more than was sold, restocked through the ledger or written off."""

from __future__ import annotations

from datetime import date

import pytest

from stockline.domain.commands import (
    CommitReservation,
    CreateReservation,
    LineQuantity,
    ReservationLineRequest,
    ReturnSale,
)
from stockline.domain.errors import InvalidInput, NotFound, QuantityExceeded
from stockline.domain.model import Sale
from stockline.domain.values import MovementType, Reason, ReturnReason, SaleStatus
from stockline.services import reservations, returns
from stockline.services.executor import Executor
from tests.fakes import FakeUnitOfWorkFactory
from tests.unit.support import CALLER, Shop


@pytest.fixture
async def sold(shop: Shop, store: str) -> Sale:
    """A sale of 3 SKU-A (in two lines) and 2 SKU-B, from 10 and 5 on hand."""
    await shop.receive(store, "SKU-A", 10)
    await shop.receive(store, "SKU-B", 5)
    return await shop.sell(store, ("SKU-A", 2), ("SKU-B", 2), ("SKU-A", 1))


async def give_back(executor: Executor, sale_id: str, *lines: tuple[str, int],
                    restock: bool = True, reason: ReturnReason = ReturnReason.WRONG_SIZE,
                    note: str | None = None) -> Sale:
    cmd = ReturnSale(sale_id=sale_id, restock=restock, reason=reason, note=note,
                     lines=tuple(LineQuantity(sku=s, quantity=q) for s, q in lines))
    return await executor.run(returns.return_sale, cmd, CALLER)


def on_hand(uows: FakeUnitOfWorkFactory, location_id: str, sku: str) -> int:
    level = uows.level(location_id, sku)
    assert level is not None
    return level.on_hand


def stored(uows: FakeUnitOfWorkFactory, sale_id: str) -> Sale:
    return uows.committed.sales[sale_id]


async def test_restocked_return_puts_the_units_back_through_the_ledger(
        executor: Executor, sold: Sale, uows: FakeUnitOfWorkFactory) -> None:
    first_new = len(uows.events()) + 1
    after = await give_back(executor, sold.id, ("SKU-B", 1), ("SKU-A", 2), note="box opened")
    [made] = after.returns
    assert made.id.startswith("ret_")
    assert (made.sale_id, made.location_id, made.restock, made.reason, made.note,
            made.actor) == (sold.id, sold.location_id, True, ReturnReason.WRONG_SIZE,
                            "box opened", CALLER.actor)
    assert [(ln.sku, ln.quantity) for ln in made.lines] == [("SKU-B", 1), ("SKU-A", 2)]
    assert after.status == SaleStatus.PARTIALLY_RETURNED
    assert stored(uows, sold.id) == after
    assert (on_hand(uows, sold.location_id, "SKU-A"), on_hand(uows, sold.location_id, "SKU-B")
            ) == (9, 4)
    entries = [e for e in uows.ledger(sold.location_id) if e.type is MovementType.RETURN]
    assert [(e.sku, e.delta, e.balance_after, e.reason, e.reference, e.note) for e in entries
            ] == [("SKU-A", 2, 9, "wrong_size", sold.id, "box opened"),
                  ("SKU-B", 1, 4, "wrong_size", sold.id, "box opened")]
    events = [e for e in uows.events() if e.id >= first_new]
    assert [(e.type, e.sku) for e in events] == [
        ("inventory.changed", "SKU-A"), ("inventory.changed", "SKU-B"), ("sale.returned", None)]
    assert (events[0].data["delta"], events[0].data["cause"]) == (2, "return")
    assert events[-1].data == {
        "return_id": made.id, "sale_id": sold.id, "restock": True, "reason": "wrong_size",
        "lines": [{"sku": "SKU-B", "quantity": 1}, {"sku": "SKU-A", "quantity": 2}]}


async def test_written_off_return_is_recorded_but_stock_stays(
        executor: Executor, sold: Sale, uows: FakeUnitOfWorkFactory) -> None:
    ledger_before, first_new = len(uows.ledger()), len(uows.events()) + 1
    levels_before = dict(uows.committed.levels)
    after = await give_back(executor, sold.id, ("SKU-A", 1), restock=False,
                            reason=ReturnReason.DAMAGED)
    assert [(r.restock, r.reason) for r in after.returns] == [(False, ReturnReason.DAMAGED)]
    assert after.status == SaleStatus.PARTIALLY_RETURNED
    assert uows.committed.levels == levels_before
    assert len(uows.ledger()) == ledger_before
    assert [e.type for e in uows.events() if e.id >= first_new] == ["sale.returned"]


async def test_sale_is_returned_once_every_unit_is_back_and_then_takes_no_more(
        executor: Executor, sold: Sale, uows: FakeUnitOfWorkFactory) -> None:
    await give_back(executor, sold.id, ("SKU-A", 1))
    await give_back(executor, sold.id, ("SKU-A", 2), ("SKU-B", 1), restock=False)
    after = await give_back(executor, sold.id, ("SKU-B", 1))
    assert after.status == SaleStatus.RETURNED
    assert [after.returned(sku) for sku in ("SKU-A", "SKU-B")] == [3, 2]
    before = uows.committed.copy()
    with pytest.raises(QuantityExceeded) as refused:
        await give_back(executor, sold.id, ("SKU-A", 1))
    assert [(x.sku, x.requested, x.allowed) for x in refused.value.lines] == [("SKU-A", 1, 0)]
    assert uows.committed == before
    assert on_hand(uows, sold.location_id, "SKU-A") == 8  # 7 after the sale, +1 restocked


async def test_return_over_what_is_left_names_every_line_over_and_changes_nothing(
        executor: Executor, sold: Sale, uows: FakeUnitOfWorkFactory) -> None:
    await give_back(executor, sold.id, ("SKU-A", 2))
    before = uows.committed.copy()
    with pytest.raises(QuantityExceeded) as refused:
        await give_back(executor, sold.id, ("SKU-B", 3), ("SKU-A", 1), ("SKU-A", 1))
    assert (refused.value.kind, refused.value.key) == ("sale", sold.id)
    assert sorted((x.sku, x.requested, x.allowed) for x in refused.value.lines) == [
        ("SKU-A", 2, 1), ("SKU-B", 3, 2)]
    assert uows.committed == before


async def test_return_of_a_sku_not_on_the_sale_is_refused(
        executor: Executor, sold: Sale, uows: FakeUnitOfWorkFactory) -> None:
    before = uows.committed.copy()
    with pytest.raises(InvalidInput, match="SKU-C") as refused:
        await give_back(executor, sold.id, ("SKU-A", 1), ("SKU-C", 1))
    assert refused.value.field == "lines"
    assert uows.committed == before


@pytest.mark.parametrize("lines", [(), (("SKU-A", 0),), (("SKU-A", 1), ("SKU-B", -1))])
async def test_return_without_positive_lines_is_refused(
        executor: Executor, sold: Sale, uows: FakeUnitOfWorkFactory,
        lines: tuple[tuple[str, int], ...]) -> None:
    before = uows.committed.copy()
    with pytest.raises(InvalidInput):
        await give_back(executor, sold.id, *lines)
    assert uows.committed == before


async def test_return_against_an_unknown_sale_is_not_found(executor: Executor,
                                                           sold: Sale) -> None:
    with pytest.raises(NotFound) as refused:
        await give_back(executor, "sale_NOPE", ("SKU-A", 1))
    assert (refused.value.kind, refused.value.key) == ("sale", "sale_NOPE")


async def test_restock_into_a_lotted_level_goes_to_its_unlabelled_lot(
        executor: Executor, shop: Shop, store: str, uows: FakeUnitOfWorkFactory) -> None:
    await shop.update(store, "SKU-C", Reason.RECEIPT, delta=4, lot="L1",
                      expires_on=date(2027, 1, 1))
    sale = await shop.sell(store, ("SKU-C", 3))
    await give_back(executor, sale.id, ("SKU-C", 2))
    lots = {lot: held.on_hand for (_, sku, lot), held in uows.committed.lots.items()
            if sku == "SKU-C"}
    assert lots == {"L1": 1, "": 2}
    assert on_hand(uows, store, "SKU-C") == 3


async def test_sale_of_a_committed_hold_takes_returns_too(
        executor: Executor, shop: Shop, store: str, uows: FakeUnitOfWorkFactory) -> None:
    await shop.receive(store, "SKU-A", 5)
    held = await executor.run(reservations.create_reservation, CreateReservation(
        location_id=store, ttl_seconds=60,
        lines=(ReservationLineRequest(sku="SKU-A", quantity=2),)), CALLER)
    sale = await executor.run(reservations.commit_reservation,
                              CommitReservation(reservation_id=held.id), CALLER)
    after = await give_back(executor, sale.id, ("SKU-A", 2))
    assert after.status == SaleStatus.RETURNED
    level = uows.level(store, "SKU-A")
    assert level is not None
    assert (level.on_hand, level.reserved) == (5, 0)
