"""Sales: all lines or none, never more than is available."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from stockline.domain.errors import InsufficientStock, InvalidInput, NotFound
from stockline.domain.values import Channel, Money, MovementType, PaymentStatus
from tests.fakes import FakeUnitOfWorkFactory
from tests.unit.support import CALLER, Shop, hold


@pytest.fixture
async def stocked(shop: Shop, store: str) -> str:
    """The store holds 10 of SKU-A and 5 of SKU-B, none of SKU-C."""
    await shop.receive(store, "SKU-A", 10)
    await shop.receive(store, "SKU-B", 5)
    return store


async def test_sale_takes_every_line_from_stock(shop: Shop, stocked: str,
                                                uows: FakeUnitOfWorkFactory) -> None:
    sale = await shop.sell(stocked, ("SKU-A", 3, "19.99"), ("SKU-B", 5, "2.50"),
                           channel=Channel.ECOMMERCE, payment_status=PaymentStatus.AUTHORIZED,
                           external_ref="order-9")
    assert sale.id.startswith("sale_")
    assert (sale.location_id, sale.currency, sale.actor, sale.status) == (
        stocked, "USD", CALLER.actor, "completed")
    assert sale.total == Money.parse("72.47", "USD")
    assert sale.units == 8
    assert uows.sales == [sale]
    level_a, level_b = uows.level(stocked, "SKU-A"), uows.level(stocked, "SKU-B")
    assert level_a is not None
    assert level_b is not None
    assert (level_a.on_hand, level_a.version) == (7, 2)
    assert (level_b.on_hand, level_b.available) == (0, 0)


async def test_sale_writes_one_ledger_entry_per_sku_referencing_it(
        shop: Shop, stocked: str, uows: FakeUnitOfWorkFactory) -> None:
    sale = await shop.sell(stocked, ("SKU-B", 2), ("SKU-A", 3))
    entries = [e for e in uows.ledger(stocked) if e.type is MovementType.SALE]
    assert [(e.sku, e.delta, e.balance_after) for e in entries] == [
        ("SKU-A", -3, 7), ("SKU-B", -2, 3)]
    assert {(e.reference, e.reason, e.actor, e.occurred_at) for e in entries} == {
        (sale.id, "sale", CALLER.actor, sale.occurred_at)}


async def test_sale_announces_each_change_then_the_sale(shop: Shop, stocked: str,
                                                        uows: FakeUnitOfWorkFactory) -> None:
    first_new = len(uows.events()) + 1
    sale = await shop.sell(stocked, ("SKU-A", 1, "5.00"), ("SKU-B", 1, "1.25"))
    events = [e for e in uows.events() if e.id >= first_new]
    assert [(e.type, e.sku) for e in events] == [
        ("inventory.changed", "SKU-A"), ("inventory.changed", "SKU-B"),
        ("sale.recorded", None)]
    changed_a = events[0].data
    assert (changed_a["on_hand"], changed_a["delta"], changed_a["cause"],
            changed_a["reference"]) == (9, -1, "sale", sale.id)
    recorded = events[-1]
    assert recorded.location_id == stocked
    assert recorded.data["sale_id"] == sale.id
    assert recorded.data["total"] == {"amount": "6.25", "currency": "USD"}
    assert [ln["sku"] for ln in recorded.data["lines"]] == ["SKU-A", "SKU-B"]


async def test_sale_with_one_short_line_changes_nothing(shop: Shop, stocked: str,
                                                        uows: FakeUnitOfWorkFactory) -> None:
    before = uows.committed.copy()
    with pytest.raises(InsufficientStock) as refused:
        await shop.sell(stocked, ("SKU-A", 2), ("SKU-B", 6))
    assert refused.value.location_id == stocked
    assert [(s.sku, s.requested, s.available) for s in refused.value.lines] == [
        ("SKU-B", 6, 5)]
    assert uows.committed == before
    assert uows.sales == []


async def test_insufficient_stock_names_every_short_line(shop: Shop, stocked: str,
                                                         uows: FakeUnitOfWorkFactory) -> None:
    with pytest.raises(InsufficientStock) as refused:
        await shop.sell(stocked, ("SKU-C", 1), ("SKU-A", 11), ("SKU-B", 5))
    assert sorted((s.sku, s.requested, s.available) for s in refused.value.lines) == [
        ("SKU-A", 11, 10), ("SKU-C", 1, 0)]
    level_b = uows.level(stocked, "SKU-B")
    assert level_b is not None
    assert level_b.on_hand == 5


async def test_selling_a_sku_this_location_never_stocked_has_nothing_available(
        shop: Shop, stocked: str) -> None:
    with pytest.raises(InsufficientStock) as refused:
        await shop.sell(stocked, ("SKU-C", 1))
    assert [(s.sku, s.requested, s.available) for s in refused.value.lines] == [
        ("SKU-C", 1, 0)]


async def test_sale_of_an_unknown_sku_is_not_found(shop: Shop, stocked: str,
                                                   uows: FakeUnitOfWorkFactory) -> None:
    before = uows.committed.copy()
    with pytest.raises(NotFound) as refused:
        await shop.sell(stocked, ("SKU-A", 1), ("NOPE", 1))
    assert (refused.value.kind, refused.value.key) == ("product", "NOPE")
    assert uows.committed == before


async def test_sale_at_an_unknown_location_is_not_found(shop: Shop, stocked: str,
                                                        uows: FakeUnitOfWorkFactory) -> None:
    before = uows.committed.copy()
    with pytest.raises(NotFound) as refused:
        await shop.sell("NOWHERE", ("SKU-A", 1))
    assert (refused.value.kind, refused.value.key) == ("location", "NOWHERE")
    assert uows.committed == before


async def test_lines_of_the_same_sku_are_summed_before_the_stock_check(
        shop: Shop, stocked: str, uows: FakeUnitOfWorkFactory) -> None:
    with pytest.raises(InsufficientStock) as refused:
        await shop.sell(stocked, ("SKU-B", 3), ("SKU-B", 3))
    assert [(s.sku, s.requested, s.available) for s in refused.value.lines] == [
        ("SKU-B", 6, 5)]
    sale = await shop.sell(stocked, ("SKU-B", 2, "1.00"), ("SKU-B", 3, "0.50"))
    assert [(ln.sku, ln.quantity) for ln in sale.lines] == [("SKU-B", 2), ("SKU-B", 3)]
    assert sale.total == Money.parse("3.50", "USD")
    [entry] = [e for e in uows.ledger(stocked, "SKU-B") if e.type is MovementType.SALE]
    assert (entry.delta, entry.balance_after) == (-5, 0)


async def test_reserved_stock_is_not_for_sale(shop: Shop, stocked: str,
                                              uows: FakeUnitOfWorkFactory) -> None:
    hold(uows, stocked, "SKU-A", 8)
    with pytest.raises(InsufficientStock) as refused:
        await shop.sell(stocked, ("SKU-A", 3))
    assert refused.value.lines[0].available == 2
    await shop.sell(stocked, ("SKU-A", 2))
    level = uows.level(stocked, "SKU-A")
    assert level is not None
    assert (level.on_hand, level.reserved, level.available) == (8, 8, 0)


async def test_lines_in_more_than_one_currency_are_refused(shop: Shop, stocked: str,
                                                           uows: FakeUnitOfWorkFactory) -> None:
    before = uows.committed.copy()
    with pytest.raises(InvalidInput) as refused:
        await shop.sell(stocked, ("SKU-A", 1, "1.00", "USD"), ("SKU-B", 1, "1.00", "EUR"))
    assert refused.value.field == "lines"
    assert uows.committed == before


async def test_sale_in_another_currency_keeps_it(shop: Shop, stocked: str) -> None:
    sale = await shop.sell(stocked, ("SKU-A", 2, "3.10", "EUR"))
    assert sale.currency == "EUR"
    assert sale.total == Money.parse("6.20", "EUR")


async def test_sale_without_lines_is_refused(shop: Shop, stocked: str) -> None:
    with pytest.raises(InvalidInput):
        await shop.sell(stocked)


@pytest.mark.parametrize("quantity", [0, -3])
async def test_sale_line_without_a_positive_quantity_is_refused(
        shop: Shop, stocked: str, uows: FakeUnitOfWorkFactory, quantity: int) -> None:
    before = uows.committed.copy()
    with pytest.raises(InvalidInput) as refused:
        await shop.sell(stocked, ("SKU-A", 1), ("SKU-B", quantity))
    assert refused.value.field == "lines"
    assert uows.committed == before


async def test_sale_whose_total_reaches_a_trillion_is_refused(shop: Shop, stocked: str) -> None:
    with pytest.raises(InvalidInput, match="total"):
        await shop.sell(stocked, ("SKU-A", 2, "500000000000"))


async def test_sale_in_the_future_is_refused(shop: Shop, stocked: str,
                                             uows: FakeUnitOfWorkFactory) -> None:
    before = uows.committed.copy()
    with pytest.raises(InvalidInput) as refused:
        await shop.sell(stocked, ("SKU-A", 1),
                        occurred_at=datetime.now(UTC) + timedelta(hours=1))
    assert refused.value.field == "occurred_at"
    assert uows.committed == before


async def test_sale_without_a_time_zone_is_refused(shop: Shop, stocked: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        await shop.sell(stocked, ("SKU-A", 1),
                        occurred_at=datetime.now() - timedelta(hours=1))  # noqa: DTZ005
    assert refused.value.field == "occurred_at"


async def test_sale_a_minute_ahead_is_within_the_clock_skew(shop: Shop, stocked: str) -> None:
    sale = await shop.sell(stocked, ("SKU-A", 1),
                           occurred_at=datetime.now(UTC) + timedelta(minutes=1))
    assert sale.occurred_at > sale.created_at


async def test_past_sale_is_recorded_when_it_happened(shop: Shop, stocked: str,
                                                      uows: FakeUnitOfWorkFactory) -> None:
    when = datetime(2025, 12, 24, 17, 30, tzinfo=UTC)
    sale = await shop.sell(stocked, ("SKU-A", 1), occurred_at=when)
    assert sale.occurred_at == when
    assert sale.created_at > when
    entry = uows.ledger(stocked, "SKU-A")[-1]
    assert (entry.occurred_at, entry.recorded_at) == (when, sale.created_at)


async def test_sale_that_crosses_the_reorder_point_raises_low_stock(
        shop: Shop, stocked: str, uows: FakeUnitOfWorkFactory) -> None:
    await shop.settings(stocked, "SKU-A", 4)
    await shop.settings(stocked, "SKU-B", 1)
    await shop.sell(stocked, ("SKU-A", 5), ("SKU-B", 1))  # A: 5 stays above 4; B: 4 above 1
    assert uows.events("inventory.low_stock") == []
    await shop.sell(stocked, ("SKU-A", 1), ("SKU-B", 3))  # A: 4, B: 1: both cross
    lows = uows.events("inventory.low_stock")
    assert sorted((e.sku, e.data["available"]) for e in lows) == [("SKU-A", 4), ("SKU-B", 1)]
    await shop.sell(stocked, ("SKU-A", 1))  # already low: no second alert
    assert len(uows.events("inventory.low_stock")) == 2


async def test_selling_everything_available_leaves_zero(shop: Shop, stocked: str,
                                                        uows: FakeUnitOfWorkFactory) -> None:
    await shop.sell(stocked, ("SKU-A", 10), ("SKU-B", 5))
    for sku in ("SKU-A", "SKU-B"):
        level = uows.level(stocked, sku)
        assert level is not None
        assert level.available == 0
    with pytest.raises(InsufficientStock):
        await shop.sell(stocked, ("SKU-A", 1))


async def test_every_sale_has_its_own_id(shop: Shop, stocked: str,
                                         uows: FakeUnitOfWorkFactory) -> None:
    ids = [(await shop.sell(stocked, ("SKU-A", 1))).id for _ in range(5)]
    assert len(set(ids)) == 5
    assert {s.id for s in uows.sales} == set(ids)
