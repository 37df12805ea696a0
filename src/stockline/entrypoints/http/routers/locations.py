"""Warehouses and retail locations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from stockline.domain.errors import NotFound
from stockline.domain.security import Permission, Principal
from stockline.domain.values import CODE_PATTERN, LocationStatus, LocationType
from stockline.entrypoints.http.auth import PrincipalDep
from stockline.entrypoints.http.consistency import REPLICA_READ
from stockline.entrypoints.http.deps import ContainerDep, Cursor, Limit, WriterDep
from stockline.entrypoints.http.routers.scope import empty_page, require_at, within
from stockline.entrypoints.http.schemas.catalog import (
    LocationOut,
    RetailLocationCreate,
    RetailLocationUpdate,
    WarehouseCreate,
    WarehouseUpdate,
)
from stockline.entrypoints.http.schemas.common import NO_NUL, Page, problems
from stockline.entrypoints.operations import CREATE_LOCATION, UPDATE_LOCATION
from stockline.services.locations import kind_of

router = APIRouter(prefix="/v1", tags=["locations"])
SCOPED = ("A key whose reading of locations is limited to its own (a partner's) sees only "
          "those.")
LocationCode = Annotated[str, Path(pattern=CODE_PATTERN)]


StatusFilter = Annotated[LocationStatus | None,
                         Query(description="Only the `active` or the `closed` ones")]
PATCH_DOC = ("Only the fields sent change; `null` clears an optional field. `status: closed` "
             "refuses new sales, holds, receipts, purchase orders and inbound transfers "
             "(409 `location_closed`) until `status: active`; its history stays readable.")


async def _page(container: ContainerDep, principal: Principal, type: LocationType,
                region: str | None, status: LocationStatus | None, limit: int,
                cursor: str | None) -> Page[LocationOut]:
    seen = within(principal, Permission.LOCATIONS_READ)
    if seen is not None and not seen:
        return empty_page()
    page = await container.queries.locations(type=type, region=region, limit=limit,
                                             cursor=cursor, within=seen, status=status)
    units = await container.queries.on_hand_units([x.code for x in page.items])
    return Page(items=[LocationOut.of(x, units[x.code]) for x in page.items],
                next_cursor=page.next_cursor)


async def _one(container: ContainerDep, principal: Principal, type: LocationType,
               code: str) -> LocationOut:
    require_at(principal, Permission.LOCATIONS_READ, code)
    location = await container.queries.location(code, type)
    if location is None:
        raise NotFound(kind_of(type), code)
    units = await container.queries.on_hand_units([code])
    return LocationOut.of(location, units[code])


@router.post("/warehouses", status_code=201, response_model=LocationOut,
             responses=problems(409), summary="Create a warehouse")
async def create_warehouse(body: WarehouseCreate, write: WriterDep) -> Response:
    return await write.perform(CREATE_LOCATION, body.to_command(), body=body, status=201)


@router.get("/warehouses", dependencies=[REPLICA_READ],
            response_model=Page[LocationOut], responses=problems(),
            summary="List warehouses, optionally by status", description=SCOPED)
async def list_warehouses(container: ContainerDep, principal: PrincipalDep,
                          status: StatusFilter = None, limit: Limit = 50,
                          cursor: Cursor = None) -> Page[LocationOut]:
    return await _page(container, principal, LocationType.WAREHOUSE, None, status, limit,
                       cursor)


@router.get("/warehouses/{code}", response_model=LocationOut, responses=problems(404),
            summary="One warehouse", description=SCOPED)
async def get_warehouse(code: LocationCode, container: ContainerDep,
                        principal: PrincipalDep) -> LocationOut:
    return await _one(container, principal, LocationType.WAREHOUSE, code)


@router.post("/retail-locations", status_code=201, response_model=LocationOut,
             responses=problems(409), summary="Create a retail location (store)")
async def create_retail_location(body: RetailLocationCreate, write: WriterDep) -> Response:
    return await write.perform(CREATE_LOCATION, body.to_command(), body=body, status=201)


@router.get("/retail-locations", dependencies=[REPLICA_READ],
            response_model=Page[LocationOut], responses=problems(),
            summary="List stores, optionally of one region or status", description=SCOPED)
async def list_retail_locations(container: ContainerDep, principal: PrincipalDep,
                                region: Annotated[str | None,
                                                  Query(max_length=100, pattern=NO_NUL)] = None,
                                status: StatusFilter = None, limit: Limit = 50,
                                cursor: Cursor = None) -> Page[LocationOut]:
    return await _page(container, principal, LocationType.RETAIL, region, status, limit,
                       cursor)


@router.get("/retail-locations/{code}", response_model=LocationOut, responses=problems(404),
            summary="One store", description=SCOPED)
async def get_retail_location(code: LocationCode, container: ContainerDep,
                              principal: PrincipalDep) -> LocationOut:
    return await _one(container, principal, LocationType.RETAIL, code)


@router.patch("/warehouses/{code}", response_model=LocationOut, responses=problems(404),
              summary="Change or close a warehouse", description=PATCH_DOC)
async def update_warehouse(code: LocationCode, body: WarehouseUpdate,
                           write: WriterDep) -> Response:
    return await write.perform(UPDATE_LOCATION, body.to_command(code), body=body)


@router.patch("/retail-locations/{code}", response_model=LocationOut, responses=problems(404),
              summary="Change or close a store", description=PATCH_DOC)
async def update_retail_location(code: LocationCode, body: RetailLocationUpdate,
                                 write: WriterDep) -> Response:
    return await write.perform(UPDATE_LOCATION, body.to_command(code), body=body)
