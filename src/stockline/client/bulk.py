"""Many records in one request: a batch of level changes and its results, and an imported
CSV file (what it takes and what it answers)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any, Literal

from stockline.client.calls import parse
from stockline.client.errors import StocklineError, problem_in
from stockline.client.models import Level

ImportKind = Literal["products", "locations", "levels", "suppliers"]
# A file to send: its bytes, its path, or a file object open for reading in binary mode.
Upload = bytes | str | os.PathLike[str] | IO[bytes]


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchResult:
    """One item of a batch, answered as ``update_inventory`` would answer it alone:
    ``ok`` with its ``level``, or refused with its ``problem``."""

    index: int
    status: int
    body: dict[str, Any]

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def level(self) -> Level | None:
        """The level after the change, None when the item was refused."""
        return parse(Level, self.body) if self.ok else None

    @property
    def problem(self) -> StocklineError | None:
        """What ``update_inventory`` would have raised for this item alone
        (``InsufficientStock``, ``NotFound``, ``ValidationFailed``, ...), None when applied."""
        return None if self.ok else problem_in(self.status, self.body)


@dataclass(frozen=True, slots=True, kw_only=True)
class Batch:
    """The results of ``update_inventory_batch``, one per item in the order given; each was
    applied or refused on its own."""

    results: list[BatchResult]

    def __iter__(self) -> Iterator[BatchResult]:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    @property
    def refused(self) -> list[BatchResult]:
        return [result for result in self.results if not result.ok]


@dataclass(frozen=True, slots=True, kw_only=True)
class ImportResult:
    """An imported file: its ``rows`` (the header not counted), how many were created,
    updated and left ``unchanged``; ``dry_run``: checked and counted only."""

    kind: str
    rows: int
    created: int
    updated: int
    unchanged: int
    dry_run: bool = False


def upload_bytes(file: Upload) -> bytes:
    """The whole file, read once, so that a retry sends the same bytes."""
    if isinstance(file, bytes):
        return file
    if isinstance(file, str | os.PathLike):
        with open(file, "rb") as opened:
            return opened.read()
    return file.read()
