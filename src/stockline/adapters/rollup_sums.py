"""The sums a fold adds to the rollup, or takes out of it: of the sales (or the returns)
being folded, each by the keys of each rollup table.

Days and months are the sale's location's local ones, in the zone kept for it in
``rollup_zones``, shifted as the report shifts them (queries/periods.py); categories are
the ones kept in ``rollup_categories``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    FromClause,
    Select,
    Table,
    case,
    func,
    literal,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite

from stockline.adapters.queries.periods import Zones, period_key, third_key, zone_offset
from stockline.adapters.queries.report_sql import refund, returns_source
from stockline.adapters.tables import (
    not_folded,
    rollup_categories,
    rollup_category_days,
    rollup_days,
    rollup_return_category_days,
    rollup_return_days,
    rollup_return_sku_months,
    rollup_sku_months,
    rollup_zones,
    sale_lines,
    sale_return_lines,
    sale_returns,
    sales,
)
from stockline.adapters.tables.rollups import EVERY_LOCATION, EVERY_LOCATION_THIRDS, FOLDING
from stockline.domain.calendar import offset_spans, stored_zone
from stockline.domain.values import SalesGroup

S, SL, R, RL = sales.c, sale_lines.c, sale_returns.c, sale_return_lines.c
RZ, RC = rollup_zones.c, rollup_categories.c
SUMS = (rollup_days, rollup_sku_months, rollup_category_days, rollup_return_days,
        rollup_return_sku_months, rollup_return_category_days)


def folding(table: Table) -> list[ColumnElement[bool]]:
    """The rows a fold has taken (seen only in its own transaction)."""
    return [not_folded(table), table.c.rollup_state == FOLDING]


def add_sales(conn: Connection, *, sign: int) -> None:
    """Add (``sign`` 1) or take out (-1) the sums of the sales being folded."""
    keys = _Keys(conn, S.occurred_at, sales, folding(sales))
    lined = sales.join(sale_lines, SL.sale_id == S.id)
    by_line = (func.count(S.id.distinct()), func.sum(SL.quantity),
               func.sum(SL.quantity * SL.unit_price_amount))
    where = folding(sales)
    _merge(conn, rollup_days, sign, _sums(
        sales, where, S.location_id, keys.day, S.channel, S.currency,
        sums=(func.count(), func.sum(S.units), func.sum(S.total_amount))))
    for zone, month in keys.sku_slots():
        _merge(conn, rollup_sku_months, sign, _sums(
            lined, where, zone, month, S.channel, S.currency, SL.sku, sums=by_line))
    _merge(conn, rollup_category_days, sign, _sums(
        lined.join(rollup_categories, RC.sku == SL.sku), [*where, RC.category.is_not(None)],
        keys.zone, keys.day, S.channel, S.currency, RC.category, sums=by_line))


def add_returns(conn: Connection, *, sign: int) -> None:
    """Add (``sign`` 1) or take out (-1) the sums of the returns being folded."""
    keys = _Keys(conn, R.created_at, sale_returns, folding(sale_returns))
    source, where = returns_source(), folding(sale_returns)
    sums = (func.sum(RL.quantity), func.sum(refund()))
    _merge(conn, rollup_return_days, sign, _sums(
        source, where, S.location_id, keys.day, S.channel, S.currency, sums=sums))
    for zone, month in keys.sku_slots():
        _merge(conn, rollup_return_sku_months, sign, _sums(
            source, where, zone, month, S.channel, S.currency, RL.sku, sums=sums))
    _merge(conn, rollup_return_category_days, sign, _sums(
        source.join(rollup_categories, RC.sku == RL.sku), [*where, RC.category.is_not(None)],
        keys.zone, keys.day, S.channel, S.currency, RC.category, sums=sums))


def drop_empty(conn: Connection) -> None:
    """Sums that came to nothing once sales were taken out (a report shows no such row)."""
    for table in SUMS:
        conn.execute(table.delete().where(table.c.units == 0))


class _Keys:
    """The sale's location's zone, local day and month of the folded rows' instant."""

    def __init__(self, conn: Connection, when: ColumnElement[Any], table: Table,
                 where: list[ColumnElement[bool]]) -> None:
        dialect = conn.dialect.name
        zones, self.zone = _zones(conn, when, table, where)
        offset = zone_offset(when, S.location_id, zones)
        self.day = period_key(dialect, SalesGroup.DAY, when, offset)
        self.month = period_key(dialect, SalesGroup.MONTH, when, offset)
        self.utc_month = period_key(dialect, SalesGroup.MONTH, when, None)
        self.utc_third = third_key(dialect, when)

    def sku_slots(self) -> list[tuple[ColumnElement[str], ColumnElement[Any]]]:
        """The zones and slots sums by SKU are kept by: the local month in the
        location's zone, every location's UTC month, and the thirds of it."""
        return [(self.zone, self.month), (literal(EVERY_LOCATION), self.utc_month),
                (literal(EVERY_LOCATION_THIRDS), self.utc_third)]


def _zones(conn: Connection, when: ColumnElement[Any], table: Table,
           where: list[ColumnElement[bool]]) -> tuple[Zones, ColumnElement[str]]:
    """The offsets of each kept zone over the rows' instants, and each row's zone key."""
    low, high = conn.execute(select(func.min(when), func.max(when)).select_from(table)
                             .where(*where)).one()
    members: dict[str, list[str]] = {}
    for code, name in conn.execute(select(RZ.location_id, RZ.zone)):
        if name and low is not None:
            members.setdefault(name, []).append(code)
    zones: Zones = []
    keys: list[tuple[ColumnElement[bool], ColumnElement[str]]] = []
    for name, codes in sorted(members.items()):
        rules = stored_zone(name)
        assert rules is not None  # kept by zone_key, which keeps known zones only
        zones.append((sorted(codes), offset_spans(rules, low, high + timedelta(days=1))))
        keys.append((S.location_id.in_(sorted(codes)), literal(name)))
    return zones, case(*keys, else_=literal("")) if keys else literal("")


def _sums(source: FromClause, where: list[ColumnElement[bool]], *keys: ColumnElement[Any],
          sums: Sequence[ColumnElement[Any]]) -> tuple[Select[Any], int]:
    return (select(*keys, *sums).select_from(source).where(*where).group_by(*keys),
            len(keys))


def _merge(conn: Connection, table: Table, sign: int, sums: tuple[Select[Any], int]) -> None:
    """Add the sums into the table's rows of the same keys, in one statement (the sums
    are made and merged by the database; a few thousand rows a fold)."""
    stmt, width = sums
    if sign < 0:
        columns = list(stmt.selected_columns)
        stmt = stmt.with_only_columns(*columns[:width], *(-c for c in columns[width:]))
    names = [c.name for c in table.columns]
    keys, measures = names[:width], names[width:]
    upsert = (postgresql.insert(table) if conn.dialect.name == "postgresql"
              else sqlite.insert(table))
    merged = upsert.from_select(names, stmt).on_conflict_do_update(
        index_elements=keys, set_={m: table.c[m] + upsert.excluded[m] for m in measures})
    conn.execute(merged)
