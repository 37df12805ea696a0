"""Location scope in the use cases: a caller limited to some locations changes nothing
anywhere else, and each write needs its own exact permission there."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from stockline.domain.commands import (
    CancelPurchaseOrder,
    CancelTransfer,
    CommitReservation,
    CreatePurchaseOrder,
    CreateReservation,
    CreateSupplier,
    LineQuantity,
    PlacePurchaseOrder,
    PurchaseLineRequest,
    ReceivePurchaseOrder,
    ReceiveStock,
    ReceiveTransfer,
    ReleaseReservation,
    ReservationLineRequest,
    ReturnSale,
    SetReorderSettings,
    ShipTransfer,
    SupplierProductRequest,
    UpdateInventory,
)
from stockline.domain.errors import Forbidden
from stockline.domain.security import Permission, Principal, Role
from stockline.domain.values import LocationType, Money, Reason, ReturnReason
from stockline.services import (
    inventory,
    purchasing,
    reservations,
    returns,
    sales,
    transfers,
)
from stockline.services.executor import Caller, Executor
from tests.fakes import FakeUnitOfWorkFactory
from tests.unit.support import CALLER, Shop, sale

HOME, FOREIGN, DEPOT = "STORE-1", "STORE-9", "DC-1"
SKU = "SKU-A"


def caller(role: Role, *locations: str) -> Caller:
    return Caller(principal=f"key_{role.value}", actor=role.value,
                  access=Principal(id=f"key_{role.value}", name=role.value, role=role,
                                   locations=frozenset(locations)))


STORE_STAFF = caller(Role.STORE_STAFF, HOME)
WAREHOUSE_STAFF = caller(Role.WAREHOUSE_STAFF, DEPOT)
PARTNER = caller(Role.PARTNER, HOME)


@pytest.fixture
async def world(shop: Shop, executor: Executor) -> dict[str, str]:
    """Three locations with 50 of SKU-A each; a sale, a hold, a draft and an open order at
    each of HOME and FOREIGN; transfers DEPOT -> FOREIGN and FOREIGN -> DEPOT in transit."""
    await shop.product(SKU)
    for code, kind in ((HOME, LocationType.RETAIL), (FOREIGN, LocationType.RETAIL),
                       (DEPOT, LocationType.WAREHOUSE)):
        await shop.location(code, kind)
        await shop.receive(code, SKU, 50)
    await executor.run(purchasing.create_supplier, CreateSupplier(
        code="ACME", name="Acme", lead_time_days=3, products=(SupplierProductRequest(
            sku=SKU, cost=Money.parse("4.00", "USD")),)), CALLER)
    found: dict[str, str] = {}
    for code in (HOME, FOREIGN):
        found[f"sale@{code}"] = (await shop.sell(code, (SKU, 5))).id
        found[f"hold@{code}"] = (await executor.run(reservations.create_reservation, hold(code),
                                                    CALLER)).id
        found[f"po@{code}"] = (await executor.run(purchasing.create_purchase_order,
                                                  order(code, draft=True), CALLER)).id
        found[f"open-po@{code}"] = (await executor.run(purchasing.create_purchase_order,
                                                       order(code), CALLER)).id
    found["to-foreign"] = (await executor.run(transfers.ship_transfer,
                                              ship(DEPOT, FOREIGN), CALLER)).id
    found["from-foreign"] = (await executor.run(transfers.ship_transfer,
                                                ship(FOREIGN, DEPOT), CALLER)).id
    return found


def hold(location_id: str) -> CreateReservation:
    return CreateReservation(location_id=location_id, ttl_seconds=600, lines=(
        ReservationLineRequest(sku=SKU, quantity=1),))


def order(location_id: str, *, draft: bool = False) -> CreatePurchaseOrder:
    return CreatePurchaseOrder(supplier_id="ACME", location_id=location_id, draft=draft,
                               lines=(PurchaseLineRequest(sku=SKU, quantity=3),))


def ship(origin: str, destination: str) -> ShipTransfer:
    return ShipTransfer(from_location_id=origin, to_location_id=destination,
                        lines=(LineQuantity(sku=SKU, quantity=2),))


def update(location_id: str, reason: Reason, **fields: Any) -> UpdateInventory:
    return UpdateInventory(location_id=location_id, sku=SKU, reason=reason, **fields)


Attempt = Callable[[dict[str, str]], tuple[Any, Any]]

# (who, use case, the command) of every write a scoped caller must not make.
REFUSED: dict[str, tuple[Caller, Callable[..., Awaitable[Any]], Attempt]] = {
    "sale at another store": (STORE_STAFF, sales.record_sale,
                              lambda w: sale(FOREIGN, (SKU, 1))),
    "count at another store": (STORE_STAFF, inventory.update_inventory,
                               lambda w: update(FOREIGN, Reason.COUNT, quantity=1)),
    "receipt at its own store without inventory:receive": (
        STORE_STAFF, inventory.update_inventory,
        lambda w: update(HOME, Reason.RECEIPT, delta=1)),
    "adjustment at its own store without inventory:adjust": (
        STORE_STAFF, inventory.update_inventory,
        lambda w: update(HOME, Reason.DAMAGE, delta=-1)),
    "reorder settings without inventory:settings": (
        WAREHOUSE_STAFF, inventory.set_reorder_settings,
        lambda w: SetReorderSettings(location_id=DEPOT, sku=SKU, reorder_point=5,
                                     reorder_quantity=None, safety_stock=None)),
    "bulk receipt elsewhere": (WAREHOUSE_STAFF, inventory.receive_stock,
                               lambda w: ReceiveStock(location_id=FOREIGN,
                                                      quantities={SKU: 5})),
    "a return of another store's sale": (
        STORE_STAFF, returns.return_sale,
        lambda w: ReturnSale(sale_id=w[f"sale@{FOREIGN}"], restock=True,
                             reason=ReturnReason.DEFECTIVE,
                             lines=(LineQuantity(sku=SKU, quantity=1),))),
    "a hold at another store": (STORE_STAFF, reservations.create_reservation,
                                lambda w: hold(FOREIGN)),
    "committing another store's hold": (
        STORE_STAFF, reservations.commit_reservation,
        lambda w: CommitReservation(reservation_id=w[f"hold@{FOREIGN}"])),
    "releasing another store's hold": (
        STORE_STAFF, reservations.release_reservation,
        lambda w: ReleaseReservation(reservation_id=w[f"hold@{FOREIGN}"])),
    "shipping from another location": (WAREHOUSE_STAFF, transfers.ship_transfer,
                                       lambda w: ship(FOREIGN, DEPOT)),
    "receiving at another destination": (
        WAREHOUSE_STAFF, transfers.receive_transfer,
        lambda w: ReceiveTransfer(transfer_id=w["to-foreign"], lines=None)),
    "cancelling another origin's transfer": (
        WAREHOUSE_STAFF, transfers.cancel_transfer,
        lambda w: CancelTransfer(transfer_id=w["from-foreign"])),
    "receiving another location's order": (
        WAREHOUSE_STAFF, purchasing.receive_purchase_order,
        lambda w: ReceivePurchaseOrder(purchase_order_id=w[f"open-po@{FOREIGN}"],
                                       lines=None)),
    "ordering without purchasing:write": (WAREHOUSE_STAFF, purchasing.create_purchase_order,
                                          lambda w: order(DEPOT)),
    "placing without purchasing:write": (
        WAREHOUSE_STAFF, purchasing.place_purchase_order,
        lambda w: PlacePurchaseOrder(purchase_order_id=w[f"po@{HOME}"])),
    "cancelling without purchasing:write": (
        WAREHOUSE_STAFF, purchasing.cancel_purchase_order,
        lambda w: CancelPurchaseOrder(purchase_order_id=w[f"po@{HOME}"])),
    "a partner's sale": (PARTNER, sales.record_sale, lambda w: sale(HOME, (SKU, 1))),
}


@pytest.mark.parametrize("attempt", sorted(REFUSED))
async def test_a_scoped_caller_is_refused_and_nothing_changes(
        attempt: str, world: dict[str, str], executor: Executor,
        uows: FakeUnitOfWorkFactory) -> None:
    who, handler, command = REFUSED[attempt]
    before, commits = uows.committed.copy(), uows.commits
    with pytest.raises(Forbidden):
        await executor.run(handler, command(world), who)
    after = uows.committed
    assert uows.commits == commits
    assert (after.levels, after.ledger, after.outbox, after.sales, after.documents) == (
        before.levels, before.ledger, before.outbox, before.sales, before.documents)


async def test_a_refusal_on_an_object_does_not_say_where_it_is(
        world: dict[str, str], executor: Executor) -> None:
    with pytest.raises(Forbidden) as refused:
        await executor.run(reservations.commit_reservation,
                           CommitReservation(reservation_id=world[f"hold@{FOREIGN}"]),
                           STORE_STAFF)
    assert FOREIGN not in str(refused.value)


async def test_store_staff_sell_count_and_hold_at_their_store(
        world: dict[str, str], executor: Executor, uows: FakeUnitOfWorkFactory) -> None:
    await executor.run(sales.record_sale, sale(HOME, (SKU, 1)), STORE_STAFF)
    await executor.run(inventory.update_inventory, update(HOME, Reason.COUNT, quantity=40),
                       STORE_STAFF)
    held = await executor.run(reservations.create_reservation, hold(HOME), STORE_STAFF)
    await executor.run(reservations.commit_reservation,
                       CommitReservation(reservation_id=held.id), STORE_STAFF)
    await executor.run(returns.return_sale, ReturnSale(
        sale_id=world[f"sale@{HOME}"], restock=True, reason=ReturnReason.DEFECTIVE,
        lines=(LineQuantity(sku=SKU, quantity=1),)), STORE_STAFF)
    level = uows.level(HOME, SKU)
    assert level is not None and level.on_hand == 40 - 1 + 1


async def test_a_warehouse_ships_to_a_store_that_is_not_its_own_and_the_store_receives(
        world: dict[str, str], executor: Executor, uows: FakeUnitOfWorkFactory) -> None:
    """The decision: shipping is the origin's act; only the destination receives it."""
    shipped = await executor.run(transfers.ship_transfer, ship(DEPOT, HOME), WAREHOUSE_STAFF)
    with pytest.raises(Forbidden):
        await executor.run(transfers.receive_transfer,
                           ReceiveTransfer(transfer_id=shipped.id, lines=None), WAREHOUSE_STAFF)
    await executor.run(transfers.receive_transfer,
                       ReceiveTransfer(transfer_id=shipped.id, lines=None), STORE_STAFF)
    level = uows.level(HOME, SKU)
    assert level is not None and level.on_hand == 50 - 5 + 2


