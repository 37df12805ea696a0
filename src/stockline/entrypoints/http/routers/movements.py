"""The ledger: every change of every level, oldest first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from stockline.domain.security import Permission
from stockline.domain.values import CODE_PATTERN, MovementType
from stockline.entrypoints.http.auth import PrincipalDep
from stockline.entrypoints.http.consistency import REPLICA_READ
from stockline.entrypoints.http.deps import ContainerDep, Cursor, Limit
from stockline.entrypoints.http.routers.scope import empty_page, within
from stockline.entrypoints.http.schemas.common import Instant, Page, problems
from stockline.entrypoints.http.schemas.inventory import MovementOut

router = APIRouter(prefix="/v1/stock-movements", tags=["ledger"])


@router.get("", dependencies=[REPLICA_READ],
            response_model=Page[MovementOut], responses=problems(),
            summary="The ledger",
            description="`on_hand` of a level equals the sum of its entries' `delta`. A key "
                        "limited to some locations sees only their entries (asking for "
                        "another location is a 403).")
async def list_movements(container: ContainerDep, principal: PrincipalDep,
                         location_id: Annotated[str | None, Query(pattern=CODE_PATTERN)] = None,
                         sku: Annotated[str | None, Query(pattern=CODE_PATTERN)] = None,
                         type: MovementType | None = None,
                         start: Annotated[Instant | None, Query(alias="from")] = None,
                         end: Annotated[Instant | None, Query(alias="to")] = None,
                         limit: Limit = 50, cursor: Cursor = None) -> Page[MovementOut]:
    seen = within(principal, Permission.LEDGER_READ, location_id)
    if seen is not None and not seen:
        return empty_page()
    page = await container.queries.movements(location_id=location_id, sku=sku,
                                             type=type.value if type else None, start=start,
                                             end=end, limit=limit, cursor=cursor, within=seen)
    return Page(items=[MovementOut.of(e) for e in page.items], next_cursor=page.next_cursor)
