"""The ledger: every change of every level, oldest first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from stockline.domain.values import CODE_PATTERN, MovementType
from stockline.entrypoints.http.auth import PrincipalDep
from stockline.entrypoints.http.deps import ContainerDep, Cursor, Limit
from stockline.entrypoints.http.schemas.common import Page, Timestamp, problems
from stockline.entrypoints.http.schemas.inventory import MovementOut

router = APIRouter(prefix="/v1/stock-movements", tags=["ledger"])


@router.get("", response_model=Page[MovementOut], responses=problems(),
            summary="The ledger",
            description="`on_hand` of a level equals the sum of its entries' `delta`.")
async def list_movements(container: ContainerDep, _p: PrincipalDep,
                         location_id: Annotated[str | None, Query(pattern=CODE_PATTERN)] = None,
                         sku: Annotated[str | None, Query(pattern=CODE_PATTERN)] = None,
                         type: MovementType | None = None,
                         start: Annotated[Timestamp | None, Query(alias="from")] = None,
                         end: Annotated[Timestamp | None, Query(alias="to")] = None,
                         limit: Limit = 50, cursor: Cursor = None) -> Page[MovementOut]:
    page = await container.queries.movements(location_id=location_id, sku=sku,
                                             type=type.value if type else None, start=start,
                                             end=end, limit=limit, cursor=cursor)
    return Page(items=[MovementOut.of(e) for e in page.items], next_cursor=page.next_cursor)
