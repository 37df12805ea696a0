"""Suppliers and purchase orders: stock ordered shows as ``incoming`` until it arrives.

The rule that ties purchase orders to levels: for every level, ``incoming`` is the sum of
what is still outstanding on the open (``ordered`` or ``partially_received``) purchase
orders for it. Ordering raises it, a receipt moves what arrived from ``incoming`` to
``on_hand`` (through the ledger, referencing the order), and a cancellation takes what
never came back out of it. A draft promises nothing and moves nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timedelta

from stockline.domain.commands import (
    CancelPurchaseOrder,
    CreatePurchaseOrder,
    CreateSupplier,
    PlacePurchaseOrder,
    ReceiptLine,
    ReceivePurchaseOrder,
)
from stockline.domain.documents import PurchaseOrder, PurchaseOrderLine, Supplier, SupplierProduct
from stockline.domain.errors import (
    AlreadyExists,
    ExcessLine,
    InvalidInput,
    InvalidState,
    NotFound,
    QuantityExceeded,
)
from stockline.domain.events import Event
from stockline.domain.ids import new_id
from stockline.domain.lots import LotPiece
from stockline.domain.model import LedgerEntry
from stockline.domain.security import Permission
from stockline.domain.states import PURCHASE_ORDERS, PurchaseOrderStatus, after_receipt
from stockline.domain.values import (
    AMOUNT_SCALE,
    MAX_AMOUNT,
    UNLABELLED_LOT,
    MovementType,
    SupplierStatus,
)
from stockline.services.executor import Context
from stockline.services.ports import UnitOfWork
from stockline.services.stock import (
    append_records,
    ensure_level,
    ensure_receivable,
    level_events,
    put_stock,
    record_change,
)

KIND = "purchase order"
MAX_LEAD_TIME_DAYS = 3650


# -- suppliers ----------------------------------------------------------------------------

def new_supplier(cmd: CreateSupplier, now: datetime) -> Supplier:
    return Supplier(code=cmd.code, name=cmd.name,
                    contact=dict(cmd.contact) if cmd.contact else None,
                    lead_time_days=cmd.lead_time_days,
                    products=tuple(SupplierProduct(sku=p.sku, cost=p.cost)
                                   for p in sorted(cmd.products, key=lambda p: p.sku)),
                    created_at=now, updated_at=now)


async def create_supplier(uow: UnitOfWork, cmd: CreateSupplier, ctx: Context) -> Supplier:
    """A supplier code is taken once; every SKU it offers must exist, each listed once.

    The lead time, when given, is a whole number of days from 0 up to ten years.
    """
    ctx.require(Permission.SUPPLIERS_WRITE)
    if cmd.lead_time_days is not None and not 0 <= cmd.lead_time_days <= MAX_LEAD_TIME_DAYS:
        raise InvalidInput("lead_time_days", f"must be between 0 and {MAX_LEAD_TIME_DAYS}")
    skus = [p.sku for p in cmd.products]
    if len(set(skus)) != len(skus):
        raise InvalidInput("products", "each SKU may be listed once")
    unknown = set(skus) - await uow.products.existing(skus)
    if unknown:
        raise NotFound("product", min(unknown))
    supplier = new_supplier(cmd, ctx.now)
    if not await uow.suppliers.add(supplier):
        raise AlreadyExists("supplier", cmd.code)
    return supplier


# -- purchase orders ----------------------------------------------------------------------

async def create_purchase_order(uow: UnitOfWork, cmd: CreatePurchaseOrder,
                                ctx: Context) -> PurchaseOrder:
    """Order from a known, open supplier for a known location; every SKU must exist.

    Only an open location orders, and only active products (``ensure_receivable``), even
    as a draft: a draft is an order about to be sent.

    A line without ``unit_cost`` takes the supplier's cost for its SKU (none when the
    supplier does not list it); the costs of one order share one currency. An order is
    placed at once (status ``ordered``: ``incoming`` rises on each level, levels are
    created empty where needed, ``expected_at`` is the supplier's lead time from now when
    known), or kept as a ``draft`` that changes no level until it is placed.
    """
    ctx.require(Permission.PURCHASING_WRITE, cmd.location_id)
    if not cmd.lines:
        raise InvalidInput("lines", "a purchase order needs at least one line")
    if any(line.quantity <= 0 for line in cmd.lines):
        raise InvalidInput("lines", "every line needs a positive quantity")
    supplier = await uow.suppliers.get(cmd.supplier_id)
    if supplier is None:
        raise NotFound("supplier", cmd.supplier_id)
    _check_open(supplier)
    await ensure_receivable(uow, cmd.location_id, [line.sku for line in cmd.lines])
    costs = {p.sku: p.cost for p in supplier.products}
    lines = [PurchaseOrderLine(line_no=n, sku=line.sku, quantity=line.quantity,
                               unit_cost=(line.unit_cost if line.unit_cost is not None
                                          else costs.get(line.sku)))
             for n, line in enumerate(cmd.lines, start=1)]
    _check_costs(lines)
    order = PurchaseOrder(id=new_id("po"), supplier_id=supplier.code,
                          location_id=cmd.location_id, status=PurchaseOrderStatus.DRAFT,
                          lines=lines, note=cmd.note, external_ref=cmd.external_ref,
                          actor=ctx.actor, created_at=ctx.now, updated_at=ctx.now)
    events: list[Event] = []
    if not cmd.draft:
        events = await _place(uow, order, supplier, ctx)
    await uow.purchase_orders.add(order)
    await uow.outbox.append(events)
    return order


async def place_purchase_order(uow: UnitOfWork, cmd: PlacePurchaseOrder,
                               ctx: Context) -> PurchaseOrder:
    """Send a draft to its supplier: status ``ordered``, and its quantities become
    ``incoming`` on their levels. Only a draft can be placed (else 409 invalid_state), by
    an open supplier, into an open location, of active products."""
    order = await _get(uow, cmd.purchase_order_id)
    ctx.require_of(Permission.PURCHASING_WRITE, KIND, order.location_id)
    PURCHASE_ORDERS.check(order.id, order.status, "order")
    supplier = await uow.suppliers.get(order.supplier_id)
    assert supplier is not None, "a purchase order refers to an existing supplier"
    _check_open(supplier)
    await ensure_receivable(uow, order.location_id, [line.sku for line in order.lines])
    events = await _place(uow, order, supplier, ctx)
    await uow.purchase_orders.update(order)
    await uow.outbox.append(events)
    return order


async def receive_purchase_order(uow: UnitOfWork, cmd: ReceivePurchaseOrder,
                                 ctx: Context) -> PurchaseOrder:
    """Receive everything outstanding, or the lines given (optionally into a lot).

    Never more of a SKU than is outstanding on the order: asking for more (or for a SKU
    it does not have) is QuantityExceeded and nothing changes. For each SKU, in SKU
    order, ``incoming`` falls by what arrived and ``on_hand`` rises by it, with a ledger
    entry of type ``receipt`` referencing the order. The order becomes
    ``partially_received``, or ``received`` once nothing is outstanding. Only an
    ``ordered`` or ``partially_received`` order can be received, into an open location, of
    active products (what can no longer come in is cancelled instead).
    """
    order = await _get(uow, cmd.purchase_order_id)
    ctx.require_of(Permission.PURCHASING_RECEIVE, KIND, order.location_id)
    PURCHASE_ORDERS.check(order.id, order.status, "receive")
    receipt = _receipt(order, cmd.lines)
    await ensure_receivable(uow, order.location_id, [piece.sku for piece in receipt])
    quantities: Counter[str] = Counter()
    for piece in receipt:
        quantities[piece.sku] += piece.quantity
    records: list[tuple[list[LedgerEntry], list[Event]]] = []
    for sku in sorted(quantities):
        # All lots of a SKU arrive as one change of its level (incoming down, on_hand up).
        pieces = [LotPiece(p.lot or UNLABELLED_LOT, p.quantity, p.expires_on)
                  for p in receipt if p.sku == sku]
        moved = await put_stock(uow, order.location_id, sku, quantities[sku], ctx,
                                pieces=pieces, arriving_from="incoming")
        records.append(record_change(moved, ctx, type=MovementType.RECEIPT,
                                     reason="receipt", reference=order.id))
        _fill(order, sku, quantities[sku])
    order.status = after_receipt(order.outstanding)[1]
    order.updated_at = ctx.now
    if order.status is PurchaseOrderStatus.RECEIVED:
        order.received_at = ctx.now
    await uow.purchase_orders.update(order)
    await append_records(uow, records)
    return order


async def cancel_purchase_order(uow: UnitOfWork, cmd: CancelPurchaseOrder,
                                ctx: Context) -> PurchaseOrder:
    """Cancel a draft or an open order; what was still outstanding leaves ``incoming``.

    What was received stays received. A received or cancelled order cannot be cancelled
    (409 invalid_state).
    """
    order = await _get(uow, cmd.purchase_order_id)
    ctx.require_of(Permission.PURCHASING_WRITE, KIND, order.location_id)
    PURCHASE_ORDERS.check(order.id, order.status, "cancel")
    events: list[Event] = []
    if order.status is not PurchaseOrderStatus.DRAFT:
        events = await _move_incoming(uow, order, _outstanding(order), -1, ctx,
                                      cause="purchase_order_cancel")
    order.status = PurchaseOrderStatus.CANCELLED
    order.cancelled_at = order.updated_at = ctx.now
    await uow.purchase_orders.update(order)
    await uow.outbox.append(events)
    return order


# -- the rules ----------------------------------------------------------------------------

def _check_open(supplier: Supplier) -> None:
    if supplier.status is SupplierStatus.CLOSED:
        raise InvalidState("supplier", supplier.code, supplier.status.value, "order from")


def _check_costs(lines: list[PurchaseOrderLine]) -> None:
    costs = [line.unit_cost for line in lines if line.unit_cost is not None]
    if len({cost.currency for cost in costs}) > 1:
        raise InvalidInput("lines", "all unit costs of a purchase order must use one currency")
    total = sum(line.unit_cost.units * line.quantity for line in lines
                if line.unit_cost is not None)
    if total >= MAX_AMOUNT * AMOUNT_SCALE:
        raise InvalidInput("lines", "the purchase order's total is too large")


def _receipt(order: PurchaseOrder, lines: tuple[ReceiptLine, ...] | None) -> list[ReceiptLine]:
    """The pieces to receive, checked against what is outstanding per SKU."""
    outstanding = _outstanding(order)
    if lines is None:
        return [ReceiptLine(sku=sku, quantity=q) for sku, q in sorted(outstanding.items())
                if q > 0]
    if not lines:
        raise InvalidInput("lines", "give at least one line, or none to receive everything")
    if any(line.quantity <= 0 for line in lines):
        raise InvalidInput("lines", "every line needs a positive quantity")
    if any(line.expires_on is not None and line.lot is None for line in lines):
        raise InvalidInput("lines", "an expiry belongs to a lot: give 'lot' too")
    asked: Counter[str] = Counter()
    for line in lines:
        asked[line.sku] += line.quantity
    excess = tuple(ExcessLine(sku, q, outstanding.get(sku, 0))
                   for sku, q in sorted(asked.items()) if q > outstanding.get(sku, 0))
    if excess:
        raise QuantityExceeded(KIND, order.id, excess)
    return list(lines)


def _outstanding(order: PurchaseOrder) -> dict[str, int]:
    totals: Counter[str] = Counter()
    for line in order.lines:
        totals[line.sku] += line.outstanding
    return dict(totals)


def _fill(order: PurchaseOrder, sku: str, quantity: int) -> None:
    """Book ``quantity`` received of ``sku`` against its lines, first line first."""
    for line in order.lines:
        if line.sku == sku and quantity > 0:
            take = min(line.outstanding, quantity)
            line.received_quantity += take
            quantity -= take
    assert quantity == 0, "checked against the outstanding quantity before"


async def _get(uow: UnitOfWork, order_id: str) -> PurchaseOrder:
    order = await uow.purchase_orders.get(order_id, for_update=True)
    if order is None:
        raise NotFound(KIND, order_id)
    return order


async def _place(uow: UnitOfWork, order: PurchaseOrder, supplier: Supplier,
                 ctx: Context) -> list[Event]:
    order.status = PurchaseOrderStatus.ORDERED
    order.ordered_at = order.updated_at = ctx.now
    if supplier.lead_time_days is not None:
        order.expected_at = ctx.now + timedelta(days=supplier.lead_time_days)
    for sku in sorted({line.sku for line in order.lines}):
        await ensure_level(uow, order.location_id, sku, ctx)
    return await _move_incoming(uow, order, _outstanding(order), 1, ctx,
                                cause="purchase_order")


async def _move_incoming(uow: UnitOfWork, order: PurchaseOrder, quantities: Mapping[str, int],
                         sign: int, ctx: Context, *, cause: str) -> list[Event]:
    """Raise (sign 1) or lower (sign -1) ``incoming`` of each SKU, in SKU order."""
    events: list[Event] = []
    for sku in sorted(quantities):
        if quantities[sku] <= 0:
            continue
        level = await uow.levels.change(order.location_id, sku, now=ctx.now,
                                        incoming=sign * quantities[sku])
        assert level is not None, "the level exists and holds the order's incoming quantity"
        events.extend(level_events(level, level.available, ctx, cause=cause,
                                   reference=order.id))
    return events

