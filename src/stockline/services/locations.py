"""Warehouses and retail locations share one namespace of codes."""

from __future__ import annotations

from datetime import datetime

from stockline.domain.commands import CreateLocation
from stockline.domain.errors import AlreadyExists
from stockline.domain.model import Location
from stockline.domain.security import Permission
from stockline.services.executor import Context
from stockline.services.ports import UnitOfWork


def new_location(cmd: CreateLocation, now: datetime) -> Location:
    return Location(code=cmd.code, type=cmd.type, name=cmd.name, region=cmd.region,
                    address=cmd.address, latitude=cmd.latitude, longitude=cmd.longitude,
                    capacity=cmd.capacity, operating_hours=cmd.operating_hours,
                    created_at=now)


async def create_location(uow: UnitOfWork, cmd: CreateLocation, ctx: Context) -> Location:
    """A code names one location, warehouse or store, for good."""
    ctx.require(Permission.LOCATIONS_WRITE)
    location = new_location(cmd, ctx.now)
    if not await uow.locations.add(location):
        raise AlreadyExists("location", cmd.code)
    return location
