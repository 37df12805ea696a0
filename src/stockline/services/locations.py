"""Warehouses and retail locations share one namespace of codes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields, replace
from datetime import datetime
from typing import Any, TypeVar

from stockline.domain.calendar import time_zone
from stockline.domain.commands import CreateLocation, UpdateLocation
from stockline.domain.errors import AlreadyExists, InvalidInput, NotFound
from stockline.domain.events import LocationUpdated
from stockline.domain.model import Location, LocationStock
from stockline.domain.security import Permission
from stockline.domain.values import LocationType
from stockline.services.executor import Context
from stockline.services.ports import UnitOfWork

T = TypeVar("T")
# What an edit never changes: a location's identity and its past.
FIXED_FIELDS = frozenset({"code", "type", "created_at"})
REQUIRED_FIELDS = frozenset({"name", "status"})


def new_location(cmd: CreateLocation, now: datetime) -> Location:
    """A location as created; its time zone, when it has one, names an IANA zone."""
    time_zone(cmd.time_zone)
    return Location(code=cmd.code, type=cmd.type, name=cmd.name, region=cmd.region,
                    address=cmd.address, latitude=cmd.latitude, longitude=cmd.longitude,
                    capacity=cmd.capacity, operating_hours=cmd.operating_hours,
                    time_zone=cmd.time_zone, created_at=now)


def kind_of(type: LocationType) -> str:
    return "warehouse" if type is LocationType.WAREHOUSE else "retail location"


def edited(current: T, changes: Mapping[str, Any], *, fixed: frozenset[str],
           required: frozenset[str]) -> tuple[T, tuple[str, ...]]:
    """``current`` (a dataclass) with ``changes`` applied, and the names of the fields whose
    value changed. A field that is not the object's, or is ``fixed``, is InvalidInput; so
    is None for a ``required`` one. ``current`` itself is left as it was."""
    known = {f.name for f in fields(current)} - fixed  # type: ignore[arg-type]
    for name, value in changes.items():
        if name not in known:
            raise InvalidInput(name, "cannot be changed")
        if value is None and name in required:
            raise InvalidInput(name, "may be left out, but not null")
    after = replace(current, **changes)  # type: ignore[type-var]
    return after, tuple(sorted(n for n in changes if getattr(current, n) != getattr(after, n)))


async def create_location(uow: UnitOfWork, cmd: CreateLocation, ctx: Context) -> Location:
    """A code names one location, warehouse or store, for good."""
    ctx.require(Permission.LOCATIONS_WRITE)
    location = new_location(cmd, ctx.now)
    if not await uow.locations.add(location):
        raise AlreadyExists("location", cmd.code)
    return location


async def update_location(uow: UnitOfWork, cmd: UpdateLocation,
                          ctx: Context) -> LocationStock:
    """Change only the fields given (None clears an optional one); code, type and history
    stay. A warehouse is not found as a store, nor a store as a warehouse.

    ``status`` ``closed`` makes every new sale, hold, receipt, purchase order and inbound
    transfer at the location a LocationClosed from the next transaction on; ``active``
    reopens it. Stock already there stays, and may still be counted, adjusted or shipped
    out. A change that changes something is written with a ``location.updated`` event.
    """
    ctx.require(Permission.LOCATIONS_WRITE, cmd.code)
    location = await uow.locations.get(cmd.code, for_update=True)
    if location is None or location.type is not cmd.type:
        raise NotFound(kind_of(cmd.type), cmd.code)
    after, changed = edited(location, cmd.changes, fixed=FIXED_FIELDS,
                            required=REQUIRED_FIELDS)
    time_zone(after.time_zone)
    if changed:
        await uow.locations.update(after)
        await uow.outbox.append([LocationUpdated(occurred_at=ctx.now, location=after,
                                                 changed=changed)])
    return LocationStock(location=after,
                         on_hand_units=await uow.locations.on_hand_units(cmd.code))
