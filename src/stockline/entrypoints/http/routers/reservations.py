"""Reservations: hold stock for carts and click-and-collect; commit, release, expire."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from stockline.domain.commands import ReleaseReservation
from stockline.domain.errors import NotFound
from stockline.domain.security import Permission
from stockline.domain.states import ReservationStatus
from stockline.domain.values import CODE_PATTERN
from stockline.entrypoints.http.auth import PrincipalDep
from stockline.entrypoints.http.consistency import REPLICA_READ
from stockline.entrypoints.http.deps import ContainerDep, Cursor, Limit, WriterDep
from stockline.entrypoints.http.routers.scope import empty_page, require_of, within
from stockline.entrypoints.http.schemas.common import Page, problems
from stockline.entrypoints.http.schemas.reservations import (
    ReservationCommit,
    ReservationCreate,
    ReservationOut,
)
from stockline.entrypoints.http.schemas.sales import SaleOut
from stockline.entrypoints.limits import at_most_lines
from stockline.entrypoints.operations import COMMIT_RESERVATION, RELEASE_RESERVATION, RESERVE
from stockline.services import reservations

router = APIRouter(prefix="/v1/reservations", tags=["reservations"])
ReservationId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_]{1,40}$")]


@router.post("", status_code=201, response_model=ReservationOut, responses=problems(404, 409),
             summary="Hold stock: every line or none",
             description="`reserved` rises and `available` falls by every line, or nothing "
                         "changes: 409 `insufficient_stock` names every short line. The hold "
                         "lasts `ttl_seconds` (the server's default when left out; over its "
                         "maximum is a 422), then expires by itself (status `expired`) and "
                         "its units are available again.")
async def create_reservation(body: ReservationCreate, write: WriterDep) -> Response:
    settings = write.container.settings
    at_most_lines(settings, len(body.lines), "reservation")
    command = reservations.with_ttl(body.to_command(),
                                    default=settings.reservation_default_ttl_seconds,
                                    maximum=settings.reservation_max_ttl_seconds)
    return await write.perform(RESERVE, command, body=body, status=201)


@router.get("", dependencies=[REPLICA_READ],
            response_model=Page[ReservationOut], responses=problems(),
            summary="Reservations, newest first")
async def list_reservations(container: ContainerDep, principal: PrincipalDep,
                            status: ReservationStatus | None = None,
                            location_id: Annotated[str | None,
                                                   Query(pattern=CODE_PATTERN)] = None,
                            limit: Limit = 50, cursor: Cursor = None) -> Page[ReservationOut]:
    seen = within(principal, Permission.RESERVATIONS_READ, location_id)
    if seen is not None and not seen:
        return empty_page()
    page = await container.queries.reservations(
        status=status.value if status else None, location_id=location_id, limit=limit,
        cursor=cursor, within=seen)
    return Page(items=[ReservationOut.of(r) for r in page.items], next_cursor=page.next_cursor)


@router.get("/{reservation_id}", response_model=ReservationOut, responses=problems(404),
            summary="One reservation")
async def get_reservation(reservation_id: ReservationId, container: ContainerDep,
                          principal: PrincipalDep) -> ReservationOut:
    found = await container.queries.reservation(reservation_id)
    if found is None:
        raise NotFound("reservation", reservation_id)
    require_of(principal, Permission.RESERVATIONS_READ, "reservation", found.location_id)
    return ReservationOut.of(found)


@router.post("/{reservation_id}/commit", status_code=201, response_model=SaleOut,
             responses=problems(404, 409), summary="Turn the hold into a sale",
             description="Answers the sale as `POST /v1/sales/record` does; the units leave "
                         "`on_hand` and `reserved` together. 409 `invalid_state` once the "
                         "hold is committed, released, expired or past its `expires_at`. "
                         "Lines without a unit price are sold at the product's price (none: "
                         "422). The body is optional.")
async def commit_reservation(reservation_id: ReservationId, request: Request,
                             write: WriterDep, body: ReservationCommit | None = None
                             ) -> Response:
    body = body or ReservationCommit()  # no body and {} are the same request
    return await write.perform(COMMIT_RESERVATION, body.to_command(reservation_id),
                               body=body, status=201,
                               on_success=request.app.state.metrics.sale)


@router.post("/{reservation_id}/release", response_model=ReservationOut,
             responses=problems(404, 409), summary="Release the hold",
             description="Its units are available again. 409 `invalid_state` once the hold "
                         "is committed, released, expired or past its `expires_at`.")
async def release_reservation(reservation_id: ReservationId, write: WriterDep) -> Response:
    return await write.perform(RELEASE_RESERVATION,
                               ReleaseReservation(reservation_id=reservation_id), body=None)
