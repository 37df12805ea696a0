"""In-memory fakes of the supplier and purchase order repositories (see tests/fakes.py).

Like the SQL adapters: a supplier's code is its key, its products and an order's lines
refer to existing SKUs, an order to an existing supplier and location; line quantities
are positive and ``0 <= received_quantity <= quantity``; ``update`` stores only what the
SQL ``update`` stores (status, timestamps, received quantities). What the database would
refuse raises ``IntegrityError``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import tests.fakes as fakes
from stockline.domain.documents import PurchaseOrder, Supplier

SUPPLIERS = "suppliers"
PURCHASE_ORDERS = "purchase_orders"


def _supplier_copy(supplier: Supplier) -> Supplier:
    return replace(supplier, contact=dict(supplier.contact) if supplier.contact else None)


def _order_copy(order: PurchaseOrder) -> PurchaseOrder:
    return replace(order, lines=[replace(line) for line in order.lines])


class FakeSuppliers:
    def __init__(self, uow: Any) -> None:
        self._uow = uow

    def _rows(self) -> dict[str, Supplier]:
        rows: dict[str, Supplier] = self._uow.store.table(SUPPLIERS)
        return rows

    async def add(self, supplier: Supplier) -> bool:
        if supplier.code in self._rows():
            return False
        products = self._uow.store.products
        if any(p.sku not in products for p in supplier.products):
            raise fakes.IntegrityError(f"FOREIGN KEY constraint failed for {supplier.code}")
        if len({p.sku for p in supplier.products}) != len(supplier.products):
            raise fakes.IntegrityError("duplicate supplier_products key")
        self._rows()[supplier.code] = _supplier_copy(supplier)
        return True

    async def get(self, code: str, *, for_update: bool = False) -> Supplier | None:
        supplier = self._rows().get(code)
        return _supplier_copy(supplier) if supplier else None

    async def update(self, supplier: Supplier) -> None:
        if supplier.code in self._rows():
            before = self._rows()[supplier.code]
            self._rows()[supplier.code] = replace(_supplier_copy(supplier),
                                                  products=before.products,
                                                  created_at=before.created_at)


class FakePurchaseOrders:
    def __init__(self, uow: Any) -> None:
        self._uow = uow

    def _rows(self) -> dict[str, PurchaseOrder]:
        rows: dict[str, PurchaseOrder] = self._uow.store.table(PURCHASE_ORDERS)
        return rows

    @staticmethod
    def _check(order: PurchaseOrder) -> None:
        for line in order.lines:
            if line.quantity <= 0 or not 0 <= line.received_quantity <= line.quantity:
                raise fakes.IntegrityError(f"CHECK constraint failed for line {line}")

    async def add(self, order: PurchaseOrder) -> None:
        store = self._uow.store
        if order.id in self._rows():
            raise fakes.IntegrityError(f"duplicate purchase order id {order.id}")
        if (order.supplier_id not in store.table(SUPPLIERS)
                or order.location_id not in store.locations):
            raise fakes.IntegrityError(f"FOREIGN KEY constraint failed for {order.id}")
        self._check(order)
        self._rows()[order.id] = _order_copy(order)

    async def get(self, order_id: str, *, for_update: bool = False) -> PurchaseOrder | None:
        order = self._rows().get(order_id)
        return _order_copy(order) if order else None

    async def update(self, order: PurchaseOrder) -> None:
        stored = self._rows().get(order.id)
        if stored is None:  # like UPDATE ... WHERE: a missing row is no error
            return
        received = {line.line_no: line.received_quantity for line in order.lines}
        lines = [replace(line, received_quantity=received.get(line.line_no,
                                                              line.received_quantity))
                 for line in stored.lines]
        updated = replace(stored, status=order.status, updated_at=order.updated_at,
                          ordered_at=order.ordered_at, expected_at=order.expected_at,
                          received_at=order.received_at, cancelled_at=order.cancelled_at,
                          lines=lines)
        self._check(updated)
        self._rows()[order.id] = updated
