"""Reservations: holds that never oversell, then exactly one of commit, release or expiry."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from stockline.domain.commands import (
    CommitReservation,
    CreateReservation,
    ExpireReservation,
    ReleaseReservation,
    ReservationLineRequest,
)
from stockline.domain.documents import Reservation
from stockline.domain.errors import InsufficientStock, InvalidInput, InvalidState, NotFound
from stockline.domain.model import Level, Sale
from stockline.domain.states import ReservationStatus
from stockline.domain.values import Channel, Money, MovementType, PaymentStatus
from stockline.services import reservations
from stockline.services.executor import Executor, IdempotencyClaim
from tests.fakes import FakeUnitOfWorkFactory
from tests.unit.support import CALLER, JsonAnswers, Shop, body, hold, make_container


class Clock:
    """The executor's clock, moved by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def executor(uows: FakeUnitOfWorkFactory, clock: Clock) -> Executor:
    return Executor(uows, clock=clock)


@pytest.fixture
async def stocked(shop: Shop, store: str) -> str:
    """The store holds 10 of SKU-A and 5 of SKU-B (price 10.00 USD each), none of SKU-C."""
    await shop.receive(store, "SKU-A", 10)
    await shop.receive(store, "SKU-B", 5)
    return store


Line = tuple[str, int] | tuple[str, int, str] | tuple[str, int, str, str]


def create(location_id: str, *lines: Line, ttl: int | None = 60,
           **fields: Any) -> CreateReservation:
    """A CreateReservation; a line is (sku, quantity[, unit price[, currency]])."""
    requests = []
    for line in lines:
        price = None
        if len(line) > 2:
            price = Money.parse(line[2], line[3] if len(line) > 3 else "USD")  # type: ignore[misc]
        requests.append(ReservationLineRequest(sku=line[0], quantity=line[1], unit_price=price))
    return CreateReservation(location_id=location_id, lines=tuple(requests), ttl_seconds=ttl,
                             **fields)


async def reserve(executor: Executor, location_id: str, *lines: Line, ttl: int | None = 60,
                  **fields: Any) -> Reservation:
    return await executor.run(reservations.create_reservation,
                              create(location_id, *lines, ttl=ttl, **fields), CALLER)


async def commit(executor: Executor, reservation_id: str, **fields: Any) -> Sale:
    return await executor.run(reservations.commit_reservation,
                              CommitReservation(reservation_id=reservation_id, **fields), CALLER)


async def release(executor: Executor, reservation_id: str) -> Reservation:
    return await executor.run(reservations.release_reservation,
                              ReleaseReservation(reservation_id=reservation_id), CALLER)


async def expire(executor: Executor, reservation_id: str) -> Reservation:
    return await executor.run(reservations.expire_reservation,
                              ExpireReservation(reservation_id=reservation_id), CALLER)


def level(uows: FakeUnitOfWorkFactory, location_id: str, sku: str) -> Level:
    found = uows.level(location_id, sku)
    assert found is not None
    return found


def figures(uows: FakeUnitOfWorkFactory, location_id: str, sku: str) -> tuple[int, int, int]:
    lv = level(uows, location_id, sku)
    return lv.on_hand, lv.reserved, lv.available


def stored(uows: FakeUnitOfWorkFactory, reservation_id: str) -> Reservation:
    found: Reservation = uows.committed.table("reservations")[reservation_id]
    return found


# -- holding ------------------------------------------------------------------------------

async def test_hold_reserves_every_line_and_keeps_on_hand(
        executor: Executor, stocked: str, uows: FakeUnitOfWorkFactory, clock: Clock) -> None:
    ledger_before = len(uows.ledger())
    held = await reserve(executor, stocked, ("SKU-B", 2, "4.50"), ("SKU-A", 3), ("SKU-B", 1),
                         ttl=120, external_ref="cart-7")
    assert held.id.startswith("res_")
    assert (held.status, held.location_id, held.channel, held.external_ref, held.actor) == (
        ReservationStatus.ACTIVE, stocked, Channel.ECOMMERCE, "cart-7", CALLER.actor)
    assert (held.created_at, held.expires_at) == (clock.now, clock.now + timedelta(seconds=120))
    assert [(ln.sku, ln.quantity) for ln in held.lines] == [("SKU-B", 2), ("SKU-A", 3),
                                                            ("SKU-B", 1)]
    assert stored(uows, held.id) == held
    assert figures(uows, stocked, "SKU-A") == (10, 3, 7)
    assert figures(uows, stocked, "SKU-B") == (5, 3, 2)
    assert len(uows.ledger()) == ledger_before, "a hold does not change on_hand"


