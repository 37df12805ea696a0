"""Import a file of any kind: the one entry the HTTP route and the CLI share."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from stockline.domain.imports import ImportFile, ImportKind, ImportResult
from stockline.services.executor import Context
from stockline.services.imports.levels import import_levels
from stockline.services.imports.locations import import_locations
from stockline.services.imports.products import import_products
from stockline.services.imports.suppliers import import_suppliers
from stockline.services.ports import UnitOfWork

_BY_KIND: Mapping[ImportKind, Callable[[UnitOfWork, Any, Context], Awaitable[ImportResult]]] = {
    ImportKind.PRODUCTS: import_products,
    ImportKind.LOCATIONS: import_locations,
    ImportKind.LEVELS: import_levels,
    ImportKind.SUPPLIERS: import_suppliers,
}


async def import_file(uow: UnitOfWork, cmd: ImportFile[Any], ctx: Context) -> ImportResult:
    """All of a file or none of it, in one transaction: every bad row is named (InvalidRows)
    before anything is written; ``dry_run`` checks it all and writes nothing."""
    return await _BY_KIND[cmd.kind](uow, cmd, ctx)
