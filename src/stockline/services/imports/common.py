"""What every kind of import shares: the permission it needs, merging keyed columns, the
answer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from stockline.domain.imports import ImportFile, ImportKind, ImportResult
from stockline.domain.security import Permission

T = TypeVar("T")

# What importing each kind of file takes (a file of levels with settings columns takes
# inventory:settings too).
PERMISSIONS: Mapping[ImportKind, Permission] = {
    ImportKind.PRODUCTS: Permission.CATALOG_WRITE,
    ImportKind.LOCATIONS: Permission.LOCATIONS_WRITE,
    ImportKind.LEVELS: Permission.INVENTORY_COUNT,
    ImportKind.SUPPLIERS: Permission.SUPPLIERS_WRITE,
}


def spoken(cmd: ImportFile[Any], prefix: str) -> list[str]:
    """The keys a file has ``<prefix>.<key>`` columns for (``attr.size`` -> ``size``)."""
    return sorted(c[len(prefix) + 1:] for c in cmd.columns if c.startswith(prefix + "."))


def merged(before: Mapping[str, Any] | None, given: Mapping[str, Any] | None,
           keys: list[str]) -> dict[str, Any] | None:
    """``before`` with the keys the file speaks of set as ``given`` has them (a key
    ``given`` lacks, an empty cell, is removed); None when nothing is left."""
    out = dict(before or {})
    for key in keys:
        if given and key in given:
            out[key] = given[key]
        else:
            out.pop(key, None)
    return out or None


def result(cmd: ImportFile[T], created: int, updated: int) -> ImportResult:
    rows = len(cmd.rows)
    return ImportResult(kind=cmd.kind, rows=rows, created=created, updated=updated,
                        unchanged=rows - created - updated, dry_run=cmd.dry_run)