async def test_hold_announces_each_level_then_the_hold(
        executor: Executor, stocked: str, uows: FakeUnitOfWorkFactory) -> None:
    first_new = len(uows.events()) + 1
    held = await reserve(executor, stocked, ("SKU-B", 2), ("SKU-A", 1))
    events = [e for e in uows.events() if e.id >= first_new]
    assert [(e.type, e.sku) for e in events] == [
        ("inventory.changed", "SKU-A"), ("inventory.changed", "SKU-B"),
        ("reservation.created", None)]
    changed_b = events[1].data
    assert (changed_b["on_hand"], changed_b["reserved"], changed_b["available"],
            changed_b["delta"], changed_b["cause"], changed_b["reference"]) == (
        5, 2, 3, 0, "reservation", held.id)
    created = events[-1]
    assert created.location_id == stocked
    assert (created.data["reservation_id"], created.data["status"]) == (held.id, "active")


async def test_hold_with_short_lines_names_every_short_line_and_changes_nothing(
        executor: Executor, stocked: str, uows: FakeUnitOfWorkFactory) -> None:
    before = uows.committed.copy()
    with pytest.raises(InsufficientStock) as refused:
        await reserve(executor, stocked, ("SKU-C", 1), ("SKU-A", 4), ("SKU-B", 3),
                      ("SKU-B", 3))
    assert refused.value.location_id == stocked
    assert sorted((s.sku, s.requested, s.available) for s in refused.value.lines) == [
        ("SKU-B", 6, 5), ("SKU-C", 1, 0)]
    assert uows.committed == before


async def test_held_units_are_neither_held_again_nor_sold(
        executor: Executor, shop: Shop, stocked: str, uows: FakeUnitOfWorkFactory) -> None:
    await reserve(executor, stocked, ("SKU-A", 8))
    with pytest.raises(InsufficientStock) as refused:
        await reserve(executor, stocked, ("SKU-A", 3))
    assert refused.value.lines[0].available == 2
    with pytest.raises(InsufficientStock):
        await shop.sell(stocked, ("SKU-A", 3))
    await reserve(executor, stocked, ("SKU-A", 2))
    assert figures(uows, stocked, "SKU-A") == (10, 10, 0)


@pytest.mark.parametrize(("location", "sku", "kind"), [
    ("NOWHERE", "SKU-A", "location"), ("STORE-1", "NOPE", "product")])
async def test_hold_of_something_unknown_is_not_found(
        executor: Executor, stocked: str, uows: FakeUnitOfWorkFactory, location: str,
        sku: str, kind: str) -> None:
    before = uows.committed.copy()
    with pytest.raises(NotFound) as refused:
        await reserve(executor, location, ("SKU-A", 1), (sku, 1))
    assert (refused.value.kind, refused.value.key) == (kind, location if kind == "location"
                                                       else sku)
    assert uows.committed == before


@pytest.mark.parametrize(("lines", "ttl", "field"), [
    ((), 60, "lines"),
    ((("SKU-A", 0),), 60, "lines"),
    ((("SKU-A", 1), ("SKU-B", -1)), 60, "lines"),
    ((("SKU-A", 1, "1.00", "USD"), ("SKU-B", 1, "1.00", "EUR")), 60, "lines"),
    ((("SKU-A", 2, "500000000000"),), 60, "lines"),
    ((("SKU-A", 1),), None, "ttl_seconds"),
    ((("SKU-A", 1),), 0, "ttl_seconds"),
])
async def test_hold_with_bad_input_is_refused_and_changes_nothing(
        executor: Executor, stocked: str, uows: FakeUnitOfWorkFactory,
        lines: tuple[Line, ...], ttl: int | None, field: str) -> None:
    before = uows.committed.copy()
    with pytest.raises(InvalidInput) as refused:
        await reserve(executor, stocked, *lines, ttl=ttl)
    assert refused.value.field == field
    assert uows.committed == before


def test_ttl_is_the_default_when_left_out_and_never_over_the_maximum() -> None:
    asked = create("S", ("SKU-A", 1), ttl=None)
    assert reservations.with_ttl(asked, default=900, maximum=3600).ttl_seconds == 900
    assert reservations.with_ttl(asked, default=900, maximum=600).ttl_seconds == 600
    assert reservations.with_ttl(replace(asked, ttl_seconds=3600), default=900,
                                 maximum=3600).ttl_seconds == 3600
    for ttl in (3601, 0):
        with pytest.raises(InvalidInput) as refused:
            reservations.with_ttl(replace(asked, ttl_seconds=ttl), default=900, maximum=3600)
        assert refused.value.field == "ttl_seconds"


