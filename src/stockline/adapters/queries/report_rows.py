"""The rows of the sales report, made from what its SQL statements answer.

Each statement answers its group keys (the period, then the attribute columns, then the
currency) and its sums. Here the keys become the report's groups: a location's region
from the locations read before, the week and the month from the local day when the
report asks for more than one period; and the rows of every statement that fall in one
group and currency are added up.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from stockline.adapters.queries.periods import period_text
from stockline.domain.calendar import month_of, week_of
from stockline.domain.values import PERIODS, SalesGroup

Key = tuple[str | None, ...]
# The attributes the SQL groups by, in the order of its columns; a region is a location's.
SQL_ATTRIBUTES = (SalesGroup.LOCATION, SalesGroup.CHANNEL, SalesGroup.SKU,
                  SalesGroup.CATEGORY)


@dataclass(slots=True)
class SalesTotals:
    """One group of the report: the value of each group asked for, in ``SalesGroup``
    order, and its sums in one currency. Money in 1/10,000 of the currency unit."""

    key: Key
    currency: str
    sales: int = 0
    units: int = 0
    returned_units: int = 0
    gross: int = 0
    refunded: int = 0


@dataclass(frozen=True, slots=True)
class Grouping:
    """The groups asked for (in ``SalesGroup`` order) and what the SQL groups by."""

    dialect: str
    groups: tuple[SalesGroup, ...]

    @property
    def periods(self) -> tuple[SalesGroup, ...]:
        return tuple(g for g in self.groups if g in PERIODS)

    @property
    def grain(self) -> SalesGroup | None:
        """The period the SQL sums by: the one asked for; when several are, hours if they
        are among them, else days."""
        if not self.periods:
            return None
        if len(self.periods) == 1:
            return self.periods[0]
        return SalesGroup.HOUR if SalesGroup.HOUR in self.periods else SalesGroup.DAY

    @property
    def columns(self) -> tuple[SalesGroup, ...]:
        """The attribute columns of the SQL: a region is summed by location first."""
        wanted = set(self.groups)
        if SalesGroup.REGION in wanted:
            wanted.add(SalesGroup.LOCATION)
        return tuple(g for g in SQL_ATTRIBUTES if g in wanted)

    @property
    def by_site(self) -> bool:
        """Whether the report needs its locations' regions or time zones."""
        return SalesGroup.REGION in self.groups or self.grain is not None

    @property
    def by_line(self) -> bool:
        return SalesGroup.SKU in self.groups or SalesGroup.CATEGORY in self.groups

    @property
    def width(self) -> int:
        """How many group keys a SQL row has before its currency."""
        return len(self.columns) + (self.grain is not None)


class _Namer:
    """A SQL row's group keys as the report's groups, the grouping's shape read once (a
    report has tens of thousands of rows)."""

    def __init__(self, grouping: Grouping, regions: Mapping[str, str | None]) -> None:
        self.groups, self.grain = grouping.groups, grouping.grain
        self.width, self.columns = grouping.width, grouping.columns
        self.regions = regions
        self.periods: dict[Any, dict[SalesGroup, str]] = {}

    def __call__(self, row: Sequence[Any]) -> Key:
        values = list(row[:self.width])
        named: dict[SalesGroup, str | None] = {}
        if self.grain is not None:
            named.update(self._period(values.pop(0)))
        named.update(zip(self.columns, values, strict=True))
        if SalesGroup.REGION in self.groups:
            named[SalesGroup.REGION] = self.regions.get(named[SalesGroup.LOCATION] or "")
        return tuple(named[g] for g in self.groups)

    def _period(self, value: Any) -> dict[SalesGroup, str]:
        found = self.periods.get(value)
        if found is None:
            first = period_text(value)
            if self.grain not in (SalesGroup.DAY, SalesGroup.HOUR):
                found = {self.grain: first} if self.grain is not None else {}
            else:  # the SQL summed by hour or day: each longer period from the day
                day = date.fromisoformat(first[:10])
                found = {SalesGroup.HOUR: first, SalesGroup.DAY: first[:10],
                         SalesGroup.WEEK: week_of(day).isoformat(),
                         SalesGroup.MONTH: month_of(day)}
            self.periods[value] = found
        return found


def merged(grouping: Grouping, sold: Iterable[Sequence[Any]],
           returned: Iterable[Sequence[Any]],
           regions: Mapping[str, str | None]) -> list[SalesTotals]:
    """The answers of the sales statements and the returns statements, as report rows
    ordered by group, then currency."""
    totals: dict[tuple[Key, str], SalesTotals] = {}
    named, width = _Namer(grouping, regions), grouping.width

    def at(row: Any) -> SalesTotals:
        key, currency = named(row), row[width]
        found = totals.get((key, currency))
        if found is None:
            found = totals[key, currency] = SalesTotals(key=key, currency=currency)
        return found

    for answer in sold:
        for row in answer:
            group = at(row)
            group.sales += int(row.m0)
            group.units += int(row.m1)
            group.gross += int(row.m2)
    for answer in returned:
        for row in answer:
            group = at(row)
            group.returned_units += int(row.m0)
            group.refunded += int(row.m1)
    return sorted(totals.values(), key=_order)


def _order(totals: SalesTotals) -> tuple[Any, ...]:
    # A group without a value (a store of no region) after those with one.
    return (*((v is None, v or "") for v in totals.key), totals.currency)
