"""A file of warehouses and stores: new codes are created, known ones brought up to date."""

from __future__ import annotations

from dataclasses import replace

from stockline.domain.calendar import time_zone
from stockline.domain.commands import CreateLocation
from stockline.domain.errors import InvalidInput
from stockline.domain.imports import (
    ImportFile,
    ImportResult,
    Row,
    RowError,
    duplicates,
    refuse,
)
from stockline.domain.model import Location
from stockline.domain.security import Permission
from stockline.services.executor import Context, TransientStorageError
from stockline.services.imports.common import merged, result, spoken
from stockline.services.locations import new_location
from stockline.services.ports import UnitOfWork

# The columns of a row that a known location takes (its code and type stay).
FIELDS = ("name", "region", "address", "latitude", "longitude", "capacity", "time_zone")


async def import_locations(uow: UnitOfWork, cmd: ImportFile[CreateLocation],
                           ctx: Context) -> ImportResult:
    """Each code once per file. A code keeps its type (warehouse or store) for good; a
    known location takes the values of the columns the file has (an empty cell clears
    one), and of its opening hours the days the file has columns for."""
    ctx.require(Permission.LOCATIONS_WRITE)
    errors = [*cmd.rejected, *duplicates(cmd.rows, lambda x: x.code, "code", "this code")]
    existing = await uow.imports.locations([row.value.code for row in cmd.rows])
    made: list[Location] = []
    changed: list[Location] = []
    for row in cmd.rows:
        before = existing.get(row.value.code)
        if (refused := _zone_refused(row)) is not None:
            errors.append(refused)
        elif before is None:
            made.append(new_location(row.value, ctx.now))
        elif before.type is not row.value.type:
            errors.append(_type_kept(row, before))
        elif (after := _updated(before, row.value, cmd)) != before:
            changed.append(after)
    refuse(errors)
    if not cmd.dry_run:
        if await uow.imports.add_locations(made) != len(made):
            raise TransientStorageError("a location of the file was created meanwhile")
        await uow.imports.update_locations(changed)
    return result(cmd, len(made), len(changed))


def _zone_refused(row: Row[CreateLocation]) -> RowError | None:
    """A time zone the zone database does not know, refused on its line (the rule of
    :func:`stockline.domain.calendar.time_zone`, as when a location is created or edited)."""
    try:
        time_zone(row.value.time_zone)
    except InvalidInput as refused:
        return RowError(row.line, refused.field, refused.message)
    return None


def _type_kept(row: Row[CreateLocation], before: Location) -> RowError:
    kind = "store" if before.type.value == "retail" else before.type.value
    return RowError(row.line, "type", f"location '{before.code}' is a {kind}, and a code "
                                      "keeps its type")


def _updated(before: Location, row: CreateLocation, cmd: ImportFile[CreateLocation]
             ) -> Location:
    given = {name: getattr(row, name) for name in FIELDS if name in cmd.columns}
    hours = merged(before.operating_hours, row.operating_hours,
                   spoken(cmd, "operating_hours"))
    return replace(before, **given, operating_hours=hours)
