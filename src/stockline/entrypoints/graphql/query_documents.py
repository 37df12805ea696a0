"""The root fields of transfers, holds, purchasing and the event log: each reads what its
REST route reads, with the same permission, location scope, filters, order and cursors."""

from __future__ import annotations

import strawberry

from stockline.domain.security import Permission as P
from stockline.domain.states import PurchaseOrderStatus, ReservationStatus, TransferStatus
from stockline.domain.values import SupplierStatus
from stockline.entrypoints.graphql.context import Info
from stockline.entrypoints.graphql.documents import (
    Hold,
    PurchaseOrder,
    Supplier,
    Transfer,
    hold_node,
    order_node,
    supplier_node,
    transfer_node,
)
from stockline.entrypoints.graphql.events import EventConnection, event_page
from stockline.entrypoints.graphql.paging import (
    Connection,
    connection,
    cursor_of,
    empty,
    page_size,
)
from stockline.entrypoints.graphql.query import After, First
from stockline.entrypoints.graphql.values import code, code_or_none, document_id


@strawberry.type
class DocumentQuery:
    @strawberry.field(description="Transfers, newest first (GET "
                                  "/v1/stock-movements/transfers): `locationId` matches "
                                  "either end")
    async def transfers(self, info: Info, first: First = None, after: After = None,
                        status: TransferStatus | None = None,
                        from_location_id: str | None = None,
                        to_location_id: str | None = None, location_id: str | None = None,
                        sku: str | None = None) -> Connection[Transfer]:
        seen = info.context.seen(P.TRANSFERS_READ)
        if seen is not None and not seen:
            return empty()
        page = await info.context.container.queries.transfers(
            status=status.value if status else None,
            from_location_id=code_or_none("fromLocationId", from_location_id),
            to_location_id=code_or_none("toLocationId", to_location_id),
            location_id=code_or_none("locationId", location_id),
            sku=code_or_none("sku", sku), limit=page_size(first), cursor=cursor_of(after),
            within=seen)
        return connection(page, transfer_node, after)

    @strawberry.field(description="One transfer (GET /v1/stock-movements/transfers/{id})")
    async def transfer(self, info: Info, id: str) -> Transfer | None:
        info.context.principal.require(P.TRANSFERS_READ)
        found = await info.context.container.queries.transfer(document_id("id", id))
        if found is None:
            return None
        info.context.require_of(P.TRANSFERS_READ, "transfer", found.from_location_id,
                                found.to_location_id)
        return transfer_node(found)

    @strawberry.field(description="Holds (reservations), newest first (GET /v1/reservations)")
    async def holds(self, info: Info, first: First = None, after: After = None,
                    status: ReservationStatus | None = None, location_id: str | None = None
                    ) -> Connection[Hold]:
        seen = info.context.seen(P.RESERVATIONS_READ, code_or_none("locationId", location_id))
        if seen is not None and not seen:
            return empty()
        page = await info.context.container.queries.reservations(
            status=status.value if status else None, location_id=location_id,
            limit=page_size(first), cursor=cursor_of(after), within=seen)
        return connection(page, hold_node, after)

    @strawberry.field(description="One hold (GET /v1/reservations/{id})")
    async def hold(self, info: Info, id: str) -> Hold | None:
        info.context.principal.require(P.RESERVATIONS_READ)
        found = await info.context.container.queries.reservation(document_id("id", id))
        if found is None:
            return None
        info.context.require_of(P.RESERVATIONS_READ, "reservation", found.location_id)
        return hold_node(found)

    @strawberry.field(description="Suppliers, by code (GET /v1/suppliers)")
    async def suppliers(self, info: Info, first: First = None, after: After = None,
                        sku: str | None = None, status: SupplierStatus | None = None
                        ) -> Connection[Supplier]:
        info.context.principal.require(P.SUPPLIERS_READ)
        page = await info.context.container.queries.suppliers(
            sku=code_or_none("sku", sku), limit=page_size(first), cursor=cursor_of(after),
            status=status)
        return connection(page, supplier_node, after)

    @strawberry.field(description="One supplier (GET /v1/suppliers/{code})")
    async def supplier(self, info: Info, id: str) -> Supplier | None:
        info.context.principal.require(P.SUPPLIERS_READ)
        found = await info.context.container.queries.supplier(code("id", id))
        return None if found is None else supplier_node(found)

    @strawberry.field(description="Purchase orders, newest first (GET /v1/purchase-orders)")
    async def purchase_orders(self, info: Info, first: First = None, after: After = None,
                              status: PurchaseOrderStatus | None = None,
                              supplier_id: str | None = None, location_id: str | None = None,
                              sku: str | None = None) -> Connection[PurchaseOrder]:
        seen = info.context.seen(P.PURCHASING_READ, code_or_none("locationId", location_id))
        if seen is not None and not seen:
            return empty()
        page = await info.context.container.queries.purchase_orders(
            status=status.value if status else None,
            supplier_id=code_or_none("supplierId", supplier_id), location_id=location_id,
            sku=code_or_none("sku", sku), limit=page_size(first), cursor=cursor_of(after),
            within=seen)
        return connection(page, order_node, after)

    @strawberry.field(description="One purchase order (GET /v1/purchase-orders/{id})")
    async def purchase_order(self, info: Info, id: str) -> PurchaseOrder | None:
        info.context.principal.require(P.PURCHASING_READ)
        found = await info.context.container.queries.purchase_order(document_id("id", id))
        if found is None:
            return None
        info.context.require_of(P.PURCHASING_READ, "purchase order", found.location_id)
        return order_node(found)

    @strawberry.field(description="The event log, oldest first (GET /v1/events): `after` is "
                                  "an event id or a page's `endCursor`; `types` as the "
                                  "stream's (`sale.recorded`, ...)")
    async def events(self, info: Info, first: First = None, after: After = None,
                     types: list[str] | None = None, location_ids: list[str] | None = None,
                     skus: list[str] | None = None) -> EventConnection:
        return await event_page(info, first, after, types, location_ids, skus)
