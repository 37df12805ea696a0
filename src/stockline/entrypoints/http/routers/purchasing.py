"""Suppliers, purchase orders and replenishment suggestions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from stockline.domain.commands import CancelPurchaseOrder, PlacePurchaseOrder
from stockline.domain.errors import NotFound
from stockline.domain.security import Permission
from stockline.domain.states import PurchaseOrderStatus
from stockline.domain.values import CODE_PATTERN, SupplierStatus
from stockline.entrypoints.http.auth import PrincipalDep
from stockline.entrypoints.http.consistency import REPLICA_READ
from stockline.entrypoints.http.deps import ContainerDep, Cursor, Limit, WriterDep
from stockline.entrypoints.http.routers.scope import empty_page, require_of, within
from stockline.entrypoints.http.schemas.common import Page, problems
from stockline.entrypoints.http.schemas.purchasing import (
    NoFields,
    PurchaseOrderCreate,
    PurchaseOrderOut,
    PurchaseOrderReceipt,
    SourceType,
    SuggestionOut,
    SupplierCreate,
    SupplierOut,
    SupplierUpdate,
)
from stockline.entrypoints.limits import at_most_lines
from stockline.entrypoints.operations import (
    CANCEL_PURCHASE_ORDER,
    CREATE_PURCHASE_ORDER,
    CREATE_SUPPLIER,
    PLACE_PURCHASE_ORDER,
    RECEIVE_PURCHASE_ORDER,
    UPDATE_SUPPLIER,
)
from stockline.services.executor import utcnow

router = APIRouter(prefix="/v1", tags=["purchasing"])
CodePath = Annotated[str, Path(pattern=CODE_PATTERN)]
CodeQuery = Annotated[str | None, Query(pattern=CODE_PATTERN)]
OrderId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_]{1,40}$")]


# -- suppliers ----------------------------------------------------------------------------

@router.post("/suppliers", status_code=201, response_model=SupplierOut,
             responses=problems(404, 409), summary="Create a supplier",
             description="Every SKU it sells must exist (else 404); a code is taken once "
                         "(else 409 `already_exists`).")
async def create_supplier(body: SupplierCreate, write: WriterDep) -> Response:
    return await write.perform(CREATE_SUPPLIER, body.to_command(), body=body, status=201)


@router.get("/suppliers", dependencies=[REPLICA_READ],
            response_model=Page[SupplierOut], responses=problems(),
            summary="Suppliers, by code",
            description="`sku` lists only the suppliers that sell it; `status` only the "
                        "open (`active`) or `closed` ones.")
async def list_suppliers(container: ContainerDep, _p: PrincipalDep, sku: CodeQuery = None,
                         status: Annotated[SupplierStatus | None, Query(
                             description="Only the `active` or the `closed` ones")] = None,
                         limit: Limit = 50, cursor: Cursor = None) -> Page[SupplierOut]:
    page = await container.queries.suppliers(sku=sku, limit=limit, cursor=cursor,
                                             status=status)
    return Page(items=[SupplierOut.of(s) for s in page.items], next_cursor=page.next_cursor)


@router.get("/suppliers/{code}", response_model=SupplierOut, responses=problems(404),
            summary="One supplier")
async def get_supplier(code: CodePath, container: ContainerDep,
                       _p: PrincipalDep) -> SupplierOut:
    supplier = await container.queries.supplier(code)
    if supplier is None:
        raise NotFound("supplier", code)
    return SupplierOut.of(supplier)


@router.patch("/suppliers/{code}", response_model=SupplierOut, responses=problems(404),
              summary="Change or close a supplier",
              description="Only the fields sent change; `null` clears `contact` or "
                          "`lead_time_days`. A `closed` supplier takes no new purchase order "
                          "(409 `invalid_state`) and is no replenishment source.")
async def update_supplier(code: CodePath, body: SupplierUpdate, write: WriterDep) -> Response:
    return await write.perform(UPDATE_SUPPLIER, body.to_command(code), body=body)


# -- purchase orders ----------------------------------------------------------------------

@router.post("/purchase-orders", status_code=201, response_model=PurchaseOrderOut,
             responses=problems(404, 409), summary="Order from a supplier",
             description="Status `ordered`: each line's quantity shows at once as `incoming` "
                         "on its level. With `\"draft\": true` nothing is incoming until "
                         "`POST /v1/purchase-orders/{id}/order`. A line without `unit_cost` "
                         "takes the supplier's cost of the SKU.")
async def create_purchase_order(body: PurchaseOrderCreate, write: WriterDep) -> Response:
    at_most_lines(write.container.settings, len(body.lines), "purchase order")
    return await write.perform(CREATE_PURCHASE_ORDER, body.to_command(), body=body,
                               status=201)


@router.get("/purchase-orders", dependencies=[REPLICA_READ],
            response_model=Page[PurchaseOrderOut], responses=problems(),
            summary="Purchase orders, newest first")
async def list_purchase_orders(container: ContainerDep, principal: PrincipalDep,
                               status: PurchaseOrderStatus | None = None,
                               supplier_id: CodeQuery = None, location_id: CodeQuery = None,
                               sku: CodeQuery = None, limit: Limit = 50,
                               cursor: Cursor = None) -> Page[PurchaseOrderOut]:
    seen = within(principal, Permission.PURCHASING_READ, location_id)
    if seen is not None and not seen:
        return empty_page()
    page = await container.queries.purchase_orders(
        status=status.value if status else None, supplier_id=supplier_id,
        location_id=location_id, sku=sku, limit=limit, cursor=cursor, within=seen)
    return Page(items=[PurchaseOrderOut.of(o) for o in page.items],
                next_cursor=page.next_cursor)


@router.get("/purchase-orders/{order_id}", response_model=PurchaseOrderOut,
            responses=problems(404), summary="One purchase order")
async def get_purchase_order(order_id: OrderId, container: ContainerDep,
                             principal: PrincipalDep) -> PurchaseOrderOut:
    order = await container.queries.purchase_order(order_id)
    if order is None:
        raise NotFound("purchase order", order_id)
    require_of(principal, Permission.PURCHASING_READ, "purchase order", order.location_id)
    return PurchaseOrderOut.of(order)


@router.post("/purchase-orders/{order_id}/order", response_model=PurchaseOrderOut,
             responses=problems(404, 409), summary="Place a draft",
             description="Only a draft can be placed (else 409 `invalid_state`); its "
                         "quantities become `incoming`.")
async def place_purchase_order(order_id: OrderId, write: WriterDep,
                               body: NoFields | None = None) -> Response:
    return await write.perform(PLACE_PURCHASE_ORDER,
                               PlacePurchaseOrder(purchase_order_id=order_id),
                               body=None)  # no body and {} are the same request


@router.post("/purchase-orders/{order_id}/receive", response_model=PurchaseOrderOut,
             responses=problems(404, 409), summary="Receive all or some lines",
             description="`{}` receives everything outstanding; `lines` receive part of it, "
                         "optionally into a lot with an expiry. More of a SKU than is "
                         "outstanding is 409 `quantity_exceeded` and nothing changes. "
                         "on_hand rises through the ledger (type `receipt`, reference = the "
                         "order's id), `incoming` falls; status `partially_received` or "
                         "`received`.")
async def receive_purchase_order(order_id: OrderId, write: WriterDep,
                                 body: PurchaseOrderReceipt | None = None) -> Response:
    body = body or PurchaseOrderReceipt()  # no body is {}: receive everything
    if body.lines is not None:
        at_most_lines(write.container.settings, len(body.lines), "receipt")
    return await write.perform(RECEIVE_PURCHASE_ORDER, body.to_command(order_id), body=body)


@router.post("/purchase-orders/{order_id}/cancel", response_model=PurchaseOrderOut,
             responses=problems(404, 409), summary="Cancel a draft or an open order",
             description="What was still outstanding leaves `incoming`; what was received "
                         "stays. A received or cancelled order is 409 `invalid_state`.")
async def cancel_purchase_order(order_id: OrderId, write: WriterDep,
                                body: NoFields | None = None) -> Response:
    return await write.perform(CANCEL_PURCHASE_ORDER,
                               CancelPurchaseOrder(purchase_order_id=order_id),
                               body=None)  # no body and {} are the same request


# -- replenishment ------------------------------------------------------------------------

@router.get("/replenishment/suggestions", dependencies=[REPLICA_READ],
            response_model=Page[SuggestionOut],
            responses=problems(), summary="What to reorder, how much, and from where",
            description=(
                "One item for every level at or under its reorder point (`available <= "
                "reorder_point`) that is not already covered by what is on order.\n\n"
                "**Quantity**: `on_order = in_transit + incoming`; the level is ordered up "
                "to `target = max(reorder_point + safety_stock + 1, safety_stock + "
                "ceil(daily_velocity * (lead_time_days + cover_days)))`, where "
                "`daily_velocity` is its pace of net sales over the trailing 28 days (as "
                "`/v1/reports/stock-cover`), `lead_time_days` that of the best supplier "
                "offer below (0 without one) and `cover_days` the setting "
                "`STOCKLINE_REPLENISHMENT_COVER_DAYS`; the shortfall is `target - "
                "(available + on_order)` (a level whose shortfall is 0 or less is covered "
                "and left out). `quantity` is the smallest multiple of `reorder_quantity` "
                "that covers the shortfall, or the shortfall itself when no reorder "
                "quantity is set.\n\n"
                "**Source**: a location's surplus is `available - reorder_point - "
                "safety_stock` (unset counts as 0). The locations with a surplus are ranked "
                "nearest first: same region as the level's, then by distance (when both "
                "have coordinates; unknown after known), then the most surplus, then the "
                "code. The first whose surplus covers the whole quantity (`transfer`); else "
                "the cheapest supplier of the SKU with a known lead time (`supplier`; ties: "
                "shorter lead time, then code); else the first ranked even though it covers "
                "only part (`source.surplus` < `quantity`); else null.\n\n"
                "`source_type` keeps only one kind of source (`none`: no source).\n\n"
                "A key limited to some locations gets the suggestions of its locations "
                "(asking for another is a 403); a supplier's `unit_cost` is shown only to "
                "keys that may read suppliers."))
async def list_suggestions(container: ContainerDep, principal: PrincipalDep,
                           location_id: CodeQuery = None, sku: CodeQuery = None,
                           source_type: SourceType | None = None, limit: Limit = 50,
                           cursor: Cursor = None) -> Page[SuggestionOut]:
    seen = within(principal, Permission.REPLENISHMENT_READ, location_id)
    if seen is not None and not seen:
        return empty_page()
    page = await container.queries.suggestions(
        location_id=location_id, sku=sku,
        source_type=source_type.value if source_type else None, limit=limit, cursor=cursor,
        within=seen, now=utcnow(), cover_days=container.settings.replenishment_cover_days)
    costs = principal.may(Permission.SUPPLIERS_READ)
    return Page(items=[SuggestionOut.of(s, costs=costs) for s in page.items],
                next_cursor=page.next_cursor)
