"""Files of many rows applied as one write: what a row is, what is refused, what happened."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, TypeVar

from stockline.domain.commands import SetReorderSettings
from stockline.domain.errors import DomainError

T = TypeVar("T")


class ImportKind(StrEnum):
    PRODUCTS = "products"
    LOCATIONS = "locations"
    LEVELS = "levels"
    SUPPLIERS = "suppliers"


@dataclass(frozen=True, slots=True)
class RowError:
    """Why a row (``line`` as in the file, the header being line 1) is refused."""

    line: int
    field: str
    message: str


@dataclass(slots=True)
class InvalidRows(DomainError):
    """A file with bad rows: every one is named, and nothing of the file is applied."""

    errors: tuple[RowError, ...]

    def __str__(self) -> str:
        lines = sorted({e.line for e in self.errors})
        shown = ", ".join(str(n) for n in lines[:10]) + (", ..." if len(lines) > 10 else "")
        return f"{len(lines)} bad row(s), nothing imported (lines {shown})"


@dataclass(frozen=True, slots=True)
class Row(Generic[T]):
    line: int
    value: T


@dataclass(frozen=True, slots=True, kw_only=True)
class LevelRow:
    """A count of one level, and its reorder settings when the file has settings columns."""

    location_id: str
    sku: str
    on_hand: int
    settings: SetReorderSettings | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ImportFile(Generic[T]):
    """A file read and checked row by row: the rows that passed, those that did not.

    ``columns`` names the optional columns the file has (``attr.<name>``, settings): a
    file speaks only of those, so what it has no column for is left as it is.
    """

    kind: ImportKind
    rows: tuple[Row[T], ...]
    rejected: tuple[RowError, ...] = ()
    total: int = 0
    columns: frozenset[str] = field(default_factory=frozenset)
    dry_run: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ImportResult:
    kind: ImportKind
    rows: int
    created: int
    updated: int
    unchanged: int
    dry_run: bool


def duplicates(rows: Sequence[Row[T]], key: Callable[[T], Hashable], field: str,
               what: str) -> list[RowError]:
    """A file names each key once: every later row naming a key again is refused."""
    first: dict[Hashable, int] = {}
    errors = []
    for row in rows:
        k = key(row.value)
        if k in first:
            errors.append(RowError(row.line, field, f"{what} again (first on line {first[k]})"))
        else:
            first[k] = row.line
    return errors


def refuse(errors: Sequence[RowError]) -> None:
    """Raise InvalidRows with every error, in file order, when there is any."""
    if errors:
        raise InvalidRows(tuple(sorted(errors, key=lambda e: (e.line, e.field))))
