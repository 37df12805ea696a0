"""A file of levels: each row a count (and reorder settings), applied as the count and
settings routes apply them, so every change of on_hand has its ledger entry and events."""

from __future__ import annotations

from dataclasses import dataclass

from stockline.domain.commands import SetReorderSettings, UpdateInventory
from stockline.domain.imports import (
    ImportFile,
    ImportResult,
    LevelRow,
    Row,
    RowError,
    duplicates,
    refuse,
)
from stockline.domain.model import Level
from stockline.domain.security import Permission
from stockline.domain.values import Reason
from stockline.services.executor import Context
from stockline.services.imports.common import result
from stockline.services.inventory import set_reorder_settings, update_inventory
from stockline.services.ports import UnitOfWork

SETTINGS = ("reorder_point", "reorder_quantity", "safety_stock")


@dataclass(frozen=True, slots=True)
class _Plan:
    count: UpdateInventory | None
    settings: SetReorderSettings | None
    created: bool


async def import_levels(uow: UnitOfWork, cmd: ImportFile[LevelRow],
                        ctx: Context) -> ImportResult:
    """Each (location, SKU) once per file, both known. A count needs inventory:count at its
    location (inventory:settings too when the file has settings columns); it may not go
    below what is reserved. Only what differs is applied: a count that matches on_hand
    writes no ledger entry, settings that match change nothing."""
    where = sorted({row.value.location_id for row in cmd.rows})
    ctx.require(Permission.INVENTORY_COUNT, *where)
    if any(column in cmd.columns for column in SETTINGS):
        ctx.require(Permission.INVENTORY_SETTINGS, *where)
    errors = [*cmd.rejected, *duplicates(cmd.rows, lambda r: (r.location_id, r.sku), "sku",
                                         "this location and SKU")]
    rows = await _known(uow, cmd.rows, errors)
    levels = await uow.levels.lock_many([(r.value.location_id, r.value.sku) for r in rows])
    plans: list[_Plan] = []
    for row in rows:
        level = levels.get((row.value.location_id, row.value.sku))
        if level is not None and row.value.on_hand < level.reserved:
            errors.append(RowError(row.line, "on_hand", f"{level.reserved} units are reserved "
                                   "here: a count cannot go below them"))
        plans.append(_plan(row.value, level, cmd))
    refuse(errors)
    if not cmd.dry_run:
        for plan in plans:
            if plan.count is not None:
                await update_inventory(uow, plan.count, ctx)
            if plan.settings is not None:
                await set_reorder_settings(uow, plan.settings, ctx)
    changed = [p for p in plans if p.count is not None or p.settings is not None]
    created = sum(p.created for p in plans)
    return result(cmd, created, len(changed) - created)


async def _known(uow: UnitOfWork, rows: tuple[Row[LevelRow], ...],
                 errors: list[RowError]) -> list[Row[LevelRow]]:
    """The rows naming a known location and SKU; an error for each of the others."""
    locations = await uow.imports.existing_locations([r.value.location_id for r in rows])
    skus = await uow.products.existing(sorted({r.value.sku for r in rows}))
    known = []
    for row in rows:
        if row.value.location_id not in locations:
            errors.append(RowError(row.line, "location_id",
                                   f"location '{row.value.location_id}' does not exist"))
        elif row.value.sku not in skus:
            errors.append(RowError(row.line, "sku", f"product '{row.value.sku}' does not exist"))
        else:
            known.append(row)
    return known


def _plan(row: LevelRow, level: Level | None, cmd: ImportFile[LevelRow]) -> _Plan:
    count = None
    if level is None or level.on_hand != row.on_hand:
        count = UpdateInventory(location_id=row.location_id, sku=row.sku, reason=Reason.COUNT,
                                quantity=row.on_hand, note=f"imported ({cmd.kind.value})")
    settings = None
    if row.settings is not None:
        now = {name: getattr(level, name) if level else None for name in SETTINGS}
        wanted = {name: getattr(row.settings, name) if name in cmd.columns else now[name]
                  for name in SETTINGS}
        if wanted != now:
            settings = SetReorderSettings(location_id=row.location_id, sku=row.sku, **wanted)
    return _Plan(count, settings, created=level is None)
