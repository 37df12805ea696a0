"""Direct changes to levels: receipts, adjustments, counts, write-offs, reorder settings."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stockline.domain.commands import CreateReservation, ReservationLineRequest
from stockline.domain.errors import InsufficientStock, InvalidInput, NotFound, VersionConflict
from stockline.domain.states import ReservationStatus
from stockline.domain.values import MovementType, Reason
from stockline.services.reservations import create_reservation
from tests.fakes import FakeUnitOfWorkFactory
from tests.unit.support import CALLER, STORE, Shop, hold, make_container

# Receipts and other increases


async def test_first_receipt_creates_the_level(shop: Shop, store: str,
                                               uows: FakeUnitOfWorkFactory) -> None:
    level = await shop.update(store, "SKU-A", Reason.RECEIPT, delta=12, note="PO 7", lot="L1")
    assert (level.on_hand, level.reserved, level.available, level.version) == (12, 0, 12, 1)
    assert uows.level(store, "SKU-A") == level
    [entry] = uows.ledger(store, "SKU-A")
    assert (entry.delta, entry.balance_after, entry.type, entry.reason) == (
        12, 12, MovementType.RECEIPT, "receipt")
    assert (entry.actor, entry.note, entry.lot, entry.reference) == (
        CALLER.actor, "PO 7", "L1", None)
    [event] = uows.events("inventory.changed")
    assert (event.location_id, event.sku) == (store, "SKU-A")
    assert (event.data["on_hand"], event.data["available"], event.data["delta"],
            event.data["cause"], event.data["version"]) == (12, 12, 12, "receipt", 1)


async def test_each_change_raises_the_version_and_adds_up(shop: Shop, store: str,
                                                          uows: FakeUnitOfWorkFactory) -> None:
    await shop.receive(store, "SKU-A", 5)
    await shop.update(store, "SKU-A", Reason.FOUND, delta=2)
    level = await shop.update(store, "SKU-A", Reason.RETURN, delta=1)
    assert (level.on_hand, level.version) == (8, 3)
    entries = uows.ledger(store, "SKU-A")
    assert [(e.delta, e.balance_after, e.type) for e in entries] == [
        (5, 5, MovementType.RECEIPT), (2, 7, MovementType.FOUND), (1, 8, MovementType.RETURN)]
    assert [e.data["version"] for e in uows.events("inventory.changed")] == [1, 2, 3]


async def test_receipts_never_raise_low_stock(shop: Shop, store: str,
                                              uows: FakeUnitOfWorkFactory) -> None:
    await shop.settings(store, "SKU-A", 5)
    await shop.receive(store, "SKU-A", 2)
    await shop.receive(store, "SKU-A", 10)
    assert len(uows.events("inventory.low_stock")) == 1  # the one the settings raised


# Decreases


async def test_write_off_lowers_on_hand(shop: Shop, store: str,
                                        uows: FakeUnitOfWorkFactory) -> None:
    await shop.receive(store, "SKU-A", 10)
    level = await shop.update(store, "SKU-A", Reason.DAMAGE, delta=-3)
    assert (level.on_hand, level.version) == (7, 2)
    entry = uows.ledger(store, "SKU-A")[-1]
    assert (entry.delta, entry.balance_after, entry.type) == (-3, 7, MovementType.DAMAGE)


async def test_write_off_beyond_available_is_refused_and_changes_nothing(
        shop: Shop, store: str, uows: FakeUnitOfWorkFactory) -> None:
    await shop.receive(store, "SKU-A", 4)
    before = uows.committed.copy()
    with pytest.raises(InsufficientStock) as refused:
        await shop.update(store, "SKU-A", Reason.LOSS, delta=-5)
    assert refused.value.location_id == store
    assert [(s.sku, s.requested, s.available) for s in refused.value.lines] == [
        ("SKU-A", 5, 4)]
    assert uows.committed == before


async def test_reserved_stock_cannot_be_written_off(shop: Shop, store: str,
                                                    uows: FakeUnitOfWorkFactory) -> None:
    await shop.receive(store, "SKU-A", 10)
    hold(uows, store, "SKU-A", 4)
    with pytest.raises(InsufficientStock) as refused:
        await shop.update(store, "SKU-A", Reason.DAMAGE, delta=-7)
    assert refused.value.lines[0].available == 6
    level = await shop.update(store, "SKU-A", Reason.DAMAGE, delta=-6)
    assert (level.on_hand, level.reserved, level.available) == (4, 4, 0)


async def test_write_off_of_a_sku_never_stocked_here_has_nothing_available(
        shop: Shop, store: str, uows: FakeUnitOfWorkFactory) -> None:
    with pytest.raises(InsufficientStock) as refused:
        await shop.update(store, "SKU-A", Reason.ADJUSTMENT, delta=-1)
    assert [(s.sku, s.requested, s.available) for s in refused.value.lines] == [("SKU-A", 1, 0)]
    assert uows.level(store, "SKU-A") is None


async def test_decrease_raises_low_stock_when_crossing_the_reorder_point(
        shop: Shop, store: str, uows: FakeUnitOfWorkFactory) -> None:
    await shop.receive(store, "SKU-A", 10)
    await shop.settings(store, "SKU-A", 5, reorder_quantity=20)
    await shop.update(store, "SKU-A", Reason.DAMAGE, delta=-4)   # 6: above
    assert uows.events("inventory.low_stock") == []
    await shop.update(store, "SKU-A", Reason.DAMAGE, delta=-1)   # 5: at the point
    await shop.update(store, "SKU-A", Reason.DAMAGE, delta=-1)   # 4: was already low
    [low] = uows.events("inventory.low_stock")
    assert (low.location_id, low.sku) == (store, "SKU-A")
    assert (low.data["available"], low.data["reorder_point"],
            low.data["reorder_quantity"]) == (5, 5, 20)
    await shop.receive(store, "SKU-A", 10)                         # 14: above again
    await shop.update(store, "SKU-A", Reason.LOSS, delta=-14)      # 0: crossed again
    assert [e.data["available"] for e in uows.events("inventory.low_stock")] == [5, 0]


async def test_low_stock_follows_the_change_it_reports(shop: Shop, store: str,
                                                       uows: FakeUnitOfWorkFactory) -> None:
    await shop.receive(store, "SKU-A", 10)
    await shop.settings(store, "SKU-A", 5)
    await shop.update(store, "SKU-A", Reason.DAMAGE, delta=-8)
    assert uows.event_types()[-2:] == ["inventory.changed", "inventory.low_stock"]


# Counts (absolute quantities)


async def test_count_sets_on_hand_and_records_the_difference(
        shop: Shop, store: str, uows: FakeUnitOfWorkFactory) -> None:
    await shop.receive(store, "SKU-A", 10)
    level = await shop.update(store, "SKU-A", Reason.COUNT, quantity=7)
    assert (level.on_hand, level.version) == (7, 2)
    entry = uows.ledger(store, "SKU-A")[-1]
    assert (entry.delta, entry.balance_after, entry.type, entry.reason) == (
        -3, 7, MovementType.COUNT, "count")
    level = await shop.update(store, "SKU-A", Reason.COUNT, quantity=9)
    assert uows.ledger(store, "SKU-A")[-1].delta == 2
    assert level.on_hand == sum(e.delta for e in uows.ledger(store, "SKU-A"))


async def test_count_of_a_new_level_creates_it(shop: Shop, store: str,
                                               uows: FakeUnitOfWorkFactory) -> None:
    level = await shop.update(store, "SKU-B", Reason.COUNT, quantity=4)
    assert (level.on_hand, level.version) == (4, 1)
    [entry] = uows.ledger(store, "SKU-B")
    assert (entry.delta, entry.balance_after) == (4, 4)


async def test_count_below_reserved_releases_the_newest_holds(
        shop: Shop, store: str, uows: FakeUnitOfWorkFactory) -> None:
    await shop.receive(store, "SKU-A", 10)
    older, newer = [await shop.executor.run(create_reservation, CreateReservation(
        location_id=store, ttl_seconds=60,
        lines=(ReservationLineRequest(sku="SKU-A", quantity=quantity),)), shop.caller)
        for quantity in (4, 2)]
    level = await shop.update(store, "SKU-A", Reason.COUNT, quantity=5)
    assert (level.on_hand, level.reserved, level.available) == (5, 4, 1)
    stored = uows.committed.table("reservations")
    assert (stored[older.id].status, stored[older.id].reason) == (ReservationStatus.ACTIVE,
                                                                  None)
    assert (stored[newer.id].status, stored[newer.id].reason) == (ReservationStatus.RELEASED,
                                                                  "stock_count")
    [released] = uows.events("reservation.released")
    assert (released.data["reservation_id"], released.data["reason"]) == (newer.id,
                                                                          "stock_count")
    level = await shop.update(store, "SKU-A", Reason.COUNT, quantity=4)
    assert (level.on_hand, level.reserved, level.available) == (4, 4, 0)
    assert stored[older.id].status is ReservationStatus.ACTIVE


async def test_count_that_lands_on_the_reorder_point_raises_low_stock(
        shop: Shop, store: str, uows: FakeUnitOfWorkFactory) -> None:
    await shop.receive(store, "SKU-A", 10)
    await shop.settings(store, "SKU-A", 3)
    await shop.update(store, "SKU-A", Reason.COUNT, quantity=3)
    [low] = uows.events("inventory.low_stock")
    assert low.data["on_hand"] == 3


# Compare-and-set


async def test_expected_version_that_matches_applies_the_change(
        shop: Shop, store: str, uows: FakeUnitOfWorkFactory) -> None:
    level = await shop.update(store, "SKU-A", Reason.RECEIPT, delta=5, expected_version=0)
    level = await shop.update(store, "SKU-A", Reason.RECEIPT, delta=5,
                              expected_version=level.version)
    level = await shop.update(store, "SKU-A", Reason.DAMAGE, delta=-1,
                              expected_version=level.version)
    level = await shop.update(store, "SKU-A", Reason.COUNT, quantity=4,
                              expected_version=level.version)
    assert (level.on_hand, level.version) == (4, 4)


@pytest.mark.parametrize(("reason", "change"), [
    (Reason.RECEIPT, {"delta": 3}),
    (Reason.DAMAGE, {"delta": -3}),
    (Reason.COUNT, {"quantity": 3}),
])
async def test_stale_expected_version_is_a_conflict_and_changes_nothing(
        shop: Shop, store: str, uows: FakeUnitOfWorkFactory, reason: Reason,
        change: dict[str, int]) -> None:
    await shop.receive(store, "SKU-A", 10)
    await shop.receive(store, "SKU-A", 10)
    before = uows.committed.copy()
    with pytest.raises(VersionConflict) as refused:
        await shop.update(store, "SKU-A", reason, expected_version=1, **change)
    assert (refused.value.sku, refused.value.expected, refused.value.actual) == ("SKU-A", 1, 2)
    assert uows.committed == before


@pytest.mark.parametrize(("reason", "change"), [
    (Reason.RECEIPT, {"delta": 3}),
    (Reason.COUNT, {"quantity": 3}),
])
async def test_a_level_that_does_not_exist_is_at_version_zero(
        shop: Shop, store: str, uows: FakeUnitOfWorkFactory, reason: Reason,
        change: dict[str, int]) -> None:
    with pytest.raises(VersionConflict) as refused:
        await shop.update(store, "SKU-A", reason, expected_version=2, **change)
    assert (refused.value.expected, refused.value.actual) == (2, 0)
    assert uows.level(store, "SKU-A") is None


async def test_short_write_off_at_the_expected_version_is_insufficient_stock(
        shop: Shop, store: str) -> None:
    level = await shop.receive(store, "SKU-A", 2)
    with pytest.raises(InsufficientStock):
        await shop.update(store, "SKU-A", Reason.DAMAGE, delta=-3,
                          expected_version=level.version)


# Refusals


@pytest.mark.parametrize(("reason", "change"), [
    (Reason.RECEIPT, {}),
    (Reason.RECEIPT, {"delta": 1, "quantity": 1}),
    (Reason.ADJUSTMENT, {"delta": 0}),
    (Reason.RECEIPT, {"delta": -1}),
    (Reason.DAMAGE, {"delta": 1}),
    (Reason.COUNT, {"delta": 1}),
    (Reason.COUNT, {"quantity": -1}),
])
async def test_malformed_change_is_refused_before_anything_is_touched(
        shop: Shop, store: str, uows: FakeUnitOfWorkFactory, reason: Reason,
        change: dict[str, int]) -> None:
    await shop.receive(store, "SKU-A", 5)
    before = uows.committed.copy()
    with pytest.raises(InvalidInput):
        await shop.update(store, "SKU-A", reason, **change)
    assert uows.committed == before


@pytest.mark.parametrize(("reason", "change"), [
    (Reason.RECEIPT, {"delta": 1}),
    (Reason.DAMAGE, {"delta": -1}),
    (Reason.COUNT, {"quantity": 1}),
])
async def test_unknown_sku_or_location_is_not_found(shop: Shop, store: str,
                                                    uows: FakeUnitOfWorkFactory, reason: Reason,
                                                    change: dict[str, int]) -> None:
    with pytest.raises(NotFound) as refused:
        await shop.update(store, "NOPE", reason, **change)
    assert (refused.value.kind, refused.value.key) == ("product", "NOPE")
    with pytest.raises(NotFound) as refused:
        await shop.update("NOWHERE", "SKU-A", reason, **change)
    assert (refused.value.kind, refused.value.key) == ("location", "NOWHERE")
    with pytest.raises(NotFound) as refused:  # both unknown: the location is named
        await shop.update("NOWHERE", "NOPE", reason, **change)
    assert refused.value.kind == "location"
    assert uows.committed.levels == {}


# Reorder settings


async def test_settings_before_the_first_receipt_create_an_empty_level_that_is_low(
        shop: Shop, store: str, uows: FakeUnitOfWorkFactory) -> None:
    level = await shop.settings(store, "SKU-A", 5, reorder_quantity=24, safety_stock=2)
    assert (level.on_hand, level.version, level.reorder_point, level.reorder_quantity,
            level.safety_stock) == (0, 1, 5, 24, 2)
    assert uows.level(store, "SKU-A") == level
    assert uows.ledger() == []  # on_hand did not change
    changed, low = uows.events("inventory.changed", "inventory.low_stock")
    assert (changed.type, changed.data["cause"], changed.data["delta"]) == (
        "inventory.changed", "settings", 0)
    assert low.type == "inventory.low_stock"
    assert (low.data["reorder_point"], low.data["reorder_quantity"],
            low.data["safety_stock"]) == (5, 24, 2)


async def test_settings_without_a_reorder_point_raise_no_low_stock(
        shop: Shop, store: str, uows: FakeUnitOfWorkFactory) -> None:
    await shop.settings(store, "SKU-A", None, reorder_quantity=10)
    assert [e.type for e in uows.events("inventory.changed", "inventory.low_stock")] == [
        "inventory.changed"]


async def test_settings_that_put_a_level_at_its_point_raise_low_stock(
        shop: Shop, store: str, uows: FakeUnitOfWorkFactory) -> None:
    await shop.receive(store, "SKU-A", 8)
    level = await shop.settings(store, "SKU-A", 3)
    assert level.version == 2
    assert uows.events("inventory.low_stock") == []
    await shop.settings(store, "SKU-A", 8)
    [low] = uows.events("inventory.low_stock")
    assert (low.data["available"], low.data["reorder_point"]) == (8, 8)
    await shop.settings(store, "SKU-A", 9)  # was already low: no second alert
    assert len(uows.events("inventory.low_stock")) == 1


async def test_settings_keep_on_hand_and_reserved(shop: Shop, store: str,
                                                  uows: FakeUnitOfWorkFactory) -> None:
    await shop.receive(store, "SKU-A", 8)
    hold(uows, store, "SKU-A", 3)
    level = await shop.settings(store, "SKU-A", 1)
    assert (level.on_hand, level.reserved, level.reorder_point) == (8, 3, 1)


async def test_settings_for_unknown_sku_or_location_are_not_found(
        shop: Shop, store: str, uows: FakeUnitOfWorkFactory) -> None:
    with pytest.raises(NotFound) as refused:
        await shop.settings(store, "NOPE", 1)
    assert refused.value.kind == "product"
    with pytest.raises(NotFound) as refused:
        await shop.settings("NOWHERE", "SKU-A", 1)
    assert refused.value.kind == "location"
    assert uows.committed.levels == {}


# Bulk receipts


async def test_bulk_receipt_creates_missing_levels_and_adds_to_existing(
        shop: Shop, store: str, uows: FakeUnitOfWorkFactory) -> None:
    await shop.receive(store, "SKU-B", 5)
    levels = await shop.receive_many(store, {"SKU-C": 3, "SKU-A": 2, "SKU-B": 4},
                                     reference="ASN-1", note="truck 3")
    assert {lv.sku: (lv.on_hand, lv.version) for lv in levels} == {
        "SKU-A": (2, 1), "SKU-B": (9, 2), "SKU-C": (3, 1)}
    for lv in levels:
        assert uows.level(store, lv.sku) == lv
    entries = [e for e in uows.ledger(store) if e.reference == "ASN-1"]
    assert sorted((e.sku, e.delta, e.balance_after) for e in entries) == [
        ("SKU-A", 2, 2), ("SKU-B", 4, 9), ("SKU-C", 3, 3)]
    assert {(e.type, e.reason, e.note) for e in entries} == {
        (MovementType.RECEIPT, "receipt", "truck 3")}
    changed = uows.events("inventory.changed")[1:]
    assert sorted((e.sku, e.data["delta"], e.data["reference"]) for e in changed) == [
        ("SKU-A", 2, "ASN-1"), ("SKU-B", 4, "ASN-1"), ("SKU-C", 3, "ASN-1")]


async def test_bulk_receipt_with_an_unknown_sku_changes_nothing(
        shop: Shop, store: str, uows: FakeUnitOfWorkFactory) -> None:
    await shop.receive(store, "SKU-B", 5)
    before = uows.committed.copy()
    with pytest.raises(NotFound) as refused:
        await shop.receive_many(store, {"SKU-A": 1, "SKU-B": 1, "ZZ-NOPE": 1, "NOPE": 1})
    assert (refused.value.kind, refused.value.key) == ("product", "NOPE")
    assert uows.committed == before


@pytest.mark.parametrize("quantity", [0, -2])
async def test_bulk_receipt_with_a_non_positive_quantity_changes_nothing(
        shop: Shop, store: str, uows: FakeUnitOfWorkFactory, quantity: int) -> None:
    before = uows.committed.copy()
    with pytest.raises(InvalidInput):
        await shop.receive_many(store, {"SKU-A": 1, "SKU-B": quantity})
    assert uows.committed == before


async def test_bulk_receipt_at_an_unknown_location_is_not_found(shop: Shop, store: str) -> None:
    with pytest.raises(NotFound) as refused:
        await shop.receive_many("NOWHERE", {"SKU-A": 1})
    assert refused.value.kind == "location"


# The ledger identity, whatever the sequence of changes


change = st.one_of(
    st.tuples(st.just("receipt"), st.integers(1, 20)),
    st.tuples(st.just("bulk"), st.integers(1, 20)),
    st.tuples(st.just("damage"), st.integers(1, 20)),
    st.tuples(st.just("sale"), st.integers(1, 20)),
    st.tuples(st.just("count"), st.integers(0, 30)),
    st.tuples(st.just("hold"), st.integers(0, 10)),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(changes=st.lists(change, max_size=25))
async def test_any_sequence_of_changes_keeps_on_hand_equal_to_the_ledger(
        changes: list[tuple[str, int]]) -> None:
    uows = FakeUnitOfWorkFactory()
    with tempfile.TemporaryDirectory() as tmp:
        container = make_container(uows, Path(tmp))
        shop = Shop(container.executor)
        await shop.location(STORE)
        await shop.product("SKU-A")
        applied = versions = 0
        holds: list[int] = []  # the live holds' units, oldest first
        for kind, n in changes:
            level = uows.level(STORE, "SKU-A")
            if kind == "hold":
                if level is not None and 0 < n <= level.available:
                    await container.executor.run(create_reservation, CreateReservation(
                        location_id=STORE, ttl_seconds=600,
                        lines=(ReservationLineRequest(sku="SKU-A", quantity=n),)), CALLER)
                    holds.append(n)
                    versions += 1
                continue
            available = level.available if level else 0
            # Refused exactly when the change would take available below zero; a count is
            # never refused (it releases the holds that no longer fit).
            should_refuse = kind in ("damage", "sale") and n > available
            refusal: InsufficientStock | None = None
            try:
                if kind == "receipt":
                    await shop.receive(STORE, "SKU-A", n)
                elif kind == "bulk":
                    await shop.receive_many(STORE, {"SKU-A": n})
                elif kind == "damage":
                    await shop.update(STORE, "SKU-A", Reason.DAMAGE, delta=-n)
                elif kind == "sale":
                    await shop.sell(STORE, ("SKU-A", n))
                else:
                    await shop.update(STORE, "SKU-A", Reason.COUNT, quantity=n)
            except InsufficientStock as short:
                refusal = short
            assert (refusal is not None) == should_refuse, (kind, n, level)
            if refusal is not None:
                assert refusal.lines[0].available == available
            else:
                applied += 1
                # A count that finds what the books say is recorded but changes no level.
                confirms = kind == "count" and level is not None and level.on_hand == n
                versions += 0 if confirms else 1
                if kind == "count":  # the newest holds that no longer fit are released
                    while sum(holds) > n:
                        holds.pop()
                        versions += 1
            level = uows.level(STORE, "SKU-A")
            entries = uows.ledger(STORE, "SKU-A")
            running = 0
            for entry in entries:
                running += entry.delta
                assert entry.balance_after == running
            assert (level.on_hand if level else 0) == running
            assert level is None or level.available >= 0
            assert len(entries) == applied
            assert (level.version if level else 0) == versions
        await container.close()
