"""Reports: sales by day and location."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import orjson
from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from starlette.responses import Response

from stockline.domain.errors import InvalidInput
from stockline.domain.security import Permission
from stockline.domain.values import CODE_PATTERN, Money
from stockline.entrypoints.http.auth import PrincipalDep
from stockline.entrypoints.http.deps import ContainerDep
from stockline.entrypoints.http.routers.scope import within
from stockline.entrypoints.http.schemas.common import Instant, MoneyOut, problems

router = APIRouter(prefix="/v1/reports", tags=["reports"])
MAX_SPAN = timedelta(days=366)


class SalesDayOut(BaseModel):
    day: str = Field(description="The UTC day, YYYY-MM-DD", examples=["2026-11-28"])
    location_id: str
    sales: int
    units: int
    total: MoneyOut


class SalesReport(BaseModel):
    rows: list[SalesDayOut] = Field(description="By day, then location, then currency")


@router.get("/sales", response_model=SalesReport, responses=problems(),
            summary="Sales by day and location",
            description="Gross sales (returns are not taken off) with `from <= occurred_at < "
                        "to`, summed per UTC day, location and currency: number of sales, "
                        "units and total. At most 366 days at once. A key limited to some "
                        "locations gets only theirs; `location_id` narrows to one.")
async def get_sales_report(
        container: ContainerDep, principal: PrincipalDep,
        start: Annotated[Instant, Query(alias="from")],
        end: Annotated[Instant, Query(alias="to")],
        location_id: Annotated[str | None, Query(pattern=CODE_PATTERN)] = None,
) -> Response:
    if end <= start:
        raise InvalidInput("to", "must be after from")
    if end - start > MAX_SPAN:
        raise InvalidInput("to", "at most 366 days after from")
    seen = within(principal, Permission.SALES_READ, location_id)
    days = [] if seen is not None and not seen else await container.queries.sales_by_day(
        start=start, end=end, location_id=location_id, within=seen)
    # Tens of thousands of rows: plain dicts and orjson (the shape of SalesReport), not a
    # model per row.
    rows = [{"day": d.day, "location_id": d.location_id, "sales": d.sales, "units": d.units,
             "total": {"amount": Money.from_units(d.total_units, d.currency).format(),
                       "currency": d.currency}} for d in days]
    return Response(orjson.dumps({"rows": rows}), media_type="application/json")
