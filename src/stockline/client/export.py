"""A list route's CSV export (``Accept: text/csv``: every matching row, all pages, streamed
by the server), without I/O: what to ask for, how many rows have passed, and when to try
again. ``Client`` and ``AsyncClient`` move the bytes."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO

import httpx

from stockline.client.calls import Params, ParamValue, Retry, query
from stockline.client.errors import ConnectionFailed, problem_of

# Where an export goes: a path (the file is created or replaced) or a binary file object.
Target = str | os.PathLike[str] | IO[bytes]


@dataclass(slots=True)
class RowCount:
    """Counts CSV records as their bytes pass, without keeping them: a record ends at a
    line feed outside quotes (a quoted cell may hold line breaks; ``""`` inside quotes
    toggles twice, so it changes nothing). Both bytes are ASCII, never part of a UTF-8
    sequence."""

    records: int = 0
    quoted: bool = False
    open_record: bool = False  # bytes after the last record's end

    def take(self, chunk: bytes) -> None:
        for n, piece in enumerate(chunk.split(b'"')):
            if n:
                self.quoted = not self.quoted
            if not self.quoted:
                self.records += piece.count(b"\n")
        if chunk:
            self.open_record = self.quoted or not chunk.endswith(b"\n")

    @property
    def rows(self) -> int:
        """Records after the header row."""
        return max(0, self.records + self.open_record - 1)


@dataclass(slots=True)
class Export:
    """One export of ``path`` with ``params``. Until its first byte it is retried as any
    read is (connection errors, 429, 503, after ``Retry-After``); once bytes have passed,
    a broken connection raises ``ConnectionFailed``: what was written cannot be unwritten."""

    path: str
    params: Params
    count: RowCount = field(default_factory=RowCount)
    started: bool = False

    @staticmethod
    def headers() -> dict[str, str]:
        return {"Accept": "text/csv"}

    def take(self, chunk: bytes) -> bytes:
        self.started = True
        self.count.take(chunk)
        return chunk

    @property
    def rows(self) -> int:
        return self.count.rows

    def refused(self, retry: Retry, attempt: int, response: httpx.Response) -> float:
        """Seconds to wait before trying again; raises the problem when it is final (the
        response's body must have been read)."""
        wait = retry.after_response(attempt, response)
        if wait is None:
            raise problem_of(response)
        return wait

    def dropped(self, retry: Retry, attempt: int, error: httpx.TransportError) -> float:
        """Seconds to wait before trying again; raises when the error is final."""
        if self.started:
            raise ConnectionFailed(error) from error
        return retry.after_error(attempt, error)


def export(path: str, params: Mapping[str, ParamValue] | None = None) -> Export:
    """The CSV export of the list route ``path`` (``/v1/inventory``, ``/v1/sales``, ...),
    filtered by ``params`` as its JSON list is."""
    return Export(path, query(**(params or {})))


@contextmanager
def opened(target: Target) -> Iterator[IO[bytes]]:
    """``target`` to write to: a path is opened (and closed after), a file object is used
    as it is (and left open)."""
    if isinstance(target, str | os.PathLike):
        with open(target, "wb") as file:
            yield file
    else:
        yield target
