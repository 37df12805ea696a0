"""Reports: sales summed by day (UTC) and location, from the sales table's index on time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select

from stockline.adapters.queries.base import QueryBase, Within
from stockline.adapters.tables import sales

S = sales.c


@dataclass(frozen=True, slots=True)
class SalesDay:
    day: str  # YYYY-MM-DD, UTC
    location_id: str
    currency: str
    sales: int
    units: int
    total_units: int  # money in 1/10,000 of the currency unit


class ReportQueries(QueryBase):
    async def sales_by_day(self, *, start: datetime, end: datetime,
                           location_id: str | None, within: Within = None) -> list[SalesDay]:
        """Sales with ``start <= occurred_at < end``, by UTC day, location and currency."""
        postgres = self._engine.dialect.name == "postgresql"
        day: ColumnElement[Any] = (
            func.date_trunc("day", func.timezone("UTC", S.occurred_at)) if postgres
            else func.substr(S.occurred_at, 1, 10))  # SQLite keeps ISO text in UTC
        conditions: list[ColumnElement[bool]] = [S.occurred_at >= start, S.occurred_at < end]
        if location_id is not None:
            conditions.append(S.location_id == location_id)
        if within is not None:
            conditions.append(S.location_id.in_(sorted(within)))
        label = day.label("day")
        stmt = (select(label, S.location_id, S.currency, func.count().label("sales"),
                       func.sum(S.units).label("units"),
                       func.sum(S.total_amount).label("total"))
                .where(*conditions).group_by(label, S.location_id, S.currency)
                .order_by(label, S.location_id, S.currency))
        return [SalesDay(day=r.day.date().isoformat() if postgres else r.day,
                         location_id=r.location_id, currency=r.currency, sales=int(r.sales),
                         units=int(r.units), total_units=int(r.total))
                for r in await self._all(stmt)]
