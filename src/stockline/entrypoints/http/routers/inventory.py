"""Inventory levels: lists, one level, changes, reorder settings."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from stockline.bootstrap import Container
from stockline.domain.errors import InvalidInput, NotFound
from stockline.domain.model import Level
from stockline.domain.security import Permission, Principal
from stockline.domain.values import CODE_PATTERN, LocationType, is_code
from stockline.entrypoints.http.auth import PrincipalDep
from stockline.entrypoints.http.deps import ContainerDep, Cursor, Limit, WriterDep
from stockline.entrypoints.http.lean import caller, container_of, lean_route
from stockline.entrypoints.http.routers.scope import empty_page, require_at, within
from stockline.entrypoints.http.schemas.common import Instant, Page, problems
from stockline.entrypoints.http.schemas.inventory import (
    InventoryUpdate,
    LevelAsOfOut,
    LevelDetailOut,
    LevelOut,
    ReorderSettings,
)
from stockline.services import inventory
from stockline.services.executor import utcnow

router = APIRouter(prefix="/v1/inventory", tags=["inventory"])
CodePath = Annotated[str, Path(pattern=CODE_PATTERN)]
CodeQuery = Annotated[str | None, Query(pattern=CODE_PATTERN)]
AsOf = Annotated[Instant | None, Query(
    description="Answer the level(s) as they were at this instant (a plain date: the start "
                "of that UTC day), read back from the ledger; not in the future")]
AS_OF_NOTE = (" With `as_of`, `on_hand` is read back from the ledger (the `balance_after` of "
              "the last entry recorded at or before it); `reserved`, `available` and "
              "`in_transit` are not kept there and answer null. The past is read from the "
              "ledger: it needs the ledger's read permission at that location (else 403).")


def past(principal: Principal, location_id: str, as_of: datetime) -> datetime:
    """``as_of`` when the caller may read the location's ledger (the past is read from
    it) and it is not in the future (the ledger cannot tell what will be)."""
    require_at(principal, Permission.LEDGER_READ, location_id)
    if as_of > utcnow():
        raise InvalidInput("as_of", "must not be in the future")
    return as_of


@router.get("", response_model=Page[LevelOut] | Page[LevelAsOfOut], responses=problems(),
            summary="Levels, filtered",
            description="`below_reorder_point=true` lists the levels whose available stock "
                        "is at or under their reorder point. A key limited to some locations "
                        "sees only theirs (asking for another location is a 403)." + AS_OF_NOTE
                        + " `as_of` needs `location_id` (one location's levels that had a "
                        "ledger entry by then, by SKU; `sku` narrows) and takes neither "
                        "`location_type` nor `below_reorder_point`.")
async def list_inventory(container: ContainerDep, principal: PrincipalDep, sku: CodeQuery = None,
                      location_id: CodeQuery = None, location_type: LocationType | None = None,
                      below_reorder_point: bool | None = None, as_of: AsOf = None,
                      limit: Limit = 50,
                      cursor: Cursor = None) -> Page[LevelOut] | Page[LevelAsOfOut]:
    if as_of is not None:
        if location_id is None:
            raise InvalidInput("location_id", "is required with as_of")
        if location_type is not None or below_reorder_point is not None:
            raise InvalidInput("as_of", "takes only location_id and sku as filters")
        require_at(principal, Permission.INVENTORY_READ, location_id)
        when = past(principal, location_id, as_of)
        past_page = await container.queries.levels_as_of(
            location_id=location_id, sku=sku, as_of=when, limit=limit, cursor=cursor)
        return Page(items=[LevelAsOfOut.of(x) for x in past_page.items],
                    next_cursor=past_page.next_cursor)
    seen = within(principal, Permission.INVENTORY_READ, location_id)
    if seen is not None and not seen:
        return empty_page()
    page = await container.queries.levels(sku=sku, location_id=location_id,
                                          location_type=location_type,
                                          below_reorder_point=below_reorder_point,
                                          limit=limit, cursor=cursor, within=seen)
    return Page(items=[LevelOut.of(x) for x in page.items], next_cursor=page.next_cursor)


async def get_level(location_id: CodePath, sku: CodePath, container: ContainerDep,
                    principal: PrincipalDep,
                    as_of: AsOf = None) -> LevelDetailOut | LevelAsOfOut:
    require_at(principal, Permission.INVENTORY_READ, location_id)
    if as_of is not None:
        when = past(principal, location_id, as_of)
        await known(container, location_id, sku)
        return LevelAsOfOut.of(await container.queries.level_as_of(location_id, sku, when))
    level = await container.queries.level(location_id, sku)
    if level is None:
        await known(container, location_id, sku)
        level = Level(location_id=location_id, sku=sku)
    lots = await container.queries.lots(location_id, sku) if level.lotted else []
    return LevelDetailOut.with_lots(level, lots)


async def known(container: Container, location_id: str, sku: str) -> None:
    """NotFound unless both the location and the product exist."""
    if await container.queries.location(location_id) is None:
        raise NotFound("location", location_id)
    if await container.queries.product(sku) is None:
        raise NotFound("product", sku)


async def get_level_lean(request: Request) -> Response | None:
    """``get_level`` for a stocked level without lots, the POS's every-second question."""
    location_id, sku = request.path_params["location_id"], request.path_params["sku"]
    if "as_of" in request.query_params or not (is_code(location_id) and is_code(sku)):
        return None
    require_at(await caller(request), Permission.INVENTORY_READ, location_id)
    level = await container_of(request).hot.level(location_id, sku)
    if level is None or level.lotted:
        return None
    return Response(LevelDetailOut.with_lots(level, []).model_dump_json(),
                    media_type="application/json")


router.add_api_route(
    "/{location_id}/{sku}", get_level, methods=["GET"],
    response_model=LevelDetailOut | LevelAsOfOut, responses=problems(404), summary="One level",
    description="A SKU the location has never stocked answers zeros at version 0; an unknown "
                "location or SKU is a 404; a location outside the key's locations is a 403."
                + AS_OF_NOTE,
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
