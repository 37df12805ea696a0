"""Transfers between locations: ship, receive, cancel, close short, list."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from stockline.domain.errors import NotFound
from stockline.domain.security import Permission
from stockline.domain.states import TransferStatus
from stockline.domain.values import CODE_PATTERN
from stockline.entrypoints.http.auth import PrincipalDep
from stockline.entrypoints.http.consistency import REPLICA_READ
from stockline.entrypoints.http.deps import ContainerDep, Cursor, Limit, WriterDep
from stockline.entrypoints.http.routers.scope import empty_page, require_of, within
from stockline.entrypoints.http.schemas.common import Page, problems
from stockline.entrypoints.http.schemas.transfers import (
    TransferCancel,
    TransferClose,
    TransferCreate,
    TransferOut,
    TransferReceive,
)
from stockline.entrypoints.limits import at_most_lines
from stockline.entrypoints.operations import (
    CANCEL_TRANSFER,
    CLOSE_TRANSFER,
    RECEIVE_TRANSFER,
    SHIP_TRANSFER,
)

router = APIRouter(prefix="/v1/stock-movements", tags=["transfers"])
TransferId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_]{1,40}$")]
CodeQuery = Annotated[str | None, Query(pattern=CODE_PATTERN)]


@router.post("/transfer", status_code=201, response_model=TransferOut,
             responses=problems(404, 409), summary="Ship stock from one location to another",
             description="The origin's `on_hand` falls and the destination's `in_transit` "
                         "rises in one transaction. If any line lacks available stock the "
                         "answer is 409 `insufficient_stock` naming every short line, and "
                         "nothing changes. Each SKU goes on one line; the two locations "
                         "must differ (422).")
async def ship_transfer(body: TransferCreate, write: WriterDep) -> Response:
    at_most_lines(write.container.settings, len(body.lines), "transfer")
    return await write.perform(SHIP_TRANSFER, body.to_command(), body=body, status=201)


@router.post("/transfers/{transfer_id}/receive", response_model=TransferOut,
             responses=problems(404, 409), summary="Receive all or part of a transfer",
             description="Without `lines` (or with an empty body) everything still in transit "
                         "arrives. Receiving more of a SKU than is still in transit is 409 "
                         "`quantity_exceeded`; a received or cancelled transfer is 409 "
                         "`invalid_state`. Status becomes `partially_received` or `received`.")
async def receive_transfer(transfer_id: TransferId, write: WriterDep,
                           body: TransferReceive | None = None) -> Response:
    body = body or TransferReceive()
    if body.lines is not None:
        at_most_lines(write.container.settings, len(body.lines), "transfer")
    return await write.perform(RECEIVE_TRANSFER, body.to_command(transfer_id), body=body)


@router.post("/transfers/{transfer_id}/cancel", response_model=TransferOut,
             responses=problems(404, 409), summary="Cancel a transfer still on its way",
             description="Everything still in transit returns to the origin's `on_hand`; "
                         "what a partial receipt took in stays received. A transfer "
                         "`in_transit` or `partially_received` can be cancelled; a received, "
                         "cancelled or closed one is 409 `invalid_state`.")
async def cancel_transfer(transfer_id: TransferId, write: WriterDep,
                          body: TransferCancel | None = None) -> Response:
    body = body or TransferCancel()
    return await write.perform(CANCEL_TRANSFER, body.to_command(transfer_id), body=body)


@router.post("/transfers/{transfer_id}/close", response_model=TransferOut,
             responses=problems(404, 409), summary="Close a short-shipped transfer",
             description="Ends a transfer `in_transit` or `partially_received` (status "
                         "`closed`): `remainder` `lost` writes what is still in transit off "
                         "(the lines' `lost_quantity`; a `transfer_lost` ledger row, delta 0, "
                         "at the destination), `return` ships it back to the origin's "
                         "`on_hand` (ledger `transfer_cancel`, reason `transfer_close`). The "
                         "origin closes (`transfers:cancel` there). A received, cancelled or "
                         "closed transfer is 409 `invalid_state`.")
async def close_transfer(transfer_id: TransferId, body: TransferClose,
                         write: WriterDep) -> Response:
    return await write.perform(CLOSE_TRANSFER, body.to_command(transfer_id), body=body)


@router.get("/transfers", dependencies=[REPLICA_READ],
            response_model=Page[TransferOut], responses=problems(),
            summary="Transfers, newest first",
            description="`location_id` matches transfers from or to that location. A key "
                        "limited to some locations sees the transfers from or to them.")
async def list_transfers(container: ContainerDep, principal: PrincipalDep,
                         status: TransferStatus | None = None,
                         from_location_id: CodeQuery = None, to_location_id: CodeQuery = None,
                         location_id: CodeQuery = None, sku: CodeQuery = None,
                         limit: Limit = 50, cursor: Cursor = None) -> Page[TransferOut]:
    seen = within(principal, Permission.TRANSFERS_READ)
    if seen is not None and not seen:
        return empty_page()
    page = await container.queries.transfers(
        status=status.value if status else None, from_location_id=from_location_id,
        to_location_id=to_location_id, location_id=location_id, sku=sku, limit=limit,
        cursor=cursor, within=seen)
    return Page(items=[TransferOut.of(t) for t in page.items], next_cursor=page.next_cursor)


@router.get("/transfers/{transfer_id}", response_model=TransferOut, responses=problems(404),
            summary="One transfer",
            description="A key limited to some locations sees a transfer from or to them.")
async def get_transfer(transfer_id: TransferId, container: ContainerDep,
                       principal: PrincipalDep) -> TransferOut:
    transfer = await container.queries.transfer(transfer_id)
    if transfer is None:
        raise NotFound("transfer", transfer_id)
    require_of(principal, Permission.TRANSFERS_READ, "transfer", transfer.from_location_id,
               transfer.to_location_id)
    return TransferOut.of(transfer)
