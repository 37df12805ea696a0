"""Local calendars: a location's IANA time zone, and how far its clock is from UTC.

A report buckets sales by a location's local calendar day. The databases hold instants
in UTC and SQLite has no time zone database, so the rules of each zone come from here
(``zoneinfo``) as spans of constant UTC offset: a zone that keeps one offset all year is
one span, one with daylight saving time a few a year. Both backends shift each instant
by its span's offset, which is exact for any offset (half hours, quarter hours) and
gives the same answer on both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from stockline.domain.errors import InvalidInput

TIME_ZONE_MAX_LENGTH = 64
# What an IANA name can look like ("America/Argentina/Buenos_Aires", "Etc/GMT+5", "UTC");
# the database itself decides whether it names a zone.
TIME_ZONE_PATTERN = r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9][A-Za-z0-9_+\-]*){0,3}$"
_TIME_ZONE_RE = re.compile(TIME_ZONE_PATTERN)
# Offsets change at most a few times a year; a scan by the hour cannot step over two.
_STEP = timedelta(hours=1)


def time_zone(name: str | None) -> ZoneInfo | None:
    """The zone a location keeps its calendar in; an unknown name is InvalidInput."""
    if name is None:
        return None
    if len(name) > TIME_ZONE_MAX_LENGTH or not _TIME_ZONE_RE.fullmatch(name):
        raise InvalidInput("time_zone", "an IANA time zone name, e.g. Europe/Paris")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidInput("time_zone", f"'{name}' is no IANA time zone (e.g. "
                                        "Europe/Paris, America/New_York, UTC)") from None


def stored_zone(name: str | None) -> ZoneInfo | None:
    """The zone a location was given, or None (UTC days) when the time zone database this
    process reads no longer knows it: a report still answers."""
    try:
        return time_zone(name)
    except InvalidInput:
        return None


@dataclass(frozen=True, slots=True)
class OffsetSpan:
    """Instants before ``until`` (None: for ever after) are ``seconds`` from UTC."""

    until: datetime | None
    seconds: int


def _offset(zone: ZoneInfo, at: datetime) -> int:
    offset = at.astimezone(zone).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def _change(zone: ZoneInfo, low: datetime, high: datetime) -> datetime:
    """The first instant after ``low`` with ``high``'s offset (they differ), to the second."""
    target = _offset(zone, high)
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        middle = middle.replace(microsecond=0)
        if _offset(zone, middle) == target:
            high = middle
        else:
            low = middle
    return high


def offset_spans(zone: ZoneInfo, start: datetime, end: datetime) -> list[OffsetSpan]:
    """The zone's offsets over ``[start, end)``: one span per change of offset, the last
    one open-ended (instants outside the window take the nearest span's offset)."""
    spans: list[OffsetSpan] = []
    at = start.astimezone(UTC)
    current = _offset(zone, at)
    while at < end:
        following = min(at + _STEP, end)
        if _offset(zone, following) != current:
            change = _change(zone, at, following)
            spans.append(OffsetSpan(change, current))
            current = _offset(zone, change)
        at = following
    spans.append(OffsetSpan(None, current))
    return spans


def week_of(day: date) -> date:
    """The ISO week of a day, named by its Monday."""
    return day - timedelta(days=day.weekday())


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"
