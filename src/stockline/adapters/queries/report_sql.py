"""The sales report's SQL read from the sales tables: the sales of a window, and its returns.

Each sale's local period comes from a CASE on its location's membership of each time
zone's list of locations, then on its instant (the zone's offsets over the window).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, FromClause, Select, cast, func, select

from stockline.adapters.queries.base import Within
from stockline.adapters.queries.periods import Zones, period_key, zone_offset
from stockline.adapters.queries.report_rows import Grouping
from stockline.adapters.tables import (
    locations,
    products,
    sale_lines,
    sale_return_lines,
    sale_returns,
    sales,
)
from stockline.domain.calendar import offset_spans, stored_zone
from stockline.domain.values import SalesGroup

S, SL, R, RL, LOC, P = (sales.c, sale_lines.c, sale_returns.c, sale_return_lines.c,
                        locations.c, products.c)
Sites = dict[str, tuple[str | None, str | None]]  # a location's region and time zone


@dataclass(frozen=True, slots=True)
class Part:
    """The sales of the report's locations, and the time zones of those that keep one."""

    where: list[ColumnElement[bool]]
    zones: Zones


def scope_of(location_id: str | None, within: Within,
             column: ColumnElement[str] = S.location_id) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if location_id is not None:
        conditions.append(column == location_id)
    if within is not None:
        conditions.append(column.in_(sorted(within)))
    return conditions


def part_of(grouping: Grouping, sites: Sites, scope: list[ColumnElement[bool]],
            start: datetime, end: datetime) -> Part:
    """The report's sales; with a period, the offsets of each time zone of its locations
    over the window (one CASE, so the sales are read once whatever the zones)."""
    codes: dict[str, list[str]] = {}
    for code, (_, zone) in sites.items():
        if zone is not None and grouping.grain is not None:
            codes.setdefault(zone, []).append(code)
    zones: Zones = []
    for name, members in sorted(codes.items()):
        rules = stored_zone(name)
        assert rules is not None  # sites keep known zones only
        zones.append((sorted(members), offset_spans(rules, start, end)))
    return Part(scope, zones)


def keys_of(grouping: Grouping, part: Part, when: ColumnElement[Any],
            sku: ColumnElement[Any]) -> list[ColumnElement[Any]]:
    """The SQL group keys: the period, the attributes, then the currency."""
    keys: list[ColumnElement[Any]] = []
    if grouping.grain is not None:
        offset = zone_offset(when, S.location_id, part.zones)
        keys.append(period_key(grouping.dialect, grouping.grain, when, offset))
    columns = {SalesGroup.LOCATION: S.location_id, SalesGroup.CHANNEL: S.channel,
               SalesGroup.SKU: sku, SalesGroup.CATEGORY: P.category}
    keys.extend(columns[g] for g in grouping.columns)
    keys.append(S.currency)
    return [k.label(f"k{i}") for i, k in enumerate(keys)]


def _with_category(grouping: Grouping, source: FromClause,
                   sku: ColumnElement[Any]) -> FromClause:
    if SalesGroup.CATEGORY in grouping.groups:
        return source.join(products, P.sku == sku)
    return source


def sold(grouping: Grouping, part: Part, start: datetime, end: datetime) -> Select[Any]:
    """The sales of the window by group: per line when a line's SKU is a group, else per
    sale from its totals (one row a sale, the cheap case)."""
    lined = grouping.by_line
    source: FromClause = sales.join(sale_lines, SL.sale_id == S.id) if lined else sales
    keys = keys_of(grouping, part, S.occurred_at, SL.sku)
    measures = ([func.count(S.id.distinct()), func.sum(SL.quantity),
                 func.sum(SL.quantity * SL.unit_price_amount)] if lined else
                [func.count(), func.sum(S.units), func.sum(S.total_amount)])
    return (select(*keys, *(m.label(f"m{i}") for i, m in enumerate(measures)))
            .select_from(_with_category(grouping, source, SL.sku))
            .where(S.occurred_at >= start, S.occurred_at < end, *part.where)
            .group_by(*keys))


def refund() -> ColumnElement[Any]:
    """A return line's value. A returned unit is worth the sale's average price of its
    SKU (its price, when the sale sold the SKU at one price), to 1/10,000 of the currency
    unit, rounded down: kept on the return line when it was taken; read from the sale's
    own lines (by the sale's key) for a line that has none."""
    # Floor division: SQLAlchemy's "/" on integers is true division (a numeric on
    # PostgreSQL, which a sum then carries and a cast rounds).
    priced = (select(RL.quantity * cast(func.sum(SL.quantity * SL.unit_price_amount),
                                        BigInteger) // cast(func.sum(SL.quantity), BigInteger))
              .where(SL.sale_id == R.sale_id, SL.sku == RL.sku)
              .correlate(sale_returns, sale_return_lines).scalar_subquery())
    return func.coalesce(RL.amount, priced)


def returns_source() -> FromClause:
    """Return lines with their return and the sale they return."""
    return (sale_returns.join(sale_return_lines, RL.return_id == R.id)
            .join(sales, S.id == R.sale_id))


def returned(grouping: Grouping, part: Part, start: datetime, end: datetime) -> Select[Any]:
    """The returns of the window by the groups of the sales they return, and their
    value (``refund``)."""
    keys = keys_of(grouping, part, R.created_at, RL.sku)
    source = returns_source()
    return (select(*keys, func.sum(RL.quantity).label("m0"), func.sum(refund()).label("m1"))
            .select_from(_with_category(grouping, source, RL.sku))
            .where(R.created_at >= start, R.created_at < end, *part.where).group_by(*keys))