async def test_hold_that_crosses_the_reorder_point_raises_low_stock_once(
        executor: Executor, shop: Shop, stocked: str, uows: FakeUnitOfWorkFactory) -> None:
    await shop.settings(stocked, "SKU-A", 4)
    first = await reserve(executor, stocked, ("SKU-A", 5))  # available 5: above 4
    assert uows.events("inventory.low_stock") == []
    second = await reserve(executor, stocked, ("SKU-A", 1))  # available 4: crossed
    assert [(e.sku, e.data["available"]) for e in uows.events("inventory.low_stock")] == [
        ("SKU-A", 4)]
    await commit(executor, second.id)  # available stays 4: no second alert
    await release(executor, first.id)  # available 9: rising never alerts
    assert len(uows.events("inventory.low_stock")) == 1
    await reserve(executor, stocked, ("SKU-A", 6))  # available 3: crossed again
    assert [e.data["available"] for e in uows.events("inventory.low_stock")] == [4, 3]


# -- committing ---------------------------------------------------------------------------

async def test_commit_sells_the_held_units_as_a_recorded_sale(
        executor: Executor, shop: Shop, stocked: str, uows: FakeUnitOfWorkFactory,
        clock: Clock) -> None:
    await shop.product("SKU-P", price="7.25")
    await shop.receive(stocked, "SKU-P", 4)
    held = await reserve(executor, stocked, ("SKU-A", 2, "19.99"), ("SKU-P", 3),
                         ("SKU-A", 1, "5.00"), external_ref="order-9")
    clock.advance(30)
    sale = await commit(executor, held.id, payment_status=PaymentStatus.AUTHORIZED)
    assert sale.id.startswith("sale_")
    assert (sale.location_id, sale.currency, sale.channel, sale.payment_status,
            sale.external_ref, sale.status, sale.actor) == (
        stocked, "USD", Channel.ECOMMERCE, PaymentStatus.AUTHORIZED, "order-9", "completed",
        CALLER.actor)
    assert [(ln.sku, ln.quantity, ln.unit_price.format()) for ln in sale.lines] == [
        ("SKU-A", 2, "19.99"), ("SKU-P", 3, "7.25"), ("SKU-A", 1, "5.00")]
    assert sale.total == Money.parse("66.73", "USD")
    assert (sale.occurred_at, sale.created_at) == (clock.now, clock.now)
    assert uows.sales == [sale]
    assert figures(uows, stocked, "SKU-A") == (7, 0, 7)
    assert figures(uows, stocked, "SKU-P") == (1, 0, 1)
    done = stored(uows, held.id)
    assert (done.status, done.sale_id, done.updated_at) == (
        ReservationStatus.COMMITTED, sale.id, clock.now)


async def test_commit_writes_the_ledger_and_events_of_a_sale(
        executor: Executor, stocked: str, uows: FakeUnitOfWorkFactory) -> None:
    held = await reserve(executor, stocked, ("SKU-B", 2), ("SKU-A", 3))
    first_new = len(uows.events()) + 1
    sale = await commit(executor, held.id, external_ref="pos-1")
    assert sale.external_ref == "pos-1"
    entries = [e for e in uows.ledger(stocked) if e.type is MovementType.SALE]
    assert [(e.sku, e.delta, e.balance_after, e.reference, e.reason) for e in entries] == [
        ("SKU-A", -3, 7, sale.id, "sale"), ("SKU-B", -2, 3, sale.id, "sale")]
    events = [e for e in uows.events() if e.id >= first_new]
    assert [(e.type, e.sku) for e in events] == [
        ("inventory.changed", "SKU-A"), ("inventory.changed", "SKU-B"),
        ("sale.recorded", None), ("reservation.committed", None)]
    assert (events[0].data["on_hand"], events[0].data["reserved"], events[0].data["delta"],
            events[0].data["cause"]) == (7, 0, -3, "sale")
    assert events[2].data["sale_id"] == sale.id
    assert (events[3].data["status"], events[3].data["sale_id"]) == ("committed", sale.id)


async def test_commit_without_any_price_is_refused_and_the_hold_stays(
        executor: Executor, shop: Shop, stocked: str, uows: FakeUnitOfWorkFactory) -> None:
    await shop.product("SKU-FREE", price=None)
    await shop.receive(stocked, "SKU-FREE", 3)
    held = await reserve(executor, stocked, ("SKU-A", 1), ("SKU-FREE", 1))
    before = uows.committed.copy()
    with pytest.raises(InvalidInput, match="SKU-FREE"):
        await commit(executor, held.id)
    assert uows.committed == before
    priced = await reserve(executor, stocked, ("SKU-A", 1), ("SKU-FREE", 1, "2.00"))
    assert (await commit(executor, priced.id)).total == Money.parse("12.00", "USD")


