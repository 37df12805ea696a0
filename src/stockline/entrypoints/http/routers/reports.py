"""Reports: sales summed by period and attribute, gross and net of returns."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query
from pydantic import BaseModel, Field, StringConstraints
from starlette.responses import Response

from stockline.adapters.queries.reports import SalesTotals
from stockline.domain.errors import InvalidInput
from stockline.domain.security import Permission
from stockline.domain.values import CODE_PATTERN, SalesGroup, amount_text
from stockline.entrypoints.http.auth import PrincipalDep
from stockline.entrypoints.http.consistency import REPLICA_READ
from stockline.entrypoints.http.deps import ContainerDep
from stockline.entrypoints.http.routers.scope import within
from stockline.entrypoints.http.schemas.common import Instant, MoneyOut, problems

router = APIRouter(prefix="/v1/reports", tags=["reports"])
MAX_SPAN = timedelta(days=366)
DEFAULT_GROUPS = (SalesGroup.DAY, SalesGroup.LOCATION)
_GROUP = "|".join(g.value for g in SalesGroup)
# Repeated and/or comma-separated, blanks allowed (as the event filters take them).
GroupList = Annotated[str, StringConstraints(
    pattern=rf"^\s*({_GROUP})?\s*(,\s*({_GROUP})?\s*){{0,{len(SalesGroup) - 1}}}$")]
# The field a group's value is answered in.
FIELDS = {SalesGroup.HOUR: "hour", SalesGroup.DAY: "day", SalesGroup.WEEK: "week",
          SalesGroup.MONTH: "month",
          SalesGroup.LOCATION: "location_id", SalesGroup.REGION: "region",
          SalesGroup.CHANNEL: "channel", SalesGroup.SKU: "sku",
          SalesGroup.CATEGORY: "category"}
LOCAL = "the location's calendar when it has a time zone, else UTC"


class SalesRowOut(BaseModel):
    hour: str | None = Field(None, description=f"YYYY-MM-DDTHH:00, {LOCAL} (the hour "
                             "a clock set back repeats is one hour)",
                             examples=["2026-11-28T14:00"])
    day: str | None = Field(None, description=f"YYYY-MM-DD, {LOCAL}",
                            examples=["2026-11-28"])
    week: str | None = Field(None, description="The ISO week (Monday to Sunday), named by "
                                               f"its Monday, YYYY-MM-DD, {LOCAL}",
                             examples=["2026-11-23"])
    month: str | None = Field(None, description=f"YYYY-MM, {LOCAL}", examples=["2026-11"])
    location_id: str | None = Field(None, description="The location that made the sale")
    region: str | None = Field(None, description="Its region (null: a store of none)")
    channel: str | None = None
    sku: str | None = None
    category: str | None = None
    sales: int = Field(description="Sales of the group made in the window")
    units: int = Field(description="Units sold in the window")
    net_units: int = Field(description="`units` less the units returned in the window")
    gross: MoneyOut = Field(description="What the sales of the window came to")
    net: MoneyOut = Field(description="`gross` less the value of the returns of the window")
    total: MoneyOut = Field(description="`gross`, by its first name")


class SalesReport(BaseModel):
    rows: list[SalesRowOut] = Field(
        description="One a group and currency, ordered by the groups (hour, day, week, "
                    "month, location, region, channel, sku, category), then currency. A row "
                    "has "
                    "the fields of the groups asked for and no other group's")


def _groups(given: list[str] | None) -> tuple[SalesGroup, ...]:
    named = {v.strip() for item in given or [] for v in item.split(",") if v.strip()}
    return tuple(g for g in SalesGroup if g.value in named) or DEFAULT_GROUPS


def _money(units: int, currency: str) -> dict[str, str]:
    return {"amount": amount_text(units), "currency": currency}


def _row(groups: tuple[SalesGroup, ...], totals: SalesTotals) -> dict[str, Any]:
    row: dict[str, Any] = {FIELDS[g]: v for g, v in zip(groups, totals.key, strict=True)}
    gross = _money(totals.gross, totals.currency)
    row.update(sales=totals.sales, units=totals.units,
               net_units=totals.units - totals.returned_units, gross=gross,
               net=_money(totals.gross - totals.refunded, totals.currency), total=gross)
    return row


@router.get("/sales", dependencies=[REPLICA_READ],
            response_model=SalesReport, responses=problems(),
            summary="Sales by period and attribute, gross and net of returns",
            description=(
                "Sales with `from <= occurred_at < to` summed by the groups of `group_by` "
                "(default `day,location`) and by currency (amounts of two currencies are "
                "never added): number of sales, `units` and `gross` as sold, `net_units` "
                "and `net` less the returns taken in the window. A return counts in the "
                "period it was taken, against the sale's own location, region, channel "
                "and SKU, wherever it was taken. A returned unit is worth the sale's "
                "average price of its SKU. Hours, days, weeks and months follow each location's "
                "time zone (UTC for a location without one). At most 366 days at once. "
                "A key limited to some locations gets only their sales; `location_id` "
                "narrows to one. `Accept: text/csv`: the rows as CSV."))
async def get_sales_report(
        container: ContainerDep, principal: PrincipalDep,
        start: Annotated[Instant, Query(alias="from")],
        end: Annotated[Instant, Query(alias="to")],
        location_id: Annotated[str | None, Query(pattern=CODE_PATTERN)] = None,
        group_by: Annotated[list[GroupList] | None, Query(
            max_length=len(SalesGroup),
            description="What to sum by: any of hour, day, week, month, location, region, "
                        "channel, sku, category (repeat, or separate with commas), e.g. "
                        "`group_by=month,region`")] = None,
) -> Response:
    if end <= start:
        raise InvalidInput("to", "must be after from")
    if end - start > MAX_SPAN:
        raise InvalidInput("to", "at most 366 days after from")
    seen = within(principal, Permission.SALES_READ, location_id)
    groups = _groups(group_by)
    found = [] if seen is not None and not seen else await container.queries.sales_report(
        start=start, end=end, groups=groups, location_id=location_id, within=seen)
    # Tens of thousands of rows: plain dicts and orjson (the shape of SalesReport), not a
    # model per row.
    return Response(orjson.dumps({"rows": [_row(groups, t) for t in found]}),
                    media_type="application/json")
