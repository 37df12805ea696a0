"""Warehouses and retail locations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from stockline.domain.errors import NotFound
from stockline.domain.values import CODE_PATTERN, LocationType
from stockline.entrypoints.http.auth import PrincipalDep
from stockline.entrypoints.http.deps import ContainerDep, Cursor, Limit, WriterDep
from stockline.entrypoints.http.schemas.catalog import (
    LocationOut,
    RetailLocationCreate,
    WarehouseCreate,
)
from stockline.entrypoints.http.schemas.common import NO_NUL, Page, problems
from stockline.services import locations

router = APIRouter(prefix="/v1", tags=["locations"])
LocationCode = Annotated[str, Path(pattern=CODE_PATTERN)]


async def _page(container: ContainerDep, type: LocationType, region: str | None, limit: int,
                cursor: str | None) -> Page[LocationOut]:
    page = await container.queries.locations(type=type, region=region, limit=limit,
                                             cursor=cursor)
    return Page(items=[LocationOut.of(x) for x in page.items], next_cursor=page.next_cursor)


async def _one(container: ContainerDep, type: LocationType, code: str) -> LocationOut:
    location = await container.queries.location(code, type)
    if location is None:
        raise NotFound(type.value if type is LocationType.WAREHOUSE else "retail location", code)
    return LocationOut.of(location)


@router.post("/warehouses", status_code=201, response_model=LocationOut,
             responses=problems(409), summary="Create a warehouse")
async def create_warehouse(body: WarehouseCreate, write: WriterDep) -> Response:
    return await write(locations.create_location, body.to_command(), LocationOut.of,
                       body=body, status=201)


@router.get("/warehouses", response_model=Page[LocationOut], responses=problems(),
            summary="List warehouses")
async def list_warehouses(container: ContainerDep, _p: PrincipalDep, limit: Limit = 50,
                          cursor: Cursor = None) -> Page[LocationOut]:
    return await _page(container, LocationType.WAREHOUSE, None, limit, cursor)


@router.get("/warehouses/{code}", response_model=LocationOut, responses=problems(404),
            summary="One warehouse")
async def get_warehouse(code: LocationCode, container: ContainerDep,
                        _p: PrincipalDep) -> LocationOut:
    return await _one(container, LocationType.WAREHOUSE, code)


@router.post("/retail-locations", status_code=201, response_model=LocationOut,
             responses=problems(409), summary="Create a retail location (store)")
async def create_retail_location(body: RetailLocationCreate, write: WriterDep) -> Response:
    return await write(locations.create_location, body.to_command(), LocationOut.of,
                       body=body, status=201)


@router.get("/retail-locations", response_model=Page[LocationOut], responses=problems(),
            summary="List stores, optionally of one region")
async def list_retail_locations(container: ContainerDep, _p: PrincipalDep,
                                region: Annotated[str | None,
                                                  Query(max_length=100, pattern=NO_NUL)] = None,
                                limit: Limit = 50, cursor: Cursor = None) -> Page[LocationOut]:
    return await _page(container, LocationType.RETAIL, region, limit, cursor)


@router.get("/retail-locations/{code}", response_model=LocationOut, responses=problems(404),
            summary="One store")
async def get_retail_location(code: LocationCode, container: ContainerDep,
                              _p: PrincipalDep) -> LocationOut:
    return await _one(container, LocationType.RETAIL, code)