async def test_commit_in_two_currencies_is_refused(
        executor: Executor, stocked: str, uows: FakeUnitOfWorkFactory) -> None:
    held = await reserve(executor, stocked, ("SKU-A", 1), ("SKU-B", 1, "3.00", "EUR"))
    before = uows.committed.copy()
    with pytest.raises(InvalidInput, match="currency"):
        await commit(executor, held.id)
    assert uows.committed == before


async def test_commit_at_or_after_expiry_is_invalid_state_and_changes_nothing(
        executor: Executor, stocked: str, uows: FakeUnitOfWorkFactory, clock: Clock) -> None:
    late, just_in_time = (await reserve(executor, stocked, ("SKU-A", 2), ttl=10),
                          await reserve(executor, stocked, ("SKU-A", 3), ttl=10))
    clock.advance(10 - 1e-6)
    await commit(executor, just_in_time.id)
    clock.advance(1e-6)  # exactly at expires_at
    before = uows.committed.copy()
    for action in (commit, release):
        with pytest.raises(InvalidState) as refused:
            await action(executor, late.id)
        assert (refused.value.key, refused.value.state) == (late.id, "expired")
    assert uows.committed == before
    assert figures(uows, stocked, "SKU-A") == (7, 2, 5)


# -- releasing and expiring -----------------------------------------------------------------

async def test_release_gives_the_units_back(executor: Executor, stocked: str,
                                            uows: FakeUnitOfWorkFactory, clock: Clock) -> None:
    held = await reserve(executor, stocked, ("SKU-A", 4), ("SKU-B", 5))
    first_new = len(uows.events()) + 1
    clock.advance(5)
    released = await release(executor, held.id)
    assert (released.status, released.updated_at, released.sale_id) == (
        ReservationStatus.RELEASED, clock.now, None)
    assert stored(uows, held.id) == released
    assert figures(uows, stocked, "SKU-A") == (10, 0, 10)
    assert figures(uows, stocked, "SKU-B") == (5, 0, 5)
    events = [e for e in uows.events() if e.id >= first_new]
    assert [(e.type, e.sku, e.data.get("cause")) for e in events] == [
        ("inventory.changed", "SKU-A", "release"), ("inventory.changed", "SKU-B", "release"),
        ("reservation.released", None, None)]


async def test_expire_only_once_the_time_is_up(executor: Executor, stocked: str,
                                               uows: FakeUnitOfWorkFactory,
                                               clock: Clock) -> None:
    held = await reserve(executor, stocked, ("SKU-A", 4), ttl=30)
    clock.advance(29)
    before = uows.committed.copy()
    with pytest.raises(InvalidState) as refused:
        await expire(executor, held.id)
    assert (refused.value.state, refused.value.action) == ("active", "expire")
    assert uows.committed == before
    clock.advance(1)
    expired = await expire(executor, held.id)
    assert expired.status is ReservationStatus.EXPIRED
    assert figures(uows, stocked, "SKU-A") == (10, 0, 10)
    assert [e.type for e in uows.events()][-2:] == ["inventory.changed", "reservation.expired"]
    assert uows.events("inventory.changed")[-1].data["cause"] == "expiry"


async def _committed(executor: Executor, held: Reservation, clock: Clock) -> None:
    await commit(executor, held.id)


async def _released(executor: Executor, held: Reservation, clock: Clock) -> None:
    await release(executor, held.id)


async def _expired(executor: Executor, held: Reservation, clock: Clock) -> None:
    clock.advance(61)
    await expire(executor, held.id)


@pytest.mark.parametrize("ended", [_committed, _released, _expired],
                         ids=["committed", "released", "expired"])
@pytest.mark.parametrize("action", [commit, release, expire],
                         ids=["commit", "release", "expire"])
async def test_an_ended_hold_refuses_every_action_and_nothing_changes(
        executor: Executor, stocked: str, uows: FakeUnitOfWorkFactory, clock: Clock,
        ended: Any, action: Any) -> None:
    held = await reserve(executor, stocked, ("SKU-A", 2))
    await ended(executor, held, clock)
    state = stored(uows, held.id).status
    clock.advance(120)  # expiry is due too: the state still decides
    before = uows.committed.copy()
    with pytest.raises(InvalidState) as refused:
        await action(executor, held.id)
    assert (refused.value.kind, refused.value.key, refused.value.state) == (
        "reservation", held.id, state)
    assert uows.committed == before


