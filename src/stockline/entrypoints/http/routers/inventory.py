"""Inventory levels: lists, one level, changes, reorder settings."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from stockline.adapters.queries import PastLevel
from stockline.adapters.queries.by_location import stock_by_location as summed_by_location
from stockline.bootstrap import Container
from stockline.domain.errors import NotFound
from stockline.domain.model import Level
from stockline.domain.security import Permission, Principal
from stockline.domain.values import CODE_PATTERN, LocationType, is_code
from stockline.entrypoints.http.auth import PrincipalDep
from stockline.entrypoints.http.consistency import REPLICA_READ
from stockline.entrypoints.http.deps import ContainerDep, Cursor, Limit, WriterDep
from stockline.entrypoints.http.lean import caller, container_of, lean_route
from stockline.entrypoints.http.routers.scope import empty_page, require_at, within
from stockline.entrypoints.http.schemas.common import Instant, Page, problems
from stockline.entrypoints.http.schemas.inventory import (
    InventoryUpdate,
    LevelDetailOut,
    LevelOut,
    ReorderSettings,
)
from stockline.entrypoints.operations import SET_REORDER_SETTINGS, UPDATE_INVENTORY
from stockline.services.executor import utcnow

router = APIRouter(prefix="/v1/inventory", tags=["inventory"])
CodePath = Annotated[str, Path(pattern=CODE_PATTERN)]
CodeQuery = Annotated[str | None, Query(pattern=CODE_PATTERN)]


AsOf = Annotated[Instant | None, Query(
    description="The level(s) as they were at this instant (a plain date: the start of "
                "that UTC day; a later instant than now: now), read back from the ledger, "
                "the holds and the transfers")]
AS_OF_NOTE = (" With `as_of`: `on_hand` as the ledger had it (the `balance_after` of the "
              "level's last entry recorded by then), `reserved` from the holds alive then, "
              "`in_transit` from the transfers on their way then, `available` their "
              "difference; what is not recorded over time (`incoming`, the reorder "
              "settings, `version`, `updated_at`, `lots`) is null. The past is read from "
              "the ledger: it takes `ledger:read` at the location (else 403).")


@router.get("", dependencies=[REPLICA_READ],
            response_model=Page[LevelOut], responses=problems(),
            summary="Levels, filtered",
            description="`below_reorder_point=true` lists the levels whose available stock "
                        "is at or under their reorder point. A key limited to some locations "
                        "sees only theirs (asking for another location is a 403)." + AS_OF_NOTE
                        + " The list as of an instant has the same rows as now (a level made "
                        "since answers zeros), every filter applying; `below_reorder_point` "
                        "compares the available stock then with today's reorder point, so a "
                        "page may hold fewer rows than `limit`.")
async def list_inventory(container: ContainerDep, principal: PrincipalDep, sku: CodeQuery = None,
                      location_id: CodeQuery = None, location_type: LocationType | None = None,
                      below_reorder_point: bool | None = None, as_of: AsOf = None,
                      limit: Limit = 50, cursor: Cursor = None) -> Page[LevelOut]:
    seen = within(principal, Permission.INVENTORY_READ, location_id)
    if as_of is not None:
        seen = narrowed(seen, past_scope(principal, location_id))
    if seen is not None and not seen:
        return empty_page()
    page = await container.queries.levels(
        sku=sku, location_id=location_id, location_type=location_type,
        below_reorder_point=below_reorder_point if as_of is None else None,
        limit=limit, cursor=cursor, within=seen)
    if as_of is None:
        return Page(items=[LevelOut.of(x) for x in page.items], next_cursor=page.next_cursor)
    then = await container.queries.levels_at(
        [(x.location_id, x.sku) for x in page.items], at_most_now(as_of))
    rows = [LevelOut.past(old) for old, now in zip(then, page.items, strict=True)
            if below_reorder_point is None or was_low(old, now) == below_reorder_point]
    return Page(items=rows, next_cursor=page.next_cursor)


class LocationStockOut(BaseModel):
    location_id: str
    location_type: LocationType
    skus: int = Field(description="Levels summed")
    on_hand: int
    reserved: int
    available: int = Field(description="on_hand - reserved")
    in_transit: int
    low: int = Field(description="Levels at or under their reorder point")


class StockByLocation(BaseModel):
    items: list[LocationStockOut]


@router.get("/by-location", dependencies=[REPLICA_READ],
            response_model=StockByLocation, responses=problems(),
            summary="Stock summed by location",
            description="On hand, reserved, available and in transit summed over the levels "
                        "of each location (of one `sku`, or of the products of one "
                        "`category`), and how many are low. A key limited to some locations "
                        "gets only theirs.")
async def stock_by_location(container: ContainerDep, principal: PrincipalDep,
                            sku: CodeQuery = None,
                            category: Annotated[str | None, Query(min_length=1,
                                                                  max_length=100)] = None
                            ) -> StockByLocation:
    seen = within(principal, Permission.INVENTORY_READ)
    if seen is not None and not seen:
        return StockByLocation(items=[])
    rows = await summed_by_location(container.database.read, sku=sku, category=category,
                                    within=seen)
    return StockByLocation(items=[LocationStockOut(
        location_id=r.location_id, location_type=LocationType(r.location_type), skus=r.skus,
        on_hand=r.on_hand, reserved=r.reserved, available=r.on_hand - r.reserved,
        in_transit=r.in_transit, low=r.low) for r in rows])


def past_scope(principal: Principal, location_id: str | None) -> frozenset[str] | None:
    """Where the caller may read the past: the ledger's scope (403 for a location outside
    it, or for a role that reads no ledger)."""
    principal.require(Permission.LEDGER_READ)
    return within(principal, Permission.LEDGER_READ, location_id)


def narrowed(a: frozenset[str] | None, b: frozenset[str] | None) -> frozenset[str] | None:
    return b if a is None else a if b is None else a & b


def at_most_now(as_of: datetime) -> datetime:
    """Nothing is recorded after now: a later instant is answered as now."""
    return min(as_of, utcnow())


def was_low(old: PastLevel, now: Level) -> bool:
    return now.reorder_point is not None and old.available <= now.reorder_point


async def get_level(location_id: CodePath, sku: CodePath, container: ContainerDep,
                    principal: PrincipalDep, as_of: AsOf = None) -> LevelDetailOut:
    require_at(principal, Permission.INVENTORY_READ, location_id)
    if as_of is not None:
        past_scope(principal, location_id)
        await known(container, location_id, sku)
        (old,) = await container.queries.levels_at([(location_id, sku)], at_most_now(as_of))
        return LevelDetailOut.past_detail(old)
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
    """``get_level`` for a stocked level without lots, the POS's every-second question (a
    request for the past goes to the declared route, which validates ``as_of``)."""
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
    "/{location_id}/{sku}", get_level, methods=["GET"], response_model=LevelDetailOut,
    responses=problems(404), summary="One level",
    description="A SKU the location has never stocked answers zeros at version 0; an unknown "
                "location or SKU is a 404; a location outside the key's locations is a 403."
                + AS_OF_NOTE,
    route_class_override=lean_route(get_level_lean))


@router.post("/update", response_model=LevelOut, responses=problems(404, 409),
             summary="Change one level by a delta or to a counted quantity")
async def update_inventory(body: InventoryUpdate, write: WriterDep) -> Response:
    return await write.perform(UPDATE_INVENTORY, body.to_command(), body=body)


@router.put("/{location_id}/{sku}/settings", response_model=LevelOut,
            responses=problems(404), summary="Reorder point, reorder quantity, safety stock")
async def set_reorder_settings(location_id: CodePath, sku: CodePath, body: ReorderSettings,
                       write: WriterDep) -> Response:
    return await write.perform(SET_REORDER_SETTINGS, body.to_command(location_id, sku),
                               body=body)
