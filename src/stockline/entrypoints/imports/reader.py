"""CSV text to rows: UTF-8 (a byte order mark is dropped), one header row, line numbers
as a text editor shows them (a quoted cell may run over several lines)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass

from stockline.domain.imports import RowError

FILE = "file"  # the field named by an error of the file as a whole


@dataclass(frozen=True, slots=True)
class Table:
    """A file's header and its records (line, cells by column); ``errors`` of the file."""

    header: tuple[str, ...]
    records: list[tuple[int, dict[str, str]]]
    errors: list[RowError]


class _Stop(Exception):
    def __init__(self, error: RowError) -> None:
        super().__init__(error.message)
        self.error = error


def decode(data: bytes) -> str:
    """The text of a UTF-8 body; raises _Stop naming the line of the first bad byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise _Stop(RowError(line, FILE, f"not UTF-8 text (byte 0x{data[error.start]:02x}): "
                                         "send the file as UTF-8")) from None


def _records(text: str) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise _Stop(RowError(start, FILE, f"not valid CSV: {error}")) from None
        if any(cells):  # blank lines, and rows of empty cells a spreadsheet leaves, are skipped
            yield start, cells


def read_table(data: bytes, *, max_rows: int) -> Table:
    """Every record of the file, or the error that stops reading it (not UTF-8, not CSV,
    over ``max_rows``)."""
    records: list[tuple[int, dict[str, str]]] = []
    errors: list[RowError] = []
    header: tuple[str, ...] = ()
    try:
        rows = _records(decode(data))
        first = next(rows, None)
        if first is None:
            return Table((), [], [RowError(1, FILE, "the file is empty: the first line "
                                                    "names the columns")])
        header = tuple(name.strip() for name in first[1])
        for line, cells in rows:
            if len(records) == max_rows:
                raise _Stop(RowError(line, FILE, f"more than {max_rows} rows: split the file"))
            if len(cells) != len(header):
                errors.append(RowError(line, FILE, f"{len(cells)} cells, where the header "
                                                   f"has {len(header)} columns"))
            else:
                records.append((line, dict(zip(header, cells, strict=True))))
    except _Stop as stop:
        return Table(header, [], [stop.error])
    return Table(header, records, errors)
