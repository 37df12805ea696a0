"""Imported files: the answer, and the refusal listing every bad row."""

from __future__ import annotations

from pydantic import BaseModel, Field

from stockline.domain.imports import ImportKind, ImportResult
from stockline.entrypoints.http.schemas.common import FieldError, Problem


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


class RowErrorOut(FieldError):
    """A bad row: its ``line`` (absent from an error of the request itself, such as an
    unknown kind) and ``field``, the column or ``file`` for the file as a whole."""

    line: int | None = Field(default=None, description="As in the file: the header is line "
                                                       "1, and a quoted cell may span lines")


class ImportProblem(Problem):
    """A ``validation_error`` naming every bad row; nothing of the file was applied."""

    errors: list[RowErrorOut] | None = None  # type: ignore[assignment]
