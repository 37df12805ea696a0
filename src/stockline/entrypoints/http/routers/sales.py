"""Sales: record (all lines or none), list, one; returns against a sale."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from pydantic import ValidationError
from starlette.responses import Response

from stockline.domain.customers import REF_PATTERN
from stockline.domain.errors import InvalidInput, NotFound
from stockline.domain.security import Permission
from stockline.domain.values import CODE_PATTERN, Channel, FulfillmentStatus, PaymentStatus
from stockline.entrypoints.http.auth import PrincipalDep
from stockline.entrypoints.http.consistency import REPLICA_READ
from stockline.entrypoints.http.deps import (
    IDEMPOTENCY_KEY,
    ContainerDep,
    Cursor,
    Limit,
    Writer,
    WriterDep,
    declares_json,
)
from stockline.entrypoints.http.lean import caller, container_of, lean_route
from stockline.entrypoints.http.routers.scope import empty_page, require_of, within
from stockline.entrypoints.http.schemas.common import Instant, Page, problems
from stockline.entrypoints.http.schemas.sales import (
    SaleCreate,
    SaleOut,
    SaleReturnCreate,
    SaleReturnOut,
    SaleUpdate,
)
from stockline.entrypoints.operations import RECORD_SALE, RETURN_SALE, UPDATE_SALE

router = APIRouter(prefix="/v1/sales", tags=["sales"])
SaleId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_]{1,40}$")]


async def record_sale(body: SaleCreate, request: Request, write: WriterDep) -> Response:
    max_lines = write.container.settings.max_lines
    if len(body.lines) > max_lines:
        raise InvalidInput("lines", f"at most {max_lines} lines per sale")
    return await write.perform(RECORD_SALE, body.to_command(), body=body, status=201,
                               on_success=request.app.state.metrics.sale)


async def record_sale_lean(request: Request) -> Response | None:
    """``record_sale`` for a JSON body that validates, without FastAPI's body parsing."""
    key = request.headers.get("idempotency-key")
    if not declares_json(request) or (key is not None and not IDEMPOTENCY_KEY.fullmatch(key)):
        return None
    try:
        body = SaleCreate.model_validate_json(await request.body())
    except ValidationError:
        return None
    principal = await caller(request)
    return await record_sale(body, request, Writer(request, container_of(request), principal,
                                                   key))


router.add_api_route(
    "/record", record_sale, methods=["POST"], status_code=201, response_model=SaleOut,
    responses=problems(404, 409), summary="Record a sale: every line or none",
    description="If any line lacks available stock the answer is 409 `insufficient_stock` "
                "naming the short lines, and nothing changes.",
    route_class_override=lean_route(record_sale_lean))


@router.get("", dependencies=[REPLICA_READ],
            response_model=Page[SaleOut], responses=problems(),
            summary="Sales, newest first",
            description="`from` is inclusive and `to` exclusive, on `occurred_at`. "
                        "`customer_ref` (a customer's sales) needs `customers:read` too.")
async def list_sales(container: ContainerDep, principal: PrincipalDep,
                     start: Annotated[Instant | None, Query(alias="from")] = None,
                     end: Annotated[Instant | None, Query(alias="to")] = None,
                     location_id: Annotated[str | None, Query(pattern=CODE_PATTERN)] = None,
                     sku: Annotated[str | None, Query(pattern=CODE_PATTERN)] = None,
                     customer_ref: Annotated[str | None, Query(pattern=REF_PATTERN)] = None,
                     channel: Channel | None = None,
                     payment_status: PaymentStatus | None = None,
                     fulfillment_status: FulfillmentStatus | None = None,
                     limit: Limit = 50, cursor: Cursor = None) -> Page[SaleOut]:
    if customer_ref is not None:
        principal.require(Permission.CUSTOMERS_READ)
    seen = within(principal, Permission.SALES_READ, location_id)
    if seen is not None and not seen:
        return empty_page()
    page = await container.queries.sales(start=start, end=end, location_id=location_id,
                                         sku=sku, channel=channel.value if channel else None,
                                         payment_status=payment_status and payment_status.value,
                                         fulfillment_status=fulfillment_status
                                         and fulfillment_status.value,
                                         customer_ref=customer_ref, limit=limit, cursor=cursor,
                                         within=seen)
    return Page(items=[SaleOut.of(s) for s in page.items], next_cursor=page.next_cursor)


@router.get("/{sale_id}", response_model=SaleOut, responses=problems(404),
            summary="One sale, with its returns")
async def get_sale(sale_id: SaleId, container: ContainerDep,
                   principal: PrincipalDep) -> SaleOut:
    sale = await container.queries.sale(sale_id)
    if sale is None:
        raise NotFound("sale", sale_id)
    require_of(principal, Permission.SALES_READ, "sale", sale.location_id)
    return SaleOut.of(sale)


@router.patch("/{sale_id}", response_model=SaleOut, responses=problems(404, 409),
              summary="Move a sale's payment and/or fulfillment on",
              description="Each field moves along its table (docs/API.md, \"A sale's life "
                          "after the till\"); any other step is 409 `invalid_state`, and "
                          "nothing changes. Naming the state the sale is in already is a 200 "
                          "that changes nothing. Each change logs one `sale.updated` event "
                          "with the states before and after. Stock never moves here: a "
                          "cancelled fulfillment leaves the units sold (a return brings them "
                          "back).")
async def update_sale(sale_id: SaleId, body: SaleUpdate, write: WriterDep) -> Response:
    return await write.perform(UPDATE_SALE, body.to_command(sale_id), body=body)


@router.post("/{sale_id}/returns", status_code=201, response_model=SaleReturnOut,
             responses=problems(404, 409), summary="Return lines of a sale",
             description="Never more of a SKU than was sold less what has come back already: "
                         "409 `quantity_exceeded` naming every line over, and nothing changes. "
                         "A SKU that is not on the sale is a 422. `restock: true` puts the "
                         "units back on hand at the sale's location (a ledger entry of type "
                         "`return` referencing the return); `false` writes them off (the "
                         "return is recorded, stock does not change). Answers the return and "
                         "the sale's new `sale_status` (`partially_returned` or `returned`); "
                         "`GET /v1/sales/{id}` shows every return of the sale.")
async def return_sale(sale_id: SaleId, body: SaleReturnCreate, write: WriterDep) -> Response:
    max_lines = write.container.settings.max_lines
    if len(body.lines) > max_lines:
        raise InvalidInput("lines", f"at most {max_lines} lines per return")
    return await write.perform(RETURN_SALE, body.to_command(sale_id), body=body, status=201)
