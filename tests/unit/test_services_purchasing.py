"""Suppliers and purchase orders: ordered stock is incoming until it is received."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from stockline.domain.commands import (
    CancelPurchaseOrder,
    CreatePurchaseOrder,
    CreateSupplier,
    PlacePurchaseOrder,
    PurchaseLineRequest,
    ReceiptLine,
    ReceivePurchaseOrder,
    SupplierProductRequest,
)
from stockline.domain.documents import PurchaseOrder, Supplier
from stockline.domain.errors import (
    AlreadyExists,
    InvalidInput,
    InvalidState,
    NotFound,
    QuantityExceeded,
)
from stockline.domain.states import PurchaseOrderStatus
from stockline.domain.values import Money, MovementType
from stockline.services import purchasing
from stockline.services.executor import Executor
from tests.fakes import FakeUnitOfWorkFactory
from tests.unit.support import CALLER, Shop

SUPPLIER = "ACME"


def usd(amount: str) -> Money:
    return Money.parse(amount, "USD")


class Buyer:
    """Drives the purchasing use cases through the executor, as the HTTP layer does."""

    def __init__(self, executor: Executor) -> None:
        self.executor = executor

    async def supplier(self, code: str = SUPPLIER, *, lead_time_days: int | None = 7,
                       products: dict[str, str] | None = None, **fields: Any) -> Supplier:
        offers = products if products is not None else {"SKU-A": "4.00", "SKU-B": "2.50"}
        return await self.executor.run(purchasing.create_supplier, CreateSupplier(
            code=code, name=f"Supplier {code}", lead_time_days=lead_time_days,
            products=tuple(SupplierProductRequest(sku=sku, cost=usd(cost))
                           for sku, cost in offers.items()), **fields), CALLER)

    async def order(self, location_id: str, *lines: tuple[str, int] | tuple[str, int, Money],
                    supplier_id: str = SUPPLIER, **fields: Any) -> PurchaseOrder:
        return await self.executor.run(purchasing.create_purchase_order, CreatePurchaseOrder(
            supplier_id=supplier_id, location_id=location_id,
            lines=tuple(PurchaseLineRequest(sku=ln[0], quantity=ln[1],
                                            unit_cost=ln[2] if len(ln) > 2 else None)
                        for ln in lines), **fields), CALLER)

    async def place(self, order_id: str) -> PurchaseOrder:
        return await self.executor.run(purchasing.place_purchase_order,
                                       PlacePurchaseOrder(purchase_order_id=order_id), CALLER)

    async def receive(self, order_id: str, *lines: ReceiptLine) -> PurchaseOrder:
        return await self.executor.run(purchasing.receive_purchase_order, ReceivePurchaseOrder(
            purchase_order_id=order_id, lines=lines or None), CALLER)

    async def cancel(self, order_id: str) -> PurchaseOrder:
        return await self.executor.run(purchasing.cancel_purchase_order,
                                       CancelPurchaseOrder(purchase_order_id=order_id), CALLER)

    async def act(self, action: str, order_id: str) -> PurchaseOrder:
        if action == "order":
            return await self.place(order_id)
        if action == "receive":
            return await self.receive(order_id)
        return await self.cancel(order_id)


@pytest.fixture
def buyer(executor: Executor) -> Buyer:
    return Buyer(executor)


@pytest.fixture
async def world(buyer: Buyer, store: str) -> str:
    """The store, the products SKU-A, SKU-B, SKU-C and supplier ACME (A at 4.00, B at 2.50,
    7 days)."""
    await buyer.supplier()
    return store


def counts(uows: FakeUnitOfWorkFactory, location_id: str, sku: str) -> tuple[int, int]:
    """(on_hand, incoming) of a level; (0, 0) when there is none."""
    level = uows.level(location_id, sku)
    return (level.on_hand, level.incoming) if level else (0, 0)


# -- suppliers ----------------------------------------------------------------------------

async def test_supplier_is_stored_with_its_products_in_sku_order(
        buyer: Buyer, store: str, uows: FakeUnitOfWorkFactory) -> None:
    created = await buyer.supplier(products={"SKU-B": "2.50", "SKU-A": "4.00"},
                                   contact={"name": "Ann", "email": "ann@acme.test"})
    assert [(p.sku, p.cost) for p in created.products] == [("SKU-A", usd("4.00")),
                                                          ("SKU-B", usd("2.50"))]
    stored = uows.committed.table("suppliers")[SUPPLIER]
    assert stored == created
    assert stored.contact == {"name": "Ann", "email": "ann@acme.test"}


async def test_a_supplier_code_is_taken_once(buyer: Buyer, world: str,
                                             uows: FakeUnitOfWorkFactory) -> None:
    with pytest.raises(AlreadyExists):
        await buyer.supplier(products={"SKU-C": "1.00"})
    assert uows.committed.table("suppliers")[SUPPLIER].products[0].sku == "SKU-A"


async def test_a_supplier_of_an_unknown_sku_is_refused(buyer: Buyer, store: str,
                                                       uows: FakeUnitOfWorkFactory) -> None:
    with pytest.raises(NotFound) as refused:
        await buyer.supplier(products={"SKU-A": "1.00", "SKU-NOPE": "1.00"})
    assert (refused.value.kind, refused.value.key) == ("product", "SKU-NOPE")
    assert uows.committed.table("suppliers") == {}


@pytest.mark.parametrize("lead_time_days", [-1, 3651])
async def test_lead_time_must_be_zero_to_ten_years(buyer: Buyer, store: str,
                                                   lead_time_days: int) -> None:
    with pytest.raises(InvalidInput) as refused:
        await buyer.supplier(lead_time_days=lead_time_days)
    assert refused.value.field == "lead_time_days"


async def test_a_supplier_lists_each_sku_once(buyer: Buyer, store: str) -> None:
    with pytest.raises(InvalidInput):
        await buyer.executor.run(purchasing.create_supplier, CreateSupplier(
            code="DUP", name="Dup", products=(
                SupplierProductRequest(sku="SKU-A", cost=usd("1.00")),
                SupplierProductRequest(sku="SKU-A", cost=usd("2.00")))), CALLER)


# -- ordering -----------------------------------------------------------------------------

async def test_an_order_makes_its_quantities_incoming_in_sku_order(
        buyer: Buyer, world: str, uows: FakeUnitOfWorkFactory) -> None:
    first_new = len(uows.events()) + 1
    order = await buyer.order(world, ("SKU-B", 4), ("SKU-A", 10), ("SKU-B", 2))
    assert order.id.startswith("po_")
    assert order.status is PurchaseOrderStatus.ORDERED
    assert (counts(uows, world, "SKU-A"), counts(uows, world, "SKU-B")) == ((0, 10), (0, 6))
    events = [e for e in uows.events() if e.id >= first_new]
    assert [(e.type, e.sku) for e in events] == [("inventory.changed", "SKU-A"),
                                                ("inventory.changed", "SKU-B")]
    assert {(e.data["cause"], e.data["reference"], e.data["delta"]) for e in events} == {
        ("purchase_order", order.id, 0)}
    assert [e.data["incoming"] for e in events] == [10, 6]
    assert uows.ledger(world) == []  # nothing arrived: on_hand did not move


async def test_an_order_is_expected_after_the_lead_time(buyer: Buyer, world: str) -> None:
    order = await buyer.order(world, ("SKU-A", 1))
    assert order.ordered_at is not None
    assert order.expected_at == order.ordered_at + timedelta(days=7)
    await buyer.supplier("NO-LEAD", lead_time_days=None)
    unknown = await buyer.order(world, ("SKU-A", 1), supplier_id="NO-LEAD")
    assert unknown.ordered_at is not None
    assert unknown.expected_at is None


async def test_unit_cost_defaults_to_the_suppliers_cost(buyer: Buyer, world: str,
                                                        uows: FakeUnitOfWorkFactory) -> None:
    order = await buyer.order(world, ("SKU-A", 2), ("SKU-B", 1, usd("2.00")), ("SKU-C", 3))
    assert [ln.unit_cost for ln in order.lines] == [usd("4.00"), usd("2.00"), None]
    stored = uows.committed.table("purchase_orders")[order.id]
    assert stored == order
    assert [(ln.line_no, ln.sku, ln.quantity) for ln in stored.lines] == [
        (1, "SKU-A", 2), (2, "SKU-B", 1), (3, "SKU-C", 3)]


async def test_costs_of_one_order_share_a_currency(buyer: Buyer, world: str,
                                                   uows: FakeUnitOfWorkFactory) -> None:
    before = uows.committed.copy()
    with pytest.raises(InvalidInput):
        await buyer.order(world, ("SKU-A", 2), ("SKU-B", 1, Money.parse("2.00", "EUR")))
    assert uows.committed == before


@pytest.mark.parametrize(("supplier_id", "location_id", "sku", "kind", "key"), [
    ("NOPE", "STORE-1", "SKU-A", "supplier", "NOPE"),
    (SUPPLIER, "NOWHERE", "SKU-A", "location", "NOWHERE"),
    (SUPPLIER, "STORE-1", "SKU-NOPE", "product", "SKU-NOPE"),
])
async def test_an_order_for_unknown_things_is_refused_and_changes_nothing(
        buyer: Buyer, world: str, uows: FakeUnitOfWorkFactory, supplier_id: str,
        location_id: str, sku: str, kind: str, key: str) -> None:
    before = uows.committed.copy()
    with pytest.raises(NotFound) as refused:
        await buyer.order(location_id, ("SKU-B", 1), (sku, 1), supplier_id=supplier_id)
    assert (refused.value.kind, refused.value.key) == (kind, key)
    assert uows.committed == before


async def test_an_order_needs_positive_quantities(buyer: Buyer, world: str) -> None:
    with pytest.raises(InvalidInput):
        await buyer.order(world, ("SKU-A", 0))
    with pytest.raises(InvalidInput):
        await buyer.order(world)


async def test_a_draft_moves_nothing_until_it_is_placed(buyer: Buyer, world: str,
                                                        uows: FakeUnitOfWorkFactory) -> None:
    draft = await buyer.order(world, ("SKU-A", 5), draft=True)
    assert (draft.status, draft.ordered_at, draft.expected_at) == (
        PurchaseOrderStatus.DRAFT, None, None)
    assert uows.level(world, "SKU-A") is None
    assert uows.events("inventory.changed") == []
    placed = await buyer.place(draft.id)
    assert placed.status is PurchaseOrderStatus.ORDERED
    assert placed.ordered_at is not None
    assert placed.expected_at == placed.ordered_at + timedelta(days=7)
    assert counts(uows, world, "SKU-A") == (0, 5)
    assert uows.committed.table("purchase_orders")[draft.id].status is PurchaseOrderStatus.ORDERED


# -- receiving ----------------------------------------------------------------------------

async def test_receiving_everything_moves_incoming_to_on_hand_through_the_ledger(
        buyer: Buyer, world: str, shop: Shop, uows: FakeUnitOfWorkFactory) -> None:
    await shop.receive(world, "SKU-A", 3)
    order = await buyer.order(world, ("SKU-B", 4), ("SKU-A", 10))
    first_new = len(uows.events()) + 1
    received = await buyer.receive(order.id)
    assert received.status is PurchaseOrderStatus.RECEIVED
    assert received.received_at is not None
    assert [(ln.sku, ln.received_quantity) for ln in received.lines] == [("SKU-B", 4),
                                                                         ("SKU-A", 10)]
    assert (counts(uows, world, "SKU-A"), counts(uows, world, "SKU-B")) == ((13, 0), (4, 0))
    entries = [e for e in uows.ledger(world) if e.reference == order.id]
    assert [(e.sku, e.delta, e.balance_after, e.type, e.reason) for e in entries] == [
        ("SKU-A", 10, 13, MovementType.RECEIPT, "receipt"),
        ("SKU-B", 4, 4, MovementType.RECEIPT, "receipt")]
    changed = [e for e in uows.events() if e.id >= first_new]
    assert [(e.type, e.sku, e.data["on_hand"], e.data["incoming"], e.data["delta"])
            for e in changed] == [("inventory.changed", "SKU-A", 13, 0, 10),
                                  ("inventory.changed", "SKU-B", 4, 0, 4)]


async def test_a_partial_receipt_leaves_the_rest_incoming(buyer: Buyer, world: str,
                                                          uows: FakeUnitOfWorkFactory) -> None:
    order = await buyer.order(world, ("SKU-A", 10), ("SKU-B", 4))
    partial = await buyer.receive(order.id, ReceiptLine(sku="SKU-A", quantity=6))
    assert partial.status is PurchaseOrderStatus.PARTIALLY_RECEIVED
    assert partial.received_at is None
    assert (counts(uows, world, "SKU-A"), counts(uows, world, "SKU-B")) == ((6, 4), (0, 4))
    rest = await buyer.receive(order.id)
    assert rest.status is PurchaseOrderStatus.RECEIVED
    assert (counts(uows, world, "SKU-A"), counts(uows, world, "SKU-B")) == ((10, 0), (4, 0))
    assert [e.delta for e in uows.ledger(world, "SKU-A")] == [6, 4]


async def test_lines_of_one_sku_are_filled_first_line_first(buyer: Buyer, world: str) -> None:
    order = await buyer.order(world, ("SKU-A", 3), ("SKU-B", 1), ("SKU-A", 5))
    partial = await buyer.receive(order.id, ReceiptLine(sku="SKU-A", quantity=4))
    assert [ln.received_quantity for ln in partial.lines] == [3, 0, 1]


async def test_receiving_more_than_outstanding_is_refused_and_changes_nothing(
        buyer: Buyer, world: str, uows: FakeUnitOfWorkFactory) -> None:
    order = await buyer.order(world, ("SKU-A", 10), ("SKU-B", 4))
    await buyer.receive(order.id, ReceiptLine(sku="SKU-A", quantity=7))
    before = uows.committed.copy()
    with pytest.raises(QuantityExceeded) as refused:
        await buyer.receive(order.id, ReceiptLine(sku="SKU-B", quantity=4),
                            ReceiptLine(sku="SKU-A", quantity=2, lot="L1"),
                            ReceiptLine(sku="SKU-A", quantity=2, lot="L2"),
                            ReceiptLine(sku="SKU-C", quantity=1))
    assert (refused.value.kind, refused.value.key) == ("purchase order", order.id)
    assert [(x.sku, x.requested, x.allowed) for x in refused.value.lines] == [
        ("SKU-A", 4, 3), ("SKU-C", 1, 0)]
    assert uows.committed == before


async def test_a_receipt_into_a_lot_keeps_its_expiry(buyer: Buyer, world: str,
                                                     uows: FakeUnitOfWorkFactory) -> None:
    order = await buyer.order(world, ("SKU-A", 10))
    await buyer.receive(order.id, ReceiptLine(sku="SKU-A", quantity=6, lot="LOT-1",
                                              expires_on=date(2030, 1, 31)),
                        ReceiptLine(sku="SKU-A", quantity=4, lot="LOT-2"))
    lots = {key[2]: lot for key, lot in uows.committed.lots.items()
            if key[:2] == (world, "SKU-A")}
    assert {k: (v.on_hand, v.expires_on) for k, v in lots.items()} == {
        "LOT-1": (6, date(2030, 1, 31)), "LOT-2": (4, None)}
    assert counts(uows, world, "SKU-A") == (10, 0)
    assert [(e.lot, e.delta, e.reference) for e in uows.ledger(world, "SKU-A")] == [
        ("LOT-1", 6, order.id), ("LOT-2", 4, order.id)]


async def test_an_expiry_needs_a_lot(buyer: Buyer, world: str) -> None:
    order = await buyer.order(world, ("SKU-A", 10))
    with pytest.raises(InvalidInput):
        await buyer.receive(order.id, ReceiptLine(sku="SKU-A", quantity=1,
                                                  expires_on=date(2030, 1, 1)))


# -- cancelling ---------------------------------------------------------------------------

async def test_cancelling_takes_what_is_outstanding_out_of_incoming(
        buyer: Buyer, world: str, uows: FakeUnitOfWorkFactory) -> None:
    order = await buyer.order(world, ("SKU-A", 10), ("SKU-B", 4))
    await buyer.receive(order.id, ReceiptLine(sku="SKU-A", quantity=6))
    first_new = len(uows.events()) + 1
    cancelled = await buyer.cancel(order.id)
    assert cancelled.status is PurchaseOrderStatus.CANCELLED
    assert cancelled.cancelled_at is not None
    assert (counts(uows, world, "SKU-A"), counts(uows, world, "SKU-B")) == ((6, 0), (0, 0))
    events = [e for e in uows.events() if e.id >= first_new]
    assert [(e.sku, e.data["cause"], e.data["incoming"]) for e in events] == [
        ("SKU-A", "purchase_order_cancel", 0), ("SKU-B", "purchase_order_cancel", 0)]


async def test_cancelling_a_draft_moves_nothing(buyer: Buyer, world: str,
                                                uows: FakeUnitOfWorkFactory) -> None:
    draft = await buyer.order(world, ("SKU-A", 10), draft=True)
    cancelled = await buyer.cancel(draft.id)
    assert cancelled.status is PurchaseOrderStatus.CANCELLED
    assert uows.level(world, "SKU-A") is None


async def test_every_illegal_transition_is_refused_and_changes_nothing(
        buyer: Buyer, world: str, uows: FakeUnitOfWorkFactory) -> None:
    draft = await buyer.order(world, ("SKU-A", 1), draft=True)
    ordered = await buyer.order(world, ("SKU-A", 2))
    partial = await buyer.order(world, ("SKU-A", 3))
    await buyer.receive(partial.id, ReceiptLine(sku="SKU-A", quantity=1))
    received = await buyer.order(world, ("SKU-A", 4))
    await buyer.receive(received.id)
    cancelled = await buyer.order(world, ("SKU-A", 5))
    await buyer.cancel(cancelled.id)
    refusals = [(draft.id, "receive", "draft"), (ordered.id, "order", "ordered"),
                (partial.id, "order", "partially_received"), (received.id, "order", "received"),
                (received.id, "receive", "received"), (received.id, "cancel", "received"),
                (cancelled.id, "order", "cancelled"), (cancelled.id, "receive", "cancelled"),
                (cancelled.id, "cancel", "cancelled")]
    before = uows.committed.copy()
    for order_id, action, state in refusals:
        with pytest.raises(InvalidState) as refused:
            await buyer.act(action, order_id)
        assert (refused.value.key, refused.value.state, refused.value.action) == (
            order_id, state, action)
    assert uows.committed == before
    assert counts(uows, world, "SKU-A") == (5, 2 + 2)  # ordered 2, partial 3 - 1


@pytest.mark.parametrize("action", ["order", "receive", "cancel"])
async def test_an_unknown_order_is_not_found(buyer: Buyer, world: str, action: str) -> None:
    with pytest.raises(NotFound) as refused:
        await buyer.act(action, "po_NOPE")
    assert (refused.value.kind, refused.value.key) == ("purchase order", "po_NOPE")