async def test_only_the_origin_cancels_a_transfer(world: dict[str, str],
                                                  executor: Executor) -> None:
    shipped = await executor.run(transfers.ship_transfer, ship(DEPOT, HOME), WAREHOUSE_STAFF)
    with pytest.raises(Forbidden):  # the destination's staff have no transfers:cancel
        await executor.run(transfers.cancel_transfer, CancelTransfer(transfer_id=shipped.id),
                           STORE_STAFF)
    cancelled = await executor.run(transfers.cancel_transfer,
                                   CancelTransfer(transfer_id=shipped.id), WAREHOUSE_STAFF)
    assert cancelled.status.value == "cancelled"


@pytest.mark.parametrize(("reason", "fields"), [
    (Reason.RECEIPT, {"delta": 1}), (Reason.COUNT, {"quantity": 7}),
    (Reason.ADJUSTMENT, {"delta": -1}), (Reason.DAMAGE, {"delta": -1}),
    (Reason.LOSS, {"delta": -1}), (Reason.FOUND, {"delta": 1}), (Reason.RETURN, {"delta": 1}),
])
async def test_warehouse_staff_change_their_own_levels_for_every_reason(
        reason: Reason, fields: dict[str, int], world: dict[str, str],
        executor: Executor) -> None:
    level = await executor.run(inventory.update_inventory, update(DEPOT, reason, **fields),
                               WAREHOUSE_STAFF)
    assert level.location_id == DEPOT


def test_each_reason_needs_its_permission() -> None:
    P = Permission
    assert {r: inventory.permission_for(r) for r in Reason} == {
        Reason.RECEIPT: P.INVENTORY_RECEIVE, Reason.COUNT: P.INVENTORY_COUNT,
        Reason.ADJUSTMENT: P.INVENTORY_ADJUST, Reason.DAMAGE: P.INVENTORY_ADJUST,
        Reason.LOSS: P.INVENTORY_ADJUST, Reason.FOUND: P.INVENTORY_ADJUST,
        Reason.RETURN: P.INVENTORY_ADJUST}


async def test_system_jobs_are_not_limited(world: dict[str, str], executor: Executor) -> None:
    """Stockline's own callers (no principal: the sweeper, the demo loader) act anywhere."""
    system = Caller(principal="system", actor="job")
    await executor.run(sales.record_sale, sale(FOREIGN, (SKU, 1)), system)
