"""The sales (and returns) of a report from the rollup: its sums of the folded sales over
the local days (or months) wholly inside the window, and from the sales tables the folded
sales of the window's partial days at each edge and every sale not folded yet. One
statement (UNION ALL) for the sales, one for the returns, in one snapshot: a sale is
counted once whether a fold commits before or after.

The rollup answers what its keys can: by location (its days), or, over all locations, by
SKU (its months) or by category (its days). Anything else the sales tables answer alone.
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Date,
    FromClause,
    Select,
    Table,
    and_,
    cast,
    func,
    or_,
    select,
    union_all,
)

from stockline.adapters.queries.report_rows import Grouping
from stockline.adapters.queries.report_sql import Part, Sites, returned, sold
from stockline.adapters.tables import (
    folded,
    products,
    rollup_category_days,
    rollup_days,
    rollup_return_category_days,
    rollup_return_days,
    rollup_return_sku_months,
    rollup_sku_months,
    sale_returns,
    sales,
    waiting,
    zone_key,
)
from stockline.adapters.tables.rollups import EVERY_LOCATION, EVERY_LOCATION_THIRDS
from stockline.domain.calendar import offset_spans, stored_zone
from stockline.domain.values import SalesGroup

S, P = sales.c, products.c


class Source(enum.Enum):
    DAYS = "days"
    SKU_MONTHS = "sku_months"
    CATEGORY_DAYS = "category_days"

    def table(self, kind: Kind) -> Table:
        """The rollup table of the sales, or of the returns."""
        return _TABLES[self, kind]


class Kind(enum.Enum):
    SOLD = "sold"
    RETURNED = "returned"


_TABLES = {(Source.DAYS, Kind.SOLD): rollup_days,
           (Source.SKU_MONTHS, Kind.SOLD): rollup_sku_months,
           (Source.CATEGORY_DAYS, Kind.SOLD): rollup_category_days,
           (Source.DAYS, Kind.RETURNED): rollup_return_days,
           (Source.SKU_MONTHS, Kind.RETURNED): rollup_return_sku_months,
           (Source.CATEGORY_DAYS, Kind.RETURNED): rollup_return_category_days}


def source_of(grouping: Grouping, *, scoped: bool) -> Source | None:
    """The rollup table that answers the report, or None (the sales tables do: the
    rollup keeps no hours)."""
    wanted = set(grouping.groups)
    if SalesGroup.HOUR in wanted:
        return None
    if not grouping.by_line:
        return Source.DAYS
    if scoped or wanted & {SalesGroup.LOCATION, SalesGroup.REGION}:
        return None
    if SalesGroup.SKU in wanted:
        return Source.SKU_MONTHS if set(grouping.periods) <= {SalesGroup.MONTH} else None
    return Source.CATEGORY_DAYS


@dataclass(frozen=True, slots=True)
class Slots:
    """The local days (or months) wholly inside a window: ``first`` up to ``after``, from
    ``low`` to ``high`` in UTC."""

    first: date | str
    after: date | str
    low: datetime
    high: datetime


class Unit(enum.Enum):
    """A slot of the rollup: a local day, a local month, or a third of a UTC month (days
    1-10, 11-20, 21 to the end)."""

    DAY = "day"
    MONTH = "month"
    THIRD = "third"


def full_slots(zone: ZoneInfo | None, unit: Unit, start: datetime,
               end: datetime) -> Slots | None:
    """None when no whole slot fits, or when the zone's clock is set back across midnight
    in the window (a day is then not one stretch of time): the sales tables answer."""
    if zone is not None and _dates_go_back(str(zone.key), start, end):
        return None
    first = _slot(_local(zone, start), unit)
    if _starts(zone, first) < start:
        first = _next(first, unit)
    after = _slot(_local(zone, end), unit)
    if first >= after:
        return None
    low, high = _starts(zone, first), _starts(zone, after)
    for edge, slot in ((low, first), (high, after)):
        if (_slot(_local(zone, edge), unit) != slot
                or _local(zone, edge - timedelta(microseconds=1)) >= slot):
            return None
    return Slots(_label(first, unit), _label(after, unit), low, high)


def _label(slot: date, unit: Unit) -> date | str:
    """As the rollup keeps the slot: a date, YYYY-MM, or YYYY-MM-1 (-2, -3)."""
    if unit is Unit.DAY:
        return slot
    month = f"{slot.year:04d}-{slot.month:02d}"
    return month if unit is Unit.MONTH else f"{month}-{1 + (slot.day - 1) // 10}"


@functools.lru_cache(maxsize=256)
def _dates_go_back(name: str, start: datetime, end: datetime) -> bool:
    """Whether a change of the zone's offset in the window sets its date back."""
    zone = ZoneInfo(name)
    return any(_local(zone, s.until - timedelta(microseconds=1)) > _local(zone, s.until)
               for s in offset_spans(zone, start, end) if s.until is not None)


def _local(zone: ZoneInfo | None, when: datetime) -> date:
    return when.astimezone(zone or UTC).date()


