"""Imported files: the answer, and what an idempotency record knows a file by.

A refused file is a ``validation_error`` Problem whose ``errors`` carry each bad row's
``line``."""

from __future__ import annotations

from pydantic import BaseModel, Field

from stockline.domain.imports import ImportKind, ImportResult


class ImportOut(BaseModel):
    kind: ImportKind
    rows: int = Field(description="Rows in the file (the header not counted)")
    created: int
    updated: int
    unchanged: int = Field(description="Rows that matched what is stored: nothing written")
    dry_run: bool = Field(description="true: checked only, nothing written; the counts say "
                                      "what the import would do")

    @classmethod
    def of(cls, r: ImportResult) -> ImportOut:
        return cls(kind=r.kind, rows=r.rows, created=r.created, updated=r.updated,
                   unchanged=r.unchanged, dry_run=r.dry_run)


class ImportRequest(BaseModel):
    """What an idempotency record knows an import by: the file's digest, not the file."""

    kind: ImportKind
    dry_run: bool
    sha256: str
