"""Reading an imported file (CSV) into the command the import service applies.

Shared by ``POST /v1/imports/{kind}`` and ``stockline import``: both check a file by the
same rules, the JSON bodies' models, and hand the same command to the same service.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from stockline.domain.imports import ImportFile, ImportKind, Row
from stockline.entrypoints.imports.kinds import KINDS, RowRefused, model_errors
from stockline.entrypoints.imports.reader import read_table

__all__ = ["read_file", "digest"]
PROGRESS_EVERY = 1000


def read_file(kind: ImportKind, data: bytes, *, max_rows: int, dry_run: bool = False,
              on_rows: Callable[[int, int], None] | None = None) -> ImportFile[Any]:
    """The file's rows as commands, and an error for every row (or header) refused.

    ``on_rows(done, total)`` is told how far checking has come, every so many rows.
    """
    spec = KINDS[kind]
    table = read_table(data, max_rows=max_rows)
    errors = list(table.errors)
    refused = spec.header_errors(table.header) if table.header else []
    if refused or not table.records:
        return ImportFile(kind=kind, rows=(), rejected=tuple(refused + errors), dry_run=dry_run)
    rows: list[Row[Any]] = []
    total = len(table.records)
    for done, (line, cells) in enumerate(table.records, start=1):
        try:
            rows.append(Row(line, spec.convert(spec.typed(cells), line)))
        except ValidationError as error:
            errors += model_errors(spec, line, error)
        except RowRefused as refusal:
            errors += refusal.errors
        if on_rows is not None and (done % PROGRESS_EVERY == 0 or done == total):
            on_rows(done, total)
    return ImportFile(kind=kind, rows=tuple(rows), rejected=tuple(errors), total=total,
                      columns=frozenset(table.header), dry_run=dry_run)


def digest(data: bytes) -> str:
    """What an idempotency record knows the file by."""
    return hashlib.sha256(data).hexdigest()