def _slot(day: date, unit: Unit) -> date:
    """The first day of the day's slot."""
    if unit is Unit.DAY:
        return day
    if unit is Unit.MONTH:
        return day.replace(day=1)
    return day.replace(day=min(21, 1 + (day.day - 1) // 10 * 10))


def _next(slot: date, unit: Unit) -> date:
    if unit is Unit.DAY:
        return slot + timedelta(days=1)
    if unit is Unit.THIRD and slot.day < 21:
        return slot + timedelta(days=10)
    return date(slot.year + slot.month // 12, slot.month % 12 + 1, 1)


def _starts(zone: ZoneInfo | None, slot: date) -> datetime:
    return datetime.combine(slot, time(), tzinfo=zone or UTC).astimezone(UTC)


def from_rollup(grouping: Grouping, source: Source, kind: Kind, part: Part, sites: Sites,
                start: datetime, end: datetime) -> CompoundSelect[Any]:
    """The sales (or returns) of the window by group: the rollup's sums, the folded ones of
    the partial slots at the edges, and those not folded yet."""
    table = source.table(kind)
    rows = sales if kind is Kind.SOLD else sale_returns
    raw = sold if kind is Kind.SOLD else returned
    cells: list[ColumnElement[bool]] = []
    edges: list[Select[Any]] = []
    for zone, codes in sorted(_members(grouping, source, sites).items()):
        local = zone not in ("", EVERY_LOCATION)
        where = Part([folded(rows), S.location_id.in_(sorted(codes))], part.zones)
        spans = [(start, end)]
        for unit, key in _units(source, zone):
            taken, spans = _covered(stored_zone(zone) if local else None, unit, spans)
            cells.extend(and_(_whose(table, key, codes), _period(table) >= slots.first,
                              _period(table) < slots.after) for slots in taken)
        edges.extend(raw(grouping, where, a, b) for a, b in spans)
    tail = raw(grouping, Part([waiting(rows), *part.where], part.zones), start, end)
    summed = [_summed(grouping, source, table, or_(*cells))] if cells else []
    return union_all(*summed, *edges, tail)


def _units(source: Source, zone: str) -> list[tuple[Unit, str]]:
    """The slots the rollup keeps of the zone's sales, longest first, and their zone key:
    every location's sums by SKU are also kept by thirds of a month, for the edges."""
    if source is not Source.SKU_MONTHS:
        return [(Unit.DAY, zone)]
    if zone == EVERY_LOCATION:
        return [(Unit.MONTH, zone), (Unit.THIRD, EVERY_LOCATION_THIRDS)]
    return [(Unit.MONTH, zone)]


Spans = list[tuple[datetime, datetime]]


def _covered(zone: ZoneInfo | None, unit: Unit, spans: Spans) -> tuple[list[Slots], Spans]:
    """The whole slots of each span, and what is left of the spans."""
    taken: list[Slots] = []
    left: Spans = []
    for start, end in spans:
        slots = full_slots(zone, unit, start, end)
        if slots is None:
            left.append((start, end))
            continue
        taken.append(slots)
        left.extend((a, b) for a, b in ((start, slots.low), (slots.high, end)) if a < b)
    return taken, left


def _members(grouping: Grouping, source: Source, sites: Sites) -> dict[str, list[str]]:
    """The report's locations by the zone their sums are kept in: by SKU over no period,
    every location's by UTC month."""
    if source is Source.SKU_MONTHS and grouping.grain is None:
        return {EVERY_LOCATION: sorted(sites)}
    members: dict[str, list[str]] = {}
    for code, (_, zone) in sites.items():
        members.setdefault(zone_key(zone), []).append(code)
    return members


def _whose(table: Table, zone: str, codes: list[str]) -> ColumnElement[bool]:
    if "location_id" in table.c:
        return table.c.location_id.in_(sorted(codes))
    return table.c.zone == zone


def _period(table: Table) -> ColumnElement[Any]:
    return table.c.month if "month" in table.c else table.c.day


def _period_key(grouping: Grouping, table: Table) -> ColumnElement[Any]:
    """The report's period of a row of the rollup: its day or month, or the week or month
    of its day."""
    slot, grain = _period(table), grouping.grain
    if "month" in table.c or grain is SalesGroup.DAY:
        return slot
    if grouping.dialect == "postgresql":
        if grain is SalesGroup.MONTH:
            return func.to_char(slot, "YYYY-MM")
        return cast(func.date_trunc("week", slot), Date)
    if grain is SalesGroup.MONTH:
        return func.substr(slot, 1, 7)
    return func.date(slot, "weekday 0", "-6 days")


def _summed(grouping: Grouping, source: Source, table: Table,
            cells: ColumnElement[bool]) -> Select[Any]:
    """The rollup's sums by the report's keys, in the order the sales tables answer them."""
    source_from: FromClause = table
    columns: dict[SalesGroup, Any] = {
        SalesGroup.LOCATION: table.c.get("location_id"), SalesGroup.CHANNEL: table.c.channel,
        SalesGroup.SKU: table.c.get("sku"), SalesGroup.CATEGORY: table.c.get("category")}
    if source is Source.SKU_MONTHS and SalesGroup.CATEGORY in grouping.groups:
        source_from = table.join(products, P.sku == table.c.sku)
        columns[SalesGroup.CATEGORY] = P.category
    keys = [_period_key(grouping, table)] if grouping.grain is not None else []
    keys.extend(columns[g] for g in grouping.columns)
    keys.append(table.c.currency)
    labelled = [k.label(f"k{i}") for i, k in enumerate(keys)]
    measures = [c for c in table.columns if not c.primary_key]
    return (select(*labelled, *(func.sum(c).label(f"m{i}") for i, c in enumerate(measures)))
            .select_from(source_from).where(cells).group_by(*labelled))
