"""A file of suppliers: new codes are created, known ones brought up to date."""

from __future__ import annotations

from dataclasses import replace

from stockline.domain.commands import CreateSupplier
from stockline.domain.documents import Supplier
from stockline.domain.imports import ImportFile, ImportResult, duplicates, refuse
from stockline.domain.security import Permission
from stockline.services.executor import Context, TransientStorageError
from stockline.services.imports.common import merged, result, spoken
from stockline.services.ports import UnitOfWork
from stockline.services.purchasing import new_supplier


async def import_suppliers(uow: UnitOfWork, cmd: ImportFile[CreateSupplier],
                           ctx: Context) -> ImportResult:
    """Each code once per file. A known supplier takes the row's name, its lead time when
    the file has that column, and the contact details the file has columns for (an empty
    cell clears one); what it sells is left as it is."""
    ctx.require(Permission.SUPPLIERS_WRITE)
    refuse([*cmd.rejected, *duplicates(cmd.rows, lambda s: s.code, "code", "this code")])
    existing = await uow.imports.suppliers([row.value.code for row in cmd.rows])
    made: list[Supplier] = []
    changed: list[Supplier] = []
    keys = spoken(cmd, "contact")
    for row in cmd.rows:
        before = existing.get(row.value.code)
        if before is None:
            made.append(new_supplier(row.value, ctx.now))
            continue
        lead = (row.value.lead_time_days if "lead_time_days" in cmd.columns
                else before.lead_time_days)
        contact = merged(before.contact, row.value.contact, keys)
        if (row.value.name, lead, contact) != (before.name, before.lead_time_days,
                                               dict(before.contact or {}) or None):
            changed.append(replace(before, name=row.value.name, lead_time_days=lead,
                                   contact=contact, updated_at=ctx.now))
    if not cmd.dry_run:
        if await uow.imports.add_suppliers(made) != len(made):
            raise TransientStorageError("a supplier of the file was created meanwhile")
        await uow.imports.update_suppliers(changed)
    return result(cmd, len(made), len(changed))
