"""Cover: how long a level's stock lasts at the pace it has been selling.

A level's *daily velocity* is its net sales over the trailing ``WINDOW_DAYS`` days (units
sold at the location, less the units of those sales brought back, by when they came
back), divided by ``WINDOW_DAYS``; never below 0. Its *days of cover* is ``available /
daily_velocity``, and its *stockout date* today plus the whole days of cover (the day
the stock runs out at that pace; 9999-12-31 at the latest). A level that sells nothing
has neither (null).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from stockline.domain.model import Level

WINDOW_DAYS = 28


def window_start(now: datetime) -> datetime:
    """The start of the trailing window velocities are measured over."""
    return now - timedelta(days=WINDOW_DAYS)


def daily_velocity(net_units: int) -> float:
    """Units a day over the window; returns beyond sales do not make it negative."""
    return max(net_units, 0) / WINDOW_DAYS


def units_over(velocity: float, days: int) -> int:
    """The whole units ``days`` days of sales at ``velocity`` take."""
    return math.ceil(round(velocity * days, 9))  # 0.1 * 30 is 3.0000000000000004


@dataclass(frozen=True, slots=True, kw_only=True)
class Cover:
    location_id: str
    sku: str
    on_hand: int
    available: int
    daily_velocity: float
    days_of_cover: float | None
    stockout_date: date | None


def cover_of(level: Level, net_units: int, today: date) -> Cover:
    """The cover of ``level`` given its net sales over the window."""
    velocity = daily_velocity(net_units)
    days = max(level.available, 0) / velocity if velocity > 0 else None
    return Cover(location_id=level.location_id, sku=level.sku, on_hand=level.on_hand,
                 available=level.available, daily_velocity=velocity, days_of_cover=days,
                 stockout_date=None if days is None else stockout(today, days))


def stockout(today: date, days: float) -> date:
    """``today`` plus the whole ``days``; a date past the calendar's end is its last day."""
    left = (date.max - today).days
    return date.max if days >= left else today + timedelta(days=math.floor(days))
