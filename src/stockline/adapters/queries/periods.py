"""A location's local hour, day, ISO week or month of an instant, in SQL, on both backends.

A time zone's offsets over the report's window come from ``domain.calendar`` as spans of
constant offset; the SQL shifts each instant by the offset of its span (a CASE on the
instant, for a zone with daylight saving time) and takes the date of the local time.
SQLite has no time zone database and PostgreSQL's may not be the one the server's Python
reads: the same spans on both keep the two backends in agreement.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Date, Integer, case, cast, func, literal, literal_column
from sqlalchemy.sql.elements import ColumnElement

from stockline.adapters.tables import UTCDateTime
from stockline.domain.calendar import OffsetSpan
from stockline.domain.values import SalesGroup


def offset_seconds(when: ColumnElement[Any], spans: list[OffsetSpan]) -> ColumnElement[Any]:
    """How far from UTC the zone's clock reads at the instant, in seconds."""
    if len(spans) == 1:
        return literal(spans[0].seconds, Integer)
    return case(*((when < literal(s.until, UTCDateTime), s.seconds) for s in spans[:-1]),
                else_=spans[-1].seconds)


Zones = list[tuple[list[str], list[OffsetSpan]]]  # the locations of a zone, its offsets


def zone_offset(when: ColumnElement[Any], location: ColumnElement[Any],
                zones: Zones) -> ColumnElement[Any] | None:
    """How far from UTC the clock of the instant's location reads (None: UTC everywhere):
    a CASE on the location's membership of each zone's list, then on the instant."""
    if not zones:
        return None
    return case(*((location.in_(codes), offset_seconds(when, spans))
                  for codes, spans in zones), else_=0)


def period_key(dialect: str, grain: SalesGroup, when: ColumnElement[Any],
               offset: ColumnElement[Any] | None) -> ColumnElement[Any]:
    """The local hour (YYYY-MM-DDTHH:00), day (YYYY-MM-DD), the Monday of the ISO week, or
    the month (YYYY-MM) of the instant, shifted by ``offset`` seconds (None: UTC)."""
    if dialect == "postgresql":
        return _postgres(grain, when, offset)
    return _sqlite(grain, when, offset)


def _postgres(grain: SalesGroup, when: ColumnElement[Any],
              offset: ColumnElement[Any] | None) -> ColumnElement[Any]:
    local: ColumnElement[Any] = func.timezone("UTC", when)
    if offset is not None:
        local = local + literal_column("interval '1 second'") * offset
    if grain is SalesGroup.MONTH:
        return func.to_char(local, "YYYY-MM")
    if grain is SalesGroup.WEEK:
        return cast(func.date_trunc("week", local), Date)
    if grain is SalesGroup.HOUR:
        return func.to_char(local, 'YYYY-MM-DD"T"HH24":00"')
    return cast(local, Date)


HOUR_FORMAT = "%Y-%m-%dT%H:00"


def _sqlite(grain: SalesGroup, when: ColumnElement[Any],
            offset: ColumnElement[Any] | None) -> ColumnElement[Any]:
    # SQLite keeps instants as ISO text in UTC: without a shift, the day is its first ten
    # characters, which costs far less than a date function on every row.
    if grain is SalesGroup.HOUR:
        return func.strftime(HOUR_FORMAT, when, *(
            [] if offset is None else [func.printf("%+d seconds", offset)]))
    if offset is None:
        if grain is SalesGroup.WEEK:
            return func.date(when, "weekday 0", "-6 days")
        return func.substr(when, 1, 7 if grain is SalesGroup.MONTH else 10)
    shift = func.printf("%+d seconds", offset)
    if grain is SalesGroup.MONTH:
        return func.strftime("%Y-%m", when, shift)
    if grain is SalesGroup.WEEK:
        return func.date(when, shift, "weekday 0", "-6 days")
    return func.date(when, shift)


def third_key(dialect: str, when: ColumnElement[Any]) -> ColumnElement[Any]:
    """The third of the UTC month of the instant: YYYY-MM-1 (days 1 to 10), -2 (11 to 20),
    -3 (21 to the end)."""
    month: ColumnElement[Any]
    day: ColumnElement[Any]
    if dialect == "postgresql":
        utc = func.timezone("UTC", when)
        month, day = func.to_char(utc, "YYYY-MM-"), func.extract("day", utc)
    else:
        month, day = func.substr(when, 1, 8), cast(func.substr(when, 9, 2), Integer)
    return month.concat(case((day <= 10, "1"), (day <= 20, "2"), else_="3"))


def period_text(value: Any) -> str:
    """A key as the database answered it (a date on PostgreSQL, text on SQLite)."""
    return value if isinstance(value, str) else str(value.isoformat())
