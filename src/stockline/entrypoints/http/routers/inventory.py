"""Inventory levels: lists, one level, changes, reorder settings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from stockline.domain.errors import NotFound
from stockline.domain.model import Level
from stockline.domain.security import Permission
from stockline.domain.values import CODE_PATTERN, LocationType, is_code
from stockline.entrypoints.http.auth import PrincipalDep
from stockline.entrypoints.http.deps import ContainerDep, Cursor, Limit, WriterDep
from stockline.entrypoints.http.lean import caller, container_of, lean_route
from stockline.entrypoints.http.routers.scope import empty_page, require_at, within
from stockline.entrypoints.http.schemas.common import Page, problems
from stockline.entrypoints.http.schemas.inventory import (
    InventoryUpdate,
    LevelDetailOut,
    LevelOut,
    ReorderSettings,
)
from stockline.services import inventory

router = APIRouter(prefix="/v1/inventory", tags=["inventory"])
CodePath = Annotated[str, Path(pattern=CODE_PATTERN)]
CodeQuery = Annotated[str | None, Query(pattern=CODE_PATTERN)]


@router.get("", response_model=Page[LevelOut], responses=problems(),
            summary="Levels, filtered",
            description="`below_reorder_point=true` lists the levels whose available stock "
                        "is at or under their reorder point. A key limited to some locations "
                        "sees only theirs (asking for another location is a 403).")
async def list_inventory(container: ContainerDep, principal: PrincipalDep, sku: CodeQuery = None,
                      location_id: CodeQuery = None, location_type: LocationType | None = None,
                      below_reorder_point: bool | None = None, limit: Limit = 50,
                      cursor: Cursor = None) -> Page[LevelOut]:
    seen = within(principal, Permission.INVENTORY_READ, location_id)
    if seen is not None and not seen:
        return empty_page()
    page = await container.queries.levels(sku=sku, location_id=location_id,
                                          location_type=location_type,
                                          below_reorder_point=below_reorder_point,
                                          limit=limit, cursor=cursor, within=seen)
    return Page(items=[LevelOut.of(x) for x in page.items], next_cursor=page.next_cursor)


async def get_level(location_id: CodePath, sku: CodePath, container: ContainerDep,
                    principal: PrincipalDep) -> LevelDetailOut:
    require_at(principal, Permission.INVENTORY_READ, location_id)
    level = await container.queries.level(location_id, sku)
    if level is None:
        if await container.queries.location(location_id) is None:
            raise NotFound("location", location_id)
        if await container.queries.product(sku) is None:
            raise NotFound("product", sku)
        level = Level(location_id=location_id, sku=sku)
    lots = await container.queries.lots(location_id, sku) if level.lotted else []
    return LevelDetailOut.with_lots(level, lots)



async def get_level_lean(request: Request) -> Response | None:
    """``get_level`` for a stocked level without lots, the POS's every-second question."""
    location_id, sku = request.path_params["location_id"], request.path_params["sku"]
    if not (is_code(location_id) and is_code(sku)):
        return None
    require_at(await caller(request), Permission.INVENTORY_READ, location_id)
    level = await container_of(request).hot.level(location_id, sku)
    if level is None or level.lotted:
        return None
    return Response(LevelDetailOut.with_lots(level, []).model_dump_json(),
                    media_type="application/json")


router.add_api_route(
    "/{location_id}/{sku}", get_level, methods=["GET"], response_model=LevelDetailOut,
    responses=problems(404), summary="One level",
    description="A SKU the location has never stocked answers zeros at version 0; an unknown "
                "location or SKU is a 404; a location outside the key's locations is a 403.",
    route_class_override=lean_route(get_level_lean))


@router.post("/update", response_model=LevelOut, responses=problems(404, 409),
             summary="Change one level by a delta or to a counted quantity")
async def update_inventory(body: InventoryUpdate, write: WriterDep) -> Response:
    return await write(inventory.update_inventory, body.to_command(), LevelOut.of, body=body)


@router.put("/{location_id}/{sku}/settings", response_model=LevelOut,
            responses=problems(404), summary="Reorder point, reorder quantity, safety stock")
async def set_reorder_settings(location_id: CodePath, sku: CodePath, body: ReorderSettings,
                       write: WriterDep) -> Response:
    return await write(inventory.set_reorder_settings, body.to_command(location_id, sku),
                       LevelOut.of, body=body)
