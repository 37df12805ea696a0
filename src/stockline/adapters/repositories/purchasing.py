"""Suppliers and purchase orders (SQL), and the row mapping the read side shares."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from stockline.adapters.dialects import upsert
from stockline.adapters.rows import money_or_none
from stockline.adapters.tables import (
    purchase_order_lines,
    purchase_orders,
    supplier_products,
    suppliers,
)
from stockline.domain.documents import PurchaseOrder, PurchaseOrderLine, Supplier, SupplierProduct
from stockline.domain.states import PurchaseOrderStatus
from stockline.domain.values import Money, SupplierStatus

SUP, SP, PO, POL = suppliers.c, supplier_products.c, purchase_orders.c, purchase_order_lines.c


# -- mapping ------------------------------------------------------------------------------

def supplier_from_rows(row: Row[Any], products: Sequence[Row[Any]]) -> Supplier:
    return Supplier(code=row.code, name=row.name, contact=row.contact,
                    lead_time_days=row.lead_time_days,
                    products=tuple(SupplierProduct(sku=p.sku,
                                                   cost=Money.from_units(p.cost_amount,
                                                                         p.currency))
                                   for p in products),
                    created_at=row.created_at, updated_at=row.updated_at,
                    status=SupplierStatus(row.status))


def _supplier_values(supplier: Supplier) -> dict[str, Any]:
    return {"name": supplier.name,
            "contact": dict(supplier.contact) if supplier.contact is not None else None,
            "lead_time_days": supplier.lead_time_days, "status": supplier.status.value,
            "updated_at": supplier.updated_at}


def purchase_order_from_rows(row: Row[Any], lines: Sequence[Row[Any]]) -> PurchaseOrder:
    return PurchaseOrder(
        id=row.id, supplier_id=row.supplier_code, location_id=row.location_id,
        status=PurchaseOrderStatus(row.status), note=row.note, external_ref=row.external_ref,
        actor=row.actor, created_at=row.created_at, updated_at=row.updated_at,
        ordered_at=row.ordered_at, expected_at=row.expected_at, received_at=row.received_at,
        cancelled_at=row.cancelled_at,
        lines=[PurchaseOrderLine(line_no=ln.line_no, sku=ln.sku, quantity=ln.quantity,
                                 received_quantity=ln.received_quantity,
                                 unit_cost=money_or_none(ln.unit_cost_amount, ln.currency))
               for ln in lines])


def _order_values(order: PurchaseOrder) -> dict[str, Any]:
    """The columns an order's life changes (everything else is fixed at creation)."""
    return {"status": order.status.value, "updated_at": order.updated_at,
            "ordered_at": order.ordered_at, "expected_at": order.expected_at,
            "received_at": order.received_at, "cancelled_at": order.cancelled_at}


async def lines_of(conn: AsyncConnection, order_ids: Sequence[str]) -> dict[str, list[Row[Any]]]:
    """The lines of these orders, by order, in line order."""
    found: dict[str, list[Row[Any]]] = {i: [] for i in order_ids}
    if order_ids:
        stmt = (select(purchase_order_lines).where(POL.purchase_order_id.in_(order_ids))
                .order_by(POL.purchase_order_id, POL.line_no))
        for line in (await conn.execute(stmt)).all():
            found[line.purchase_order_id].append(line)
    return found


async def products_of(conn: AsyncConnection,
                      codes: Sequence[str]) -> dict[str, list[Row[Any]]]:
    """The products of these suppliers, by supplier, in SKU order."""
    found: dict[str, list[Row[Any]]] = {c: [] for c in codes}
    if codes:
        stmt = (select(supplier_products).where(SP.supplier_code.in_(codes))
                .order_by(SP.supplier_code, SP.sku))
        for product in (await conn.execute(stmt)).all():
            found[product.supplier_code].append(product)
    return found


# -- repositories -------------------------------------------------------------------------

class SqlSuppliers:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, supplier: Supplier) -> bool:
        stmt = (upsert(self._conn, suppliers).values(
            code=supplier.code, created_at=supplier.created_at, **_supplier_values(supplier))
            .on_conflict_do_nothing().returning(SUP.code))
        if (await self._conn.execute(stmt)).first() is None:
            return False
        if supplier.products:
            await self._conn.execute(supplier_products.insert(), [
                {"supplier_code": supplier.code, "sku": p.sku, "cost_amount": p.cost.units,
                 "currency": p.cost.currency} for p in supplier.products])
        return True

    async def get(self, code: str, *, for_update: bool = False) -> Supplier | None:
        stmt = select(suppliers).where(SUP.code == code)
        row = (await self._conn.execute(stmt.with_for_update() if for_update else stmt)).first()
        if row is None:
            return None
        return supplier_from_rows(row, (await products_of(self._conn, [code]))[code])

    async def update(self, supplier: Supplier) -> None:
        """Its own fields (name, contact, lead time, status); its products stay."""
        await self._conn.execute(suppliers.update().where(SUP.code == supplier.code)
                                 .values(_supplier_values(supplier)))


class SqlPurchaseOrders:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, order: PurchaseOrder) -> None:
        await self._conn.execute(purchase_orders.insert().values(
            id=order.id, supplier_code=order.supplier_id, location_id=order.location_id,
            note=order.note, external_ref=order.external_ref, actor=order.actor,
            created_at=order.created_at, **_order_values(order)))
        await self._conn.execute(purchase_order_lines.insert(), [
            {"purchase_order_id": order.id, "line_no": line.line_no, "sku": line.sku,
             "quantity": line.quantity, "received_quantity": line.received_quantity,
             "unit_cost_amount": line.unit_cost.units if line.unit_cost else None,
             "currency": line.unit_cost.currency if line.unit_cost else None}
            for line in order.lines])

    async def get(self, order_id: str, *, for_update: bool = False) -> PurchaseOrder | None:
        stmt = select(purchase_orders).where(PO.id == order_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = (await self._conn.execute(stmt)).first()
        if row is None:
            return None
        return purchase_order_from_rows(row, (await lines_of(self._conn, [order_id]))[order_id])

    async def update(self, order: PurchaseOrder) -> None:
        await self._conn.execute(purchase_orders.update().where(PO.id == order.id)
                                 .values(_order_values(order)))
        await self._conn.execute(
            purchase_order_lines.update()
            .where(POL.purchase_order_id == bindparam("b_order"),
                   POL.line_no == bindparam("b_line"))
            .values(received_quantity=bindparam("b_received")),
            [{"b_order": order.id, "b_line": line.line_no,
              "b_received": line.received_quantity} for line in order.lines])