@pytest.mark.parametrize("action", [commit, release, expire])
async def test_unknown_hold_is_not_found(executor: Executor, stocked: str,
                                         action: Any) -> None:
    with pytest.raises(NotFound) as refused:
        await action(executor, "res_NOPE")
    assert (refused.value.kind, refused.value.key) == ("reservation", "res_NOPE")


# -- the sweeper ---------------------------------------------------------------------------

async def test_sweeper_expires_the_due_holds_only_and_each_once(
        executor: Executor, stocked: str, uows: FakeUnitOfWorkFactory, clock: Clock) -> None:
    short = [await reserve(executor, stocked, ("SKU-A", 1), ttl=10) for _ in range(5)]
    long = await reserve(executor, stocked, ("SKU-A", 2), ttl=100)
    committed = await reserve(executor, stocked, ("SKU-B", 1), ttl=10)
    await commit(executor, committed.id)
    assert await reservations.sweep_expired(executor, batch=2) == 0
    clock.advance(10)
    assert await reservations.sweep_expired(executor, batch=2) == 5
    assert await reservations.sweep_expired(executor, batch=2) == 0
    assert {stored(uows, r.id).status for r in short} == {ReservationStatus.EXPIRED}
    assert stored(uows, long.id).status is ReservationStatus.ACTIVE
    assert stored(uows, committed.id).status is ReservationStatus.COMMITTED
    assert figures(uows, stocked, "SKU-A") == (10, 2, 8)
    assert len(uows.events("reservation.expired")) == 5


async def test_sweepers_running_together_expire_each_hold_once(
        executor: Executor, stocked: str, uows: FakeUnitOfWorkFactory, clock: Clock) -> None:
    held = [await reserve(executor, stocked, ("SKU-A", 1), ("SKU-B", 1), ttl=5)
            for _ in range(5)]
    clock.advance(5)
    counts = await asyncio.gather(*(reservations.sweep_expired(executor, batch=3)
                                    for _ in range(4)))
    assert sum(counts) == 5
    assert {stored(uows, r.id).status for r in held} == {ReservationStatus.EXPIRED}
    assert figures(uows, stocked, "SKU-A") == (10, 0, 10)
    assert figures(uows, stocked, "SKU-B") == (5, 0, 5)
    assert len(uows.events("reservation.expired")) == 5


async def test_sweeper_goes_on_past_a_broken_hold_then_reports_it(
        executor: Executor, stocked: str, uows: FakeUnitOfWorkFactory, clock: Clock) -> None:
    broken = await reserve(executor, stocked, ("SKU-B", 2), ttl=5)
    fine = await reserve(executor, stocked, ("SKU-A", 2), ttl=6)
    hold(uows, stocked, "SKU-B", 0)  # the ledger identity broken behind the service's back
    clock.advance(6)
    with pytest.raises(RuntimeError, match=broken.id):
        await reservations.sweep_expired(executor)
    assert stored(uows, fine.id).status is ReservationStatus.EXPIRED
    assert stored(uows, broken.id).status is ReservationStatus.ACTIVE


async def test_the_server_runs_the_sweeper_at_the_configured_interval(
        uows: FakeUnitOfWorkFactory, tmp_path: Path) -> None:
    container = make_container(uows, tmp_path)
    try:
        [job] = [j for j in container.background if j._name == "expire-reservations"]
        assert job._interval == container.settings.reservation_sweep_interval_seconds
    finally:
        await container.close()


# -- idempotency ---------------------------------------------------------------------------

async def test_a_replayed_hold_and_commit_apply_once(
        executor: Executor, stocked: str, uows: FakeUnitOfWorkFactory) -> None:
    answers = JsonAnswers()
    cmd = create(stocked, ("SKU-A", 3))
    first, again = [await executor.respond(reservations.create_reservation, cmd, CALLER,
                                           answers, IdempotencyClaim("hold-1", "f1"))
                    for _ in range(2)]
    assert (first.replayed, again.replayed, body(again)) == (False, True, body(first))
    assert figures(uows, stocked, "SKU-A") == (10, 3, 7)
    commit_cmd = CommitReservation(reservation_id=body(first)["id"])
    sold, resold = [await executor.respond(reservations.commit_reservation, commit_cmd, CALLER,
                                           answers, IdempotencyClaim("commit-1", "f2"))
                    for _ in range(2)]
    assert (sold.outcome, resold.replayed, body(resold)) == ("ok", True, body(sold))
    assert len(uows.sales) == 1
    assert figures(uows, stocked, "SKU-A") == (7, 0, 7)
