"""Reports: stock on hand at an instant, valued at cost."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from stockline.adapters.queries import StockValue
from stockline.domain.security import Permission
from stockline.domain.values import CODE_PATTERN, amount_text
from stockline.entrypoints.http.auth import PrincipalDep
from stockline.entrypoints.http.consistency import REPLICA_READ
from stockline.entrypoints.http.deps import ContainerDep
from stockline.entrypoints.http.routers.scope import within
from stockline.entrypoints.http.schemas.common import Instant, MoneyOut, problems
from stockline.services.executor import utcnow

router = APIRouter(prefix="/v1/reports", tags=["reports"])


class StockValueOut(BaseModel):
    location_id: str
    category: str
    currency: str | None = Field(description="The currency of these units' cost; null for "
                                             "units of no known cost")
    units: int = Field(description="Units on hand then")
    value: MoneyOut | None = Field(description="units x unit cost; null when no cost is "
                                               "known")


class CurrencyTotal(BaseModel):
    currency: str
    units: int
    value: MoneyOut


class InventoryValueReport(BaseModel):
    as_of: datetime = Field(description="The instant valued (now when the one asked for is "
                                        "later)")
    rows: list[StockValueOut] = Field(description="By location, category, then currency "
                                                  "(units of no known cost last)")
    totals: list[CurrencyTotal] = Field(description="Per currency: currencies are never "
                                                    "added together")
    unvalued_units: int = Field(description="Units on hand of no known cost")


@router.get("/inventory-value", dependencies=[REPLICA_READ],
            response_model=InventoryValueReport, responses=problems(),
            summary="Stock on hand valued at cost",
            description="Units on hand at `as_of` (default now; from the ledger, as "
                        "`GET /v1/inventory?as_of=` answers them) times their unit cost, by "
                        "location, category and currency. A unit's cost: the unit cost of "
                        "the purchase-order line of the SKU's last receipt recorded by then; "
                        "else the SKU's cheapest supplier cost (today's: supplier costs have "
                        "no history); else none (counted in `unvalued_units`). Read from the "
                        "ledger: a key sees the locations where it reads the ledger; "
                        "`location_id` narrows to one.")
async def get_inventory_value(
        container: ContainerDep, principal: PrincipalDep,
        as_of: Annotated[Instant | None, Query(description="The instant to value (a plain "
                                               "date: the start of that UTC day)")] = None,
        location_id: Annotated[str | None, Query(pattern=CODE_PATTERN)] = None,
) -> InventoryValueReport:
    when = utcnow() if as_of is None else min(as_of, utcnow())
    seen = within(principal, Permission.LEDGER_READ, location_id)
    found = [] if seen is not None and not seen else await container.queries.stock_value(
        when, seen)
    totals: dict[str, list[int]] = {}
    for x in found:
        if x.currency is not None:
            total = totals.setdefault(x.currency, [0, 0])
            total[0] += x.units
            total[1] += x.value_units
    return InventoryValueReport(
        as_of=when, rows=[value_out(x) for x in found],
        totals=[CurrencyTotal(currency=c, units=u, value=money(v, c))
                for c, (u, v) in sorted(totals.items())],
        unvalued_units=sum(x.units for x in found if x.currency is None))


def money(units: int, currency: str) -> MoneyOut:
    """A value as money is written, without Money's bound: a stock's value may pass the
    trillion that one price may not."""
    return MoneyOut(amount=amount_text(units), currency=currency)


def value_out(x: StockValue) -> StockValueOut:
    return StockValueOut(location_id=x.location_id, category=x.category, currency=x.currency,
                         units=x.units,
                         value=None if x.currency is None else money(x.value_units, x.currency))
