"""Reports: how long each level's stock lasts at its recent pace (cover and forecast)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from stockline.domain.cover import WINDOW_DAYS, Cover
from stockline.domain.security import Permission
from stockline.domain.values import CODE_PATTERN
from stockline.entrypoints.http.auth import PrincipalDep
from stockline.entrypoints.http.consistency import REPLICA_READ
from stockline.entrypoints.http.deps import ContainerDep, Cursor, Limit
from stockline.entrypoints.http.routers.scope import empty_page, within
from stockline.entrypoints.http.schemas.common import Page, problems
from stockline.services.executor import utcnow

router = APIRouter(prefix="/v1/reports", tags=["reports"])


class StockCoverOut(BaseModel):
    location_id: str
    sku: str
    on_hand: int
    available: int
    daily_velocity: float = Field(description=f"Net units sold a day over the trailing "
                                  f"{WINDOW_DAYS} days (4 decimals)")
    days_of_cover: float | None = Field(description="available / daily_velocity (2 "
                                        "decimals); null when nothing sells")
    stockout_date: date | None = Field(description="The day stock runs out at that pace; "
                                       "null when nothing sells")

    @classmethod
    def of(cls, c: Cover) -> StockCoverOut:
        days = None if c.days_of_cover is None else round(c.days_of_cover, 2)
        return cls(location_id=c.location_id, sku=c.sku, on_hand=c.on_hand,
                   available=c.available, daily_velocity=round(c.daily_velocity, 4),
                   days_of_cover=days, stockout_date=c.stockout_date)


@router.get("/stock-cover", dependencies=[REPLICA_READ],
            response_model=Page[StockCoverOut], responses=problems(),
            summary="How long each level's stock lasts at its recent pace",
            description=f"Per level, by location then SKU: `daily_velocity` is the units "
                        f"sold at the location over the trailing {WINDOW_DAYS} days, less "
                        f"the units of its sales returned in that time, divided by "
                        f"{WINDOW_DAYS} (never below 0); `days_of_cover` is `available / "
                        f"daily_velocity` and `stockout_date` today (UTC) plus its whole "
                        f"days; both null when nothing sells. A key limited to some "
                        f"locations gets only theirs; `location_id` and `sku` narrow.")
async def get_stock_cover(container: ContainerDep, principal: PrincipalDep,
                          location_id: Annotated[str | None, Query(pattern=CODE_PATTERN)] = None,
                          sku: Annotated[str | None, Query(pattern=CODE_PATTERN)] = None,
                          limit: Limit = 50, cursor: Cursor = None) -> Page[StockCoverOut]:
    seen = within(principal, Permission.SALES_READ, location_id)
    if seen is not None and not seen:
        return empty_page()
    page = await container.queries.stock_cover(location_id=location_id, sku=sku, now=utcnow(),
                                               limit=limit, cursor=cursor, within=seen)
    return Page(items=[StockCoverOut.of(c) for c in page.items], next_cursor=page.next_cursor)
